#!/usr/bin/env python3
"""The PyTorch peer of `ncp search`: the original NCP loop (docs/algorithm.md section 6) as a PyTorch user runs it,
written afresh for timing: a multi-head MLP predictor (docs/algorithm.md section 4) in evaluation mode, the code edited
for 70 iterations (a fresh SGD each iteration, the L1 terms with detached targets, a per-element clamp in z-space,
rounding in original units), and every rounded code's FLOPs and params counted as the original does with thop: the
multi-resolution network of docs/algorithm.md section 3 is built in PyTorch and run once on a 1 x 3 x 128 x 128 input
with forward hooks on its convolutions and batch norms.

Prints one JSON line: the loop's time (in-process, after building the predictor), per iteration, the final code and
its FLOPs/params, and a check that the hook count reproduces docs/algorithm.md section 3's numbers for the all-64 code.

usage: bench/pytorch_ncp_peer.py [--iters 70] [--threads N] [--seed 233]
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from check_export import count_hooks  # noqa: E402  (thop's convention, one definition for the export check too)

CHANNEL_DIMS = {0, 1, 4, 8, 9, 14, 15, 16, 22, 23, 24, 25, 26}


# ---- the multi-resolution network of docs/algorithm.md section 3 ----

def conv_bn_relu(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class BasicBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = conv_bn_relu(c, c, 3, 1)
        self.conv2 = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return F.relu(self.conv2(self.conv1(x)) + x)


class Module(nn.Module):
    """A fuse step from len(cin) to len(cout) branches, then `blocks[b]` BasicBlocks on every branch b."""

    def __init__(self, cin, cout, blocks):
        super().__init__()
        self.n_in, self.n_out = len(cin), len(cout)
        self.fuse = nn.ModuleList()
        for i in range(min(self.n_in, self.n_out)):
            paths = nn.ModuleDict()
            if i - 1 >= 0:
                paths['down'] = conv_bn_relu(cin[i - 1], cout[i], 3, 2)
            paths['same'] = conv_bn_relu(cin[i], cout[i], 3, 1)
            if i + 1 < self.n_in:
                paths['up'] = conv_bn_relu(cin[i + 1], cout[i], 1, 1)
            self.fuse.append(paths)
        self.new = nn.ModuleList(conv_bn_relu(cout[b - 1], cout[b], 3, 2) for b in range(self.n_in, self.n_out))
        self.branches = nn.ModuleList(nn.Sequential(*[BasicBlock(cout[b]) for _ in range(blocks[b])])
                                      for b in range(self.n_out))

    def forward(self, xs):
        out = []
        for i, paths in enumerate(self.fuse):
            y = paths['same'](xs[i])
            if 'down' in paths:
                y = y + paths['down'](xs[i - 1])
            if 'up' in paths:
                y = y + F.interpolate(paths['up'](xs[i + 1]), scale_factor=2, mode='nearest')
            out.append(F.relu(y))
        for conv in self.new:
            out.append(conv(out[-1]))
        return [branch(x) for branch, x in zip(self.branches, out)]


class MultiResolutionNet(nn.Module):
    """Stem, modules from a 27-int code, classification head (docs/algorithm.md section 3)."""

    def __init__(self, code, classes=50):
        super().__init__()
        c0, c1 = code[0], code[1]
        self.stem = nn.Sequential(conv_bn_relu(3, c0, 3, 2), conv_bn_relu(c0, c1, 3, 2))
        modules, channels = [], [c1]
        for stage, at in enumerate((2, 5, 10, 17), start=1):
            blocks = code[at + 1:at + 1 + stage]
            chans = code[at + 1 + stage:at + 1 + 2 * stage]
            for _ in range(code[at]):
                modules.append(Module(channels, chans, blocks))
                channels = chans
        self.modules_ = nn.ModuleList(modules)
        self.head = conv_bn_relu(sum(channels), code[26], 1, 1)
        self.classifier = nn.Conv2d(code[26], classes, 1, bias=True)

    def forward(self, x):
        xs = [self.stem(x)]
        for m in self.modules_:
            xs = m(xs)
        size = xs[-1].shape[-2:]
        x = torch.cat([F.interpolate(b, size=size, mode='bilinear', align_corners=False) if b.shape[-2:] != size
                       else b for b in xs], 1)
        x = F.adaptive_avg_pool2d(self.head(x), 1)
        return self.classifier(x)


def count_flops_params(code):
    """thop's convention through forward hooks: a conv costs output elements x (in / groups x k x k + bias), a batch
    norm 2 x its input elements; params are the model's parameters. Returns (G, M)."""
    net = MultiResolutionNet(code).eval()
    macs, _ = count_hooks(net, (1, 3, 128, 128))
    return macs / 1e9, sum(p.numel() for p in net.parameters()) / 1e6


# ---- the predictor of docs/algorithm.md section 4 ----

class Predictor(nn.Module):
    def __init__(self, dim=27, groups=(1, 2, 2), drops=(0.5, 0.5, 0.0)):
        super().__init__()
        self.trunk = nn.Sequential(nn.BatchNorm1d(dim), nn.Linear(dim, 256), nn.BatchNorm1d(256), nn.SiLU(),
                                   nn.Dropout(0.5))
        self.heads = nn.ModuleList(nn.Sequential(nn.Linear(256, 128), nn.BatchNorm1d(128), nn.SiLU(), nn.Dropout(p),
                                                 nn.Linear(128, g)) for g, p in zip(groups, drops))

    def forward(self, x):
        h = self.trunk(x)
        return torch.cat([head(h) for head in self.heads], 1)


def rounded(values, lower):
    """docs/algorithm.md section 6 step 5: each value to the nearest multiple of its lower bound, at least that
    bound."""
    return [max(lo, int(v + lo / 2) // lo * lo) for v, lo in zip(values, lower)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--iters', type=int, default=70)
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: PyTorch default)')
    ap.add_argument('--seed', type=int, default=233)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    start_code = [64 if i in CHANNEL_DIMS else 2 for i in range(27)]
    check = count_flops_params(start_code)

    model = Predictor().eval()
    # Normalisation statistics of the shape NAS-Bench-MR's have (the loop's cost does not depend on them).
    mean = torch.tensor([64.0 if i in CHANNEL_DIMS else 2.5 for i in range(27)], dtype=torch.float64)
    std = torch.tensor([35.0 if i in CHANNEL_DIMS else 1.1 for i in range(27)], dtype=torch.float64)
    lower = [8 if i in CHANNEL_DIMS else 1 for i in range(27)]
    upper = [128 if i in CHANNEL_DIMS else 4 for i in range(27)]
    z_lo = ((torch.tensor(lower, dtype=torch.float64) - mean) / std).float()
    z_hi = ((torch.tensor(upper, dtype=torch.float64) - mean) / std).float()
    criterion = nn.L1Loss(reduction='none')

    t0 = time.perf_counter()
    z = ((torch.tensor([start_code], dtype=torch.float64) - mean) / std).float().requires_grad_(True)
    code = list(start_code)
    flops, params = count_flops_params(code)
    for _ in range(args.iters):
        optimizer = torch.optim.SGD([z], lr=3)
        optimizer.zero_grad()
        pred = model(z)[0]
        main_record = model(((torch.tensor([code], dtype=torch.float64) - mean) / std).float())[0][0].item()
        loss = criterion(pred[0], pred[0].detach() + 0.1) + 0.5 * criterion(pred[-2], pred[-2].detach() - 0.1)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for i in range(27):
                if z[0][i] > z_hi[i]:
                    z[0][i] = z_hi[i]
                if z[0][i] < z_lo[i]:
                    z[0][i] = z_lo[i]
        z = z.detach().clone().requires_grad_(True)
        continuous = (mean + z[0].detach().double() * std).tolist()
        code = rounded(continuous, lower)
        flops, params = count_flops_params(code)
    seconds = time.perf_counter() - t0
    print(json.dumps({
        'program': 'pytorch_ncp_peer', 'iters': args.iters, 'threads': torch.get_num_threads(),
        'seconds': seconds, 'ms_per_iteration': 1e3 * seconds / max(1, args.iters),
        'final_code': code, 'final_flops_g': flops, 'final_params_m': params, 'last_main_record': main_record,
        'check_all64_flops_g': check[0], 'check_all64_params_m': check[1],
        'check_ok': abs(check[0] - 1.959638194) < 1e-9 and abs(check[1] - 4.128754) < 1e-9,
    }))


if __name__ == '__main__':
    main()
