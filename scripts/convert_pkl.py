#!/usr/bin/env python3
"""Converts NAS-Bench-MR / NAS-Bench-201 pickles into ncp's checked binary format (README, section "data").

    /usr/bin/python3 scripts/convert_pkl.py IN.pkl OUT.bin [--setting NAME] [--skip-bad]
    /usr/bin/python3 scripts/convert_pkl.py IN_DIR OUT_DIR [--skip-bad]

The second form converts every IN_DIR/<setting>/trainval.pkl into OUT_DIR/<setting>/trainval.bin.

Pickles run code when loaded carelessly, so this one unpickles with an allow-list: the values pickle encodes
directly (dict, list, int, float, str, ...) and the three numpy globals a pickled numeric array references
(numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype). Those three resolve to stand-ins defined here
that decode the array's bytes without importing numpy; any other global is refused before anything is called, so no
code from outside this file runs while a pickle loads. Standard library only.
"""

import argparse
import array
import io
import math
import os
import pickle
import struct
import sys
import tempfile
import zlib

MAGIC = b"NCPBENCH"
VERSION = 1
MAX_NAME_BYTES = 255
MAX_METRICS = 1024
MAX_CODE_DIM = 4096

ARCH_KEYS = ("embedding", "input_channel", "inverted_residual_setting", "last_channel")
MR_CODE_DIM = 27
NB201_CODE_DIM = 30
NB201_OPS = 5


class ConversionError(Exception):
    """An error the user can act on; printed as one line naming the file."""


class Refused(pickle.UnpicklingError):
    """The pickle asks for something outside the allow-list."""


def known_setting(setting):
    """(metric names, code kind) of a setting from the table of docs/algorithm.md section 1, or None for a setting
    it does not list."""
    if setting in ("seg", "seg-4x"):
        return ["mIoU", "mAcc", "aAcc", "flops", "params"], "mr"
    if setting.startswith("cls-") or setting.startswith("video"):
        return ["top1", "top5", "flops", "params"], "mr"
    if setting == "3ddet":
        return ["moderate", "flops", "params"], "mr"
    if setting == "nas-bench-201":
        return ["Acc", "Flops", "Params"], "nb201"
    return None


# ---- the allow-listed unpickler ----------------------------------------------------------------------------------

class _Refusing:
    """Base of the stand-ins: no instance dict, and BUILD (pickle's __setstate__ call) is refused unless overridden,
    so a pickle cannot attach state to the callables it is allowed to reference."""

    __slots__ = ()

    def __setstate__(self, state):
        raise Refused(f"setting state on {type(self).__name__}")


class _NdarrayType(_Refusing):
    """Stands for numpy.ndarray; only ever passed to _reconstruct."""

    __slots__ = ()


_NDARRAY = _NdarrayType()

# numpy dtype strings of the numeric scalar types, with struct's code for each.
_DTYPES = {"f2": "e", "f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q",
           "u1": "B", "u2": "H", "u4": "I", "u8": "Q", "b1": "?"}


class _DType(_Refusing):
    """Stands for a numeric numpy.dtype; its state only picks the byte order."""

    __slots__ = ("code", "byteorder")

    def __init__(self, code):
        self.code = code
        self.byteorder = None

    def __setstate__(self, state):
        # numpy writes (3, byteorder, subarray, names, fields, elsize, alignment, flags) for a plain scalar type.
        if (not isinstance(state, tuple) or len(state) != 8 or state[0] != 3 or state[1] not in ("<", ">", "|", "=")
                or state[2:] != (None, None, None, -1, -1, 0) or self.byteorder is not None):
            raise Refused(f"numpy dtype state {state!r:.80}")
        self.byteorder = state[1]


class _DTypeFactory(_Refusing):
    """Stands for numpy.dtype(name, align, copy), numeric names only."""

    __slots__ = ()

    def __call__(self, name, align=False, copy=True):
        if not isinstance(name, str) or name not in _DTYPES or align is not False or copy is not True:
            raise Refused(f"numpy dtype {name!r:.40}")
        return _DType(name)


class _Array(_Refusing):
    """Stands for a numeric numpy.ndarray of at most one dimension; `values` holds its elements as Python numbers."""

    __slots__ = ("values",)

    def __init__(self):
        self.values = None

    def __setstate__(self, state):
        # numpy writes (1, shape, dtype, is_fortran, raw bytes).
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1 or self.values is not None:
            raise Refused("numpy array state")
        _, shape, dtype, _, raw = state
        if not (isinstance(shape, tuple) and len(shape) <= 1 and all(type(n) is int and n >= 0 for n in shape)):
            raise Refused(f"numpy array of shape {shape!r:.40} (only 0-D and 1-D arrays)")
        if not isinstance(dtype, _DType) or dtype.byteorder is None or not isinstance(raw, bytes):
            raise Refused("numpy array without a numeric dtype and raw bytes")
        count = shape[0] if shape else 1
        order = ">" if dtype.byteorder == ">" or (dtype.byteorder == "=" and sys.byteorder == "big") else "<"
        layout = f"{order}{count}{_DTYPES[dtype.code]}"
        if struct.calcsize(layout) != len(raw):
            raise Refused(f"numpy array data holds {len(raw)} bytes, its shape needs "
                                         f"{struct.calcsize(layout)}")
        self.values = list(struct.unpack(layout, raw))


class _ReconstructFactory(_Refusing):
    """Stands for numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b'), the only call numpy pickles make."""

    __slots__ = ()

    def __call__(self, subtype, shape, typecode):
        if subtype is not _NDARRAY or shape != (0,) or typecode != b"b":
            raise Refused("numpy _reconstruct call other than (ndarray, (0,), b'b')")
        return _Array()


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _ReconstructFactory(),
    ("numpy._core.multiarray", "_reconstruct"): _ReconstructFactory(),  # numpy >= 2 spells the module this way
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTypeFactory(),
}


class SafeUnpickler(pickle.Unpickler):
    """Resolves only the allow-listed globals; every other global is refused before anything is called."""

    def find_class(self, module, name):
        found = _ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise Refused(f"the pickle references {module}.{name} (only dict, list, int, float, str and numpy "
                          "arrays are accepted)")
        return found

    def persistent_load(self, pid):
        raise Refused("the pickle uses persistent ids")


def safe_load(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return SafeUnpickler(io.BytesIO(data)).load()
    except Refused as e:
        raise ConversionError(f"refused: {e}") from None
    except Exception as e:  # a malformed pickle can raise almost anything while decoding
        raise ConversionError(f"not a readable pickle ({type(e).__name__}: {e})") from None


# ---- records -----------------------------------------------------------------------------------------------------

def is_number(v):
    return type(v) in (int, float)


def describe(v):
    return f"{type(v).__name__} {v!r:.40}"


def number_problem(v):
    """Why `v` cannot be stored as a finite float64, or None."""
    if not is_number(v):
        return f"is {describe(v)}, not a number"
    if type(v) is int and not -2 ** 53 <= v <= 2 ** 53:
        return "is an integer beyond +-2**53, not exact as a double"
    if not math.isfinite(v):
        return f"is {v!r}"
    return None


def code_values(embedding):
    return embedding.values if isinstance(embedding, _Array) else embedding


def code_problem(embedding, kind, dim):
    """Why `embedding` is not a valid code of this setting, or None."""
    values = code_values(embedding)
    if not isinstance(values, list):
        return f"'embedding' is {describe(embedding)}, not a list or numeric array"
    if len(values) != dim:
        return f"'embedding' has {len(values)} values, expected {dim}"
    if kind == "mr":
        bad = [i for i, v in enumerate(values) if type(v) is not int]
        if bad:
            return f"'embedding'[{bad[0]}] is {describe(values[bad[0]])}, not an int"
    for i, v in enumerate(values):
        problem = number_problem(v)
        if problem:
            return f"'embedding'[{i}] {problem}"
    if kind == "nb201":
        for edge in range(0, dim, NB201_OPS):
            group = values[edge:edge + NB201_OPS]
            if any(v not in (0, 1) for v in group) or sum(group) != 1:
                return f"'embedding'[{edge}:{edge + NB201_OPS}] is {group}, not one-hot"
    return None


def metric_names_of(setting, records):
    """The metric names and code kind for `setting`; an unlisted setting takes the first record's numeric keys."""
    known = known_setting(setting)
    if known:
        return known
    first = records[0]
    names = [k for k, v in first.items() if isinstance(k, str) and k not in ARCH_KEYS and is_number(v)]
    if not names:
        raise ConversionError(f"setting '{setting}' is not a known one and its first record has no numeric keys")
    return names, "any"


def check_name(name, what):
    if not (1 <= len(name) <= MAX_NAME_BYTES and name.isascii() and name.isprintable()):
        raise ConversionError(f"{what} {name!r:.60} must be 1..{MAX_NAME_BYTES} printable ASCII characters")


def extract(records, setting, skip_bad):
    """(metric names, code dimension, codes, metrics, problems of the skipped records): the valid records as
    float64 tables, record-major."""
    if not isinstance(records, list) or not records:
        raise ConversionError(f"expected a non-empty list of records, found {describe(records)}")
    if not isinstance(records[0], dict):
        raise ConversionError(f"record 0 is {describe(records[0])}, not a dict")
    names, kind = metric_names_of(setting, records)
    check_name(setting, "setting name")
    for n in names:
        check_name(n, "metric name")
    if len(names) > MAX_METRICS:
        raise ConversionError(f"{len(names)} metrics, more than {MAX_METRICS}")
    first_code = code_values(records[0].get("embedding"))
    dim = {"mr": MR_CODE_DIM, "nb201": NB201_CODE_DIM}.get(
        kind, len(first_code) if isinstance(first_code, list) else 0)
    if not 1 <= dim <= MAX_CODE_DIM:
        raise ConversionError("record 0 has no usable 'embedding' to take the code dimension from")

    codes, metrics, problems = array.array("d"), array.array("d"), []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            problems.append(f"record {index}: {describe(record)}, not a dict")
            continue
        found = []
        if "embedding" not in record:
            found.append("missing key 'embedding'")
        else:
            problem = code_problem(record["embedding"], kind, dim)
            if problem:
                found.append(problem)
        for name in names:
            if name not in record:
                found.append(f"missing key '{name}'")
            else:
                problem = number_problem(record[name])
                if problem:
                    found.append(f"key '{name}' {problem}")
        if found:
            problems.append(f"record {index}: " + ", ".join(found))
            continue
        codes.extend(float(v) for v in code_values(record["embedding"]))
        metrics.extend(float(record[name]) for name in names)

    if problems and not skip_bad:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ConversionError(f"{len(problems)} bad record(s) of {len(records)}: {shown} "
                              "(--skip-bad drops them)")
    if len(problems) == len(records):
        raise ConversionError(f"all {len(records)} records are bad: {problems[0]}")
    return names, dim, codes, metrics, problems


# ---- writing -----------------------------------------------------------------------------------------------------

def encode(setting, names, dim, codes, metrics):
    """The file's bytes: the layout of README section "data", version 1, CRC-32 last."""
    count = len(metrics) // len(names)
    def packed(name):
        return struct.pack("<I", len(name)) + name.encode("ascii")

    out = bytearray(MAGIC) + struct.pack("<I", VERSION) + packed(setting) + struct.pack("<I", len(names))
    for name in names:
        out += packed(name)
    out += struct.pack("<IQ", dim, count)
    for table in (codes, metrics):
        if sys.byteorder == "big":
            table = array.array("d", table)
            table.byteswap()
        out += table.tobytes()
    out += struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF)
    return bytes(out)


def write_atomically(path, data):
    """Writes `data` to a temporary file beside `path`, then renames it over `path`; removes it on failure."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def convert(pkl, out, setting, skip_bad):
    """Converts one pickle; returns the summary line. Raises ConversionError naming nothing (the caller adds pkl)."""
    records = safe_load(pkl)
    names, dim, codes, metrics, problems = extract(records, setting, skip_bad)
    count = len(metrics) // len(names)
    try:
        write_atomically(out, encode(setting, names, dim, codes, metrics))
    except OSError as e:
        raise ConversionError(f"cannot write {out}: {e.strerror or e}") from None
    if problems:
        print(f"{pkl}: skipped {len(problems)} bad record(s) of {len(records)}: " + "; ".join(problems[:5])
              + (f"; and {len(problems) - 5} more" if len(problems) > 5 else ""), file=sys.stderr)
    return f"{pkl} -> {out}: setting {setting}, {count} records, code_dim {dim}, metrics {' '.join(names)}"


def main(argv):
    parser = argparse.ArgumentParser(description="Convert NAS-Bench-MR pickles to ncp's binary format.")
    parser.add_argument("input", help="a trainval.pkl, or a folder holding <setting>/trainval.pkl")
    parser.add_argument("output", help="the .bin to write, or the folder to write <setting>/trainval.bin into")
    parser.add_argument("--setting", help="setting name of a single pickle (default: its parent folder's name)")
    parser.add_argument("--skip-bad", action="store_true", help="drop invalid records instead of refusing the file")
    args = parser.parse_args(argv)

    if os.path.isdir(args.input):
        if args.setting is not None:
            parser.error("--setting applies to a single pickle, not to a folder")
        jobs = [(os.path.join(args.input, d, "trainval.pkl"), os.path.join(args.output, d, "trainval.bin"), d)
                for d in sorted(os.listdir(args.input))
                if os.path.isfile(os.path.join(args.input, d, "trainval.pkl"))]
        if not jobs:
            print(f"convert_pkl.py: {args.input}: no <setting>/trainval.pkl inside", file=sys.stderr)
            return 1
    elif os.path.isfile(args.input):
        setting = args.setting or os.path.basename(os.path.dirname(os.path.abspath(args.input)))
        jobs = [(args.input, args.output, setting)]
    else:
        print(f"convert_pkl.py: {args.input}: no such file or folder", file=sys.stderr)
        return 1

    failed = 0
    for pkl, out, setting in jobs:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            print(convert(pkl, out, setting, args.skip_bad))
        except ConversionError as e:
            print(f"convert_pkl.py: {pkl}: {e}", file=sys.stderr)
            failed += 1
        except OSError as e:
            print(f"convert_pkl.py: {pkl}: {e.strerror or e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
