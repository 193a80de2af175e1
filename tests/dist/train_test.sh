#!/bin/sh
# train_test.sh GPUBP MPIRUN — scripts/train_mnist.lua --distributed on 2 ranks: rank 1
# alone prints (one summary line, one line per epoch, one final accuracy) and writes the
# checkpoint; the checkpoint resumes at world size 1, and that one again at world size 2.
set -u
GPUBP=$1
MPIRUN=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; echo "---- output:"; cat "$dir/out"; exit 1; }
mpi() { timeout 300 "$MPIRUN" --oversubscribe --allow-run-as-root -np 2 "$@"; }
count() { grep -c "$1" "$dir/out"; }

mpi "$GPUBP" --device cpu scripts/train_mnist.lua --distributed --epochs 1 --quiet \
  --checkpoint "$dir/ck.safetensors" >"$dir/out" 2>&1 || fail "2-rank run failed"
[ "$(count '2 ranks x batch 50')" = 1 ] || fail "summary line not printed once"
[ "$(count '^epoch 1/1 ')" = 1 ] || fail "epoch line not printed once"
[ "$(count '^test accuracy: 0\.[0-9]*$')" = 1 ] || fail "final accuracy not printed once"
[ -s "$dir/ck.safetensors" ] || fail "no checkpoint"
echo "ok 1 - 2 ranks: $(grep '^test accuracy' "$dir/out")"

"$GPUBP" --device cpu scripts/train_mnist.lua --epochs 2 --quiet --resume "$dir/ck.safetensors" \
  --checkpoint "$dir/ck2.safetensors" >"$dir/out" 2>&1 || fail "resume at world size 1 failed"
grep -q "resumed from .* after epoch 1" "$dir/out" || fail "world size 1 did not resume"
[ "$(count '^epoch 2/2 ')" = 1 ] || fail "world size 1 did not train epoch 2"
echo "ok 2 - resumed at world size 1: $(grep '^test accuracy' "$dir/out")"

mpi "$GPUBP" --device cpu scripts/train_mnist.lua --distributed --epochs 3 --quiet \
  --resume "$dir/ck2.safetensors" >"$dir/out" 2>&1 || fail "resume at world size 2 failed"
[ "$(count 'resumed from .* after epoch 2')" = 1 ] || fail "world size 2 did not resume (once)"
[ "$(count '^epoch 3/3 ')" = 1 ] || fail "world size 2 did not train epoch 3"
echo "ok 3 - resumed at world size 2: $(grep '^test accuracy' "$dir/out")"
