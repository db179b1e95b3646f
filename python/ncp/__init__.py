"""ncp: Network Coding Propagation (Ding et al., ICLR 2022) over NAS-Bench-MR and NAS-Bench-201, from Python.

Every call goes to ncp's C++ library (the headers under ``include/ncp/``), the code the ``ncp`` program runs, so
the results equal the program's: :func:`count` is ``ncp flops``, :func:`train` is ``ncp train``,
:meth:`Model.predict` is ``ncp predict``, :func:`search` is ``ncp search``. Arrays are NumPy arrays; codes are
given as a list of code strings (either form ``ncp flops`` and ``ncp predict`` take) or as an ``(n, d)`` array of
values in original units. Errors raise :class:`Error`, a ``ValueError`` carrying the library's message. Long calls
(loading, training, predicting, counting, searching) release the GIL.

A session::

    import ncp
    bench = ncp.load_benchmark("data/seg/trainval.bin")          # codes and metrics as read-only views
    flops_g, params_m = ncp.count(bench.codes.astype(int))        # = ncp flops
    result = ncp.train("configs/seg.yaml", {"optimization.epoch": 50})
    mIoU = result.best.predict(bench.codes[:5])[:, 0]             # = ncp predict
    found = ncp.search("configs/seg.yaml", result.best)           # = ncp search's ncp.json
    print(found["selection"]["code"])
"""

from __future__ import annotations

import json
import operator
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _ncp

__all__ = [
    "Benchmark",
    "Error",
    "Model",
    "Predictor",
    "ask",
    "TrainResult",
    "count",
    "format_code",
    "load_benchmark",
    "load_model",
    "parse_code",
    "search",
    "train",
]

#: The library's version ("major.minor.patch"), that of ``ncp --version``.
__version__: str = _ncp.version

#: What every failing call raises: a ``ValueError`` whose message is the library's (it names the input at fault).
Error = _ncp.Error
Error.__module__ = __name__

PathLike = Union[str, "os.PathLike[str]"]
#: Codes: code strings (``64_64-2_1_2_64-...``, 27 comma-separated integers, ``|nor_conv_3x3~0|+...`` or 30
#: one-hot values), or an ``(n, d)`` array of values in original units.
Codes = Union[Sequence[str], npt.ArrayLike]
#: Config overrides: dotted keys as ``ncp train --section.key value`` takes them, e.g. ``{"optimization.epoch": 50}``.
Overrides = Optional[Mapping[str, Any]]


def _threads(threads: Optional[int]) -> int:
    """A thread count for the library: the machine's for ``None``, else the whole number given (0 and negative counts
    reach the library, which refuses them with a message; 2.5 is a TypeError, not 2)."""
    return (os.cpu_count() or 1) if threads is None else operator.index(threads)


def _override_pairs(overrides: Overrides) -> List[Tuple[str, str]]:
    """Overrides as the program's ``--key value`` pairs: strings as they are, paths as paths, anything else as JSON
    (which the library reads as YAML: ``True`` -> ``true``, ``[["mIoU"]]`` -> ``[["mIoU"]]``; NumPy values as their
    lists). Anything JSON cannot write (bytes, sets, objects) is a TypeError naming the key."""
    if overrides is None:
        return []
    if not isinstance(overrides, Mapping):
        raise TypeError(f"overrides: expected a dict of dotted keys, got {type(overrides).__name__}")
    pairs = []
    for key, value in overrides.items():
        if isinstance(value, os.PathLike):
            value = os.fspath(value)

        def listed(v: Any, key: Any = key) -> Any:
            if hasattr(v, "tolist"):
                return v.tolist()
            raise TypeError(f"overrides[{key!r}]: a {type(v).__name__} cannot be written as YAML")

        text = value if isinstance(value, str) else json.dumps(value, default=listed)
        pairs.append((str(key), text))
    return pairs


def _whole(name: str, value: Any) -> int:
    """``value`` as an int, naming the argument: 2.7 or "3" is a TypeError, not 2 or 3."""
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name}: expected a whole number, got {type(value).__name__}") from None


def parse_code(text: str) -> npt.NDArray[np.int64]:
    """The code ``text`` as integers: 27 for NAS-Bench-MR (its string form or 27 comma-separated integers), 30 for
    NAS-Bench-201 (``|op~0|+|op~0|op~1|+...`` or 30 comma-separated one-hot values). Raises :class:`Error` for a
    malformed or invalid code."""
    return _ncp.parse_code(text)


def format_code(code: npt.ArrayLike) -> str:
    """The string form of a code, as the program prints it; the space is told by the length (27 values:
    NAS-Bench-MR's ``64_64-2_1_2_64-...``, 30: NAS-Bench-201's ``|op~0|+...``). Raises :class:`Error` for any
    other length or an invalid code."""
    return _ncp.format_code(code)


def count(codes: Codes, head: str = "cls", classes: int = 50,
          input: int = 128) -> Tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Exact FLOPs (G) and params (M) of NAS-Bench-MR codes, equal to ``ncp flops --head HEAD --classes N --input
    SIDE``: ``codes`` a list of code strings or an ``(n, 27)`` integer array. Returns two float64 arrays of length
    n. Raises :class:`Error` naming the first invalid code (``codes[i]: ...``) or a bad convention."""
    return _ncp.count(codes, head, classes, input)


class Benchmark:
    """A converted benchmark file (``trainval.bin``), as :func:`load_benchmark` reads it. ``codes`` and
    ``metrics`` are read-only NumPy views of the loaded tables (no copy); they keep the tables alive."""

    def __init__(self, impl: Any) -> None:
        self._impl = impl

    @property
    def setting(self) -> str:
        """The setting's name, e.g. ``"seg"``."""
        return self._impl.setting

    @property
    def metric_names(self) -> List[str]:
        """Names of the columns of :attr:`metrics`."""
        return self._impl.metric_names

    @property
    def codes(self) -> npt.NDArray[np.float64]:
        """``(records, code_dim)`` float64, original units, read-only."""
        return self._impl.codes

    @property
    def metrics(self) -> npt.NDArray[np.float64]:
        """``(records, len(metric_names))`` float64, read-only."""
        return self._impl.metrics

    def __len__(self) -> int:
        return len(self._impl.codes)

    def __repr__(self) -> str:
        return f"<ncp.Benchmark {self.setting}: {len(self)} records, metrics {', '.join(self.metric_names)}>"


def load_benchmark(path: PathLike) -> Benchmark:
    """Reads a benchmark file written by ``scripts/convert_pkl.py`` or ``ncp synth``; the file is checked (magic,
    version, sizes, CRC-32, finite values) and every failure raises :class:`Error` naming it."""
    return Benchmark(_ncp.load_benchmark(path))


class Model:
    """A trained predictor: what ``best_model.ckpt`` holds. Made by :func:`load_model`, :func:`train` and
    :meth:`Predictor.fit`."""

    def __init__(self, impl: Any) -> None:
        self._impl = impl

    @property
    def metric_names(self) -> List[str]:
        """The outputs' metric names, in the order of :meth:`predict`'s columns."""
        return self._impl.metric_names

    @property
    def setting(self) -> str:
        """The benchmark setting the model was trained on (a search's default task name)."""
        return self._impl.setting

    @property
    def input_dim(self) -> int:
        """The code dimension the model takes (27 or 30)."""
        return self._impl.input_dim

    def predict(self, codes: Codes, threads: Optional[int] = None) -> npt.NDArray[np.float64]:
        """The model's metrics of ``codes`` in original units, evaluation mode: an ``(n, outputs)`` float64 array,
        columns in :attr:`metric_names` order, equal to ``ncp predict``. ``codes``: code strings (checked as
        ``ncp predict`` checks them) or an ``(n, input_dim)`` array of finite values in original units (continuous
        codes too, as the search steps them). ``threads``: at least 1, default (``None``) the machine's; the results
        do not depend on it. Raises :class:`Error` for an invalid code, another dimension or fewer than one thread."""
        return self._impl.predict(codes, _threads(threads))

    def save(self, path: PathLike) -> None:
        """Writes the model as ``ncp train`` writes checkpoints (atomically): ``ncp predict --model`` and ``ncp
        search --model`` read it."""
        self._impl.save(path)

    def __repr__(self) -> str:
        return f"<ncp.Model {self.setting}: {self.input_dim}-dim codes -> {', '.join(self.metric_names)}>"


def load_model(path: PathLike) -> Model:
    """Reads a checkpoint (``best_model.ckpt``); a missing, damaged or foreign file raises :class:`Error`."""
    return Model(_ncp.load_model(path))


class TrainResult:
    """What :func:`train` gives back: the best model (lowest validation error of the main metric), the last one,
    and :attr:`metrics`, the dict ``metrics.json`` holds (per-epoch losses and errors, rank correlations,
    timings)."""

    def __init__(self, best: Model, last: Model, metrics: Dict[str, Any]) -> None:
        self.best = best
        self.last = last
        self.metrics = metrics

    def __repr__(self) -> str:
        return f"<ncp.TrainResult: {len(self.metrics['epochs'])} epochs, best_epoch {self.metrics['best_epoch']}>"


def train(cfg: PathLike, overrides: Overrides = None, data: Optional[Benchmark] = None) -> TrainResult:
    """Trains the predictor the YAML config ``cfg`` describes, as ``ncp train --cfg CFG --key value ...`` does:
    the same config gives bit-identical models. ``overrides``: dotted keys, e.g. ``{"optimization.epoch": 50,
    "SEED": 1}``; ``data``: a :class:`Benchmark` to train on instead of the file the config names (data.subset
    still applies). Nothing is written: save the models with :meth:`Model.save`. Raises :class:`Error` for an
    unknown key, a bad value, a missing file or data that do not fit the config."""
    if data is not None and (not isinstance(data, Benchmark) or data._impl is None):
        raise TypeError(f"data: expected an ncp.Benchmark (load_benchmark), got {type(data).__name__}")
    best, last, metrics = _ncp.train(cfg, _override_pairs(overrides), None if data is None else data._impl)
    return TrainResult(Model(best), Model(last), json.loads(metrics))


def _model_impl(model: Any) -> Any:
    if not isinstance(model, Model):
        raise TypeError(f"models: expected ncp.Model, got {type(model).__name__}")
    return model._impl


def search(cfg: PathLike, models: Union[Model, Sequence[Model], Mapping[str, Union[Model, Sequence[Model]]]],
           overrides: Overrides = None, starts: Optional[Union[Sequence[Any], npt.ArrayLike]] = None,
           write: bool = False, weights: Optional[Mapping[str, float]] = None) -> Dict[str, Any]:
    """NCP on trained models, as ``ncp search --cfg CFG --model ...`` runs it; returns what ``ncp.json`` holds
    (settings, tasks, every start's trajectory, the selection, the Pareto set) as Python objects.

    ``models``: a :class:`Model`, a list of them (each task named by its model's setting, so models of one setting
    form an ensemble) or a dict task name -> model or list of models (``--model NAME=CKPT``). ``starts``: start
    codes (strings or rows of values) in place of the config's editing.start/starts/start_file. ``write``: also
    write ``ncp.json``, ``ncp.csv`` and ``ncp.svg`` into ``<log_dir>/<dataset>/``. ``weights``: task weights
    (``--weights NAME=W,...``). Raises :class:`Error` as the program fails."""
    def members(group: Any, what: str) -> List[Any]:
        if isinstance(group, Model):
            return [group]
        if isinstance(group, (str, bytes)) or not isinstance(group, (Sequence, np.ndarray)):
            raise TypeError(f"{what}: expected ncp.Model, a list of them or a dict of them, got {type(group).__name__}")
        return list(group)

    if isinstance(models, Mapping):
        pairs = [(str(name), _model_impl(m))
                 for name, group in models.items() for m in members(group, f"models[{name!r}]")]
    else:
        pairs = [("", _model_impl(m)) for m in members(models, "models")]
    if isinstance(starts, (str, bytes)):
        raise Error("starts: expected a list of codes, not one string")
    start_texts = []
    for i, s in enumerate(starts if starts is not None else []):
        try:
            start_texts.append(s if isinstance(s, str) else format_code(s))
        except Error as e:
            raise Error(f"starts[{i}]: {e}") from None
    if weights is not None and not isinstance(weights, Mapping):
        raise TypeError(f"weights: expected a dict task name -> weight, got {type(weights).__name__}")
    weight_pairs = []
    for k, v in (weights or {}).items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"weights[{k!r}]: expected a number, got {type(v).__name__}")
        weight_pairs.append((str(k), float(v)))
    text = _ncp.search(cfg, _override_pairs(overrides), pairs, weight_pairs, start_texts, write)
    return json.loads(text)


def ask(cfg: PathLike, known_codes: Codes, known_metrics: npt.ArrayLike, n: int,
        pool: Optional[Codes] = None, seed: int = 233, overrides: Overrides = None,
        threads: Optional[int] = None) -> List[Dict[str, Any]]:
    """The next ``n`` architectures to train, as ``ncp ask`` proposes them (the closed loop): ``known_codes`` (code
    strings or an ``(k, d)`` array) with ``known_metrics`` (``(k, m)``: every metric of the config's data.metrics,
    in group order) are the results so far (none: ``n`` seeded random codes); ``pool`` restricts the proposals to
    its codes; ``seed`` is the config's SEED. Returns what ``PROPOSALS.csv`` holds, best first: one dict per code
    with ``code``, ``predicted_<main metric>``, ``spread``, ``flops_g``, ``params_m`` (``None`` where unknown).
    ``threads``: default the machine's; the proposals do not depend on it. Raises :class:`Error` as the program
    fails."""
    changes = _override_pairs(overrides) + [("SEED", str(_whole("seed", seed)))]
    if known_codes is None:
        raise TypeError("known_codes: expected code strings or a (k, d) array (an empty list: nothing known)")
    try:
        metrics = np.asarray(known_metrics, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("known_metrics: expected a (k, m) array of numbers (an empty list: nothing known)") from None
    if metrics.ndim == 0:
        raise TypeError("known_metrics: expected a (k, m) array of numbers (an empty list: nothing known)")
    count = _whole("n", n)
    if count < 0:
        raise Error(f"n: expected a number of proposals, got {count}")
    text = _ncp.ask(cfg, changes, known_codes, metrics.reshape(len(metrics), -1) if metrics.size else metrics,
                    count, pool, _threads(threads))
    lines = text.splitlines()
    header = lines[0].split(",")
    out = []
    for line in lines[1:]:
        fields = line.split(",")
        row: Dict[str, Any] = {"code": fields[0]}
        for name, value in zip(header[1:], fields[1:]):
            row[name] = float(value) if value else None
        out.append(row)
    return out


class Predictor:
    """NCP's predictor in NASLib's shape: ``Predictor(cfg).fit(xtrain, ytrain).query(xtest)``. Training is
    :func:`train`'s on the given codes (the config's split, epochs, optimiser, seed); :attr:`model` is the best
    model after :meth:`fit`."""

    def __init__(self, cfg: PathLike, overrides: Overrides = None) -> None:
        self.cfg = cfg
        self.overrides = dict(overrides or {})
        self.model: Optional[Model] = None
        self._main_only = False

    def fit(self, xtrain: Codes, ytrain: npt.ArrayLike) -> "Predictor":
        """Trains on ``xtrain`` (codes) and ``ytrain``: a 1-D array of the main metric (the config's first
        data.metrics name, learnt alone) or an ``(n, m)`` array of every metric of data.metrics, in that order.
        Returns self."""
        self._main_only = np.ndim(ytrain) == 1
        self.model = Model(_ncp.fit(self.cfg, _override_pairs(self.overrides), xtrain, ytrain))
        return self

    def query(self, xtest: Codes) -> npt.NDArray[np.float64]:
        """Predictions for ``xtest``: a 1-D array of the main metric after fitting one, else ``(n, m)``."""
        if self.model is None:
            raise Error("Predictor.query: call fit first")
        predictions = self.model.predict(xtest)
        return predictions[:, 0] if self._main_only else predictions
