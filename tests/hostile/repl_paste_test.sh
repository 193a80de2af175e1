#!/bin/sh
# repl_paste_test.sh — pasting a 40,000-line table into the REPL through a terminal ends, and
# the table is whole (issue 19: the REPL recompiled the whole chunk after every line, so
# such a paste took minutes and grew quadratically). ctest's TIMEOUT bounds it; the REPL
# then still computes. Usage: repl_paste_test.sh PTY_DRIVE GPUBP
set -u
D=$1
G=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
{
  echo 't = {'
  i=0
  awk 'BEGIN { for (i = 1; i <= 40000; i++) printf "  %d,\n", i * 3 }'
  echo '}'
} > "$T/paste.lua"
cat > "$T/paste.pty" <<PTY
expect device:
expect > 
paste $T/paste.lua
send print('n=' .. #t, 'sum=' .. (function() local s = 0 for _, v in ipairs(t) do s = s + v end return s end)())\n
expect n=40000	sum=2400060000
send x = gb.arange(1, 5):sum():item()\n
send print('x=' .. x)\n
expect x=10
send os.exit(0)\n
exit 0
PTY
HOME=$T "$D" "$T/paste.pty" -- "$G" > "$T/out" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
  tail -c 2000 "$T/out"
  echo "FAIL: repl paste (pty_drive exit $rc)"
  exit 1
fi
echo "repl paste: ok"
