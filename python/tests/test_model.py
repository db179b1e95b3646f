"""ncp.train against `ncp train` bit for bit, Model.predict against `ncp predict` on a checkpoint saved from
Python, ncp.load_model, ncp.Predictor, and the errors of each."""

import csv
import io
import json
import threading
import time

import numpy as np
import pytest

import ncp
from conftest import SEG_CFG, cli_overrides, run_cli

ALL_64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"

# metrics.json keys that depend on the config and the data only (threads and timings depend on the machine).
DETERMINED = ["setting", "seed", "metrics", "train_records", "val_records", "best_epoch", "best_val_mae",
              "kendall_tau", "spearman_rho", "steps"]


@pytest.fixture(scope="module")
def trained(fast):
    return ncp.train(SEG_CFG, fast)


def test_train_gives_the_bytes_and_losses_of_ncp_train(trained, fast, workdir):
    run_cli("train", "--cfg", SEG_CFG, *cli_overrides(fast))
    out = workdir / "out" / "seg"
    for model, name in ((trained.best, "best_model.ckpt"), (trained.last, "last_model.ckpt")):
        saved = workdir / f"python_{name}"
        model.save(saved)
        assert saved.read_bytes() == (out / name).read_bytes(), name
    program = json.loads((out / "metrics.json").read_text())
    for key in DETERMINED:
        assert trained.metrics[key] == program[key], key
    assert len(trained.metrics["epochs"]) == 3
    for mine, theirs in zip(trained.metrics["epochs"], program["epochs"]):
        assert mine == theirs
    assert trained.best.metric_names == ["mIoU", "mAcc", "aAcc", "flops", "params"]
    assert trained.best.setting == "synthetic" and trained.best.input_dim == 27


def test_train_on_a_loaded_benchmark_equals_training_on_its_file(trained, fast, synthetic, workdir):
    again = ncp.train(SEG_CFG, fast, data=ncp.load_benchmark(synthetic))
    trained.best.save(workdir / "a.ckpt")
    again.best.save(workdir / "b.ckpt")
    assert (workdir / "a.ckpt").read_bytes() == (workdir / "b.ckpt").read_bytes()


def test_predict_equals_ncp_predict(trained, synthetic, workdir):
    saved = workdir / "predict.ckpt"
    trained.best.save(saved)
    codes = ncp.load_benchmark(synthetic).codes[:25]
    texts = [ncp.format_code(c) for c in codes]
    listing = workdir / "codes.txt"
    listing.write_text("\n".join(texts) + "\n")
    rows = list(csv.reader(io.StringIO(run_cli("predict", "--model", saved, "--codes", listing).stdout)))
    assert rows[0] == ["code", *trained.best.metric_names]
    expected = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    loaded = ncp.load_model(saved)
    for model in (trained.best, loaded):
        for given in (codes, texts, codes.astype(np.int64)):
            predicted = model.predict(given)
            assert predicted.dtype == np.float64 and predicted.shape == (25, 5)
            assert (predicted == expected).all()
    assert loaded.predict(np.zeros((0, 27))).shape == (0, 5)


def test_predict_gives_the_same_on_any_number_of_threads(trained, synthetic):
    codes = np.tile(ncp.load_benchmark(synthetic).codes, (3, 1))  # 900 codes: several chunks of about 256
    one = trained.best.predict(codes, threads=1)
    for threads in (2, 3, None):
        assert (trained.best.predict(codes, threads=threads) == one).all()
    for bad in (0, -1):
        with pytest.raises(ncp.Error, match=f"predict needs at least one thread \\(got {bad}\\)"):
            trained.best.predict(codes, threads=bad)


def test_predictor_fits_as_train_does(trained, fast, synthetic):
    bench = ncp.load_benchmark(synthetic)
    every = ncp.Predictor(SEG_CFG, fast).fit(bench.codes, bench.metrics)
    assert (every.query(bench.codes[:10]) == trained.best.predict(bench.codes[:10])).all()
    main = ncp.Predictor(SEG_CFG, fast)
    assert main.fit(bench.codes, bench.metrics[:, 0]) is main
    alone = ncp.train(SEG_CFG, {**fast, "data.metrics": [["mIoU"]], "network.layer2_drop_ratio": [0.5]})
    query = main.query(bench.codes[:10])
    assert query.shape == (10,)
    assert (query == alone.best.predict(bench.codes[:10])[:, 0]).all()
    assert main.model.metric_names == ["mIoU"]


def test_errors_raise_ncp_error_with_the_message(trained, fast, workdir):
    with pytest.raises(ncp.Error, match="unknown config key 'optimization.epochz'"):
        ncp.train(SEG_CFG, {**fast, "optimization.epochz": 3})
    with pytest.raises(ncp.Error, match="config file not found"):
        ncp.train(workdir / "missing.yaml")
    with pytest.raises(ncp.Error, match="benchmark file not found"):
        ncp.train(SEG_CFG, {**fast, "data.path": str(workdir / "missing.bin")})
    with pytest.raises(ncp.Error, match="no such checkpoint file"):
        ncp.load_model(workdir / "missing.ckpt")
    model = trained.best
    with pytest.raises(ncp.Error, match="rows of 26 values, expected 27-dimensional codes"):
        model.predict(np.full((2, 26), 64.0))
    with pytest.raises(ncp.Error, match=r"codes\[0\]: code \"1,2,3\" has 3 numbers; the model takes 27"):
        model.predict(["1,2,3"])
    with pytest.raises(ncp.Error, match=r"codes\[1\]: invalid code"):
        model.predict([ALL_64, "64_64"])
    bad = np.full((1, 27), 64.0)
    bad[0, 3] = np.nan
    with pytest.raises(ncp.Error, match=r"codes\[0, 3\] is not finite"):
        model.predict(bad)
    with pytest.raises(ncp.Error, match="call fit first"):
        ncp.Predictor(SEG_CFG).query(bad)
    with pytest.raises(ncp.Error, match="3 codes but 2 metric values"):
        ncp.Predictor(SEG_CFG, fast).fit(np.full((3, 27), 64.0), [70.0, 71.0])
    # Bad input found by a sweep of the package: each one error naming the argument, no silent result.
    with pytest.raises(ncp.Error, match=r"benchmark 'seg' record 0: .*invalid code"):
        ncp.Predictor(SEG_CFG, fast).fit(np.zeros((20, 27)), np.arange(20.0))
    with pytest.raises(ncp.Error, match="codes: expected real numbers, got an array of complex128"):
        model.predict(np.full((1, 27), 64.0) + 5j)
    huge = np.full((1, 27), 64.0)
    huge[0, 5] = 1e39
    with pytest.raises(ncp.Error, match=r"predictor: code 0, value 5 \(.*\) is out of the model's range"):
        model.predict(huge)
    with pytest.raises(TypeError, match="data: expected an ncp.Benchmark"):
        ncp.train(SEG_CFG, fast, data="x.bin")
    with pytest.raises(TypeError, match="overrides: expected a dict"):
        ncp.train(SEG_CFG, [("optimization.epoch", 2)])
    with pytest.raises(TypeError, match=r"overrides\['optimization.epoch'\]: a bytes cannot be written as YAML"):
        ncp.train(SEG_CFG, {**fast, "optimization.epoch": b"2"})
    with pytest.raises(ncp.Error, match="not a regular file"):
        ncp.load_model(workdir)


def test_predict_releases_the_gil(trained):
    """While a prediction of about 0.2 s runs in another thread, this one keeps running Python: no pause near that
    long (a call holding the GIL would stop it for the whole prediction)."""
    code = ncp.parse_code(ALL_64).astype(np.float64)
    rows = 500
    while True:
        codes = np.tile(code, (rows, 1))
        start = time.perf_counter()
        trained.best.predict(codes)
        alone = time.perf_counter() - start
        if alone >= 0.2:
            break
        rows *= 2
    worker = threading.Thread(target=trained.best.predict, args=(codes,))
    longest, last = 0.0, time.perf_counter()
    worker.start()
    while worker.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    worker.join()
    assert longest < alone / 2, (longest, alone)
