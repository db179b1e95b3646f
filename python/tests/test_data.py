"""ncp.load_benchmark: the file's tables as read-only NumPy views (no copy) that keep the benchmark alive, equal to
what `ncp flops --data --compare` reads; errors for missing and damaged files."""

import csv
import gc
import io

import numpy as np
import pytest

import ncp
from conftest import run_cli


def test_views_are_read_only_and_share_the_loaded_tables(synthetic):
    bench = ncp.load_benchmark(synthetic)
    assert bench.setting == "synthetic"
    assert bench.metric_names == ["mIoU", "mAcc", "aAcc", "flops", "params"]
    codes, metrics = bench.codes, bench.metrics
    assert codes.shape == (300, 27) and codes.dtype == np.float64
    assert metrics.shape == (300, 5) and metrics.dtype == np.float64
    assert len(bench) == 300
    for view in (codes, metrics):
        assert not view.flags.writeable
        assert not view.flags.owndata
        assert view.base is not None
        assert view.flags.c_contiguous
        with pytest.raises(ValueError):
            view[0, 0] = 1.0
    # Two reads are views of the same memory: nothing is copied.
    assert np.shares_memory(codes, bench.codes)
    assert codes.ctypes.data == bench.codes.ctypes.data
    assert not np.shares_memory(codes, metrics)
    # The views keep the loaded tables alive after the Benchmark is gone.
    first = codes[0].copy()
    del bench
    gc.collect()
    assert (codes[0] == first).all()


def test_tables_hold_what_the_program_reads(synthetic):
    bench = ncp.load_benchmark(synthetic)
    rows = list(csv.DictReader(io.StringIO(run_cli("flops", "--data", synthetic, "--compare").stdout)))
    assert [r["code"] for r in rows] == [ncp.format_code(c) for c in bench.codes]
    column = bench.metric_names.index("flops")
    assert [float(r["stored_flops_g"]) for r in rows] == pytest.approx(bench.metrics[:, column], abs=5e-10)


def test_missing_and_damaged_files_raise_ncp_error(workdir):
    missing = workdir / "nowhere.bin"
    with pytest.raises(ncp.Error, match=f"{missing}: cannot open benchmark file"):
        ncp.load_benchmark(missing)
    damaged = workdir / "damaged.bin"
    damaged.write_bytes(b"NOTABENCHFILE")
    with pytest.raises(ncp.Error, match="not an ncp benchmark file"):
        ncp.load_benchmark(str(damaged))
