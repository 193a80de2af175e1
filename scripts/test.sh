#!/usr/bin/env bash
# test.sh — configure (warnings as errors; CUDA backend when nvcc exists), build and run the
# whole test suite with ctest. Usage: scripts/test.sh [build-dir] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true
export PATH="$PATH:/usr/local/cuda/bin"
[ -d data/mnist ] || scripts/fetch_data.sh --mnist-only # the training specs read it
cmake -S . -B "$build" -DGPUBP_WERROR=ON "$@"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
