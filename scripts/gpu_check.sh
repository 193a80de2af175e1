#!/usr/bin/env bash
# gpu_check.sh — the whole GPU check in one command, for a machine with an NVIDIA GPU (made for
# the `device` tool: one call under one overall deadline, GPU_CHECK_DEADLINE_S, default 450 s,
# the build included, so that it can run twice in 15 minutes of device time). It configures and
# builds gpubp with CUDA (sm_90 + PTX; no -Werror there: CI checks warnings), runs the
# gpu-labelled tests, trains MNIST on cuda and on the CPU, times training steps against
# PyTorch on the same GPU (eager and CUDA-graph; the seed MLP and 784-4096-4096-10, FP32 and
# TF32), and last runs the CUDA op test and a training epoch under compute-sanitizer's memcheck
# (found next to nvcc; "Device not supported" is reported as such, not as a failure).
# $OUT/summary.md is written row by row, so a run cut short still reports what it did (plus
# check.log and bench.txt).
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
# 13.0 for sm_90), so the GPU checks still run. Each step's limit is cut to what the deadline
# leaves; a step with too little time left is recorded as skipped. Exit status: 0 when every
# check passed, 1 otherwise.
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
  # the CUDA runtime and cuBLAS) and the CUDA plugin itself (carried beside the binaries)
  # OpenBLAS is opened with dlopen (runtime/cpu/gb_blas.c): ldd of the binaries does not list
  # it, so it and its own libraries (libgfortran, ...) are named here
  local f blas
  blas=$(ldconfig -p | awk '$1 == "libopenblas.so.0" && !found {print $NF; found = 1}')
  [ -n "$blas" ] || { echo "gpu_check: libopenblas.so.0 not found by ldconfig" >&2; exit 1; }
  cp -L "$blas" "$D/lib/libopenblas.so.0"
  for f in $(ldd build-gpu-prep/gpubp build-gpu-prep/tests/test_cuda_ops "$blas" |
             awk '/=> \//{print $3}' | sort -u); do
    case $(basename "$f") in
      libc.so*|libm.so*|libpthread*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*) ;;
      libcublas*|libcudart*|libcuda.so*|libgpubp_cuda*) ;;
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
  # the prebuilt fallback: binaries only (the Lua side comes from the repo copy there); the
  # CUDA plugin sits beside gpubp, where it looks for it
  cp build-gpu-prep/gpubp build-gpu-prep/libgpubp_cuda.so "$CARRY/prebuilt/bin/"
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
FAILED=0
DEADLINE=$((SECONDS + ${GPU_CHECK_DEADLINE_S:-450}))

# One row of the summary's table, appended at once.
row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3" >>"$SUMMARY"; }

# step NAME LIMIT_S CMD...: runs CMD within min(LIMIT, what the deadline leaves), logs it, and
# appends PASS/FAIL/SKIPPED and its seconds to the summary.
step() {
  local name=$1 limit=$2
  shift 2
  local left=$((DEADLINE - SECONDS - 5))
  if [ $left -lt 15 ]; then
    row "$name" "SKIPPED (deadline: ${left}s left)" "0s"
    FAILED=1
    return 124
  fi
  [ "$limit" -gt $left ] && limit=$left
  echo "==== $name ($(date -u +%T), limit ${limit}s): $*"
  local t0=$SECONDS rc
  timeout --kill-after=5 "$limit" "$@"
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

# compute-sanitizer: next to nvcc, in the toolkit's usual places, or on PATH.
sanitizer_path() {
  local nv d c
  nv=$(nvcc_path) && d=$(dirname "$(readlink -f "$nv")")
  for c in ${d:+"$d/compute-sanitizer"} /usr/local/cuda/bin/compute-sanitizer \
           /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    [ -x "$c" ] && { echo "$c"; return 0; }
  done
  command -v compute-sanitizer
}

# memcheck NAME CMD...: a step under compute-sanitizer; a device the tool refuses is reported
# as "NOT RUN (... Device not supported)", not as a failure.
memcheck() {
  local name=$1
  shift
  local cs log
  cs=$(sanitizer_path) || { row "$name" "NOT RUN (no compute-sanitizer found)" "-"; return 0; }
  log=$OUT/memcheck_$(echo "$name" | tr -c 'a-zA-Z0-9' '_').log
  local failed_before=$FAILED
  step "$name" 150 bash -c '"$@" 2>&1 | tee "$0"; exit "${PIPESTATUS[0]}"' "$log" \
    "$cs" --tool memcheck --leak-check full --report-api-errors no --error-exitcode 99 "$@"
  if [ $? -ne 0 ] && grep -q "Device not supported" "$log" 2>/dev/null; then
    sed -i '$d' "$SUMMARY" # drop the FAIL row: the tool refused the device, nothing ran
    row "$name" "NOT RUN (compute-sanitizer: Device not supported)" "-"
    FAILED=$failed_before
  fi
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
  # no -Werror here: CI compiles every warning as an error; this build only has to run
  cmake -B build-gpu -DGPUBP_CUDA=ON -DCMAKE_BUILD_TYPE=Release \
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
  export LD_LIBRARY_PATH="$p/bin:$LD_LIBRARY_PATH" # test_cuda_ops links the plugin
}

# The steps/s of BENCH key $2 in bench.txt: the N-th such line ($3: 1 gpubp, 2 PyTorch).
steps_per_s() {
  awk -v k="$2" '$1 == "BENCH" && $2 == k && $3 == "steps_per_s" {print $4}' "$1" 2>/dev/null |
    sed -n "${3}p"
}
accuracy() { sed -n 's/^test accuracy: \([0-9.]*\).*/\1/p' "$1" 2>/dev/null | tail -1; }

check() {
  mkdir -p "$OUT"
  exec > >(tee -a "$OUT/check.log") 2>&1
  local t_all=$SECONDS
  echo "gpu_check $(date -u +%FT%TZ) in $ROOT"
  local gpu drv nvv cm torchv cs
  gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null | head -1)
  drv=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
  nvv=$($(nvcc_path || echo nvcc) --version 2>/dev/null | tail -2 | head -1)
  cm=$(cmake --version 2>/dev/null | head -1)
  torchv=$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null)
  cs=$(sanitizer_path 2>/dev/null) && cs="$cs ($("$cs" --version 2>/dev/null | tail -1))"
  {
    echo "# gpubp GPU check"
    echo
    echo "- started $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), deadline ${GPU_CHECK_DEADLINE_S:-450} s"
    echo "- GPU: ${gpu:-?} (driver ${drv:-?}); ${nvv:-nvcc ?}; ${cm:-cmake ?}; torch ${torchv:-?}"
    echo "- compute-sanitizer: ${cs:-not found}"
    echo
    echo "| check | result | time |"
    echo "| --- | --- | --- |"
  } >"$SUMMARY"
  setup_deps

  # 1. build from source (sm_90 + PTX), else the carried prebuilt binaries
  local built=""
  export -f build nvcc_path
  export DEPS ARCHS
  if step "configure + build (CUDA sm_90)" 240 bash -c build; then
    built="from source in build-gpu"
    GPUBP=$ROOT/build-gpu/gpubp
    CUDA_TEST=$ROOT/build-gpu/tests/test_cuda_ops
  elif use_prebuilt; then
    built="prebuilt (carried; commit $(cat /tmp/gpudeps/prebuilt/COMMIT 2>/dev/null))"
  else
    built="none (no build, and no .gpucarry/deps.tar.xz: run scripts/gpu_check.sh --prepare on the dev machine and carry .gpucarry)"
  fi
  row "binaries" "$built" "-"
  [ -n "${GPUBP:-}" ] && { "$GPUBP" -v 2>&1 | tee "$OUT/version.txt" || true; }

  if [ "${built#none}" = "$built" ]; then
    # 2. gpu tests: the table-driven op test and the Lua specs (ctest when built here)
    if [ -d build-gpu ] && [ "$GPUBP" = "$ROOT/build-gpu/gpubp" ]; then
      export -f ctest_gpu
      step "ctest -L gpu (skips count as failures)" 180 bash -c ctest_gpu
    else
      step "test_cuda_ops (every op row, cpu vs cuda)" 90 "$CUDA_TEST"
      local s
      for s in tests/gpu/*_spec.lua; do
        case $s in */run_spec.lua) continue ;; esac
        step "spec $(basename "$s")" 90 "$GPUBP" tests/gpu/run_spec.lua "$s"
      done
    fi
    # 3. MNIST, cuda vs cpu, same seed and settings
    step "MNIST on cuda (10 epochs)" 60 "$GPUBP" scripts/train_mnist.lua --device cuda \
      --epochs 10 --quiet --data data/mnist | tee "$OUT/mnist_cuda.txt"
    step "MNIST on cpu (10 epochs)" 60 "$GPUBP" scripts/train_mnist.lua --device cpu \
      --epochs 10 --quiet --data data/mnist | tee "$OUT/mnist_cpu.txt"
    local acc_g acc_c
    acc_g=$(accuracy "$OUT/mnist_cuda.txt")
    acc_c=$(accuracy "$OUT/mnist_cpu.txt")
    if [ -n "$acc_g" ] && [ -n "$acc_c" ]; then
      if awk -v a="$acc_g" -v b="$acc_c" 'BEGIN{d=a-b; if (d<0) d=-d; exit !(d<=0.005)}'; then
        row "MNIST test accuracy: cuda $acc_g, cpu $acc_c" "PASS (within 0.5 points)" "-"
      else
        row "MNIST test accuracy: cuda $acc_g, cpu $acc_c" "FAIL (over 0.5 points apart)" "-"
        FAILED=1
      fi
    fi
    # 4. training steps/s, gpubp then PyTorch for each row, side by side in this one run
    local w m t
    for w in seed wide; do
      for m in eager graph; do
        for t in "" tf32; do
          [ "$w" = seed ] && [ -n "$t" ] && continue
          step "bench: gpubp $w $m ${t:-fp32}" 40 "$GPUBP" scripts/bench/gb_graph_bench.lua \
            cuda "$w" "$m" $t | tee -a "$OUT/bench.txt"
          step "bench: PyTorch $w $m ${t:-fp32}" 60 python3 scripts/bench/torch_graph_bench.py \
            "$w" "$m" ${t:+--tf32} | tee -a "$OUT/bench.txt"
        done
      done
    done
    # 5. memcheck last (the slowest, and refused on some machines): the op test, one epoch
    memcheck "memcheck: test_cuda_ops" "$CUDA_TEST"
    memcheck "memcheck: 1 MNIST epoch on cuda" "$GPUBP" scripts/train_mnist.lua \
      --device cuda --epochs 1 --quiet --data data/mnist
  fi
  grep -q '| FAIL' "$SUMMARY" && FAILED=1 # steps piped into tee ran in subshells

  {
    echo
    echo "| steps/s on this GPU (bench.txt) | gpubp | PyTorch | gpubp / PyTorch |"
    echo "| --- | --- | --- | --- |"
  } >>"$SUMMARY"
  local key g p
  for key in seed_eager seed_graph wide_eager wide_graph wide_eager_tf32 wide_graph_tf32; do
    g=$(steps_per_s "$OUT/bench.txt" "$key" 1)
    p=$(steps_per_s "$OUT/bench.txt" "$key" 2)
    echo "| $key | ${g:-?} | ${p:-?} | $(awk -v a="${g:-0}" -v b="${p:-0}" \
      'BEGIN{if (a > 0 && b > 0) printf "%.2f", a / b; else print "?"}') |" >>"$SUMMARY"
  done
  local verdict="every check passed"
  [ $FAILED -ne 0 ] && verdict="SOME CHECKS FAILED (see check.log)"
  printf '\n- result: **%s** (total %d s)\n' "$verdict" $((SECONDS - t_all)) >>"$SUMMARY"
  cat "$SUMMARY"
  return $FAILED
}

case "${1:-}" in
  --prepare) prepare ;;
  -h|--help) sed -n '2,29p' "$0" ;;
  *) check; exit $? ;;
esac
