#!/usr/bin/env bash
# NCP's search loop, one start x 70 iterations with the exact FLOPs/params of every rounded code, in-process:
# ncp (bench_search, search/one_start_x70) against the PyTorch peer (bench/pytorch_ncp_peer.py: the original's
# loop with the network built in PyTorch and counted by forward hooks, as thop does). Prints both and the ratio.
#
# usage: bench/compare_search.sh [--repeat K]
#   NCP_BUILD_DIR     the build folder holding bench/bench_search (default: build)
#   NCP_SEARCH_MODEL  a seg checkpoint for ncp (default: one trained by the benchmark on the synthetic benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
repeat=1
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat=$2; shift 2 ;;
    *) echo "usage: $0 [--repeat K]" >&2; exit 2 ;;
  esac
done
bench=${NCP_BUILD_DIR:-build}/bench/bench_search
python=/usr/bin/python3
[ -x "$bench" ] || { echo "compare_search: $bench not built (cmake --build build --target bench_search)" >&2; exit 1; }
$python -c 'import torch' 2>/dev/null || { echo "compare_search: $python cannot import torch" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bench" --benchmark_filter='search/one_start_x70' --benchmark_repetitions="$repeat" --benchmark_format=json \
  >"$work/ncp.json" 2>/dev/null
for ((run = 1; run <= repeat; run++)); do
  $python bench/pytorch_ncp_peer.py >"$work/peer.$run.json"
done
$python - "$work" "$repeat" <<'PY'
import json, statistics, sys
work, repeat = sys.argv[1], int(sys.argv[2])
runs = [b for b in json.load(open(f"{work}/ncp.json"))["benchmarks"] if b.get("run_type") == "iteration"]
ncp_ms = statistics.median(b["real_time"] for b in runs)  # ms (the benchmark's unit)
peers = [json.load(open(f"{work}/peer.{i}.json")) for i in range(1, repeat + 1)]
peer_ms = statistics.median(p["seconds"] for p in peers) * 1e3
assert all(p["check_ok"] for p in peers), "the peer's hook count does not reproduce docs/algorithm.md section 3"
print("one start x 70 iterations, exact FLOPs/params of every rounded code included, in-process, median of", repeat)
print(f"| program | ms | ms / iteration |")
print(f"|---|---|---|")
print(f"| ncp (bench_search) | {ncp_ms:.3f} | {ncp_ms / 70:.4f} |")
print(f"| PyTorch peer ({peers[0]['threads']} thread(s)) | {peer_ms:.1f} | {peer_ms / 70:.2f} |")
print(f"ncp is {peer_ms / ncp_ms:.0f}x faster")
PY
