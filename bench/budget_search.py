#!/usr/bin/python3
"""Search under a budget of trained networks: `ncp ask`/`ncp tell` against random search, regularized evolution and
local search, on a tabular benchmark that plays the user.

Per setting and seed s, every method starts from the same 10 random records (numpy's default_rng(s)) and queries the
benchmark until `--budget` results are known; a query is a look-up in the benchmark file, done here (ncp ask never
reads the benchmark). Methods:

- ncp: the closed loop of the ncp program. The 10 results go to KNOWN.csv through `ncp tell`, then each round runs
  `ncp ask --cfg CFG --known KNOWN.csv --n K --out PROPOSALS.csv [--pool POOL.txt] --SEED s`, looks the proposals
  up, writes RESULTS.csv and runs `ncp tell --known KNOWN.csv RESULTS.csv`.
- random: the remaining records in a random order.
- evolution: regularized evolution (Real et al. 2019), population 20 (the 10 shared records and 10 more random
  ones), tournaments of 5, the oldest member removed; a child that is already known is mutated again (up to 100
  times, then a random unknown record is taken).
- local: first-improvement local search from the best of the 10 shared records: the centre's neighbours in a random
  order, moving to the first that beats it; a centre none of whose neighbours beats it is left for a random unknown
  record (a restart).

Neighbourhoods. NAS-Bench-201: the 24 cells that change one edge's op; a mutation changes a random edge to one of
the 4 other ops. NAS-Bench-MR (the pool of the benchmark's records, which do not cover the space): a mutation sets
one random dimension to another valid value (channels 8..128 in steps of 8, counts 1..4) and takes the unknown
record nearest to that code, by L1 distance in grid steps (channels / 8, counts / 1; ties at random); local search
tries 54 such mutations (two per dimension) of a centre before it restarts.

Outputs: one table per setting on stdout (mean best true metric after 25, 50, 100 and 200 results known, per method,
over the seeds), and in --out DIR: <setting>.svg (mean best-so-far against results known, one line per method),
<setting>.csv (method,seed,known,code,<metric>,best: every query of every run in order) and <setting>/ncp/seed<s>/
(the KNOWN.csv, RESULTS.csv and PROPOSALS.csv of the last round). Python 3 and numpy only.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

PROG = "budget_search"
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
METHODS = {  # name: label in the table and the plot
    "ncp": "ncp ask/tell",
    "random": "random search",
    "evolution": "regularized evolution (population 20, sample 5)",
    "local": "local search (first improvement)",
}
NB201_OPS = ("avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")  # include/ncp/arch/nb201.hpp
NB201_EDGE_FROM = (0, 0, 1, 0, 1, 2)  # the source node of each edge; edges into node 1, 2, 3 in that order
MR_IS_COUNT = np.array([0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
MR_STAGE_START = (2, 5, 10, 17)  # include/ncp/arch/code.hpp: where stage 1..4's module count sits in the 27 ints


def fail(message):
    sys.exit(f"{PROG}: {message}")


def load_benchmark(path):
    """The .bin format, version 1 (README "The .bin format"): setting, metric names, codes (N x D), metrics (N x M)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        fail(f"{path}: {e.strerror}")

    def bad(what):
        fail(f"{path}: not a benchmark file of format version 1 ({what}); convert it with scripts/convert_pkl.py")

    if len(blob) < 44 or blob[:8] != b"NCPBENCH":
        bad("no NCPBENCH header")
    if zlib.crc32(blob[:-4]) != struct.unpack_from("<I", blob, len(blob) - 4)[0]:
        bad("checksum mismatch")
    at = 8
    try:
        version, length = struct.unpack_from("<II", blob, at)
        if version != 1:
            bad(f"version {version}")
        at += 8
        setting = blob[at:at + length].decode("ascii")
        at += length
        (count,) = struct.unpack_from("<I", blob, at)
        at += 4
        names = []
        for _ in range(count):
            (length,) = struct.unpack_from("<I", blob, at)
            names.append(blob[at + 4:at + 4 + length].decode("ascii"))
            at += 4 + length
        dim, records = struct.unpack_from("<IQ", blob, at)
        at += 12
    except (struct.error, UnicodeDecodeError):
        bad("truncated header")
    if at + 8 * records * (dim + count) + 4 != len(blob):
        bad("size does not match the header")
    codes = np.frombuffer(blob, "<f8", records * dim, at).reshape(records, dim)
    metrics = np.frombuffer(blob, "<f8", records * count, at + 8 * records * dim).reshape(records, count)
    return setting, names, codes, metrics


class Space:
    """The benchmark's records as a search space: code strings, distances, mutations, neighbourhoods."""

    def __init__(self, setting, codes):
        self.setting = setting
        self.nb201 = setting == "nas-bench-201"
        if self.nb201:
            if codes.shape[1] != 30:
                fail(f"{setting}: codes have {codes.shape[1]} values, not 30")
            self.ops = codes.reshape(-1, 6, 5).argmax(2)
            self.strings = [self.nb201_string(o) for o in self.ops]
            ids = (self.ops * 5 ** np.arange(6)).sum(1)
            self.by_id = np.full(5 ** 6, -1)
            self.by_id[ids] = np.arange(len(ids))
        else:
            if codes.shape[1] != 27:
                fail(f"{setting}: codes have {codes.shape[1]} values, not NAS-Bench-MR's 27")
            ints = codes.astype(np.int64)
            self.grid = np.where(MR_IS_COUNT, ints, ints // 8)
            self.strings = [self.mr_string(c) for c in ints]
        self.index = {s: i for i, s in enumerate(self.strings)}
        if len(self.index) != len(self.strings):
            fail(f"{setting}: the benchmark holds a code twice")
        self.size = len(self.strings)

    @staticmethod
    def nb201_string(ops):
        nodes = [[], [], []]
        for e, op in enumerate(ops):
            nodes[(1, 2, 2, 3, 3, 3)[e] - 1].append(f"{NB201_OPS[op]}~{NB201_EDGE_FROM[e]}")
        return "|" + "|+|".join("|".join(n) for n in nodes) + "|"

    @staticmethod
    def mr_string(c):
        groups = [f"{c[0]}_{c[1]}"]
        for stage, at in enumerate(MR_STAGE_START, 1):
            values = [c[at], stage, *c[at + 1:at + 1 + 2 * stage]]
            groups.append("_".join(str(v) for v in values))
        groups.append(str(c[26]))
        return "-".join(groups)

    def mutate(self, record, known, rng):
        """A random one-dimension change of `record`: NAS-Bench-201's cell, or the nearest unknown record."""
        if self.nb201:
            ops = self.ops[record].copy()
            edge = rng.integers(6)
            ops[edge] = (ops[edge] + rng.integers(1, 5)) % 5
            return int(self.by_id[(ops * 5 ** np.arange(6)).sum()])
        grid = self.grid[record].copy()
        dim = rng.integers(27)
        top = 4 if MR_IS_COUNT[dim] else 16
        value = rng.integers(1, top)  # one of the top - 1 other values
        grid[dim] = value if value < grid[dim] else value + 1
        distance = np.abs(self.grid - grid).sum(1) + rng.random(self.size) * 0.5  # ties at random
        distance[known] = np.inf
        return int(np.argmin(distance))

    def neighbours(self, record):
        """NAS-Bench-201: the 24 one-edge changes of a cell."""
        out = []
        for edge in range(6):
            for shift in range(1, 5):
                ops = self.ops[record].copy()
                ops[edge] = (ops[edge] + shift) % 5
                out.append(int(self.by_id[(ops * 5 ** np.arange(6)).sum()]))
        return out


def initial(size, seed, count):
    return [int(i) for i in np.random.default_rng(seed).choice(size, count, replace=False)]


def random_search(space, y, seed, budget, first):
    rng = np.random.default_rng([seed, 1])
    rest = np.setdiff1d(np.arange(space.size), first)
    return first + [int(i) for i in rng.permutation(rest)[:budget - len(first)]]


def regularized_evolution(space, y, seed, budget, first, population=20, sample=5):
    rng = np.random.default_rng([seed, 2])
    known = np.zeros(space.size, bool)
    known[first] = True
    extra = [int(i) for i in rng.choice(np.flatnonzero(~known), max(0, population - len(first)), replace=False)]
    trace = first + extra
    known[extra] = True
    members = list(trace)
    while len(trace) < budget:
        drawn = rng.choice(len(members), min(sample, len(members)), replace=False)
        parent = members[max(drawn, key=lambda i: y[members[i]])]
        for _ in range(100):
            child = space.mutate(parent, known, rng)
            if not known[child]:
                break
        if known[child]:
            child = int(rng.choice(np.flatnonzero(~known)))
        trace.append(child)
        known[child] = True
        members.append(child)
        members.pop(0)
    return trace[:budget]


def local_search(space, y, seed, budget, first):
    rng = np.random.default_rng([seed, 3])
    known = np.zeros(space.size, bool)
    known[first] = True
    trace = list(first)
    centre = max(first, key=lambda i: y[i])
    while len(trace) < budget:
        moved = False
        tries = rng.permutation(space.neighbours(centre)) if space.nb201 else range(54)
        for candidate in tries:
            if not space.nb201:
                candidate = space.mutate(centre, known, rng)
            if not known[candidate]:
                trace.append(int(candidate))
                known[candidate] = True
            if y[candidate] > y[centre]:
                centre, moved = int(candidate), True
                break
            if len(trace) >= budget:
                break
        if not moved and len(trace) < budget:
            centre = int(rng.choice(np.flatnonzero(~known)))
            trace.append(centre)
            known[centre] = True
    return trace[:budget]


class Ncp:
    """The closed loop through the ncp program; one instance per setting."""

    def __init__(self, program, cfg, overrides, threads, pool, names, metrics, space, work):
        self.program, self.cfg, self.overrides, self.threads = program, cfg, overrides, threads
        self.pool, self.names, self.metrics, self.space, self.work = pool, names, metrics, space, work
        self.ask_times = []  # (results known, wall seconds) per ask

    def run(self, command, what):
        try:
            done = subprocess.run(command, capture_output=True, text=True)
        except OSError as e:
            fail(f"{what}: cannot run {command[0]}: {e.strerror}")
        if done.returncode != 0:
            message = (done.stderr.strip() or done.stdout.strip() or "no message").splitlines()[-1]
            fail(f"{what} failed (exit {done.returncode}): {message}\n  command: {' '.join(command)}")

    def write_results(self, path, records):
        with open(path, "w", encoding="ascii") as f:
            f.write("code," + ",".join(self.names) + "\n")
            for r in records:
                f.write(self.space.strings[r] + "," + ",".join(repr(float(v)) for v in self.metrics[r]) + "\n")

    def tell(self, folder, records):
        results = os.path.join(folder, "RESULTS.csv")
        self.write_results(results, records)
        self.run([self.program, "tell", "--known", os.path.join(folder, "KNOWN.csv"), results], "ncp tell")

    def read_proposals(self, path, count, known, metric):
        try:
            with open(path, encoding="utf-8") as f:
                lines = [line.rstrip("\r\n") for line in f if line.strip()]
        except (OSError, UnicodeDecodeError) as e:
            fail(f"{path}: {e}")
        header = f"code,predicted_{metric},spread,flops_g,params_m"
        if not lines or lines[0] != header:
            fail(f"{path}: header is {lines[0] if lines else 'missing'!r}, expected {header!r}")
        records = []
        for number, line in enumerate(lines[1:], 2):
            code = line.split(",")[0]
            record = self.space.index.get(code)
            if record is None:
                fail(f"{path}:{number}: proposal {code!r} is not an architecture of the benchmark")
            if known[record] or record in records:
                fail(f"{path}:{number}: proposal {code!r} is already known")
            records.append(record)
        if len(records) != count:
            fail(f"{path}: {len(records)} proposals, asked for {count}")
        return records

    def search(self, seed, budget, first, batch, metric):
        folder = os.path.join(self.work, f"seed{seed}")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        known_csv = os.path.join(folder, "KNOWN.csv")
        known = np.zeros(self.space.size, bool)
        known[first] = True
        trace = list(first)
        self.tell(folder, first)
        while len(trace) < budget:
            count = min(batch, budget - len(trace))
            proposals = os.path.join(folder, "PROPOSALS.csv")
            command = [self.program, "ask", "--cfg", self.cfg, "--known", known_csv, "--n", str(count),
                       "--out", proposals, "--SEED", str(seed)]
            if self.pool:
                command += ["--pool", self.pool]
            if self.threads:
                command += ["--threads", str(self.threads)]
            start = time.perf_counter()
            self.run(command + self.overrides, "ncp ask")
            self.ask_times.append((len(trace), time.perf_counter() - start))
            records = self.read_proposals(proposals, count, known, metric)
            self.tell(folder, records)
            known[records] = True
            trace += records
        with open(known_csv, encoding="ascii") as f:
            rows = sum(1 for line in f if line.strip()) - 1
        if rows != len(trace):
            fail(f"{known_csv}: {rows} rows after the last ncp tell, expected {len(trace)}")
        return trace


def check_ncp(program):
    if not (os.path.isfile(program) and os.access(program, os.X_OK)):
        fail(f"{program} not built (cmake --build build --target ncp_cli; NCP_BUILD_DIR names the build folder),"
             " or leave ncp out of --methods")
    usage = subprocess.run([program], capture_output=True, text=True)
    commands = {line.split()[0] for line in (usage.stdout + usage.stderr).splitlines() if line.startswith("  ")}
    missing = [c for c in ("ask", "tell") if c not in commands]
    if missing:
        fail(f"{program} has no `{'`/`'.join(missing)}` subcommand (an older build?); rebuild it, or leave ncp out"
             " of --methods")


SETTINGS = {  # --setting: (benchmark file under data/, config, the pool of records for ncp ask)
    "nb201": ("nas-bench-201", "configs/nb201.yaml", False),
    "nas-bench-201": ("nas-bench-201", "configs/nb201.yaml", False),
    "seg": ("seg", "configs/seg.yaml", True),
    "seg-4x": ("seg-4x", "configs/seg.yaml", True),
    "3ddet": ("3ddet", "configs/3ddet.yaml", True),
}


def setting_files(name):
    if name in SETTINGS:
        return SETTINGS[name]
    if name.startswith("cls-"):
        return name, "configs/cls.yaml", True
    if name.startswith("video"):
        return name, "configs/video.yaml", True
    return name, None, True


def svg_plot(path, title, metric, curves, first, budget):
    """Mean best-so-far (y) against results known (x, from `first`: before it every method has the same random
    records), one polyline per method."""
    width, height, left, right, top, bottom = 760, 420, 70, 290, 40, 50
    lo = min(c[first - 1:].min() for c in curves.values())
    hi = max(c.max() for c in curves.values())
    pad = (hi - lo) * 0.05 or 0.5
    lo, hi = lo - pad, hi + pad

    def px(k):
        return left + (k - first) / max(budget - first, 1) * (width - left - right)

    def py(v):
        return top + (hi - v) / (hi - lo) * (height - top - bottom)

    colours = ("#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="12">', f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{width - left - right}" height="{height - top - bottom}" '
           'fill="none" stroke="#444"/>']
    for t in np.linspace(lo, hi, 6)[1:-1]:
        out.append(f'<line x1="{left}" x2="{width - right}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end">{t:.2f}</text>')
    for k in sorted({first, *range(25, budget + 1, 25), budget}):
        out.append(f'<text x="{px(k):.1f}" y="{height - bottom + 16}" text-anchor="middle">{k}</text>')
    out.append(f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">results known</text>')
    out.append(f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(top + height - bottom) / 2})">mean best {metric}</text>')
    for n, (label, curve) in enumerate(curves.items()):
        colour = colours[n % len(colours)]
        points = " ".join(f"{px(k):.1f},{py(curve[k - 1]):.2f}" for k in range(first, budget + 1))
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        y = top + 10 + 20 * n
        out.append(f'<line x1="{width - right + 14}" x2="{width - right + 38}" y1="{y}" y2="{y}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 44}" y="{y + 4}">{label} ({curve[-1]:.3f})</text>')
    out.append("</svg>\n")
    write_atomically(path, "\n".join(out))


def write_atomically(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(temporary, path)


def run_setting(name, args, methods, out):
    file_name, default_cfg, default_pool = setting_files(name)
    data = args.data or os.path.join(ROOT, "data", file_name, "trainval.bin")
    setting, names, codes, metrics = load_benchmark(data)
    metric = args.metric or names[0]
    if metric not in names:
        fail(f"{data}: no metric {metric!r} (it has {', '.join(names)})")
    y = metrics[:, names.index(metric)]
    space = Space(setting, codes)
    if args.budget > space.size:
        fail(f"--budget {args.budget} exceeds the {space.size} records of {data}")
    use_pool = default_pool if args.pool == "auto" else args.pool == "yes"
    searches = {}
    if "ncp" in methods:
        cfg = args.cfg or (default_cfg and os.path.join(ROOT, default_cfg))
        if not cfg:
            fail(f"--setting {name}: no config of its own; name one with --cfg")
        overrides = list(args.overrides)
        if not args.cfg:
            overrides += ["--data.dataset", setting]
        os.makedirs(os.path.join(out, name, "ncp"), exist_ok=True)
        pool = None
        if use_pool:
            pool = os.path.join(out, name, "POOL.txt")
            write_atomically(pool, "\n".join(space.strings) + "\n")
        ncp = Ncp(args.ncp, cfg, overrides, args.threads, pool, names, metrics, space, os.path.join(out, name, "ncp"))
        searches["ncp"] = lambda seed, first: ncp.search(seed, args.budget, first, args.batch, metric)
    baselines = {"random": random_search, "evolution": regularized_evolution, "local": local_search}
    for m in methods:
        if m in baselines:
            searches[m] = (lambda f: lambda seed, first: f(space, y, seed, args.budget, first))(baselines[m])
    traces = {m: [] for m in methods}
    for seed in range(args.seeds):
        first = initial(space.size, seed, args.init)
        for m in methods:
            start = time.perf_counter()
            trace = searches[m](seed, first)
            if len(trace) != args.budget or len(set(trace)) != args.budget:
                fail(f"{m}: seed {seed} queried {len(set(trace))} distinct records, expected {args.budget}")
            traces[m].append(trace)
            print(f"{name} seed {seed} {m}: best {metric} {y[trace].max():.3f} ({time.perf_counter() - start:.1f} s)",
                  file=sys.stderr, flush=True)
    curves = {METHODS[m]: np.mean([np.maximum.accumulate(y[t]) for t in traces[m]], 0) for m in methods}
    checks = [k for k in (25, 50, 100, 200) if k <= args.budget]
    if args.budget not in checks:
        checks.append(args.budget)
    print(f"\n{setting} ({data}): mean best {metric} over {args.seeds} seeds after N results known "
          f"({args.init} random, then batches of {args.batch}); best record {y.max():.3f}")
    print("| method | " + " | ".join(str(k) for k in checks) + " |")
    print("|---|" + "---|" * len(checks))
    for label, curve in curves.items():
        print(f"| {label} | " + " | ".join(f"{curve[k - 1]:.3f}" for k in checks) + " |")
    if "ncp" in methods and ncp.ask_times:
        times = np.array(ncp.ask_times)
        at = {k: times[times[:, 0] == k, 1] for k in (100, times[:, 0].max())}
        print(f"ncp ask (whole process): {len(times)} calls, median {np.median(times[:, 1]):.2f} s, max "
              f"{times[:, 1].max():.2f} s; " +
              ", ".join(f"with {k:.0f} known median {np.median(v):.2f} s" for k, v in at.items() if len(v)))
    rows = ["method,seed,known,code," + metric + ",best"]
    for m in methods:
        for seed, trace in enumerate(traces[m]):
            best = np.maximum.accumulate(y[trace])
            rows += [f"{m},{seed},{k + 1},{space.strings[r]},{y[r]!r},{best[k]!r}" for k, r in enumerate(trace)]
    write_atomically(os.path.join(out, f"{name}.csv"), "\n".join(rows) + "\n")
    svg_plot(os.path.join(out, f"{name}.svg"),
             f"{setting}: best {metric} found, mean over {args.seeds} seeds", metric, curves, args.init, args.budget)
    print(f"files: {os.path.join(out, name + '.svg')}, {os.path.join(out, name + '.csv')}")


def main():
    parser = argparse.ArgumentParser(
        prog="budget_search.sh", description=__doc__.split("\n\n")[0],
        epilog="Other --section.key value pairs go to ncp ask (as for ncp search).")
    parser.add_argument("--setting", default="nb201,seg",
                        help="comma-separated: nb201, seg, or another folder of data/ (default nb201,seg)")
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 (default 20)")
    parser.add_argument("--batch", type=int, default=10, help="proposals per ncp ask (default 10)")
    parser.add_argument("--init", type=int, default=10, help="random records every method starts from (default 10)")
    parser.add_argument("--budget", type=int, default=200, help="results known at the end (default 200)")
    parser.add_argument("--methods", default="ncp,random,evolution,local",
                        help="comma-separated subset of ncp, random, evolution, local (default all)")
    parser.add_argument("--cfg", help="config of ncp ask (default per setting: configs/nb201.yaml, configs/seg.yaml)")
    parser.add_argument("--data", help="the benchmark file (default data/<setting>/trainval.bin)")
    parser.add_argument("--metric", help="the metric to maximise (default the benchmark's first)")
    parser.add_argument("--pool", choices=("auto", "yes", "no"), default="auto",
                        help="give ncp ask the benchmark's codes as --pool (auto: NAS-Bench-MR yes, NAS-Bench-201 no)")
    parser.add_argument("--ncp", default=os.path.join(os.environ.get("NCP_BUILD_DIR", "build"), "examples", "ncp"),
                        help="the ncp program (default $NCP_BUILD_DIR/examples/ncp, NCP_BUILD_DIR=build)")
    parser.add_argument("--threads", type=int, default=0, help="--threads of ncp ask (default: ncp's default)")
    parser.add_argument("--out", default="output/budget_search", help="folder of the outputs")
    args, rest = parser.parse_known_args()
    args.overrides = []
    while rest:
        if len(rest) < 2 or not rest[0].startswith("--") or "." not in rest[0]:
            parser.error(f"unrecognised argument {rest[0]!r} (ncp ask overrides take --section.key value)")
        args.overrides += rest[:2]
        rest = rest[2:]
    methods = [m for m in args.methods.split(",") if m]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods or len(set(methods)) != len(methods):
        parser.error(f"--methods takes distinct names of {', '.join(METHODS)}")
    if args.seeds < 1 or args.batch < 1 or args.init < 1 or args.budget <= args.init:
        parser.error("--seeds, --batch and --init must be positive and --budget above --init")
    if args.threads < 0:
        parser.error("--threads must be positive")
    settings = [s for s in args.setting.split(",") if s]
    if not settings or (args.data and len(settings) > 1):
        parser.error("--setting names at least one setting, exactly one with --data")
    if "ncp" in methods:
        check_ncp(args.ncp)
    os.makedirs(args.out, exist_ok=True)
    for name in settings:
        run_setting(name, args, methods, args.out)


if __name__ == "__main__":
    main()
