#!/bin/sh
# Installs the Debian packages harombe needs to build and test, when they
# are missing.  As root it runs apt-get; otherwise it prints the exact
# command and fails.  Usage: scripts/deps.sh [--check]
set -eu

# Build: compiler, pkg-config and the libraries the Makefile asks for.
BUILD="gcc make pkg-config libfuse3-dev fuse3 libcurl4-openssl-dev libjson-c-dev
libsodium-dev libpcre2-dev libyaml-dev check libssl-dev zlib1g-dev libvectorscan-dev"
# Tests: real consumers and tools the integration tests drive.
TEST="bash dash util-linux procps findutils bubblewrap age python3 python3-yaml python3-cryptography curl systemd openssl git groff-base man-db postgresql-client nginx"
# Benchmarks: the scanner is measured beside ripgrep.
BENCH="ripgrep"
# make fuzz (FUZZ=1 scripts/deps.sh): clang with libFuzzer and the sanitizers.
FUZZ_PKGS=""
[ "${FUZZ:-}" = 1 ] && FUZZ_PKGS="clang libclang-rt-dev"
# make bench (BENCH_PLOTS=1 scripts/deps.sh): gnuplot draws the report's
# plots, and node with npm runs the scanner's peer, secretlint, which
# tests/bench/secretlint-install.sh installs from npm into build/peers/;
# CI's check path needs none of them.
PLOT_PKGS=""
[ "${BENCH_PLOTS:-}" = 1 ] && PLOT_PKGS="gnuplot-nox"

missing=""
for p in $BUILD $TEST $BENCH $FUZZ_PKGS $PLOT_PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
# Any node with its npm will do for secretlint (a machine may have one from
# elsewhere than Debian, with npm inside the nodejs package), else Debian's.
if [ "${BENCH_PLOTS:-}" = 1 ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi
# The docker CLI reads docker.env in the tests (no engine needed); any
# docker CLI on PATH will do, else Debian's.
if ! command -v docker >/dev/null 2>&1; then
	missing="$missing docker.io"
fi

[ -z "$missing" ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "missing Debian packages:$missing" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "harombe: missing Debian packages; as root, run:" >&2
	echo "  apt-get update && apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "harombe: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
# Packages with a service (nginx, for `nginx -t` in t_template_recipes) must
# not start it: Debian's postinst asks invoke-rc.d/deb-systemd-invoke, which
# obey /usr/sbin/policy-rc.d; exit 101 there means "do not start".  One that
# is already there (Docker images ship it) is left alone.
policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# harombe scripts/deps.sh: no service starts during this install\nexit 101\n' >"$policy"
	chmod 0755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >&2
if [ -n "$policy" ]; then
	rm -f "$policy"
	trap - EXIT
fi
# ... nor start it at the next boot: the tests run `nginx -t` only.
case " $missing " in
*" nginx "*)
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable nginx.service >&2 || echo "harombe: could not disable nginx.service" >&2
	fi ;;
esac
