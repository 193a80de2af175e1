#!/bin/sh
# install_test.sh — `cmake --install` into a scratch prefix, then, from outside the source
# tree: the installed gpubp runs (and finds its Lua modules with no environment variables),
# and examples/embed_train.c builds against the installed package twice — once with
# `pkg-config --cflags --libs gpubp`, once with find_package(gpubp) — and trains.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR [CMAKE [EXTRA_CFLAGS]]
# (EXTRA_CFLAGS: e.g. -fsanitize=address,undefined when the build is instrumented)
set -eu
B=$1 SRC=$2 CMAKE=${3:-cmake} XFLAGS=${4:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$T/prefix
"$CMAKE" --install "$B" --prefix "$P" >"$T/install.log" || { cat "$T/install.log"; exit 1; }
for f in "$P/include/gpubp.h" "$P/share/lua/5.4/gpubp/init.lua"; do
  [ -f "$f" ] || { echo "not installed: $f"; exit 1; }
done
PC=$(find "$P" -name gpubp.pc | head -n 1)
CFG=$(find "$P" -name gpubpConfig.cmake | head -n 1)
[ -n "$PC" ] && [ -n "$CFG" ] || { echo "gpubp.pc or gpubpConfig.cmake missing"; exit 1; }

# the installed CLI, run from an unrelated directory with a clean environment
cd "$T"
out=$(env -u LUA_PATH -u LUA_CPATH "$P/bin/gpubp" -e 'print(gb.ones(2,3):sum():item())')
[ "$out" = 6 ] || { echo "installed gpubp printed [$out]"; exit 1; }
# help(x) reads the installed docs/api.md (share/gpubp/docs), not the source tree's
[ -f "$P/share/gpubp/docs/api.md" ] || { echo "not installed: share/gpubp/docs/api.md"; exit 1; }
out=$(env -u LUA_PATH -u LUA_CPATH "$P/bin/gpubp" -e 'help(gb.nn.Linear); print(require("gpubp.help").docs_path())')
case "$out" in
  "### gb.nn.Linear(in_features, out_features [, opts])"*"$P/share/lua/5.4/../../gpubp/docs/api.md") ;;
  *) echo "installed help printed [$out]"; exit 1 ;;
esac

# consumers copied out of the source tree
cp -R "$SRC/examples" "$T/examples"

echo "== pkg-config consumer"
PKG_CONFIG_PATH=$(dirname "$PC")
export PKG_CONFIG_PATH
pkg-config --cflags --libs gpubp
make -C "$T/examples/consumer_pkgconfig" BUILD="$T" CFLAGS="-O2 -Wall -Wextra $XFLAGS" >"$T/make.log" 2>&1 || { cat "$T/make.log"; exit 1; }
"$T/consumer_pkgconfig"

echo "== find_package consumer"
"$CMAKE" -S "$T/examples/consumer_cmake" -B "$T/cm" -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$XFLAGS" >"$T/cm.log" 2>&1 || { cat "$T/cm.log"; exit 1; }
"$CMAKE" --build "$T/cm" >>"$T/cm.log" 2>&1 || { cat "$T/cm.log"; exit 1; }
"$T/cm/consumer_cmake"
echo "install_test: passed"
