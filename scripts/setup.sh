#!/usr/bin/env bash
# setup.sh — installs what gpubp needs to build and test on Debian/Ubuntu (idempotent).
# The CUDA toolkit is optional: when nvcc is present the CUDA backend is built too.
set -euo pipefail
pkgs=(build-essential cmake pkg-config lua5.4 liblua5.4-dev lua-busted libopenblas-dev
      zlib1g-dev libjansson-dev libedit-dev clang clang-format libclang-rt-dev
      luarocks dpkg-dev git libopenmpi-dev openmpi-bin
      dataset-fashion-mnist fortunes libdnnl-dev) # luarocks: the rock test; dpkg-dev: dpkg-shlibdeps for
      # cpack; Open MPI: the distributed plugin and its mpirun tests; dataset-fashion-mnist:
      # scripts/examples/cnn_fashion.lua's test; fortunes: the text corpus of
      # scripts/examples/char_transformer.lua and char_lstm.lua (their --quick runs are tests);
      # libdnnl-dev: oneDNN behind the conv2d rows (opened on the first convolution)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi
