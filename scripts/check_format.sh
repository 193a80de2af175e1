#!/usr/bin/env bash
# check_format.sh — fails if any C/CUDA source differs from the committed .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
git ls-files '*.c' '*.h' '*.cu' | xargs clang-format --dry-run --Werror
echo "format: ok"
