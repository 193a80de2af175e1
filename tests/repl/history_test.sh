#!/bin/sh
# history_test.sh — REPL history persists across sessions: a first session types a line, a
# second one (same fresh HOME) brings it back with the Up arrow.
# Usage: history_test.sh PTY_DRIVE GPUBP DIR_WITH_PTY_SCRIPTS
set -u
D=$1 G=$2 S=$3
HOME=$(mktemp -d)
export HOME
trap 'rm -rf "$HOME"' EXIT
"$D" "$S/history1.pty" -- "$G" || exit 1
[ -s "$HOME/.gpubp_history" ] || { echo "no $HOME/.gpubp_history after session 1"; exit 1; }
grep -q "hist" "$HOME/.gpubp_history" || { echo "line missing from history file"; exit 1; }
"$D" "$S/history2.pty" -- "$G" || exit 1
echo "history_test: passed"
