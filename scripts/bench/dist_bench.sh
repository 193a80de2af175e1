#!/usr/bin/env bash
# dist_bench.sh — the data-parallel benchmark of issue 14 on one machine: a 784-1024-1024-10
# MLP with Adam at a global batch of 512 (scripts/bench/dist_mlp.lua), rounds alternating:
#   A  1 rank  x 2 BLAS threads                     gpubp dist_mlp.lua
#   B  2 ranks x 1 BLAS thread, buckets of 1 MiB    (all-reduces overlap backward)
#   C  2 ranks x 1 BLAS thread, one bucket          (one all-reduce after backward)
#   D  2 ranks x 1 BLAS thread, no DDP              (compute only: the floor)
# then B/A (target >= 0.9) and the share of the all-reduce time hidden behind backward,
# (C - B) / (C - D) in step time.   scripts/bench/dist_bench.sh [build=build] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
rounds=${2:-3}
G="$build/gpubp"
MPI=(mpirun --oversubscribe --allow-run-as-root -np 2 -x OPENBLAS_NUM_THREADS=1)
S=scripts/bench/dist_mlp.lua
declare -A sum
run() { # name, command...
  local name=$1
  shift
  local line
  line=$("$@" 2>/dev/null | grep '^dist_mlp')
  echo "  $name: $line"
  local sps ms
  sps=$(sed -n 's/.*samples\/s=\([0-9.]*\).*/\1/p' <<<"$line")
  ms=$(sed -n 's/.*step_ms=\([0-9.]*\).*/\1/p' <<<"$line")
  sum[$name.sps]=$(awk -v a="${sum[$name.sps]:-0}" -v b="$sps" 'BEGIN{print a+b}')
  sum[$name.ms]=$(awk -v a="${sum[$name.ms]:-0}" -v b="$ms" 'BEGIN{print a+b}')
}
for r in $(seq "$rounds"); do
  echo "round $r"
  run A env OPENBLAS_NUM_THREADS=2 "$G" "$S"
  run B "${MPI[@]}" "$G" "$S" --distributed --bucket_mb 1
  run C "${MPI[@]}" "$G" "$S" --distributed --bucket_mb 1000
  run D "${MPI[@]}" "$G" "$S" --distributed --compute_only
done
awk -v a="${sum[A.sps]}" -v b="${sum[B.sps]}" -v bm="${sum[B.ms]}" -v cm="${sum[C.ms]}" \
  -v dm="${sum[D.ms]}" -v n="$rounds" 'BEGIN{
  printf "mean samples/s: 1x2 threads %.0f, 2 ranks x 1 thread %.0f: ratio %.2f (target >= 0.9)\n", a/n, b/n, b/a
  printf "mean step ms: bucketed %.1f, one bucket %.1f, compute only %.1f\n", bm/n, cm/n, dm/n
  if (cm > dm) printf "all-reduce hidden behind backward: %.0f%% ((C - B) / (C - D))\n", 100*(cm-bm)/(cm-dm)
}'
