#!/bin/bash
# A reload that parses to nothing (an empty or truncated file) or that would
# drop every view is refused: the running config stays, views keep working,
# and the log says why.  A reload that keeps a view still applies.
. "$(dirname "$0")/lib.sh"

cat > "$T_DIR/good.yaml" <<YAML
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    one:
      uid: 1000
      secrets: { A: t/a }
    two:
      secrets: { B: t/b }
YAML
cp "$T_DIR/good.yaml" "$T_DIR/h.yaml"
export HAROMBE_SECRET_T_A=aaa HAROMBE_SECRET_T_B=bbb
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"

reload() {	# reload WHAT: SIGHUP; the newest reload line of the log
	local before
	before=$(grep -c 'reload' "$T_LOG" || true)
	kill -HUP "$T_FS_PID"
	for _ in $(seq 100); do
		[ "$(grep -c 'reload' "$T_LOG" || true)" -gt "$before" ] && break
		sleep 0.05
	done
	grep 'reload' "$T_LOG" | tail -n 1
}
views_work() {
	[ "$(as_uid 1000 cat "$MNT/one/secrets/A")" = aaa ] || fail "$1: view one no longer works"
	[ "$(cat "$MNT/two/secrets/B")" = bbb ] || fail "$1: view two no longer works"
}

: > "$T_DIR/h.yaml"
line=$(reload)
case "$line" in *"refused, keeping the running configuration: it has no views (empty or truncated?) where 2 are served"*) ;;
	*) fail "empty file: $line" ;; esac
views_work "after an empty file"
ok "an empty config on SIGHUP is refused with the reason; every view still works"

head -c 60 "$T_DIR/good.yaml" > "$T_DIR/h.yaml"	# cut inside security.fs
line=$(reload)
case "$line" in *"refused"*|*"failed, keeping the running configuration"*) ;; *) fail "truncated file: $line" ;; esac
views_work "after a truncated file"
ok "a truncated config is refused ($(echo "$line" | sed 's/.*configuration: //' | cut -c1-60)...)"

sed 's/^    one:/    uno:/; s/^    two:/    dos:/' "$T_DIR/good.yaml" > "$T_DIR/h.yaml"
line=$(reload)
case "$line" in *"refused"*"it would drop every view served now ('one' and 1 more)"*) ;; *) fail "all views renamed: $line" ;; esac
views_work "after a file that drops every view"
[ ! -e "$MNT/uno" ] || fail "the refused config's view appeared"
ok "a config that would drop every view is refused"

sed '/^    two:/,$d' "$T_DIR/good.yaml" > "$T_DIR/h.yaml"
line=$(reload)
case "$line" in *"reloaded"*"1 view"*) ;; *) fail "dropping one of two views: $line" ;; esac
[ "$(as_uid 1000 cat "$MNT/one/secrets/A")" = aaa ] || fail "view one after a good reload"
[ ! -e "$MNT/two" ] || fail "view two still there"
ok "a config that keeps a view reloads as before"

stop_fs "$T_FS_PID" "$MNT"
