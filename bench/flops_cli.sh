#!/usr/bin/env bash
# Whole-process timing of `ncp flops --codes FILE` on N random valid codes (default 100000; goal < 0.5 s).
# usage: bench/flops_cli.sh [BUILD_DIR] [N]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
ncp="$build/examples/ncp"
[ -x "$ncp" ] || { echo "flops_cli: $ncp is not built" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# Seeded, so every run times the same codes: counts 1..4, channels 8..128 in steps of 8.
awk -v n="$n" 'BEGIN {
  srand(233)
  for (i = 0; i < n; ++i) {
    line = ""
    for (d = 0; d < 27; ++d) {
      count = (d == 2 || d == 3 || (d >= 5 && d <= 7) || (d >= 10 && d <= 13) || (d >= 17 && d <= 21))
      v = count ? 1 + int(rand() * 4) : 8 * (1 + int(rand() * 16))
      line = line (d ? "," : "") v
    }
    print line
  }
}' > "$dir/codes.txt"
start=$(date +%s.%N)
"$ncp" flops --codes "$dir/codes.txt" > "$dir/out.csv"
end=$(date +%s.%N)
rows=$(($(wc -l < "$dir/out.csv") - 1))
[ "$rows" -eq "$n" ] || { echo "flops_cli: $rows rows for $n codes" >&2; exit 1; }
awk -v s="$start" -v e="$end" -v n="$n" 'BEGIN { printf "ncp flops --codes: %d codes in %.3f s\n", n, e - s }'
