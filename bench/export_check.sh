#!/usr/bin/env bash
# Every record of one NAS-Bench-MR setting through `ncp export`, as a PyTorch module and as JSON, checked by
# scripts/check_export.py (/usr/bin/python3 with torch) against the FLOPs and params the benchmark STORES for it,
# in its convention (input 128, cls head, 50 classes): parameters exact, forward-hook FLOPs exact, the output
# shape, the JSON's fields and constructor arguments. Prints the checker's summary and the times; exit 1 on any
# difference.
# usage: bench/export_check.sh [BUILD_DIR] [FILE.bin] [JOBS]
#        (defaults: build, data/seg/trainval.bin, 2 checker processes)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin=${2:-data/seg/trainval.bin}
jobs=${3:-2}
ncp="$build/examples/ncp"
[ -x "$ncp" ] || { echo "export_check: $ncp is not built" >&2; exit 1; }
[ -f "$bin" ] || { echo "export_check: $bin is missing (scripts/convert_pkl.py writes it)" >&2; exit 1; }
/usr/bin/python3 -c 'import torch' 2>/dev/null ||
  { echo "export_check: /usr/bin/python3 cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

start=$(date +%s.%N)
# The stored values as integers, by moving the decimal point as text (the decimals are exact: 9 for G, 6 for M;
# awk's numbers would not hold them all).
"$ncp" flops --data "$bin" --compare > "$dir/flops.csv"
awk -F, -v dir="$dir" 'function units(v) { sub(/\./, "", v); sub(/^0+/, "", v); return v == "" ? "0" : v }
NR > 1 { printf "%s,cls,50,128,%s,%s,%s/%d.py,%s/%d.json,\n", $1, units($4), units($5), dir, NR - 2, dir, NR - 2 }' \
  "$dir/flops.csv" > "$dir/rows.csv"
records=$(wc -l < "$dir/rows.csv")
# Two `ncp export` processes per record, JOBS at a time.
cut -d, -f1 "$dir/rows.csv" | awk '{ print NR - 1, $1 }' |
  xargs -P "$jobs" -n 2 sh -c '"$0" export "$3" --out "$1/$2.py" && "$0" export "$3" --format json --out "$1/$2.json"' \
    "$ncp" "$dir" ||
  { echo "export_check: ncp export failed" >&2; exit 1; }
exported=$(date +%s.%N)
# The records split among JOBS checker processes.
for ((j = 0; j < jobs; ++j)); do
  { echo "code,head,classes,input,flops,params,torch,json,onnx"
    awk -v j="$j" -v n="$jobs" '(NR - 1) % n == j' "$dir/rows.csv"; } > "$dir/manifest$j.csv"
  /usr/bin/python3 scripts/check_export.py "$dir/manifest$j.csv" > "$dir/check$j.txt" 2>&1 &
done
status=0
for ((j = 0; j < jobs; ++j)); do wait -n || status=1; done
end=$(date +%s.%N)
cat "$dir"/check*.txt
awk -v s="$start" -v x="$exported" -v e="$end" -v n="$records" -v j="$jobs" -v ok="$status" 'BEGIN {
  printf "export_check: %d records: %s; export %.1f s, check %.1f s (%d processes), total %.1f s\n",
         n, ok == 0 ? "every torch module and JSON exact" : "FAILURES (above)", x - s, e - x, j, e - s }'
exit "$status"
