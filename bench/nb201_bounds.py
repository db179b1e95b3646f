#!/usr/bin/python3
"""What a predictor trained on 100 NAS-Bench-201 cells can select, against what full knowledge of the space allows.

The NAS-Bench-201 goal of the search issue asks for a mean true accuracy of 46.0 over 5 seeds from a predictor
trained on 100 random cells. This script measures, over S random draws of 100 cells (ImageNet16-120 accuracy):

- random search: the best of the 100 known results;
- the ceiling of a trust region: a predictor trained on all 15,625 cells (what no search may know) picking the
  best unknown cell within 1 or 2 edges of the best known one, and its pick over the whole space;
- predictors trained on the 100 cells alone (5-member MLP ensembles shaped like configs/nb201.yaml on raw targets,
  on rank-Gaussian targets, and with extra heads learning the exactly computable FLOPs/params of every cell; a
  Gaussian process with a Hamming kernel), each with three selections: the best predicted unknown cell anywhere,
  the best predicted unknown 1-edge neighbour of the 10 best known cells, and that neighbour only where its
  ensemble mean minus 2 standard deviations beats the best known result (the guard; else the best known cell).

With --around FILE it reports only the all-cells predictor's picks within 1 and 2 edges of the cells in FILE (for
instance the best known cells that bench/nb201_search.sh prints), the ceiling of a trust region for those draws.

It uses PyTorch and numpy from Debian (/usr/bin/python3) and reads the pickle with scripts/convert_pkl.py's
restricted unpickler and checks. usage: bench/nb201_bounds.py [--seeds S] [--around FILE] [PKL]
(PKL defaults to $NCP_DATA_DIR/nas-bench-201/trainval.pkl)
"""
import argparse
import os
import re
import statistics
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
from convert_pkl import NB201_CODE_DIM, NB201_OPS, ConversionError, extract, safe_load  # noqa: E402

OP_NAMES = ("avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3")  # include/ncp/arch/nb201.hpp


def load(path):
    """The codes and the Acc, Flops, Params columns, checked as scripts/convert_pkl.py checks them."""
    try:
        names, dim, codes, metrics, _ = extract(safe_load(path), "nas-bench-201", skip_bad=False)
    except (OSError, ConversionError) as e:
        sys.exit(f"nb201_bounds: {path}: {e}")
    codes = np.array(codes, dtype=np.float32).reshape(-1, dim)  # extract checked dim and the one-hot groups
    if len(codes) != 15625:
        sys.exit(f"nb201_bounds: {path}: expected the 15625 cells of NAS-Bench-201, got {len(codes)} records")
    table = np.array(metrics).reshape(len(codes), len(names))
    return codes, *(table[:, names.index(k)] for k in ("Acc", "Flops", "Params"))


def read_cells(path):
    """Cells in the benchmark's string form `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`, one per line: op indices."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = [line.strip() for line in f]
    except (OSError, UnicodeDecodeError) as e:
        sys.exit(f"nb201_bounds: {path}: {e}")
    cells = []
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        found = re.fullmatch(r"\|(\w+)~0\|\+\|(\w+)~0\|(\w+)~1\|\+\|(\w+)~0\|(\w+)~1\|(\w+)~2\|", line)
        if not found or any(op not in OP_NAMES for op in found.groups()):
            sys.exit(f"nb201_bounds: {path}:{number}: not a NAS-Bench-201 cell: {line[:80]!r}")
        cells.append([OP_NAMES.index(op) for op in found.groups()])
    if not cells:
        sys.exit(f"nb201_bounds: {path}: no cells")
    return np.array(cells)


def rank_gaussian(v):
    normal = statistics.NormalDist()
    ranks = np.argsort(np.argsort(v))
    return np.array([normal.inv_cdf((r + 0.5) / len(v)) for r in ranks])


def train_mlp(codes, rows, targets, seed, costs=None, epochs=200, dropout=0.5, batch=None):
    """One member: 30 -> 256 -> 128 -> 1, swish, Adam 1e-2 with a one-cycle schedule, smooth L1 on z-scores.
    `costs` (all cells x 2) adds a head that learns them on every cell; `batch` trains on minibatches of `rows`."""
    torch.manual_seed(seed)
    x = torch.tensor(codes)
    mean, std = targets.mean(), targets.std()
    z = torch.tensor((targets - mean) / std, dtype=torch.float32)[:, None]
    body = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.SiLU(), torch.nn.Dropout(dropout),
                               torch.nn.Linear(256, 128), torch.nn.SiLU(), torch.nn.Dropout(dropout))
    head, cost_head = torch.nn.Linear(128, 1), torch.nn.Linear(128, 2)
    parameters = [*body.parameters(), *head.parameters(), *cost_head.parameters()]
    rows = torch.tensor(rows)
    steps_per_epoch = 1 if batch is None else -(-len(rows) // batch)
    optimizer = torch.optim.Adam(parameters, 1e-2, weight_decay=1e-7)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 1e-2, total_steps=epochs * steps_per_epoch)
    if costs is not None:
        costs = torch.tensor((costs - costs.mean(0)) / costs.std(0), dtype=torch.float32)
    for _ in range(epochs):
        order = torch.randperm(len(rows)) if batch else torch.arange(len(rows))
        for s in range(steps_per_epoch):
            pick = order if batch is None else order[s * batch:(s + 1) * batch]
            optimizer.zero_grad()
            loss = torch.nn.functional.smooth_l1_loss(head(body(x[rows[pick]])), z[pick])
            if costs is not None:
                cells = torch.randint(0, len(x), (256,))
                loss = loss + torch.nn.functional.smooth_l1_loss(cost_head(body(x[cells])), costs[cells])
            loss.backward()
            optimizer.step()
            schedule.step()
    body.eval()
    with torch.no_grad():
        return head(body(x)).numpy()[:, 0] * std + mean


def gaussian_process(ops, rows, targets):
    """Posterior mean and standard deviation of a GP with kernel exp(-hamming / l), l and noise by evidence."""
    mean, std = targets.mean(), targets.std()
    z = (targets - mean) / std
    distance = (ops[rows][:, None, :] != ops[rows][None, :, :]).sum(2)
    best = None
    for length in (0.5, 1, 2, 4, 8):
        for noise in (0.01, 0.1, 0.3):
            chol = np.linalg.cholesky(np.exp(-distance / length) + noise * np.eye(len(rows)))
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
            evidence = -0.5 * z @ alpha - np.log(np.diag(chol)).sum()
            if best is None or evidence > best[0]:
                best = (evidence, length, chol, alpha)
    _, length, chol, alpha = best
    cross = np.exp(-(ops[:, None, :] != ops[rows][None, :, :]).sum(2) / length)
    v = np.linalg.solve(chol, cross.T)
    return cross @ alpha * std + mean, np.sqrt(np.maximum(1 - (v * v).sum(0), 0)) * std


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--around", metavar="FILE",
                        help="only the all-cells predictor's picks near these cells (string form, one per line)")
    parser.add_argument("pkl", nargs="?")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    path = args.pkl or os.path.join(os.environ.get("NCP_DATA_DIR", ""), "nas-bench-201", "trainval.pkl")
    if not args.pkl and not os.environ.get("NCP_DATA_DIR"):
        sys.exit("nb201_bounds: set NCP_DATA_DIR (the folder of the NAS-Bench-MR pickles) or name the pickle")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    codes, acc, flops, params = load(path)
    ops = codes.reshape(-1, NB201_CODE_DIM // NB201_OPS, NB201_OPS).argmax(2)
    around = read_cells(args.around) if args.around else None
    every = np.arange(len(acc))
    # The ceiling: what a predictor knowing every result (2 members, minibatches, no dropout) would pick.
    oracle = np.mean([train_mlp(codes, every, acc, seed, epochs=100, dropout=0, batch=256) for seed in (1, 2)], 0)
    top = np.argsort(-acc)[:80]
    top_correlation = np.corrcoef(oracle[top], acc[top])[0, 1]

    def neighbours(cells, radius):
        near = np.zeros(len(acc), bool)
        for c in cells:
            near |= (ops != ops[c]).sum(1) <= radius
        return near

    if around is not None:
        cells = [int(np.flatnonzero((ops == cell).all(1))[0]) for cell in around]
        print("cell: stored accuracy; the all-cells predictor's best pick within 1 and 2 edges (stored accuracy)")
        picks = {1: [], 2: []}
        for c in cells:
            for radius in picks:
                near = neighbours([c], radius)
                near[c] = False
                picks[radius].append(acc[np.argmax(np.where(near, oracle, -np.inf))])
            print(f"{c:5d}: {acc[c]:.3f}; {picks[1][-1]:.3f}, {picks[2][-1]:.3f}")
        print(f"mean: {acc[cells].mean():.3f}; {np.mean(picks[1]):.3f}, {np.mean(picks[2]):.3f}")
        return

    all_costs = np.stack([flops, params], 1)
    results = {}

    def record(name, value):
        results.setdefault(name, []).append(value)

    for seed in range(args.seeds):
        rows = np.random.default_rng(seed).choice(len(acc), 100, replace=False)
        known = np.zeros(len(acc), bool)
        known[rows] = True
        ranked = rows[np.argsort(-acc[rows])]
        best = ranked[0]
        record("random search: best of the 100 known", acc[best])
        for radius in (1, 2):
            near = neighbours([best], radius) & ~known
            record(f"all cells known: best predicted within {radius} edge(s) of the best known",
                   acc[np.argmax(np.where(near, oracle, -np.inf))])
            if radius == 1:
                record("share of the best known's 1-edge neighbours that beat it", (acc[near] > acc[best]).mean())
        record("all cells known: best predicted unknown cell anywhere",
               acc[np.argmax(np.where(known, -np.inf, oracle))])

        variants = {  # name: (the targets the predictor learns, the cost heads' targets)
            "MLP x5, raw targets": (acc[rows], None),
            "MLP x5, rank-Gaussian targets": (rank_gaussian(acc[rows]), None),
            "MLP x5, + FLOPs/params heads on all cells": (acc[rows], all_costs),
        }
        predictions = {}
        for name, (targets, costs) in variants.items():
            members = np.stack([train_mlp(codes, rows, targets, 1000 * seed + m, costs) for m in range(1, 6)])
            predictions[name] = (members.mean(0), members.std(0), targets.max())
        predictions["GP, Hamming kernel"] = (*gaussian_process(ops, rows, acc[rows]), acc[best])
        near = neighbours(ranked[:10], 1) & ~known
        for name, (mean, spread, bar) in predictions.items():
            record(f"100 known, {name}: best predicted unknown cell anywhere",
                   acc[np.argmax(np.where(known, -np.inf, mean))])
            pick = np.argmax(np.where(near, mean, -np.inf))
            record(f"100 known, {name}: best predicted 1-edge neighbour of the 10 best known", acc[pick])
            lower = np.where(near, mean - 2 * spread, -np.inf)
            guarded = np.argmax(lower)
            record(f"100 known, {name}: that neighbour under the guard (kappa 2)",
                   acc[guarded] if lower[guarded] > bar else acc[best])
        print(f"seed {seed} done", file=sys.stderr, flush=True)

    print(f"NAS-Bench-201, ImageNet16-120 accuracy of the selected cell, mean over {args.seeds} draws of 100 cells")
    for name, values in results.items():
        print(f"{np.mean(values):8.3f}  {name}")
    print(f"{top_correlation:8.3f}  correlation of the all-cells predictor with the stored accuracy, best 80 cells")


if __name__ == "__main__":
    main()
