#!/usr/bin/env python3
"""What the Python package adds to the library's time: ncp.count on an (N, 27) integer array and Model.predict on N
codes against the same calls in C++ (build/bench/bench_python_overhead, Google Benchmark), on the same codes and
the same model, in one run. Goal (README section "Python"): at most 1.5x each.

usage: /usr/bin/python3 bench/python_overhead.py [--build BUILD] [--codes N] [--repeat K] [--model CKPT]

The codes are N seeded random valid NAS-Bench-MR codes; the model is CKPT, or one trained for two epochs of
configs/seg.yaml on a synthetic benchmark (`ncp synth`; a prediction's time does not depend on the weights). Each
side's time is the median of K runs.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]


def median_seconds(call, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=str(ROOT / "build"), help="the build folder (default: build)")
    parser.add_argument("--codes", type=int, default=100000, help="codes to count and predict (default 100000)")
    parser.add_argument("--repeat", type=int, default=7, help="runs of each side; the median is reported")
    parser.add_argument("--model", help="a checkpoint (default: trained here on a synthetic benchmark)")
    args = parser.parse_args()
    build = pathlib.Path(args.build).resolve()
    sys.path.insert(0, str(build / "python"))
    import ncp  # noqa: E402  (the package built in BUILD)

    bench_program = build / "bench" / "bench_python_overhead"
    if not bench_program.exists():
        sys.exit(f"python_overhead: {bench_program} is missing (cmake --build {build} --target bench_python_overhead)")

    with tempfile.TemporaryDirectory() as scratch:
        scratch = pathlib.Path(scratch)
        counts = ncp.parse_code("64_64-2_1_2_64-2_2_2_2_64_64-2_3_2_2_2_64_64_64-2_4_2_2_2_2_64_64_64_64-64") < 8
        rng = np.random.default_rng(233)
        codes = np.where(counts, rng.integers(1, 5, (args.codes, 27)), 8 * rng.integers(1, 17, (args.codes, 27)))
        codes_file = scratch / "codes.txt"
        codes_file.write_text("\n".join(ncp.format_code(c) for c in codes) + "\n")
        model_file = args.model
        if model_file is None:
            data = scratch / "synthetic.bin"
            subprocess.run([str(build / "examples" / "ncp"), "synth", "--out", str(data)], check=True,
                           capture_output=True)
            trained = ncp.train(ROOT / "configs" / "seg.yaml",
                                {"data.path": str(data), "optimization.epoch": 2, "log_dir": str(scratch)})
            model_file = scratch / "model.ckpt"
            trained.best.save(model_file)
        model = ncp.load_model(model_file)

        env = {**os.environ, "NCP_BENCH_CODES": str(codes_file), "NCP_BENCH_MODEL": str(model_file)}
        done = subprocess.run([str(bench_program), f"--benchmark_repetitions={args.repeat}",
                               "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True)
        cpp = {}
        for b in json.loads(done.stdout)["benchmarks"]:
            if b.get("aggregate_name") == "median":
                cpp[b["run_name"].split("/")[-1]] = b["real_time"] / 1e3  # ms -> s

        floats = codes.astype(np.float64)
        python = {"count": median_seconds(lambda: ncp.count(codes), args.repeat),
                  "predict": median_seconds(lambda: model.predict(floats), args.repeat)}

    print(f"{args.codes} codes, median of {args.repeat} runs each")
    print(f"{'call':<28} {'C++ s':>9} {'Python s':>9} {'ratio':>7}")
    worst = 0.0
    for name, label in (("count", "ncp.count (N, 27) int64"), ("predict", "Model.predict (N, 27) f64")):
        ratio = python[name] / cpp[name]
        worst = max(worst, ratio)
        print(f"{label:<28} {cpp[name]:9.4f} {python[name]:9.4f} {ratio:6.2f}x")
    print("goal <= 1.5x: " + ("met" if worst <= 1.5 else "NOT met"))


if __name__ == "__main__":
    main()
