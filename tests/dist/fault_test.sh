#!/bin/sh
# fault_test.sh GPUBP MPIRUN — one rank of two fails mid-step and the other must exit
# non-zero with a message naming the failing rank, within the timeout (never hang):
#   1. rank 2 raises a Lua error: rank 1's collective raises "rank 2 failed: <the error>";
#   2. rank 2 is killed (SIGKILL): rank 1's collective times out (3 s) naming rank 2 as gone.
#      mpirun is asked not to stop the job itself when a rank dies
#      (orte_abort_on_non_zero_status 0), so that rank 1's own watch is what ends it;
#   3. the same kill under mpirun's default: mpirun stops rank 1, which says where it was;
#   4. rank 2's script ends early (no error hook, as in a plain Lua host): its finalize at exit
#      meets rank 1's all_reduce, and both name the mismatch;
#   5. rank 2 sleeps outside any collective: rank 1 times out, asks rank 2 where it is, gets
#      no answer, and says so;
#   6. rank 2 waits in another collective: rank 1 times out and names rank 2's collective.
# ctest's TIMEOUT bounds the whole run; each mpirun also runs under timeout(1).
set -u
GPUBP=$1
MPIRUN=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; echo "---- output:"; cat "$out"; exit 1; }
run() { timeout 60 "$MPIRUN" --oversubscribe --allow-run-as-root "$@" >"$out" 2>&1; }
# failing_run CASE ARGS...: run, which must end non-zero and not by timeout(1)
failing_run() {
  name=$1
  shift
  run "$@"
  rc=$?
  [ $rc -ne 0 ] || fail "$name: mpirun exited 0"
  [ $rc -ne 124 ] || fail "$name: hung (killed by timeout)"
}

# 1. a Lua error on rank 2 reaches rank 1 as an error
failing_run "error case" -np 2 "$GPUBP" --device cpu tests/dist/fault_step.lua error 30
grep -q "fault_step.lua:[0-9]*: bad label 11 at step 3" "$out" || fail "error case: rank 2's own error not printed"
grep -q "distributed: rank 2 failed: .*bad label 11 at step 3 (rank 1 was in collective #[0-9]* all_reduce(\(sum\|mean\)) float32 (\(1\|16,8\)))" "$out" ||
  fail "error case: rank 1 did not raise rank 2's error"
grep -q "timed out" "$out" && fail "error case: rank 1 waited for the timeout instead of hearing the error"
echo "ok 1 - a Lua error on rank 2 raises on rank 1: $(grep -o 'distributed: rank 2 failed:.*' "$out" | head -1)"

# 2. rank 2 killed; rank 1 times out naming it
failing_run "kill case" --mca orte_abort_on_non_zero_status 0 -np 2 "$GPUBP" --device cpu tests/dist/fault_step.lua kill 3
grep -q "rank 2: killing myself" "$out" || fail "kill case: rank 2 did not get to the kill"
grep -q "distributed: collective #[0-9]* all_reduce(sum) float32 (1) timed out after 3\.[0-9] s on rank 1: rank 2 did not reach it (its process is gone)" "$out" ||
  fail "kill case: no timeout message naming rank 2"
grep -q "rank 1 finished" "$out" && fail "kill case: rank 1 went on"
echo "ok 2 - rank 2 killed: $(grep -o 'distributed: collective.*' "$out" | head -1)"

# 3. rank 2 killed under mpirun's default policy: mpirun stops rank 1, which says where it was
failing_run "default-policy kill" -np 2 "$GPUBP" --device cpu tests/dist/fault_step.lua kill 30
grep -q "distributed: rank 1 was stopped by the launcher (signal) in or after collective #[0-9]*" "$out" ||
  fail "default-policy kill: rank 1 did not say where it was stopped"
echo "ok 3 - default mpirun policy: $(grep -o 'distributed: rank 1 was stopped.*' "$out" | head -1)"

# 4. rank 2 ends early: its implicit finalize meets rank 1's all_reduce
failing_run "early exit" -np 2 "$GPUBP" --device cpu tests/dist/fault_step.lua exit 30
grep -q "fault_step.lua:[0-9]*: distributed: collective #[0-9]* does not match across ranks: rank 1 called #[0-9]* all_reduce(sum) float32 (1), rank 2 called #[0-9]* finalize" "$out" ||
  fail "early exit: rank 1 did not name rank 2's finalize"
echo "ok 4 - rank 2 ended early: $(grep -o 'distributed: collective.*finalize' "$out" | head -1)"

# 5. rank 2 is alive but outside any collective: no answer to rank 1's question
failing_run "stuck" -np 2 "$GPUBP" --device cpu tests/dist/fault_step.lua stuck 2
grep -q "distributed: collective #[0-9]* all_reduce(sum) float32 (1) timed out after 2\.[0-9] s on rank 1: rank 2 did not reach it (it does not answer: busy outside gpubp's collectives, stuck, or unreachable)" "$out" ||
  fail "stuck: rank 1 did not say that rank 2 does not answer"
echo "ok 5 - rank 2 stuck outside: $(grep -o 'distributed: collective.*unreachable)' "$out" | head -1)"

# 6. rank 2 waits in another collective (a header-less all-reduce): rank 1 names it
failing_run "elsewhere" -np 2 "$GPUBP" --device cpu tests/dist/fault_step.lua elsewhere 2
grep -q "distributed: collective #[0-9]* all_reduce(sum) float32 (1) timed out after 2\.[0-9] s on rank 1: rank 2 is in collective #[0-9]* all_reduce(mean) float32 (16,8)" "$out" ||
  fail "elsewhere: rank 1 did not name rank 2's collective"
echo "ok 6 - rank 2 elsewhere: $(grep -o 'distributed: collective.*(16,8)' "$out" | head -1)"
