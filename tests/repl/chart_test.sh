#!/bin/sh
# chart_test.sh GPUBP — a Logger chart rendered by headless Chromium must be readable: the
# two series' lines inside the first panel, dark tick labels left of it and under it, the
# legend's colour samples in its top right corner, the lr panel's log-axis labels. Skips
# (77) without chromium or python3 (apt-get install -y chromium).
set -eu
GPUBP=$1
HERE=$(cd "$(dirname "$0")" && pwd)
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
[ -n "$CHROME" ] || { echo "chromium not found: skipped"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$GPUBP" -e "
local log = gb.utils.Logger()
for s = 1, 40 do log:log({loss = 2 / s, val_loss = 2.4 / s, lr = 0.1 * 0.9 ^ s}) end
log:plot('$T/chart.svg')"
# panel 1 (loss): x 78..498, y 52..312 in a 1044 x 370 document (svg.lua's layout)
timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --window-size=1044,370 --screenshot="$T/chart.png" "file://$T/chart.svg" >/dev/null 2>&1 || true
[ -s "$T/chart.png" ] || { echo "chromium wrote no screenshot"; exit 1; }
stat() { python3 "$HERE/png_stats.py" "$T/chart.png" "$@"; }
get() { echo "$1" | awk -v k="$2" '$1 == k { print $2 }'; }
check() { # name value min
  if [ "$2" -lt "$3" ]; then echo "FAIL: $1 = $2 (expected >= $3)"; FAIL=1; else echo "ok: $1 = $2"; fi
}
FAIL=0
inside=$(stat 80 54 496 310)
check "blue line pixels in panel 1" "$(get "$inside" blue)" 300
check "red line pixels in panel 1" "$(get "$inside" red)" 300
check "white or light panel background" "$(get "$inside" white)" 10000
yticks=$(stat 0 40 76 320)
check "dark y tick label pixels" "$(get "$yticks" dark)" 80
xticks=$(stat 70 314 506 370)
check "dark x tick label and axis title pixels" "$(get "$xticks" dark)" 100
legend=$(stat 380 58 496 100)
check "legend blue sample" "$(get "$legend" blue)" 20
check "legend red sample" "$(get "$legend" red)" 20
check "legend text" "$(get "$legend" dark)" 60
lraxis=$(stat 522 40 598 320)
check "lr panel log-axis labels" "$(get "$lraxis" dark)" 50
outside=$(stat 0 0 60 30)
check "blank margin stays white" "$(get "$outside" white)" 1500
exit $FAIL
