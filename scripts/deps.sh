#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing ncp need (as root), unless they are already there.
set -euo pipefail
# libonnx-dev and libprotobuf-dev build the ONNX export; python3-torch and python3-onnx let the tests check the
# exported networks (tests/export/ report a skip without them).
packages=(cmake make g++ libeigen3-dev libxtensor-dev xtl-dev libcereal-dev doctest-dev libyaml-cpp-dev
          libbenchmark-dev python3 python3-numpy python3-dev pybind11-dev python3-pytest libonnx-dev libprotobuf-dev
          python3-torch python3-onnx)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
