#!/bin/sh
# stock_lua_test.sh — gpubp/core.so in the stock lua5.4 interpreter, from a build tree: found
# with LUA_CPATH alone (the Lua side with no variable), leaves the host's collector mode
# alone, Ctrl-C interrupts a running script with lua.c's "interrupted!", and one epoch of
# train_mnist.lua prints the same test accuracy as under the gpubp command.
# Usage: stock_lua_test.sh BUILD_DIR SOURCE_DIR GPUBP_EXE
set -eu
B=$1 SRC=$2 GPUBP=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4
fail() { echo "stock_lua_test: $*"; exit 1; }

echo "== the issue's command, from the source tree"
(cd "$SRC" && LUA_CPATH="$B/?.so;;" lua5.4 -e "require 'gpubp'") || fail "require 'gpubp' failed"

echo "== from elsewhere: LUA_CPATH alone finds the Lua side of this tree"
cd "$T"
got=$(LUA_CPATH="$B/lua/?.so;;" lua5.4 -e "
  local gb = require 'gpubp'
  print(package.searchpath('gpubp.nn', package.path))
  print(gb.nn.Linear(3, 2), (gb.ones(2, 3) * 2):sum():item())")
want="$SRC/lua/gpubp/nn/init.lua
Linear(3 -> 2)	12"
[ "$got" = "$want" ] || fail "got [$got], want [$want]"

echo "== loading the module keeps an incremental host incremental"
got=$(LUA_CPATH="$B/?.so;;" lua5.4 -e "
  collectgarbage('incremental'); require 'gpubp'; print(collectgarbage('incremental'))")
[ "$got" = incremental ] || fail "collector mode after require: $got"

echo "== Ctrl-C stops a running training loop"
cat >"$T/loop.lua" <<'LUA'
local gb = require 'gpubp'
local net = gb.nn.Sequential(gb.nn.Linear(64, 64), gb.nn.ReLU(), gb.nn.Linear(64, 4))
local opt = gb.optim.SGD(net:parameters(), {lr = 0.01})
local x, y = gb.randn(32, 64), gb.ones(32):long()
local f = assert(io.open(arg[1], 'w')); f:write('ready\n'); f:close()
while true do
  opt:zero_grad(); gb.cross_entropy(net(x), y):backward(); opt:step()
end
LUA
LUA_CPATH="$B/?.so;;" lua5.4 "$T/loop.lua" "$T/ready" 2>"$T/err" &
pid=$!
i=0
while [ ! -s "$T/ready" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$T/ready" ] || { kill -9 $pid; fail "the loop never started"; }
kill -INT $pid
rc=0
wait $pid || rc=$?
[ $rc -eq 1 ] || fail "lua5.4 exited $rc after SIGINT, expected 1"
grep -q "interrupted!" "$T/err" || fail "no 'interrupted!' in: $(cat "$T/err")"

echo "== one epoch of train_mnist.lua, both hosts"
cd "$SRC"
a=$(LUA_CPATH="$B/?.so;;" lua5.4 scripts/train_mnist.lua --epochs 1 --quiet --device cpu | tail -n 1)
b=$("$GPUBP" scripts/train_mnist.lua --epochs 1 --quiet --device cpu | tail -n 1)
echo "lua5.4: $a"
echo "gpubp:  $b"
case $a in "test accuracy: "*) ;; *) fail "lua5.4 ended with [$a]" ;; esac
[ "$a" = "$b" ] || fail "the hosts disagree"
echo "stock_lua_test: passed"
