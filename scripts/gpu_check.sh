#!/usr/bin/env bash
# gpu_check.sh — the whole GPU check in one command, for a machine with an NVIDIA GPU (made for
# the `device` tool: one call, well under 8 minutes). It configures and builds gpubp with CUDA
# (sm_90 + PTX, warnings as errors), runs the gpu-labelled tests, runs the CUDA test and a
# training run again under `compute-sanitizer --tool memcheck`, trains MNIST on cuda (and on
# the CPU for comparison), times a training step against PyTorch on the same GPU, and writes
# $OUT/summary.md (plus check.log).
#
# The GPU machine has CUDA, CMake and PyTorch but no Lua, jansson, libedit, OpenBLAS or busted,
# and no network. So, first, on a machine that has them (this project's dev machine):
#
#   scripts/gpu_check.sh --prepare     # builds build-gpu-prep/ and packs .gpucarry/deps.tar.xz:
#                                      # runtime + dev files of those libraries, pkgconf, the
#                                      # busted Lua modules, and a prebuilt gpubp/test binary
#
# then through the device tool, carrying the pack and the data:
#
#   run(command="scripts/gpu_check.sh", carry=[".gpucarry", "data/mnist"], timeout_s=540)
#
# There it builds from source against the carried dev files; if that build fails, it says so
# in the summary and goes on with the carried prebuilt binaries (built here with the same nvcc
# 13.0 for sm_90), so the GPU checks still run. Every step has a time limit; a failing step is
# recorded and the next one runs. Exit status: 0 when every check passed, 1 otherwise.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
CARRY=.gpucarry
ARCHS="90-real;90-virtual"

nvcc_path() { command -v nvcc || { [ -x /usr/local/cuda/bin/nvcc ] && echo /usr/local/cuda/bin/nvcc; }; }

# ---- --prepare: runs on the dev machine ------------------------------------------------------
prepare() {
  set -e
  local nvcc
  nvcc=$(nvcc_path) || { echo "gpu_check --prepare: nvcc not found" >&2; exit 2; }
  cmake -B build-gpu-prep -DGPUBP_CUDA=ON -DGPUBP_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS"
  cmake --build build-gpu-prep -j"$(nproc)"
  rm -rf "$CARRY"
  local D=$CARRY/deps
  mkdir -p "$D"/{lib,bin,pc,include/openblas,lua/share,lua/lib} "$CARRY/prebuilt/bin" \
    "$CARRY/prebuilt/tests"
  # runtime libraries of the binaries, except what any CUDA machine has (glibc, libstdc++,
  # the CUDA runtime and cuBLAS)
  local f
  for f in $(ldd build-gpu-prep/gpubp build-gpu-prep/tests/test_cuda_ops |
             awk '/=> \//{print $3}' | sort -u); do
    case $(basename "$f") in
      libc.so*|libm.so*|libpthread*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*) ;;
      libcublas*|libcudart*|libcuda.so*) ;;
      *) cp -L "$f" "$D/lib/" ;;
    esac
  done
  # link-time names and headers, so the GPU machine can build from source
  local n so
  for n in lua5.4 jansson edit openblas z; do
    so=$(cd "$D/lib" && ls | grep "^lib$n\.so\." | head -1)
    ln -sf "$so" "$D/lib/lib$n.so"
  done
  cp -r /usr/include/lua5.4 "$D/include/"
  cp /usr/include/jansson.h /usr/include/jansson_config.h /usr/include/histedit.h \
    /usr/include/zlib.h /usr/include/zconf.h "$D/include/"
  cp -r /usr/include/editline "$D/include/"
  cp "$(pkg-config --variable=includedir openblas)"/*.h "$D/include/openblas/"
  pc() { # name version cflags libs
    printf 'prefix=${pcfiledir}/..\nName: %s\nDescription: %s (gpu_check pack)\nVersion: %s\nCflags: %s\nLibs: %s\n' \
      "$1" "$1" "$2" "$3" "$4" >"$D/pc/$1.pc"
  }
  pc lua5.4 "$(pkg-config --modversion lua5.4)" '-I${prefix}/include/lua5.4' '-L${prefix}/lib -llua5.4'
  pc jansson "$(pkg-config --modversion jansson)" '-I${prefix}/include' '-L${prefix}/lib -ljansson'
  pc libedit "$(pkg-config --modversion libedit)" '-I${prefix}/include -I${prefix}/include/editline' '-L${prefix}/lib -ledit'
  pc openblas "$(pkg-config --modversion openblas)" '-I${prefix}/include/openblas' '-L${prefix}/lib -lopenblas'
  pc zlib "$(pkg-config --modversion zlib)" '-I${prefix}/include' '-L${prefix}/lib -lz'
  cp -L "$(command -v pkgconf)" "$D/bin/pkgconf.real"
  cp -L "$(ldd "$(command -v pkgconf)" | awk '/libpkgconf/{print $3}')" "$D/lib/"
  cat >"$D/bin/pkg-config" <<'EOF'
#!/bin/sh
d=$(cd "$(dirname "$0")/.." && pwd)
LD_LIBRARY_PATH="$d/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$d/bin/pkgconf.real" "$@"
EOF
  chmod +x "$D/bin/pkg-config"
  # busted and its modules (Lua and C), dereferencing Debian's symlinks
  cp -rL /usr/share/lua/5.4/. "$D/lua/share/"
  cp -rL /usr/lib/x86_64-linux-gnu/lua/5.4/. "$D/lua/lib/"
  # the prebuilt fallback: binaries only (the Lua side comes from the repo copy there)
  cp build-gpu-prep/gpubp "$CARRY/prebuilt/bin/"
  cp build-gpu-prep/tests/test_cuda_ops "$CARRY/prebuilt/tests/"
  git rev-parse HEAD >"$CARRY/prebuilt/COMMIT" 2>/dev/null || true
  tar -C "$CARRY" -cJf "$CARRY/deps.tar.xz" deps prebuilt
  rm -rf "$D" "$CARRY/prebuilt"
  mkdir -p .git/info
  grep -qx '/.gpucarry/' .git/info/exclude 2>/dev/null || echo '/.gpucarry/' >>.git/info/exclude
  du -sh "$CARRY/deps.tar.xz"
  echo "prepared: carry .gpucarry and data/mnist, run scripts/gpu_check.sh there"
}

# ---- the check: runs on the GPU machine --------------------------------------------------------
OUT=${OUT:-$ROOT/gpu_check_out}
SUMMARY=$OUT/summary.md
ROWS=$OUT/.rows
FAILED=0

row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3" >>"$ROWS"; }

# step NAME LIMIT_S CMD...: runs CMD with a time limit, logs it, records PASS/FAIL and seconds.
step() {
  local name=$1 limit=$2
  shift 2
  echo "==== $name ($(date -u +%T), limit ${limit}s): $*"
  local t0=$SECONDS rc
  timeout --kill-after=10 "$limit" "$@"
  rc=$?
  local dt=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then
    row "$name" "PASS" "${dt}s"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    row "$name" "FAIL (timed out after ${limit}s)" "${dt}s"
    FAILED=1
  else
    row "$name" "FAIL (exit $rc)" "${dt}s"
    FAILED=1
  fi
  return $rc
}

setup_deps() {
  DEPS=""
  if [ -f "$CARRY/deps.tar.xz" ]; then
    mkdir -p /tmp/gpudeps && tar -C /tmp/gpudeps -xJf "$CARRY/deps.tar.xz" && DEPS=/tmp/gpudeps/deps
  fi
  local extra="" d
  for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
    [ -d "$d" ] && extra="$extra:$d"
  done
  d=$(python3 -c 'import nvidia.cublas, os; print(os.path.join(list(nvidia.cublas.__path__)[0], "lib"))' 2>/dev/null) &&
    [ -d "$d" ] && extra="$extra:$d"
  if [ -n "$DEPS" ]; then
    export LD_LIBRARY_PATH="$DEPS/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}$extra"
    export LUA_PATH="$DEPS/lua/share/?.lua;$DEPS/lua/share/?/init.lua;;"
    export LUA_CPATH="$DEPS/lua/lib/?.so;;"
    export PKG_CONFIG_LIBDIR="$DEPS/pc"
  else
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}$extra"
  fi
}

build() {
  local nvcc pkg=()
  nvcc=$(nvcc_path) || { echo "no nvcc"; return 1; }
  if [ -n "$DEPS" ]; then
    pkg=(-DPKG_CONFIG_EXECUTABLE="$DEPS/bin/pkg-config" -DZLIB_ROOT="$DEPS")
  fi
  cmake -B build-gpu -DGPUBP_CUDA=ON -DGPUBP_WERROR=ON -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$ARCHS" "${pkg[@]}" &&
    cmake --build build-gpu -j"$(nproc)"
}

# ctest -L gpu, where a skipped test (no device seen) counts as a failure.
ctest_gpu() {
  local log=/tmp/gpu_ctest.log
  ctest --test-dir build-gpu -L gpu --output-on-failure --timeout 200 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if grep '(Skipped)' "$log" | grep -qv 'gpu_run_spec'; then # run_spec.lua: the harness
    echo "gpu_check: a gpu test was skipped: the device was not usable"
    return 1
  fi
  return "$rc"
}

# The prebuilt binaries in an install-like layout: <p>/bin/gpubp finds <p>/share/lua/5.4
# (older builds: <p>/share/gpubp/lua).
use_prebuilt() {
  local p=/tmp/gpudeps/prebuilt
  [ -x "$p/bin/gpubp" ] || return 1
  mkdir -p "$p/share/gpubp" "$p/share/lua"
  ln -sfn "$ROOT/lua" "$p/share/gpubp/lua"
  ln -sfn "$ROOT/lua" "$p/share/lua/5.4"
  GPUBP=$p/bin/gpubp
  CUDA_TEST=$p/tests/test_cuda_ops
}

# BENCH epoch_ms from a bench output file; the epoch is 80 steps of batch 100.
step_ms() { awk '/^BENCH epoch_ms/{printf "%.3f", $3 / 80}' "$1" 2>/dev/null; }
accuracy() { sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$1" 2>/dev/null | tail -1; }

check() {
  mkdir -p "$OUT"
  : >"$ROWS"
  exec > >(tee -a "$OUT/check.log") 2>&1
  local t_all=$SECONDS
  echo "gpu_check $(date -u +%FT%TZ) in $ROOT"
  local gpu drv nvv cm torchv cs
  gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
  drv=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  nvv=$($(nvcc_path || echo nvcc) --version 2>/dev/null | tail -2 | head -1)
  cm=$(cmake --version 2>/dev/null | head -1)
  torchv=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null)
  cs=$(compute-sanitizer --version 2>/dev/null | tail -1)
  echo "GPU: $gpu, driver $drv; $nvv; $cm; torch $torchv; $cs"
  setup_deps

  # 1. build from source (sm_90 + PTX, -Werror), else the carried prebuilt binaries
  local built=""
  export -f build nvcc_path
  export DEPS ARCHS
  if step "configure + build (CUDA sm_90, -Werror)" 300 bash -c build; then
    built="from source in build-gpu"
    GPUBP=$ROOT/build-gpu/gpubp
    CUDA_TEST=$ROOT/build-gpu/tests/test_cuda_ops
  elif use_prebuilt; then
    built="prebuilt (carried; commit $(cat /tmp/gpudeps/prebuilt/COMMIT 2>/dev/null))"
  else
    built="none (no build, and no .gpucarry/deps.tar.xz: run scripts/gpu_check.sh --prepare on the dev machine and carry .gpucarry)"
  fi
  echo "binaries: $built"
  [ -n "${GPUBP:-}" ] && { "$GPUBP" -v 2>&1 | tee "$OUT/version.txt" || true; }

  if [ "${built#none}" = "$built" ]; then
    # 2. gpu tests: the table-driven op test and the Lua specs (ctest when built here)
    if [ -d build-gpu ] && [ "$GPUBP" = "$ROOT/build-gpu/gpubp" ]; then
      export -f ctest_gpu
      step "ctest -L gpu (skips count as failures)" 300 bash -c ctest_gpu
    else
      step "test_cuda_ops (every op row, cpu vs cuda)" 120 "$CUDA_TEST"
      local s
      for s in tests/gpu/*_spec.lua; do
        case $s in */run_spec.lua) continue ;; esac
        step "spec $(basename "$s")" 180 "$GPUBP" tests/gpu/run_spec.lua "$s"
      done
    fi
    # 3. memcheck: the op test, and one training epoch on cuda (forward, backward, optimizer)
    local san=(compute-sanitizer --tool memcheck --leak-check full --report-api-errors no
               --error-exitcode 99)
    step "memcheck: test_cuda_ops" 240 "${san[@]}" "$CUDA_TEST"
    step "memcheck: 1 MNIST epoch on cuda" 180 "${san[@]}" "$GPUBP" scripts/train_mnist.lua \
      --device cuda --epochs 1 --quiet --data data/mnist
    # 4. MNIST, cuda vs cpu, same seed and settings
    step "MNIST on cuda (10 epochs)" 120 "$GPUBP" scripts/train_mnist.lua --device cuda \
      --epochs 10 --quiet --data data/mnist | tee "$OUT/mnist_cuda.txt"
    step "MNIST on cpu (10 epochs)" 180 "$GPUBP" scripts/train_mnist.lua --device cpu \
      --epochs 10 --quiet --data data/mnist | tee "$OUT/mnist_cpu.txt"
    # 5. a training step vs PyTorch on this GPU (seed MLP 784-128-10, SGD, batch 100)
    step "bench: gpubp step on cuda" 90 "$GPUBP" scripts/bench/gb_mlp_epoch.lua cuda 10 |
      tee "$OUT/bench_gpubp.txt"
    step "bench: PyTorch step on cuda" 120 python3 scripts/bench/torch_bench.py epoch \
      --device cuda --epochs 10 | tee "$OUT/bench_torch.txt"
  fi

  local acc_g acc_c st_g st_t
  acc_g=$(accuracy "$OUT/mnist_cuda.txt")
  acc_c=$(accuracy "$OUT/mnist_cpu.txt")
  st_g=$(step_ms "$OUT/bench_gpubp.txt")
  st_t=$(step_ms "$OUT/bench_torch.txt")
  grep -q '| FAIL' "$ROWS" && FAILED=1 # steps piped into tee ran in subshells
  local verdict="every check passed"
  [ $FAILED -ne 0 ] && verdict="SOME CHECKS FAILED (see check.log)"
  if [ -n "$acc_g" ] && [ -n "$acc_c" ]; then
    if ! awk -v a="$acc_g" -v b="$acc_c" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d<=0.005)}'; then
      verdict="MNIST accuracy differs by more than 0.5 points; $verdict"
      FAILED=1
    fi
  fi
  {
    echo "# gpubp GPU check"
    echo
    echo "- when: $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- GPU: ${gpu:-?} (driver ${drv:-?}); ${nvv:-nvcc ?}; ${cm:-cmake ?}; torch ${torchv:-?}"
    echo "- binaries: $built"
    echo "- result: **$verdict** (total $((SECONDS - t_all)) s)"
    echo
    echo "| check | result | time |"
    echo "| --- | --- | --- |"
    cat "$ROWS"
    echo
    echo "| MNIST (same seed, 10 epochs, data/mnist) | test accuracy |"
    echo "| --- | --- |"
    echo "| cuda | ${acc_g:-?} |"
    echo "| cpu | ${acc_c:-?} |"
    echo
    echo "| training step, MLP 784-128-10, SGD, batch 100, on this GPU | ms/step (median epoch / 80) |"
    echo "| --- | --- |"
    echo "| gpubp | ${st_g:-?} |"
    echo "| PyTorch ${torchv:-} (eager) | ${st_t:-?} |"
  } >"$SUMMARY"
  rm -f "$ROWS"
  cat "$SUMMARY"
  return $FAILED
}

case "${1:-}" in
  --prepare) prepare ;;
  -h|--help) sed -n '2,24p' "$0" ;;
  *) check; exit $? ;;
esac
