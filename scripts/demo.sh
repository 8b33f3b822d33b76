#!/bin/bash
# make demo: mount harombefs on examples/demo.yaml (env backend, fake values),
# read a container's view the ways a container would, then unmount.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
[ "$(id -u)" -eq 0 ] || { echo "harombe: the demo mounts a FUSE filesystem with allow_other: run it as root (sudo make demo)" >&2; exit 1; }

DIR=/tmp/harombe-demo
MNT=$DIR/mnt
mkdir -p "$MNT"
mountpoint -q "$MNT" && fusermount3 -u "$MNT"
trap 'mountpoint -q "$MNT" && fusermount3 -u "$MNT"; true' EXIT

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

# Demo values, obviously not real.  The daemon copies them into locked
# memory and wipes them from its own environment.
export HAROMBE_SECRET_GITHUB_TOKEN='demo-github-token-not-real'
export HAROMBE_SECRET_SLACK_WEBHOOK='https://hooks.example.invalid/demo "quoted" $(not run)'
export HAROMBE_SECRET_DATABASE_URL='postgresql://demo@localhost/demo'
"$BUILD/harombefs" "$MNT" -o config="$TOP/examples/demo.yaml"
unset HAROMBE_SECRET_GITHUB_TOKEN HAROMBE_SECRET_SLACK_WEBHOOK HAROMBE_SECRET_DATABASE_URL

say "mount | grep harombe"; mount | grep " $MNT "
say "ls -l $MNT $MNT/browser    # root sees only the views it owns"; ls -l "$MNT" "$MNT/browser"
say "cat $MNT/browser/env"; cat "$MNT/browser/env"
say "bash -c 'set -a; . $MNT/browser/env; echo \"\$SLACK_WEBHOOK\"'"
bash -c "set -a; . '$MNT/browser/env'; echo \"\$SLACK_WEBHOOK\""
say "cat $MNT/browser/env.json"; cat "$MNT/browser/env.json"
say "cat $MNT/browser/secrets/GITHUB_TOKEN"; cat "$MNT/browser/secrets/GITHUB_TOKEN"; echo
say "setpriv --reuid 1000 cat $MNT/browser/env    # another uid"
setpriv --reuid 1000 --regid 1000 --clear-groups cat "$MNT/browser/env" || true
say "cat $MNT/code_exec/env    # root is held to the config too (owner: 65534)"
cat "$MNT/code_exec/env" || true
say "tail -n 3 $DIR/audit.jsonl    # who read which names, never a value"
tail -n 3 "$DIR/audit.jsonl"
say "fusermount3 -u $MNT"; fusermount3 -u "$MNT"
echo "demo done: harombefs served views from locked memory; nothing was written but the audit log."
