#!/usr/bin/env bash
# ab_builds.sh — two gpubp builds side by side: runs the per-op overhead (b) and seed-MLP epoch
# (a) benchmarks with each binary in turn, ROUNDS times, and prints the median of every BENCH key
# per binary and their ratio (B / A). For "no slower than before the change" checks: build the
# old commit in another clone, then
#   scripts/bench/ab_builds.sh /tmp/old/build/gpubp build/gpubp [rounds=5]
# Both binaries run this tree's scripts/bench/*.lua with no BLAS/OpenMP variables set.
set -euo pipefail
a=$1 b=$2 rounds=${3:-5}
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { # binary tag
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
    "$1" scripts/bench/gb_op_overhead.lua cpu 100000 | grep '^BENCH' >>"$out/$2"
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
    "$1" scripts/bench/gb_mlp_epoch.lua cpu 5 | grep '^BENCH' >>"$out/$2"
}
for _ in $(seq "$rounds"); do
  run "$a" A
  run "$b" B
done
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
printf '%-28s %12s %12s %8s\n' key A B B/A
for key in $(awk '{print $2}' "$out/A" | sort -u); do
  ma=$(awk -v k="$key" '$2==k {print $3}' "$out/A" | median)
  mb=$(awk -v k="$key" '$2==k {print $3}' "$out/B" | median)
  printf '%-28s %12.4g %12.4g %8.3f\n' "$key" "$ma" "$mb" "$(awk -v x="$ma" -v y="$mb" 'BEGIN {print (x ? y / x : 0)}')"
done
echo "A: $a"
echo "B: $b   (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
