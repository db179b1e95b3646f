#!/usr/bin/env bash
# Trains the seg predictor with `ncp train` (configs/seg.yaml, default settings) and with the PyTorch peer
# (bench/pytorch_peer.py, the original's pipeline) on the same split, as whole processes, and prints a table:
# wall time, time per step, best validation MAE of mIoU and Kendall tau of mIoU for both, and the speed-up.
#
# usage: bench/compare_train.sh [--epochs N] [--repeat K] [--threads T]
#   NCP_DATA_DIR   the NAS-Bench-MR folder (default: ../shared/nasbench-mr next to the repository)
#   NCP_BUILD_DIR  the build folder holding examples/ncp (default: build)
# With --repeat K both programs run K times, alternating, and the table shows medians (the machine may be busy).
set -euo pipefail
cd "$(dirname "$0")/.."
epochs=200 repeat=1 threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --epochs) epochs=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "usage: $0 [--epochs N] [--repeat K] [--threads T]" >&2; exit 2 ;;
  esac
done
data_dir=${NCP_DATA_DIR:-../shared/nasbench-mr}
ncp=${NCP_BUILD_DIR:-build}/examples/ncp
python=/usr/bin/python3
pkl=$data_dir/seg/trainval.pkl
[ -f "$pkl" ] || { echo "compare_train: $pkl not found (set NCP_DATA_DIR)" >&2; exit 1; }
[ -x "$ncp" ] || { echo "compare_train: $ncp not built (cmake --build build)" >&2; exit 1; }
$python -c 'import torch' 2>/dev/null || { echo "compare_train: $python cannot import torch" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/data/seg"
$python scripts/convert_pkl.py "$pkl" "$work/data/seg/trainval.bin" >/dev/null

now() { date +%s.%N; }
for ((run = 1; run <= repeat; run++)); do
  start=$(now)
  "$ncp" train --cfg configs/seg.yaml --data.root "$work/data" --log_dir "$work/out" \
    --optimization.epoch "$epochs" --threads "$threads" 2>"$work/ncp.err" >/dev/null
  echo "$(now) $start" >>"$work/ncp.times"
  cp "$work/out/seg/metrics.json" "$work/ncp.$run.json"
  start=$(now)
  $python bench/pytorch_peer.py --data "$pkl" --split "$work/out/seg/split.json" --epochs "$epochs" \
    >"$work/peer.$run.json"
  echo "$(now) $start" >>"$work/peer.times"
done

$python - "$work" "$repeat" <<'EOF'
import json, statistics, subprocess, sys
work, repeat = sys.argv[1], int(sys.argv[2])
def wall(name):
    return [float(a) - float(b) for a, b in (l.split() for l in open(f"{work}/{name}.times"))]
def median(xs):
    return statistics.median(xs)
ncp = [json.load(open(f"{work}/ncp.{i}.json")) for i in range(1, repeat + 1)]
peer = [json.load(open(f"{work}/peer.{i}.json")) for i in range(1, repeat + 1)]
rows = [
    ("ncp train", median(wall("ncp")), median(r["ms_per_step"] for r in ncp),
     median(r["best_val_mae"]["mIoU"] for r in ncp), median(r["kendall_tau"]["mIoU"] for r in ncp)),
    ("PyTorch peer", median(wall("peer")), median(r["ms_per_step"] for r in peer),
     median(r["best_val_mae"]["mIoU"] for r in peer), median(r["kendall_tau"]["mIoU"] for r in peer)),
]
cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("Model name")), "?")
cores = next((l.split(":", 1)[1].strip() for l in cpu.splitlines() if l.startswith("CPU(s)")), "?")
print(f"machine: {model}, {cores} CPUs; seg, {ncp[0]['steps']} steps, median of {repeat} run(s)")
print(f"| program | wall s (whole process) | ms / step | best val MAE mIoU | Kendall tau mIoU |")
print(f"|---|---|---|---|---|")
for name, w, ms, mae, tau in rows:
    print(f"| {name} | {w:.2f} | {ms:.3f} | {mae:.4f} | {tau:.4f} |")
print(f"speed-up (whole process): {rows[1][1] / rows[0][1]:.1f}x; per step: {rows[1][2] / rows[0][2]:.1f}x")
EOF
