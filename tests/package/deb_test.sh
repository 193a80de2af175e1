#!/bin/sh
# deb_test.sh — `cpack -G DEB` from a build tree, the packages' contents and dependencies, then
# the main package unpacked into a scratch root with `dpkg -x`: its gpubp runs (-v and a
# training script) from another directory, and stock lua5.4 loads its Lua module.
# Usage: deb_test.sh BUILD_DIR CPACK VERSION
set -eu
B=$1 CPACK=$2 V=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "deb_test: $*"; exit 1; }
cd "$B"
"$CPACK" -G DEB -B "$T/pkg" >"$T/cpack.log" 2>&1 || { cat "$T/cpack.log"; fail "cpack failed"; }
arch=$(dpkg --print-architecture)
deb=$T/pkg/gpubp_${V}_${arch}.deb
[ -f "$deb" ] || { ls "$T/pkg"; fail "no $deb"; }
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$T/files"
for f in /usr/bin/gpubp /usr/include/gpubp.h /usr/share/lua/5.4/gpubp/init.lua \
         /usr/share/lua/5.4/gpubp/nn/Linear.lua /usr/share/gpubp/docs/api.md; do
  grep -qx "$f" "$T/files" || fail "$f not in the package"
done
for pat in '/libgpubp\.so\.0$' '/lua/5\.4/gpubp/core\.so$' '/pkgconfig/gpubp\.pc$' \
           '/cmake/gpubp/gpubpConfig\.cmake$'; do
  grep -Eq "$pat" "$T/files" || fail "nothing matching $pat in the package"
done
grep -q 'libgpubp_cuda' "$T/files" && fail "the CUDA plugin belongs in gpubp-cuda"
grep -q 'libgpubp_dist' "$T/files" && fail "the distributed plugin belongs in gpubp-dist"
dep=$(dpkg-deb -f "$deb" Depends)
echo "gpubp Depends: $dep"
for d in liblua5.4-0 libopenblas libjansson; do
  echo "$dep" | grep -q "$d" || fail "Depends lacks $d"
done
if grep -q '^GB_DNNL_FILE:FILEPATH=/' "$B/CMakeCache.txt"; then # built with oneDNN (dlopen'd)
  echo "$dep" | grep -q "libdnnl" || fail "Depends lacks libdnnl"
fi

if [ -f "$B/libgpubp_cuda.so" ]; then # a build with the CUDA plugin
  cdeb=$T/pkg/gpubp-cuda_${V}_${arch}.deb
  [ -f "$cdeb" ] || fail "no $cdeb"
  dpkg-deb -c "$cdeb" >"$T/cfiles"
  awk '$1 ~ /^-/ {print $6}' "$T/cfiles" | grep -Eq '/lib/(.*/)?libgpubp_cuda\.so$' ||
    fail "gpubp-cuda lacks the plugin"
  grep -q 'lua/5\.4/gpubp/libgpubp_cuda\.so -> ' "$T/cfiles" ||
    fail "gpubp-cuda lacks the link beside the Lua module"
  cdep=$(dpkg-deb -f "$cdeb" Depends)
  echo "gpubp-cuda Depends: $cdep"
  echo "$cdep" | grep -q "gpubp (= $V)" || fail "gpubp-cuda does not depend on gpubp $V"
  echo "$cdep" | grep -q "libcublas" || fail "gpubp-cuda does not depend on cuBLAS"
fi

if [ -f "$B/libgpubp_dist.so" ]; then # a build with MPI: the plugin in gpubp-dist
  ddeb=$T/pkg/gpubp-dist_${V}_${arch}.deb
  [ -f "$ddeb" ] || { ls "$T/pkg"; fail "no $ddeb"; }
  dpkg-deb -c "$ddeb" >"$T/dfiles"
  awk '$1 ~ /^-/ {print $6}' "$T/dfiles" | grep -Eq '/lib/(.*/)?libgpubp_dist\.so$' ||
    fail "gpubp-dist lacks the plugin"
  grep -q 'lua/5\.4/gpubp/libgpubp_dist\.so -> ' "$T/dfiles" ||
    fail "gpubp-dist lacks the link beside the Lua module"
  ddep=$(dpkg-deb -f "$ddeb" Depends)
  echo "gpubp-dist Depends: $ddep"
  echo "$ddep" | grep -q "gpubp (= $V)" || fail "gpubp-dist does not depend on gpubp $V"
  echo "$ddep" | grep -q "libopenmpi" || fail "gpubp-dist does not depend on Open MPI"
  dpkg-deb -f "$ddeb" Recommends | grep -q openmpi-bin || fail "gpubp-dist does not recommend mpirun"
fi

echo "== dpkg -x into a scratch root; run from elsewhere, no environment variables"
R=$T/root
dpkg -x "$deb" "$R"
mkdir "$T/elsewhere" && cd "$T/elsewhere"
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4 GPUBP_DATA
"$R/usr/bin/gpubp" -v | tee "$T/v"
head -n 1 "$T/v" | grep -q "^gpubp $V " || fail "gpubp -v does not say $V"
"$R/usr/bin/gpubp" -e 'help(gb.nn.Linear)' | head -n 1 | grep -q '^### gb.nn.Linear(' ||
  fail "help() does not find the packaged docs/api.md"
cat >"$T/elsewhere/fit.lua" <<'LUA'
local gb = require 'gpubp'
gb.manual_seed(3)
local x = gb.randn(64, 3)
local y = x:matmul(gb.tensor({{1}, {-2}, {0.5}})) + 0.25
local lin = gb.nn.Linear(3, 1)
local opt = gb.optim.SGD(lin:parameters(), {lr = 0.1})
local loss
for _ = 1, 300 do
  opt:zero_grad(); loss = gb.nn.MSELoss()(lin(x), y); loss:backward(); opt:step()
end
print(('loss %.6f from %s'):format(loss:item(), package.searchpath('gpubp.nn', package.path)))
LUA
out=$("$R/usr/bin/gpubp" --device cpu fit.lua)
echo "gpubp: $out"
echo "$out" | grep -Eq "^loss 0\.0000[0-9]+ from $R/usr/share/lua/5.4/gpubp/nn/init.lua$" ||
  fail "the unpacked gpubp did not fit from its own Lua side"
cmod=$(dirname "$(find "$R" -path '*/lua/5.4/gpubp/core.so' | head -n 1)")
out=$(LUA_CPATH="$(dirname "$cmod")/?.so" lua5.4 fit.lua)
echo "lua5.4: $out"
echo "$out" | grep -Eq "^loss 0\.0000[0-9]+ from $R/usr/share/lua/5.4/gpubp/nn/init.lua$" ||
  fail "lua5.4 with the unpacked module did not fit from the package's Lua side"
if [ -f "$B/libgpubp_dist.so" ]; then
  "$R/usr/bin/gpubp" -v | grep -q '^distributed: unavailable' ||
    fail "the main package alone should say distributed is unavailable"
  echo "== gpubp-dist unpacked beside it: -v names MPI, and a world of one rank all-reduces"
  dpkg -x "$ddeb" "$R"
  "$R/usr/bin/gpubp" -v | tail -n 1 | grep -q '^distributed: mpi (' ||
    fail "gpubp -v does not name MPI with gpubp-dist unpacked"
  probe='gb.distributed.init() local t = gb.ones(3); gb.distributed.all_reduce(t)
print("world " .. gb.distributed.world_size() .. " sum " .. t:sum():item())'
  for how in cli lua; do
    if [ $how = cli ]; then out=$("$R/usr/bin/gpubp" --device cpu -e "$probe")
    else out=$(LUA_CPATH="$(dirname "$cmod")/?.so" lua5.4 -e "gb = require 'gpubp' $probe"); fi
    echo "$how: $out"
    echo "$out" | grep -q '^world 1 sum 3' || fail "$how did not run the packaged plugin"
  done
fi
if [ -f "$B/libgpubp_cuda.so" ]; then
  echo "== gpubp-cuda unpacked beside it: the CLI and the Lua module both find the plugin"
  dpkg -x "$cdeb" "$R"
  probe='local ok = gb.cuda.is_available(); print(ok and "available" or gb.cuda.why_unavailable())'
  for how in cli lua; do
    if [ $how = cli ]; then out=$("$R/usr/bin/gpubp" -e "$probe")
    else out=$(LUA_CPATH="$(dirname "$cmod")/?.so" lua5.4 -e "gb = require 'gpubp' $probe"); fi
    echo "$how: $out"
    case $out in *"not found"*) fail "$how does not find the packaged plugin" ;; esac
  done
fi
echo "deb_test: passed"
