#!/usr/bin/env bash
# NCP on NAS-Bench-201 with 100 known architectures (configs/nb201.yaml), over several seeds: for each seed s the
# predictor ensemble trains on the 100 records of data.subset_seed s (E members, SEED 1000 s + m), the search runs
# with the config's starts, known starts and guard, and the selected cell's true accuracy is read from the benchmark
# file (only to report it: the search sees the 100 records' results alone). Prints one line per seed (the selected
# cell, its true accuracy, the best known cell and its result) and the mean.
#
# usage: bench/nb201_search.sh [--seeds N] [--members E] [--section.key value ...]   (extra keys go to both programs)
#   NCP_BUILD_DIR  the build folder holding examples/ncp (default: build)
#   data/nas-bench-201/trainval.bin must exist (scripts/convert_pkl.py)
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=5 members=5 extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds=$2; shift 2 ;;
    --members) members=$2; shift 2 ;;
    --*) extra+=("$1" "$2"); shift 2 ;;
    *) echo "usage: $0 [--seeds N] [--members E] [--section.key value ...]" >&2; exit 2 ;;
  esac
done
ncp=${NCP_BUILD_DIR:-build}/examples/ncp
[ -x "$ncp" ] || { echo "nb201_search: $ncp not built" >&2; exit 1; }
[ -f data/nas-bench-201/trainval.bin ] || { echo "nb201_search: data/nas-bench-201/trainval.bin missing" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for ((s = 0; s < seeds; s++)); do
  models=()
  for ((m = 1; m <= members; m++)); do
    "$ncp" train --cfg configs/nb201.yaml --data.subset_seed "$s" --SEED $((1000 * s + m)) \
      --log_dir "$work/s$s/m$m" --threads 1 "${extra[@]}" >/dev/null 2>&1
    models+=(--model "$work/s$s/m$m/nas-bench-201/best_model.ckpt")
  done
  "$ncp" search --cfg configs/nb201.yaml --data.subset_seed "$s" --log_dir "$work/s$s" "${models[@]}" "${extra[@]}" \
    >"$work/s$s.txt"
done
/usr/bin/python3 - "$work" "$seeds" <<'PY'
import json, sys
work, seeds = sys.argv[1], int(sys.argv[2])
values = []
for s in range(seeds):
    r = json.load(open(f"{work}/s{s}/nas-bench-201/ncp.json"))
    sel, known = r["selection"], r.get("best_known")
    acc = sel["true"]["nas-bench-201"]["Acc"]
    values.append(acc)
    best = f"{known['code']} {known['true']['nas-bench-201']['Acc']:.3f}" if known else "none"
    print(f"seed {s}: selected {sel['code']} ({sel['origin']}): true Acc {acc:.3f}; best known {best}")
print(f"mean true Acc of the selections over {seeds} seeds: {sum(values) / len(values):.3f}")
PY
