"""ncp.parse_code, ncp.format_code and ncp.count against `ncp flops` on the same codes, and their errors."""

import csv
import io

import numpy as np
import pytest

import ncp
from conftest import run_cli

ALL_64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"
CELL = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


def flops_csv(*args):
    """`ncp flops ARGS` as rows of (code, flops_g, params_m)."""
    rows = list(csv.DictReader(io.StringIO(run_cli("flops", *args).stdout)))
    return [(r["code"], float(r["flops_g"]), float(r["params_m"])) for r in rows]


def random_codes(n, seed):
    """Valid NAS-Bench-MR codes: counts 1..4, channels 8..128 in steps of 8 (ncp.parse_code says which is which)."""
    counts = ncp.parse_code(ALL_64) < 8
    rng = np.random.default_rng(seed)
    return np.where(counts, rng.integers(1, 5, (n, 27)), 8 * rng.integers(1, 17, (n, 27)))


def test_parse_and_format_round_trip():
    code = ncp.parse_code(ALL_64)
    assert code.dtype == np.int64 and code.shape == (27,)
    assert ncp.format_code(code) == ALL_64
    assert (ncp.parse_code(",".join(map(str, code))) == code).all()
    cell = ncp.parse_code(CELL)
    assert cell.shape == (30,) and cell.sum() == 6
    assert ncp.format_code(cell) == CELL
    assert (ncp.parse_code(",".join(map(str, cell))) == cell).all()
    assert ncp.format_code(list(code)) == ALL_64


def test_count_equals_ncp_flops():
    codes = random_codes(40, 1)
    texts = [ncp.format_code(c) for c in codes]
    for args, kwargs in [((), {}), (("--head", "seg", "--classes", "19", "--input", "256"),
                                    {"head": "seg", "classes": 19, "input": 256})]:
        expected = flops_csv(*args, *texts)
        assert [r[0] for r in expected] == texts
        for given in (codes, texts, codes.astype(np.float64)):
            flops_g, params_m = ncp.count(given, **kwargs)
            assert flops_g.dtype == np.float64 and flops_g.shape == (40,)
            assert flops_g.tolist() == [r[1] for r in expected]
            assert params_m.tolist() == [r[2] for r in expected]
    empty = ncp.count(np.zeros((0, 27), dtype=int))
    assert empty[0].shape == (0,) and empty[1].shape == (0,)


def test_code_errors_raise_ncp_error_with_the_message():
    assert issubclass(ncp.Error, ValueError)
    with pytest.raises(ncp.Error, match="invalid code"):
        ncp.parse_code("64_64-2_1_2_64-x")
    with pytest.raises(ncp.Error, match="not 5"):
        ncp.format_code([1, 2, 3, 4, 5])
    codes = random_codes(3, 2)
    codes[1, 4] = 60  # a channel count that is not a multiple of 8
    with pytest.raises(ncp.Error, match=r"codes\[1\]: invalid code"):
        ncp.count(codes)
    with pytest.raises(ncp.Error, match="rows of 26 values, expected 27-dimensional codes"):
        ncp.count(random_codes(2, 3)[:, :26])
    with pytest.raises(ncp.Error, match=r"codes\[0\]: .*not an integer"):
        ncp.count(random_codes(1, 4) + 0.5)
    with pytest.raises(ncp.Error, match=r"codes\[1\]: invalid code"):
        ncp.count([ALL_64, "64_64"])
    with pytest.raises(ncp.Error, match="unknown head 'det'"):
        ncp.count([ALL_64], head="det")
    with pytest.raises(ncp.Error, match="input side 100 is not a multiple of 32"):
        ncp.count([ALL_64], input=100)
    with pytest.raises(ncp.Error, match="not one string"):
        ncp.count(ALL_64)


def test_version_is_the_librarys():
    assert ncp.__version__ == run_cli("--version").stdout.split()[1]
