#!/usr/bin/env bash
# The main job (README "main job"): installs what the build needs, builds the ncp program (Release), converts the
# NAS-Bench-MR pickles found in data/ or $NCP_DATA_DIR into data/<setting>/trainval.bin (or, without them, writes
# the synthetic benchmark and says so), trains the seg predictor, runs NCP from the all-64 code and prints the
# selected architecture and where the plot and the result files are.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build=${NCP_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target ncp_cli
ncp=$build/examples/ncp

pickles=""
if [ -f data/seg/trainval.pkl ]; then
  pickles=data
elif [ -n "${NCP_DATA_DIR:-}" ] && [ -f "$NCP_DATA_DIR/seg/trainval.pkl" ]; then
  pickles=$NCP_DATA_DIR
fi
if [ -n "$pickles" ]; then
  echo "main job: converting the NAS-Bench-MR pickles of $pickles into data/<setting>/trainval.bin"
  /usr/bin/python3 scripts/convert_pkl.py "$pickles" data
  dataset=seg
else
  echo "main job: NAS-Bench-MR not found (data/seg/trainval.pkl, or \$NCP_DATA_DIR/seg/trainval.pkl):" \
       "using the synthetic benchmark instead (ncp synth; README \"data\")"
  "$ncp" synth --out data/synthetic/trainval.bin
  dataset=synthetic
fi

echo "main job: training the seg predictor (configs/seg.yaml, data/$dataset/trainval.bin)"
"$ncp" train --cfg configs/seg.yaml --data.dataset "$dataset" 2>&1 | tail -n 2
echo "main job: NCP search from the all-64 code (configs/seg.yaml, editing.*)"
"$ncp" search --cfg configs/seg.yaml --data.dataset "$dataset" | tee "$build/main_job_search.txt"
if [ "$dataset" = synthetic ]; then
  echo "main job: the synthetic benchmark knows the true (noise-free) mIoU of the start and the selection:"
  "$ncp" synth --score $(sed -n 's/^\(start\|selected\): *//p' "$build/main_job_search.txt")
fi
echo "main job: done; the plot is output/$dataset/ncp.svg (open it in a browser)"
