#!/usr/bin/env bash
# blas_threads.sh — the experiment behind gb_blas's threading policy (runtime/gb_blas.c): the
# seed MLP epoch (gb_mlp_epoch.lua) with three builds of gpubp — gb_blas's two-way split, one
# thread, OpenBLAS's own threads for every product — on an idle machine and with 1..2 busy
# loops (`yes`) competing for the cores. Prints a markdown table of ms per epoch (median).
#   scripts/bench/blas_threads.sh [rounds=5]     (from the repository root; ~3 min)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
declare -A flags=(
  [split]=""
  [single]="-DGB_BLAS_SPLIT_MIN_MNK=4611686018427387904LL -DGB_BLAS_MT_MIN_MNK=4611686018427387904LL"
  [openblas]="-DGB_BLAS_SPLIT_MIN_MNK=4611686018427387904LL -DGB_BLAS_MT_MIN_MNK=0"
)
variants=(split single openblas)
for v in "${variants[@]}"; do
  cmake -S . -B "build/bench-threads-$v" -DGPUBP_CUDA=OFF "-DCMAKE_C_FLAGS=${flags[$v]}" \
    >/dev/null
  cmake --build "build/bench-threads-$v" -j2 --target gpubp_cli >/dev/null
done

busy_pids=()
stop_busy() {
  for p in "${busy_pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  busy_pids=()
}
trap stop_busy EXIT

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "| competing busy loops | gb_blas split (default) | one thread | OpenBLAS threads |"
echo "|---|---|---|---|"
for busy in 0 1 2; do
  stop_busy
  for ((i = 0; i < busy; i++)); do
    yes >/dev/null &
    busy_pids+=($!)
  done
  declare -A got=()
  for ((r = 0; r < rounds; r++)); do
    for v in "${variants[@]}"; do
      ms=$("build/bench-threads-$v/gpubp" scripts/bench/gb_mlp_epoch.lua cpu 5 |
        awk '$1=="BENCH" && $2=="epoch_ms" {print $3}')
      got[$v]+="$ms "
    done
  done
  row="| $busy |"
  for v in "${variants[@]}"; do
    vals=${got[$v]}
    row+=" $(tr ' ' '\n' <<<"$vals" | grep . | median) (max $(tr ' ' '\n' <<<"$vals" | grep . | sort -g | tail -1)) |"
  done
  echo "$row"
  unset got
done
