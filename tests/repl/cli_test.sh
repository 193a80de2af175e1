#!/bin/sh
# cli_test.sh — behaviour of the `gpubp` command line: -e, -l, -v, -i on a pipe, `-`,
# --device/--seed, the arg table and `...` against lua5.4's own layout, errors (prefix,
# traceback, exit 1). Usage: cli_test.sh GPUBP [LUA]   (LUA defaults to lua5.4 if found)
set -u
G=$1
LUA=${2:-$(command -v lua5.4 || true)}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

fail() {
  echo "FAIL: $*"
  fails=$((fails + 1))
}
# expect_out NAME WANT CMD...: stdout of CMD must equal WANT and its status 0
expect_out() {
  name=$1 want=$2
  shift 2
  got=$("$@" 2>"$T/err")
  st=$?
  [ "$st" -eq 0 ] || fail "$name: exit $st ($(cat "$T/err"))"
  [ "$got" = "$want" ] || fail "$name: got [$got] want [$want]"
}

cd "$T" || exit 1

# -e, the global gb
expect_out "-e sum" 6 "$G" -e 'print(gb.ones(2,3):sum():item())'
expect_out "-e shape" "2 3" "$G" -e 'print(table.concat((gb.ones(2,1) + gb.arange(1,4)).shape, " "))'
expect_out "-e twice" "1
2" "$G" -e 'print(1)' -e 'print(2)'
expect_out "-e glued" "3" "$G" '-eprint(3)'
expect_out "require" "true" "$G" -e 'print(require("gpubp") == gb)'

# -l mod, -l g=mod (the module from a file in the current directory)
echo 'return {answer = 42}' > mymod.lua
expect_out "-l" 42 "$G" -l mymod -e 'print(mymod.answer)'
expect_out "-l g=mod" 42 "$G" -l mm=mymod -e 'print(mm.answer)'

# arg and ... exactly as lua5.4 lays them out (arg[-n] = interpreter, left out)
cat > args.lua <<'EOF'
local n = select('#', ...)
io.write('n=', n, ' #arg=', #arg, ' ...=', table.concat({...}, ','), '\n')
local lo = 0
while arg[lo - 1] ~= nil do lo = lo - 1 end
for i = lo + 1, #arg do io.write(i, '=', arg[i], '\n') end
EOF
for args in "args.lua" "args.lua a b c" "-e x=1 args.lua a -e b" "-- args.lua -x" \
  "-W args.lua 1 2" "-lmymod args.lua q"; do
  # shellcheck disable=SC2086
  got=$("$G" $args 2>&1)
  if [ -n "$LUA" ]; then
    # shellcheck disable=SC2086
    want=$("$LUA" $args 2>&1)
    [ "$got" = "$want" ] || fail "arg layout for '$args': gpubp [$got] lua5.4 [$want]"
  fi
done
expect_out "arg values" "n=2 #arg=2 ...=a,b
-2=-e
-1=x=1
0=args.lua
1=a
2=b" "$G" -e x=1 args.lua a b
# stdin as the script: `-`, and a pipe with no arguments
expect_out "- reads stdin" "n=1 #arg=1 ...=z
0=-
1=z" sh -c "cat args.lua | '$G' - z" 
expect_out "pipe, no args" "from stdin" sh -c "echo 'print(\"from stdin\")' | '$G'"
expect_out "-i on a pipe" "42
nil	x" sh -c "printf 'x = 21\nx * 2\nnil, \"x\"\nlocal y = 1;\n' | '$G' -i"
expect_out "-i keeps script globals" "kept" \
  sh -c "echo 'print(g)' | '$G' -i -e 'g = \"kept\"'"

# errors: prefix, traceback, status 1; the script's own exit status is kept
printf 'local function f()\n  error("boom")\nend\nf()\n' > bad.lua
"$G" bad.lua >"$T/out" 2>"$T/err"
st=$?
[ "$st" -eq 1 ] || fail "error exit status $st, want 1"
head -n 1 "$T/err" | grep -q '^gpubp: bad.lua:2: boom$' || fail "error line: $(cat "$T/err")"
grep -q '^stack traceback:' "$T/err" || fail "no traceback: $(cat "$T/err")"
grep -q "bad.lua:4: in main chunk" "$T/err" || fail "traceback lacks main chunk"
"$G" -e 'x = = 1' 2>"$T/err"
[ $? -eq 1 ] || fail "syntax error status"
grep -q "^gpubp: (command line):1: unexpected symbol" "$T/err" || fail "syntax msg: $(cat "$T/err")"
"$G" -e 'error({})' 2>"$T/err"
grep -q "^gpubp: (error object is a table value)" "$T/err" || fail "table error: $(cat "$T/err")"
"$G" -e 'os.exit(3)'
[ $? -eq 3 ] || fail "os.exit(3) status"
"$G" no_such_script.lua 2>"$T/err"
[ $? -eq 1 ] || fail "missing script status"
grep -q "^gpubp: cannot open no_such_script.lua" "$T/err" || fail "missing script msg"
"$G" -e 'gb.ones(2,3):matmul(gb.ones(2,3))' 2>"$T/err"
[ $? -eq 1 ] || fail "core error status"
grep -q "^gpubp: .*matmul" "$T/err" || fail "core error msg: $(cat "$T/err")"
"$G" -x 2>"$T/err"
[ $? -eq 1 ] || fail "bad option status"
grep -q "usage:" "$T/err" || fail "bad option usage"
"$G" -e 2>/dev/null
[ $? -eq 1 ] || fail "-e without a value"

# -v: version, build info, devices; nothing else runs unless asked
"$G" -v >"$T/out" 2>&1 || fail "-v status"
grep -q "^gpubp [0-9]" "$T/out" || fail "-v version: $(cat "$T/out")"
grep -q "devices: cpu" "$T/out" || fail "-v devices: $(cat "$T/out")"
grep -qi "cuda" "$T/out" || fail "-v says nothing about CUDA: $(cat "$T/out")"
expect_out "-h" 0 sh -c "'$G' -h | grep -c -- '--device' >/dev/null; echo \$?"

# --device and --seed
expect_out "--device cpu" cpu "$G" --device cpu -e 'print(gb.ones(1).device)'
expect_out "--device=cpu" cpu "$G" --device=cpu -e 'print(gb.ones(1).device)'
"$G" --device bogus -e 'print(1)' 2>"$T/err"
[ $? -eq 1 ] || fail "--device bogus status"
grep -q "^gpubp: " "$T/err" || fail "--device bogus message: $(cat "$T/err")"
a=$("$G" --seed 7 -e 'print(gb.rand(3):sum():item())')
b=$("$G" --seed 7 -e 'print(gb.rand(3):sum():item())')
c=$("$G" --seed 8 -e 'print(gb.rand(3):sum():item())')
[ -n "$a" ] && [ "$a" = "$b" ] || fail "--seed 7 twice: [$a] [$b]"
[ "$a" != "$c" ] || fail "--seed 7 and 8 agree"
"$G" --seed x -e 1 2>/dev/null
[ $? -eq 1 ] || fail "--seed x status"
expect_out "gpubp options in arg" "n=1 #arg=1 ...=v
-3=--seed
-2=1
-1=--device=cpu
0=args.lua
1=v" "$G" --seed 1 --device=cpu args.lua v

if [ "$fails" -ne 0 ]; then
  echo "cli_test: $fails failure(s)"
  exit 1
fi
echo "cli_test: all passed"
