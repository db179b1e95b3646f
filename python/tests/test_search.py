"""ncp.search against `ncp search` on the same checkpoints: the same ncp.json (and, with write=True, the same three
files), ensembles and named tasks, given start codes, and the errors."""

import json

import pytest

import ncp
from conftest import SEG_CFG, cli_overrides, run_cli

ALL_64 = "64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64"
SMALL = ALL_64.replace("64", "32")


@pytest.fixture(scope="module")
def models(fast, workdir):
    """The best and last models of a short training, and their checkpoints saved from Python."""
    result = ncp.train(SEG_CFG, fast)
    paths = (workdir / "best.ckpt", workdir / "last.ckpt")
    result.best.save(paths[0])
    result.last.save(paths[1])
    return result.best, result.last, paths


@pytest.fixture(scope="module")
def editing(fast):
    return {**fast, "editing.starts": 4, "editing.iters": 12}


def program_files(workdir, name, overrides, *model_args):
    """Runs `ncp search` with its own log_dir; returns the folder holding ncp.json, ncp.csv and ncp.svg."""
    log_dir = workdir / name
    run_cli("search", "--cfg", SEG_CFG, *model_args, *cli_overrides({**overrides, "log_dir": str(log_dir)}))
    return log_dir / "seg"


def test_search_returns_and_writes_what_ncp_search_writes(models, editing, workdir):
    best, _, paths = models
    program = program_files(workdir, "cli-one", editing, "--model", paths[0])
    found = ncp.search(SEG_CFG, best, editing)
    assert found == json.loads((program / "ncp.json").read_text())
    assert found["starts"] == 4 and len(found["trajectories"]) == 4
    assert found["tasks"][0]["name"] == "synthetic"
    assert not (workdir / "out" / "seg" / "ncp.json").exists()  # write=False writes nothing
    log_dir = workdir / "python-one"
    ncp.search(SEG_CFG, ncp.load_model(paths[0]), {**editing, "log_dir": str(log_dir)}, write=True)
    for name in ("ncp.json", "ncp.csv", "ncp.svg"):
        assert (log_dir / "seg" / name).read_bytes() == (program / name).read_bytes(), name


def test_ensembles_named_tasks_and_start_codes(models, editing, workdir):
    best, last, paths = models
    program = program_files(workdir, "cli-ensemble", editing, "--model", f"seg={paths[0]}", "--model",
                            f"seg={paths[1]}")
    found = ncp.search(SEG_CFG, {"seg": [best, last]}, editing)
    assert found == json.loads((program / "ncp.json").read_text())
    assert found["tasks"][0] == {**found["tasks"][0], "name": "seg", "models": 2}
    program = program_files(workdir, "cli-list", editing, "--model", paths[0], "--model", paths[1])
    assert ncp.search(SEG_CFG, [best, last], editing) == json.loads((program / "ncp.json").read_text())

    starts = workdir / "starts.txt"
    starts.write_text(f"{ALL_64}\n{SMALL}\n")
    program = program_files(workdir, "cli-starts", {**editing, "editing.start_file": str(starts)}, "--model", paths[0])
    expected = json.loads((program / "ncp.json").read_text())
    assert ncp.search(SEG_CFG, best, editing, starts=[ALL_64, SMALL]) == expected
    assert ncp.search(SEG_CFG, best, editing, starts=[ncp.parse_code(ALL_64), ncp.parse_code(SMALL)]) == expected
    assert expected["starts"] == 2


def test_errors_raise_ncp_error_with_the_message(models, editing):
    best, last, _ = models
    with pytest.raises(ncp.Error, match=r"starts\[1\]: invalid code"):
        ncp.search(SEG_CFG, best, editing, starts=[ALL_64, "64_64"])
    with pytest.raises(ncp.Error, match="unknown task name 'cls'"):
        ncp.search(SEG_CFG, best, editing, weights={"cls": 2.0})
    with pytest.raises(ncp.Error, match="unknown config key 'editing.iterz'"):
        ncp.search(SEG_CFG, best, {**editing, "editing.iterz": 3})
    with pytest.raises(ncp.Error, match=r"the model predicts \[\[mIoU\], \[mAcc, aAcc\], \[flops, params\]\]"):
        ncp.search(SEG_CFG, best, {**editing, "data.metrics": [["mIoU"]], "network.layer2_drop_ratio": [0.5]})
    with pytest.raises(ncp.Error, match="at least one model"):
        ncp.search(SEG_CFG, [], editing)
    with pytest.raises(TypeError, match="expected ncp.Model"):
        ncp.search(SEG_CFG, [best, "best.ckpt"], editing)
    with pytest.raises(TypeError, match="models: expected ncp.Model, a list of them or a dict of them, got NoneType"):
        ncp.search(SEG_CFG, None, editing)
    with pytest.raises(ncp.Error, match="starts: expected a list of codes, not one string"):
        ncp.search(SEG_CFG, best, editing, starts=ALL_64)
    with pytest.raises(ncp.Error, match=r"starts\[0\]: "):
        ncp.search(SEG_CFG, best, editing, starts=[[1.0, 2.0, 3.0]])
    with pytest.raises(ncp.Error, match="made code values that are not finite .* lower editing.lr, editing.alpha"):
        ncp.search(SEG_CFG, best, {**editing, "editing.alpha": 1e308})
    with pytest.raises(TypeError, match="weights: expected a dict"):
        ncp.search(SEG_CFG, best, editing, weights=[1, 2])
    with pytest.raises(TypeError, match=r"weights\['seg'\]: expected a number, got str"):
        ncp.search(SEG_CFG, best, editing, weights={"seg": "abc"})


def test_ask_proposes_what_ncp_ask_proposes(synthetic, workdir):
    """ncp.ask against `ncp ask` on the same known results: with nothing known, from a pool, and without one."""
    bench = ncp.load_benchmark(synthetic)
    codes = [ncp.format_code(c) for c in bench.codes[:12]]
    quick = {"ask.members": 2, "optimization.epoch": 5, "editing.iters": 4}
    known = workdir / "known.csv"
    with open(known, "w") as f:
        f.write("code," + ",".join(bench.metric_names) + "\n")
        for code, row in zip(codes[:8], bench.metrics[:8]):
            f.write(code + "," + ",".join(repr(float(v)) for v in row) + "\n")
    pool = workdir / "pool.txt"
    pool.write_text("\n".join(ncp.format_code(c) for c in bench.codes[:100]) + "\n")

    def program(out, known_file, *extra):
        run_cli("ask", "--cfg", SEG_CFG, "--known", known_file, "--n", 5, "--out", out, "--SEED", 7,
                *cli_overrides(quick), *extra)
        lines = out.read_text().splitlines()
        header = lines[0].split(",")
        assert header == ["code", "predicted_mIoU", "spread", "flops_g", "params_m"]
        return [{"code": f[0], **{k: (float(v) if v else None) for k, v in zip(header[1:], f[1:])}}
                for f in (line.split(",") for line in lines[1:])]

    with pytest.raises(TypeError, match="n: expected a whole number, got float"):
        ncp.ask(SEG_CFG, [], [], 2.7, overrides=quick)
    with pytest.raises(TypeError, match="seed: expected a whole number, got str"):
        ncp.ask(SEG_CFG, [], [], 2, seed="3", overrides=quick)
    with pytest.raises(TypeError, match="known_metrics: expected a"):
        ncp.ask(SEG_CFG, codes[:2], None, 2, overrides=quick)
    with pytest.raises(ncp.Error, match=r"ask: 1000000000000 proposals need about .* \(fewer proposals \(--n\)\)"):
        ncp.ask(SEG_CFG, [], [], 10**12, overrides=quick)
    nothing = ncp.ask(SEG_CFG, [], [], 5, seed=7, overrides=quick)
    assert nothing == program(workdir / "p0.csv", workdir / "none.csv")
    assert all(p["predicted_mIoU"] is None for p in nothing)
    found = ncp.ask(SEG_CFG, codes[:8], bench.metrics[:8], 5, pool=bench.codes[:100], seed=7, overrides=quick)
    assert found == program(workdir / "p1.csv", known, "--pool", pool)
    assert {p["code"] for p in found}.isdisjoint(codes[:8])
    assert ncp.ask(SEG_CFG, bench.codes[:8], bench.metrics[:8], 5, seed=7, overrides=quick, threads=1) == \
        program(workdir / "p2.csv", known, "--threads", 2)
    with pytest.raises(ncp.Error, match="known results row 1: code .* is also row 0"):
        ncp.ask(SEG_CFG, [codes[0], codes[0]], bench.metrics[:2], 5, overrides=quick)
    with pytest.raises(ncp.Error, match=r"known_metrics: expected an \(n, 5\) array"):
        ncp.ask(SEG_CFG, codes[:2], bench.metrics[:2, :3], 5, overrides=quick)
