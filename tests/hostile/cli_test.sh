#!/bin/sh
# cli_test.sh — hostile input at the `gpubp` command line (issue 19): empty option values
# are errors that never take the next argument; precompiled chunks are refused as the
# script, on stdin and through -e unless --allow-bytecode; os.exit keeps its status in the
# CLI; a FIFO as ~/.gpubp_history does not block the REPL. Usage: cli_test.sh GPUBP PTY_DRIVE
set -u
G=$1
D=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
# expect NAME STATUS STDOUT STDERR_FIRST_LINE CMD...
expect() {
  name=$1 want_st=$2 want_out=$3 want_err=$4
  shift 4
  out=$("$@" 2>"$T/err" </dev/null)
  st=$?
  err=$(head -n 1 "$T/err")
  [ "$st" -eq "$want_st" ] || fail "$name: exit $st, wanted $want_st ($err)"
  [ "$out" = "$want_out" ] || fail "$name: stdout [$out], wanted [$want_out]"
  [ "$err" = "$want_err" ] || fail "$name: stderr [$err], wanted [$want_err]"
}
cd "$T" || exit 1

# ---- empty option values ----
expect "--seed= x" 1 "" "gpubp: unrecognized option or missing value '--seed='" \
  "$G" --seed= -e 'print(1)'
expect "--device= x" 1 "" "gpubp: unrecognized option or missing value '--device='" \
  "$G" --device= -e 'print(1)'
expect "--seed ''" 1 "" "gpubp: unrecognized option or missing value '--seed'" \
  "$G" --seed '' -e 'print(1)'
expect "--device ''" 1 "" "gpubp: unrecognized option or missing value '--device'" \
  "$G" --device '' -e 'print(1)'
expect "--seed=5" 0 "5" "" "$G" --seed=5 -e 'print(gb.initial_seed())'

# ---- bytecode ----
"$G" -e "local f = assert(io.open('chunk.luac', 'wb')) f:write(string.dump(function() print('ran bytecode') end)) f:close()"
expect "script" 1 "" "gpubp: chunk.luac: precompiled (binary) chunk refused; --allow-bytecode runs it" \
  "$G" chunk.luac
out=$("$G" - < chunk.luac 2>&1)
[ "$out" = "gpubp: stdin: precompiled (binary) chunk refused; --allow-bytecode runs it" ] ||
  fail "stdin: [$out]"
out=$("$G" < chunk.luac 2>&1)
[ "$out" = "gpubp: stdin: precompiled (binary) chunk refused; --allow-bytecode runs it" ] ||
  fail "stdin without '-': [$out]"
expect "load in -e" 0 "nil	attempt to load a binary chunk (mode is 't')" "" \
  "$G" -e "print(loadfile('chunk.luac'))"
expect "opt-in" 0 "ran bytecode" "" "$G" --allow-bytecode chunk.luac
expect "opt-in load" 0 "ran bytecode" "" "$G" --allow-bytecode -e "loadfile('chunk.luac')()"
expect "text still runs" 0 "3" "" "$G" -e "print(load('return 1 + 2')())"

# ---- os.exit keeps Lua's meaning in the CLI ----
expect "os.exit(3)" 3 "" "" "$G" -e 'os.exit(3)'
expect "os.exit(true)" 0 "" "" "$G" -e 'os.exit(true)'

# ---- a FIFO as the history file: the REPL starts, warns, computes and exits ----
mkdir -p home
mkfifo home/.gpubp_history
cat > fifo.pty <<'PTY'
expect is not a regular file; history is kept for this session only
expect > 
send print(gb.ones(3):sum():item() + 1)\n
expect 4
send os.exit(0)\n
exit 0
PTY
HOME=$T/home "$D" fifo.pty -- "$G" > pty.out 2>&1 || { tail -c 1500 pty.out; fail "history FIFO"; }
[ -p home/.gpubp_history ] || fail "history FIFO was replaced"

if [ "$fails" -ne 0 ]; then
  echo "$fails failure(s)"
  exit 1
fi
echo "hostile cli: ok"
