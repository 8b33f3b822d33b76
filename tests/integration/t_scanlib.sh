#!/bin/bash
# libharombe-scan as a library: `make install` puts the shared object (with
# its soname), <harombe/scan.h> and harombe-scan.pc in place, and the
# example program from the docs builds against them with pkg-config.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

DEST=$T_DIR/root
make -s -C "$TOP" BUILD="$BUILD" DESTDIR="$DEST" PREFIX=/usr install > "$T_DIR/make.log" 2>&1 ||
	fail "make install failed: $(tail -5 "$T_DIR/make.log")"
for f in usr/bin/harombe usr/sbin/harombefs usr/lib/libharombe-scan.so.0.1.0 usr/lib/libharombe-scan.so.0 usr/lib/libharombe-scan.so \
	usr/include/harombe/scan.h usr/lib/pkgconfig/harombe-scan.pc; do
	[ -e "$DEST/$f" ] || fail "not installed: /$f"
done
lib=$DEST/usr/lib/libharombe-scan.so.0.1.0
readelf -d "$lib" | grep -q 'SONAME.*\[libharombe-scan.so.0\]' || fail "soname"
exports=$(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort)
bad=$(echo "$exports" | grep -v '^scan_' || true)
[ -z "$bad" ] || fail "exports more than scan_*: $bad"
echo "$exports" | grep -qx scan_stream_new || fail "scan_stream_new not exported"
grep -q 'secmem_alloc' <<<"$exports" && fail "private lib/ symbols exported"
ok "make install: harombe, harombefs and the library with soname libharombe-scan.so.0, header, pkg-config file; exports scan_* only"

export PKG_CONFIG_SYSROOT_DIR=$DEST PKG_CONFIG_PATH=$DEST/usr/lib/pkgconfig
cflags=$(pkg-config --cflags harombe-scan) && libs=$(pkg-config --libs harombe-scan) || fail "pkg-config harombe-scan"
extra=""
# a sanitizer build's library needs the same runtime in the program
readelf -d "$lib" | grep -q 'libasan' && extra="-fsanitize=address,undefined"
cc -std=c11 -Wall -Werror $extra -o "$T_DIR/scan-example" "$TOP/docs/examples/scan-example.c" $cflags $libs ||
	fail "the example from docs/ does not build"
GH=$(gh_token)
printf 'build ok\ntoken %s here\n' "$GH" |
	LD_LIBRARY_PATH=$DEST/usr/lib "$T_DIR/scan-example" > "$T_DIR/out" 2> "$T_DIR/err" || fail "example failed"
assert_eq "$(cat "$T_DIR/out")" $'build ok\ntoken [REDACTED:github_token] here' "example output"
grep -q "redacted github_token (rule github_token, confidence 0.95) at line 2" "$T_DIR/err" || fail "example stderr"
no_run "$T_DIR/err" "$GH" "example stderr"
ok "docs/examples/scan-example.c builds with pkg-config and redacts through the installed library"
