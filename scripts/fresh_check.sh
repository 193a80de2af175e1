#!/usr/bin/env bash
# fresh_check.sh — what a new user sees: clones this repository (its committed HEAD) into a
# temporary folder with nothing beside it (no shared data copy), then runs the README's test command
# there. Usage: scripts/fresh_check.sh [--keep]. Uncommitted changes are not part of the check.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = --keep ] && keep=1
top=$(mktemp -d /tmp/gpubp-fresh.XXXXXX)
[ $keep = 1 ] || trap 'rm -rf "$top"' EXIT
git clone -q "$repo" "$top/gpubp"
cd "$top/gpubp"
[ ! -e "$top/shared" ] || { echo "fresh_check: $top/shared exists" >&2; exit 1; }
echo "fresh_check: $(git log -1 --format='%h %s') in $top/gpubp (OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset})"
# The README's test command, word for word:
cmd=$(sed -n '/^Set up, build (warnings as errors) and run the whole test suite/,/^```$/p' \
  "$repo/README.md" | sed -n '/^```sh$/{n;p;}')
[ -n "$cmd" ] || { echo "fresh_check: README has no test command" >&2; exit 1; }
echo "fresh_check: running: $cmd"
bash -c "$cmd"
echo "fresh_check: passed"
