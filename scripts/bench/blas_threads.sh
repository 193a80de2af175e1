#!/usr/bin/env bash
# blas_threads.sh — the experiment behind gb_blas's threading policy (runtime/cpu/gb_blas.c): the
# seed MLP epoch (gb_mlp_epoch.lua) and the larger MLP of benchmark (f) with three builds of gpubp — gb_blas's two-way split, one
# thread, OpenBLAS's own threads for every product — on an idle machine and with 1..2 busy
# loops (`yes`) competing for the cores. Prints two markdown tables.
#   scripts/bench/blas_threads.sh [rounds=5]     (from the repository root; ~3 min)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5}
declare -A flags=(
  [split]=""
  [single]="-DGB_BLAS_SPLIT_MIN_MNK=4611686018427387904LL"
  [openblas]="-DGB_BLAS_MT_MIN_MNK=0 -DGB_BLAS_LIB_MIN_THREADS=2"
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

table() { # $1: script, $2: its args, $3: BENCH key, $4: unit
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
        val=$("build/bench-threads-$v/gpubp" "scripts/bench/$1" cpu $2 |
          awk -v k="$3" '$1=="BENCH" && $2==k {print $3}')
        got[$v]+="$val "
      done
    done
    row="| $busy |"
    for v in "${variants[@]}"; do
      vals=$(tr ' ' '\n' <<<"${got[$v]}" | grep .)
      if [[ $4 == worst-high ]]; then
        row+=" $(median <<<"$vals") (worst $(sort -g <<<"$vals" | tail -1)) |"
      else
        row+=" $(median <<<"$vals") (worst $(sort -g <<<"$vals" | head -1)) |"
      fi
    done
    echo "$row"
    unset got
  done
  stop_busy
}

echo "Seed MLP, ms per epoch (median of $rounds rounds, worst round in brackets):"
echo
table gb_mlp_epoch.lua 5 epoch_ms worst-high
echo
echo "MLP 784-1024-1024-10 with Adam, steps per second:"
echo
table gb_big_mlp.lua 20 steps_per_s worst-low
