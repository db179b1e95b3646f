"""Fixtures of the package's tests: the built `ncp` program (NCP_CLI), the sources (NCP_SOURCE_DIR), a small
synthetic benchmark written by `ncp synth`, and the overrides that train on it in a few epochs. ctest passes the
paths (python/CMakeLists.txt) and puts the built package on PYTHONPATH."""

import os
import pathlib
import subprocess

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("NCP_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SEG_CFG = SOURCE_DIR / "configs" / "seg.yaml"


def run_cli(*args, check=True):
    """Runs `ncp ARGS...`; returns the completed process (text), failing the test on a non-zero exit if `check`."""
    cli = os.environ.get("NCP_CLI")
    if not cli:
        pytest.skip("NCP_CLI (the built ncp program) is not set; run the tests through ctest")
    done = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    if check and done.returncode != 0:
        pytest.fail(f"ncp {' '.join(map(str, args))} failed ({done.returncode}): {done.stderr}")
    return done


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("ncp")


@pytest.fixture(scope="module")
def synthetic(workdir):
    """A synthetic NAS-Bench-MR-like benchmark of 300 records (metrics mIoU mAcc aAcc flops params)."""
    path = workdir / "synthetic.bin"
    run_cli("synth", "--out", path, "--records", 300, "--seed", 5)
    return path


@pytest.fixture(scope="module")
def fast(synthetic, workdir):
    """configs/seg.yaml overrides that train on the synthetic file in three epochs and log into the scratch dir."""
    return {"data.path": str(synthetic), "optimization.epoch": 3, "log_dir": str(workdir / "out")}


def cli_overrides(overrides):
    """The same overrides as `--key value` arguments of the program."""
    args = []
    for key, value in overrides.items():
        args += [f"--{key}", str(value)]
    return args
