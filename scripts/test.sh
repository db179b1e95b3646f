#!/usr/bin/env bash
# The README's test command: installs what the build needs, builds everything (Release), runs the ctest suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build=${NCP_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
