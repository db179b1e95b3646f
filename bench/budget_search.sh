#!/usr/bin/env bash
# Search under a budget of trained networks on a tabular benchmark: ncp's closed loop (`ncp ask` / `ncp tell`)
# against random search, regularized evolution and local search, the same seeds and the same 10 random starting
# records for every method; the benchmark file plays the user (bench/budget_search.py says how).
#
# usage: bench/budget_search.sh [--setting nb201|seg|NAME,...] [--seeds N] [--batch K] [--budget N] [--init N]
#                               [--methods ncp,random,evolution,local] [--cfg FILE] [--data FILE.bin]
#                               [--metric NAME] [--pool auto|yes|no] [--threads N] [--out DIR]
#                               [--section.key value ...]
#   NCP_BUILD_DIR  the build folder holding examples/ncp (default: build)
#   data/<setting>/trainval.bin must exist (scripts/convert_pkl.py; data/nas-bench-201/ for nb201)
# Prints one table per setting (mean best true metric after 25, 50, 100 and 200 results known) and writes
# <out>/<setting>.svg and <setting>.csv (default out: output/budget_search).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/budget_search.py "$@"
