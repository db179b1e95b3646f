#!/usr/bin/env python3
"""The PyTorch peer of `ncp train`: the original release's predictor training, written here for comparison.

It trains the same model (docs/algorithm.md section 4) with the same defaults (docs/algorithm.md section 5) on the same
split as an `ncp train` run (read from that run's split.json), following the original's pipeline: a torch Dataset and
DataLoader reshuffled every epoch, Adam + OneCycleLR stepped per batch, SmoothL1 loss, per-epoch validation MAE in
original units, and the best model kept by main-metric MAE. It prints one JSON object with its timings and the best
model's quality (Kendall tau-b and Spearman rho of every metric on the validation split).

Run with Debian's interpreter, which has python3-torch: /usr/bin/python3 bench/pytorch_peer.py --help
Install libopenblas0-pthread first, or torch falls back to a reference BLAS and the comparison flatters ncp.
"""

import argparse
import json
import math
import pickle
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

ACTIVATIONS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "tanh": nn.Tanh, "swish": nn.SiLU}


class Predictor(nn.Module):
    """docs/algorithm.md section 4: BN -> Linear -> BN -> act -> dropout trunk, one head per metric group."""

    def __init__(self, input_dim, groups, activation, shared=256, separated=128, p1=0.5, p2=(0.5, 0.5, 0.0)):
        super().__init__()
        act = ACTIVATIONS[activation]
        self.trunk = nn.Sequential(nn.BatchNorm1d(input_dim), nn.Linear(input_dim, shared),
                                   nn.BatchNorm1d(shared), act(), nn.Dropout(p1))
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(shared, separated), nn.BatchNorm1d(separated), act(), nn.Dropout(p),
                          nn.Linear(separated, len(g)))
            for g, p in zip(groups, p2))

    def forward(self, x):
        h = self.trunk(x)
        return torch.cat([head(h) for head in self.heads], dim=1)


class Records(Dataset):
    """Per-item access, as the original's BaseDataset."""

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = inputs, outputs

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        return self.inputs[i], self.outputs[i]


def ranks(x):
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(x, kind="mergesort")
    r = np.empty(len(x))
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        r[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return r


def kendall_tau_b(x, y):
    dx = np.sign(x[:, None] - x[None, :])
    dy = np.sign(y[:, None] - y[None, :])
    iu = np.triu_indices(len(x), 1)
    dx, dy = dx[iu], dy[iu]
    s = float(np.sum(dx * dy))
    nx, ny = float(np.sum(dx != 0)), float(np.sum(dy != 0))
    return s / math.sqrt(nx * ny) if nx > 0 and ny > 0 else float("nan")


def spearman_rho(x, y):
    rx, ry = ranks(x), ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    d = math.sqrt(float(np.sum(rx * rx) * np.sum(ry * ry)))
    return float(np.sum(rx * ry)) / d if d > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the setting's trainval.pkl")
    ap.add_argument("--split", required=True, help="split.json written by `ncp train` (train/val record indices)")
    ap.add_argument("--metrics", default="mIoU;mAcc,aAcc;flops,params",
                    help="metric groups: groups separated by ';', metrics by ',' (default: seg's)")
    ap.add_argument("--drop2", default="0.5,0.5,0", help="head dropout per group")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--weight-decay", type=float, default=1e-7)
    ap.add_argument("--activation", default="swish", choices=sorted(ACTIVATIONS))
    ap.add_argument("--seed", type=int, default=233)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)

    groups = [g.split(",") for g in args.metrics.split(";")]
    names = [m for g in groups for m in g]
    drop2 = [float(p) for p in args.drop2.split(",")]
    if len(drop2) != len(groups):
        sys.exit(f"pytorch_peer: --drop2 needs {len(groups)} values")

    with open(args.data, "rb") as f:
        records = pickle.load(f)
    with open(args.split) as f:
        split = json.load(f)
    x = np.array([r["embedding"] for r in records], dtype=np.float64)
    y = np.array([[r[m] for m in names] for r in records], dtype=np.float64)
    x_mean, x_std = x.mean(0), x.std(0)
    y_mean, y_std = y.mean(0), y.std(0)
    x_std[x_std == 0] = 1
    y_std[y_std == 0] = 1
    xz = ((x - x_mean) / x_std).astype(np.float32)
    yz = ((y - y_mean) / y_std).astype(np.float32)
    tr, va = np.array(split["train"]), np.array(split["val"])

    train_loader = DataLoader(Records(xz[tr], yz[tr]), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(Records(xz[va], yz[va]), batch_size=args.batch_size, shuffle=False)

    model = Predictor(x.shape[1], groups, args.activation, p2=drop2)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, pct_start=0.3, div_factor=10,
                                                    base_momentum=0.85, max_momentum=0.95,
                                                    total_steps=len(train_loader) * args.epochs)
    criterion = nn.SmoothL1Loss()
    std_t, mean_t = torch.from_numpy(y_std).float(), torch.from_numpy(y_mean).float()

    t_train = time.perf_counter()
    best = (math.inf, -1, None)
    steps = 0
    for epoch in range(args.epochs):
        model.train()
        for data, label in train_loader:
            loss = criterion(model(data), label)
            model.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            steps += 1
        model.eval()
        total = torch.zeros(len(names))
        with torch.no_grad():
            for data, label in val_loader:
                total += (model(data) * std_t + mean_t - (label * std_t + mean_t)).abs().mean(0)
        mae = total / len(val_loader)
        if mae[0].item() < best[0]:
            best = (mae[0].item(), epoch, {k: v.clone() for k, v in model.state_dict().items()}, mae.tolist())
    train_s = time.perf_counter() - t_train

    model.load_state_dict(best[2])
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xz[va])).double().numpy() * y_std + y_mean
    truth = y[va]
    result = {
        "program": "pytorch_peer",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "wall_s": time.perf_counter() - T_START,
        "train_s": train_s,
        "steps": steps,
        "ms_per_step": 1e3 * train_s / steps,
        "best_epoch": best[1],
        "best_val_mae": dict(zip(names, best[3])),
        "kendall_tau": {m: kendall_tau_b(pred[:, i], truth[:, i]) for i, m in enumerate(names)},
        "spearman_rho": {m: spearman_rho(pred[:, i], truth[:, i]) for i, m in enumerate(names)},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
