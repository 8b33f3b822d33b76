#!/bin/bash
# make install into a DESTDIR lays out binaries, the mount(8) helper, systemd
# units, man pages, the docs and an example config (0600, references only);
# the units pass systemd-analyze verify as installed; the man pages render
# without a warning; make uninstall leaves nothing (an edited config
# excepted).  /etc and /sbin are used for PREFIX=/usr or when asked for
# (SYSCONFDIR=/etc MOUNTHELPERDIR=/sbin, as below); otherwise everything
# stays under PREFIX, and `make install PREFIX=$HOME/.local` works as a
# normal user (uid 1000, run through setpriv with a temporary HOME).
. "$(dirname "$0")/lib.sh"

D="$T_DIR/root"
inst() { make -s -C "$TOP" BUILD="$BUILD" DESTDIR="$D" SYSCONFDIR=/etc MOUNTHELPERDIR=/sbin "$@"; }
inst install > "$T_DIR/install.out" 2>&1 || fail "make install: $(cat "$T_DIR/install.out")"
find "$D" ! -type d -printf '%m %P\n' | sort -k2 > "$T_DIR/files"
VERSION=$(sed -n 's/^VERSION := //p' "$TOP/Makefile")
cat > "$T_DIR/expected" <<EOF
600 etc/harombe/harombe.yaml
755 sbin/mount.fuse.harombefs
755 usr/local/bin/harombe
644 usr/local/include/harombe/scan.h
777 usr/local/lib/libharombe-scan.so
777 usr/local/lib/libharombe-scan.so.0
755 usr/local/lib/libharombe-scan.so.$VERSION
644 usr/local/lib/pkgconfig/harombe-scan.pc
644 usr/local/lib/systemd/system/harombe-rotate.service
644 usr/local/lib/systemd/system/harombe-rotate.timer
644 usr/local/lib/systemd/system/harombefs.service
644 usr/local/lib/systemd/system/run-harombe.mount
755 usr/local/sbin/harombe-bind
755 usr/local/sbin/harombefs
644 usr/local/share/doc/harombe/README.md
644 usr/local/share/doc/harombe/examples/docker.service.d/harombe.conf
644 usr/local/share/doc/harombe/examples/harombe.yaml
644 usr/local/share/doc/harombe/examples/pre-commit-hooks.yaml
644 usr/local/share/man/man1/harombe.1
644 usr/local/share/man/man5/harombe.yaml.5
644 usr/local/share/man/man8/harombefs.8
EOF
for d in "$TOP"/docs/*.md; do echo "644 usr/local/share/doc/harombe/docs/$(basename "$d")"; done >> "$T_DIR/expected"
sort -k2 -o "$T_DIR/expected" "$T_DIR/expected"
diff -u "$T_DIR/expected" "$T_DIR/files" > "$T_DIR/diff" || fail "installed files differ: $(cat "$T_DIR/diff")"
ok "make install lays out $(wc -l < "$T_DIR/files") files with their modes (config 0600, the docs --help points to)"

"$D/usr/local/bin/harombe" -c "$D/etc/harombe/harombe.yaml" config check > "$T_DIR/check.out" 2>&1 ||
	fail "the installed example config does not load: $(cat "$T_DIR/check.out")"
grep -rq --exclude-dir=doc '@[A-Z]*DIR@' "$D" && fail "a placeholder was left: $(grep -rl --exclude-dir=doc '@[A-Z]*DIR@' "$D")"
grep -q '^ExecStart=/usr/local/sbin/harombefs /run/harombe -f --resume-only -o config=/etc/harombe/harombe.yaml$' \
	"$D/usr/local/lib/systemd/system/harombefs.service" || fail "harombefs.service does not run the installed binary"
grep -q '^HAROMBEFS=/usr/local/sbin/harombefs$' "$D/sbin/mount.fuse.harombefs" ||
	fail "the mount helper does not run the installed binary"
sh -n "$D/sbin/mount.fuse.harombefs" || fail "the mount helper is not valid sh"
ok "the example config loads (references only); units and the mount helper name the installed paths"

# Man pages: groff's own warnings, and man(1) as a reader runs it.
for m in usr/local/share/man/man1/harombe.1 usr/local/share/man/man5/harombe.yaml.5 \
	usr/local/share/man/man8/harombefs.8; do
	out=$(groff -man -ww -z "$D/$m" 2>&1) || fail "groff failed on $m: $out"
	[ -z "$out" ] || fail "groff warns on $m: $out"
	out=$(MANWIDTH=80 man --warnings -l "$D/$m" 2>&1 >/dev/null) || fail "man -l failed on $m: $out"
	[ -z "$out" ] || fail "man warns on $m: $out"
	MANWIDTH=80 man -l "$D/$m" 2>/dev/null | grep -q '^NAME' || fail "$m renders without a NAME section"
done
ok "harombe(1), harombe.yaml(5) and harombefs(8) render with no warning (groff -ww, man --warnings)"

# systemd-analyze verify on the installed units, with the installed tree at
# its real place (a private mount namespace: the host stays untouched), so
# that ExecStart= binaries and Documentation=man: pages are checked too.
# systemd-analyze reports unknown settings as warnings with status 0, so
# any output fails the test.
mkdir -p "$T_DIR/units/docker.service.d"
printf '[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n' > "$T_DIR/units/docker.service"
printf '[Unit]\nDescription=an app\nAfter=run-harombe.mount\nRequires=run-harombe.mount\n[Service]\nEnvironmentFile=/run/harombe/app/env\nExecStart=/bin/true\n' \
	> "$T_DIR/units/app.service"
printf '[Unit]\nWantz=run-harombe.mount\n' > "$T_DIR/units/docker.service.d/harombe.conf"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (Debian package systemd)"
unshare --mount --propagation private bash -c '
	set -u
	mount --bind "$1/usr/local" /usr/local || exit 2
	U=/usr/local/lib/systemd/system
	export SYSTEMD_UNIT_PATH="$2:$U:"
	# the negative control first: a broken drop-in must be reported
	systemd-analyze verify "$2/docker.service" > "$2/control.out" 2>&1
	cp "$1/usr/local/share/doc/harombe/examples/docker.service.d/harombe.conf" "$2/docker.service.d/"
	for u in $U/run-harombe.mount $U/harombefs.service $U/harombe-rotate.service \
		$U/harombe-rotate.timer "$2/docker.service" "$2/app.service"; do
		echo "== $u"
		systemd-analyze verify "$u" 2>&1
		echo "rc=$?"
	done' verify "$D" "$T_DIR/units" > "$T_DIR/verify.out" 2>&1 || fail "verify: $(cat "$T_DIR/verify.out")"
grep -q "Unknown key 'Wantz'" "$T_DIR/units/control.out" ||
	fail "the negative control: a broken drop-in was not reported ($(cat "$T_DIR/units/control.out"))"
[ "$(grep -c '^rc=0$' "$T_DIR/verify.out")" = 6 ] && [ "$(grep -vc '^== \|^rc=0$' "$T_DIR/verify.out")" = 0 ] ||
	fail "systemd-analyze verify: $(cat "$T_DIR/verify.out")"
ok "systemd-analyze verify: run-harombe.mount, harombefs.service, harombe-rotate.service/.timer, the docker.service drop-in and an EnvironmentFile= unit pass with no warning"

inst uninstall > "$T_DIR/uninstall.out" 2>&1 || fail "make uninstall: $(cat "$T_DIR/uninstall.out")"
left=$(find "$D" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall leaves no file behind"

inst install > /dev/null 2>&1 || fail "second make install"
echo "# edited" >> "$D/etc/harombe/harombe.yaml"
inst install > /dev/null 2>&1 || fail "make install over an edited config"
grep -q '^# edited$' "$D/etc/harombe/harombe.yaml" || fail "make install overwrote an edited config"
inst uninstall > "$T_DIR/uninstall.out" 2>&1 || fail "make uninstall with an edited config"
grep -q "kept $D/etc/harombe/harombe.yaml" "$T_DIR/uninstall.out" || fail "no word about the kept config"
[ "$(find "$D" ! -type d)" = "$D/etc/harombe/harombe.yaml" ] || fail "uninstall with an edited config: $(find "$D" ! -type d)"
ok "an edited config survives make install and make uninstall, which says so"

# ---- where things go without being asked ----
rm -rf "$D"
make -s -C "$TOP" BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr install > "$T_DIR/install.out" 2>&1 ||
	fail "PREFIX=/usr: $(cat "$T_DIR/install.out")"
[ -f "$D/etc/harombe/harombe.yaml" ] && [ -f "$D/sbin/mount.fuse.harombefs" ] && [ -f "$D/usr/bin/harombe" ] ||
	fail "PREFIX=/usr: /etc and /sbin: $(find "$D" -type f | head)"
rm -rf "$D"
make -s -C "$TOP" BUILD="$BUILD" DESTDIR="$D" PREFIX=/opt/h install > "$T_DIR/install.out" 2>&1 ||
	fail "PREFIX=/opt/h: $(cat "$T_DIR/install.out")"
[ -z "$(find "$D" -type f ! -path "$D/opt/h/*")" ] || fail "PREFIX=/opt/h wrote outside it: $(find "$D" -type f ! -path "$D/opt/h/*")"
grep -q 'config=/opt/h/etc/harombe/harombe.yaml' "$D/opt/h/lib/systemd/system/harombefs.service" ||
	fail "the units do not use the configured SYSCONFDIR"
grep -q '^ExecStart=/opt/h/bin/harombe -c /opt/h/etc/harombe/harombe.yaml rotate --check$' \
	"$D/opt/h/lib/systemd/system/harombe-rotate.service" || fail "harombe-rotate.service does not use the configured paths"
grep -q "mount(8) finds mount.fuse.harombefs in /sbin only" "$T_DIR/install.out" || fail "no note about the mount helper"
for m in man1/harombe.1 man5/harombe.yaml.5 man8/harombefs.8; do
	grep -q '/opt/h/etc/harombe/harombe.yaml' "$D/opt/h/share/man/$m" && ! grep -q '/etc/harombe/harombe.yaml' \
		<(sed 's|/opt/h/etc/harombe|X|g' "$D/opt/h/share/man/$m") ||
		fail "$m does not name the configured config path /opt/h/etc/harombe/harombe.yaml"
done
rm -rf "$D"
ok "PREFIX=/usr puts the config in /etc and the helper in /sbin; another PREFIX keeps everything under it, units and man pages included"

# ---- the default config path is SYSCONFDIR at build time ----
SC=$(cat "$BUILD/.sysconfdir") || fail "no $BUILD/.sysconfdir: the build did not record SYSCONFDIR"
[ -n "$SC" ] || fail "$BUILD/.sysconfdir is empty"
"$HAROMBE" --help | tr '\n' ' ' | grep -qF " $SC/harombe/harombe.yaml." || fail "harombe --help does not name $SC/harombe/harombe.yaml"
"$HAROMBEFS" --help 2>&1 | grep -qF "else $SC/harombe/harombe.yaml)" || fail "harombefs --help does not name $SC/harombe/harombe.yaml"
# and harombe really reads it: a private mount namespace puts a config there
mkdir -p "$T_DIR/empty"
unshare --mount --propagation private bash -c '
	set -eu
	mkdir -p "$1" && mount -t tmpfs -o mode=0755 none "$1" && mkdir -m 0755 "$1/harombe"
	printf "security:\n  credentials:\n    provider: env\ncontainers: {}\n" > "$1/harombe/harombe.yaml"
	chmod 0600 "$1/harombe/harombe.yaml"
	cd "$2" && env -u HAROMBE_CONFIG "$3" config check' sc "$SC" "$T_DIR/empty" "$HAROMBE" > "$T_DIR/sc.out" 2>&1 ||
	fail "harombe without -c did not load $SC/harombe/harombe.yaml: $(cat "$T_DIR/sc.out")"
grep -q "^$SC/harombe/harombe.yaml: provider env" "$T_DIR/sc.out" || fail "config check without -c: $(cat "$T_DIR/sc.out")"
make -s -C "$TOP" BUILD="$BUILD" DESTDIR="$D" SYSCONFDIR=/elsewhere install > "$T_DIR/install.out" 2>&1 ||
	fail "SYSCONFDIR=/elsewhere: $(cat "$T_DIR/install.out")"
grep -qF "were built to read $SC/harombe/harombe.yaml by default, not /elsewhere/harombe/harombe.yaml" "$T_DIR/install.out" ||
	fail "make install with another SYSCONFDIR than the build's says nothing: $(cat "$T_DIR/install.out")"
[ "$(cat "$BUILD/.sysconfdir")" = "$SC" ] || fail "make install changed the build's SYSCONFDIR"
rm -rf "$D"
ok "the default config is SYSCONFDIR of the build ($SC/harombe/harombe.yaml): --help says so, harombe reads it; an install elsewhere says it differs"

# ---- as a normal user, into $HOME/.local ----
U=1000
UH="$T_DIR/home"
mkdir -p "$UH" && chown "$U:$U" "$UH"
as_user() { setpriv --reuid "$U" --regid "$U" --clear-groups env -i PATH="$PATH" HOME="$UH" "$@"; }
as_user make -s -C "$TOP" BUILD="$BUILD" PREFIX="$UH/.local" install > "$T_DIR/user.out" 2>&1 ||
	fail "make install PREFIX=\$HOME/.local as uid $U: $(cat "$T_DIR/user.out")"
[ -z "$(find "$UH" ! -user "$U")" ] || fail "files not owned by uid $U: $(find "$UH" ! -user "$U")"
for f in bin/harombe sbin/harombefs etc/harombe/harombe.yaml share/man/man1/harombe.1 \
	share/doc/harombe/docs/scanner.md lib/systemd/system/harombefs.service lib/libharombe-scan.so.0; do
	[ -e "$UH/.local/$f" ] || fail "user install: $f missing"
done
grep -q "^ExecStart=$UH/.local/sbin/harombefs .*config=$UH/.local/etc/harombe/harombe.yaml$" \
	"$UH/.local/lib/systemd/system/harombefs.service" ||
	fail "user units: $(grep ExecStart "$UH/.local/lib/systemd/system/harombefs.service")"
as_user "$UH/.local/bin/harombe" -c "$UH/.local/etc/harombe/harombe.yaml" config check > "$T_DIR/user.out" 2>&1 ||
	fail "the user's harombe: $(cat "$T_DIR/user.out")"
as_user make -s -C "$TOP" BUILD="$BUILD" PREFIX="$UH/.local" uninstall > "$T_DIR/user.out" 2>&1 ||
	fail "make uninstall as uid $U: $(cat "$T_DIR/user.out")"
[ -z "$(find "$UH/.local" -type f ! -path '*/etc/harombe/harombe.yaml')" ] ||
	fail "user uninstall left: $(find "$UH/.local" -type f)"
ok "make install PREFIX=\$HOME/.local as uid $U: everything under it, units with its paths, the command runs; uninstall cleans up"
