#!/bin/bash
# The scanner benchmark's peer: secretlint (npm) with its recommended rule
# preset, installed for the benchmark only, into DIR (default
# $BUILD/peers/secretlint, which is not in the repository), at pinned
# versions.  Prints the path of the secretlint command on stdout.  Fails,
# saying why, when node or npm is missing or the npm registry cannot be
# reached: the benchmark must not pass without its peer.
#
#   tests/bench/secretlint-install.sh [DIR]
set -euo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
DIR=${1:-$BUILD/peers/secretlint}
SECRETLINT_VERSION=13.0.6
PRESET_VERSION=13.0.7

bin="$DIR/node_modules/.bin/secretlint"
want="secretlint@$SECRETLINT_VERSION @secretlint/secretlint-rule-preset-recommend@$PRESET_VERSION"
if [ -x "$bin" ] && [ "$(cat "$DIR/.installed" 2>/dev/null)" = "$want" ]; then
	echo "$bin"
	exit 0
fi
for c in node npm; do
	command -v $c > /dev/null || {
		echo "secretlint-install: $c is missing (BENCH_PLOTS=1 scripts/deps.sh installs nodejs and npm)" >&2
		exit 1
	}
done
# secretlint 13 asks for node 22 and runs on 20 (this machine's); older
# ones are not tried
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "secretlint-install: node $(node --version) is too old for secretlint $SECRETLINT_VERSION (20 or later)" >&2
	exit 1
fi
mkdir -p "$DIR"
# shellcheck disable=SC2086
if ! npm install --prefix "$DIR" --no-save --no-audit --no-fund --loglevel=error $want > "$DIR/npm.log" 2>&1; then
	echo "secretlint-install: npm could not install $want into $DIR:" >&2
	tail -n 5 "$DIR/npm.log" >&2
	exit 1
fi
[ -x "$bin" ] || { echo "secretlint-install: npm succeeded but $bin is not there" >&2; exit 1; }
echo "$want" > "$DIR/.installed"
echo "$bin"
