#!/usr/bin/env bash
# blas_compare.sh — the measurements behind cmake/blas.cmake's choice: builds
# scripts/bench/sgemm_bench.c against each CPU BLAS found (OpenBLAS, BLIS openmp/pthread) and
# prints GFLOP/s per library, kernel set and thread count as a markdown table.
#   scripts/bench/blas_compare.sh [--quick]      (from the repository root; ~3 min, quick ~40 s)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=build/bench
mkdir -p "$out"
reps=3 max=4096
if [[ "${1:-}" == "--quick" ]]; then reps=1 max=2048; fi
# GB_BLAS_MT_MIN_MNK=0: the "threads" column applies to every shape (gpubp itself runs
# products under 2^24 multiply-adds on one thread).
CFLAGS="-std=c11 -O2 -Iruntime -DGB_BLAS_MT_MIN_MNK=0"
SRC="runtime/gb_blas.c scripts/bench/sgemm_bench.c"
ML=/usr/lib/x86_64-linux-gnu

variants=()
if pkg-config --exists openblas; then
  cc $CFLAGS -DGB_BLAS_OPENBLAS=1 $(pkg-config --cflags openblas) $SRC \
    $(pkg-config --libs openblas) -lpthread -lm -o "$out/sgemm_openblas"
  variants+=("OpenBLAS as gpubp runs it|env|$out/sgemm_openblas")
  variants+=("OpenBLAS forced Prescott (generic fallback)|env OPENBLAS_CORETYPE=Prescott|$out/sgemm_openblas")
  variants+=("OpenBLAS forced Haswell (AVX2)|env OPENBLAS_CORETYPE=Haswell|$out/sgemm_openblas")
fi
for flavour in openmp pthread; do
  if [[ -f "$ML/blis-$flavour/libblis.so.4" && -f /usr/include/x86_64-linux-gnu/blis-$flavour/blis.h ]] ||
     [[ -f "$ML/blis-$flavour/libblis.so.4" && -f /usr/include/x86_64-linux-gnu/blis.h ]]; then
    inc=/usr/include/x86_64-linux-gnu/blis-$flavour
    [[ -f $inc/blis.h ]] || inc=/usr/include/x86_64-linux-gnu
    cc $CFLAGS -DGB_BLAS_BLIS=1 -I"$inc" $SRC "$ML/blis-$flavour/libblis.so.4" \
      -Wl,-rpath,"$ML/blis-$flavour" -lpthread -lm -o "$out/sgemm_blis_$flavour"
    variants+=("BLIS $flavour as gpubp runs it (skx forced on AVX-512 Intel)|env|$out/sgemm_blis_$flavour")
    # BLIS 0.9 reads BLIS_ARCH_TYPE as an arch_t number: 3 = haswell, what its own detection
    # picks on this VM's generic "Intel(R) Xeon(R) Processor" model name.
    variants+=("BLIS $flavour, haswell kernels|env BLIS_ARCH_TYPE=3|$out/sgemm_blis_$flavour")
  fi
done

printf '| library, kernels | threads | 512 | 1024 | 2048 |%s 100x128x784 | 128x784x100 | 100x784x128 | 100x10x128 us | 10x128x100 us | 100x128x10 us |\n' \
  "$([[ $max -ge 4096 ]] && echo ' 4096 |')"
printf '|---|---|---|---|---|%s---|---|---|---|---|---|\n' "$([[ $max -ge 4096 ]] && echo '---|')"
for v in "${variants[@]}"; do
  IFS='|' read -r label envs bin <<<"$v"
  for t in 1 2; do
    res=$($envs "$bin" --threads $t --reps $reps --max $max)
    get() { awk -v k="$1" '$1=="BENCH" && $2==k {print $3}' <<<"$res"; }
    name=$(sed -n 's/^BLAS //p' <<<"$res")
    row="| $label: $name | $t |"
    for n in 512 1024 2048 4096; do
      [[ $n -le $max ]] && row+=" $(get sq${n}_gflops) |"
    done
    row+=" $(get fc1_fwd_gflops) | $(get fc1_dw_gflops) | $(get fc1_dx_gflops) |"
    row+=" $(get fc2_fwd_us) | $(get fc2_dw_us) | $(get fc2_dx_us) |"
    echo "$row"
  done
done
