#!/bin/sh
# rock_test.sh — the LuaRocks path end to end, offline: copy the source tree as a clone has it
# (tracked and untracked-but-not-ignored files), `luarocks make --tree` it into a scratch tree,
# then stock lua5.4 with that tree's paths trains one epoch of scripts/train_mnist.lua.
# Usage: rock_test.sh SOURCE_DIR MNIST_DIR   (CMAKE_BUILD_PARALLEL_LEVEL speeds the build)
set -eu
SRC=$1 DATA=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "rock_test: $*"; exit 1; }
mkdir "$T/clone"
(cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 tar -cf - --) | tar -xf - -C "$T/clone"
[ -f "$T/clone/gpubp-scm-1.rockspec" ] || fail "no rockspec in the clone"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
cd "$T/clone"
start=$(date +%s)
luarocks --lua-version 5.4 make --tree "$T/tree" gpubp-scm-1.rockspec >"$T/make.log" 2>&1 ||
  { cat "$T/make.log"; fail "luarocks make failed"; }
echo "luarocks make: $(($(date +%s) - start)) s"
[ -f "$T/tree/lib/lua/5.4/gpubp/core.so" ] || fail "core.so not in the tree"
[ -f "$T/tree/share/lua/5.4/gpubp/init.lua" ] || fail "the Lua side is not in the tree"
luarocks --lua-version 5.4 list --tree "$T/tree" | grep -q '^gpubp' || fail "luarocks list lacks gpubp"

# the tree's paths only: nothing from the clone's or the caller's directories
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4
eval "$(luarocks --lua-version 5.4 path --tree "$T/tree")"
mkdir "$T/run" && cp "$T/clone/scripts/train_mnist.lua" "$T/run/" && cd "$T/run"
lua5.4 -e "print(package.searchpath('gpubp.core', package.cpath))" | grep -q "^$T/tree/" ||
  fail "gpubp.core does not resolve into the tree"
lua5.4 train_mnist.lua --epochs 1 --quiet --device cpu --data "$DATA" >"$T/train.log" 2>&1 ||
  { cat "$T/train.log"; fail "training failed"; }
cat "$T/train.log"
tail -n 1 "$T/train.log" | grep -Eq '^test accuracy: 0\.[0-9]{4}$' || fail "no test accuracy line"
echo "rock_test: passed"
