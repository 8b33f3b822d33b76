#!/bin/bash
# Changes nobody tells harombefs about wake poll() waiters too: a SOPS file
# rewritten by a command that does not reach the daemon's control socket
# (inotify on the file), and a Vault KV v2 secret written straight to Vault
# for a container with `watch: 1s` (its metadata's version).  Each waiter
# wakes with POLLIN|POLLPRI within a second of the change (plus one watch
# period for Vault), and the view's generation counts it.  And on_change:
# a change signals the processes of the container's cgroup and runs a
# command as the view's uid, at most once per min_interval, audited.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vault-lib.sh"

W="$T_DIR/w"
mkdir -p "$W"
chmod 0777 "$W"
cat > "$W/waiter.py" <<'PY'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 65536)
p = select.poll()
p.register(fd, select.POLLIN | select.POLLPRI)
open(sys.argv[2] + ".ready", "w").close()
ev = p.poll(int(sys.argv[3]))
with open(sys.argv[2], "w") as f:
    f.write("%d %.6f\n" % (ev[0][1] if ev else 0, time.monotonic()))
PY
now() { python3 -c 'import time; print("%.6f" % time.monotonic())'; }
# wait_woken NAME T0 LIMIT_MS WHAT: the waiter NAME woke with POLLIN|POLLPRI within LIMIT_MS of T0
wait_woken() {
	local ev t1 ms
	wait "$5" || fail "$4: the waiter failed"
	read -r ev t1 < "$W/$1"
	[ "$ev" -eq $((1 | 2)) ] || fail "$4: poll() reported events $ev, not POLLIN|POLLPRI"
	ms=$(python3 -c "print(int(($t1 - $2) * 1000))")
	[ "$ms" -lt "$3" ] || fail "$4: the waiter woke ${ms} ms after the change"
	WOKE_MS=$ms
}
start_waiter() {	# start_waiter FILE NAME TIMEOUT_MS: as uid 1000; sets WPID
	rm -f "$W/$2" "$W/$2.ready"
	as_uid 1000 /usr/bin/python3 "$W/waiter.py" "$1" "$W/$2" "$3" &
	WPID=$!
	for _ in $(seq 50); do [ -e "$W/$2.ready" ] && break; sleep 0.1; done
	[ -e "$W/$2.ready" ] || fail "the poll() waiter on $1 did not start"
	sleep 0.2
	[ -e "$W/$2" ] && fail "poll() on $1 returned before any change"
	return 0
}

# ---- SOPS: the file edited underneath ----
FIX="$TOP/tests/fixtures/sops"
S="$T_DIR/secrets.enc.yaml"
cp "$FIX/age-example.yaml" "$S"
cp "$FIX/keys.txt" "$T_DIR/keys.txt"
cat > "$T_DIR/s.yaml" <<YAML
security:
  credentials:
    provider: sops
    secrets_file: $S
    key_file: $T_DIR/keys.txt
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    app:
      uid: 1000
      secrets: { TOKEN: github/token }
YAML
# (no mountpoint in s.yaml: harombe vault set tells /run/harombe's daemon, not this one)
"$HAROMBE" -c "$T_DIR/s.yaml" vault set github/token "t1-$(rand_token)"
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS" "$T_DIR/s.yaml" "$MNT"
assert_eq "$(as_uid 1000 cat "$MNT/app/generation")" 0 "generation before"
start_waiter "$MNT/app/secrets/TOKEN" sops 5000
t0=$(now)
T2="t2-$(rand_token)"
"$HAROMBE" -c "$T_DIR/s.yaml" vault set github/token "$T2"
wait_woken sops "$t0" 1000 "SOPS file replaced" "$WPID"
assert_eq "$(as_uid 1000 cat "$MNT/app/secrets/TOKEN")" "$T2" "the new value after the wake"
g=$(as_uid 1000 cat "$MNT/app/generation")
[ "$g" -ge 1 ] || fail "generation after a SOPS change: $g"
ok "a SOPS file rewritten underneath wakes poll() in ${WOKE_MS} ms (inotify); the next open reads the new value; generation $g"
stop_fs "$T_FS_PID" "$MNT"

# ---- Vault: watch: 1s ----
vault_start V --kv secret=2
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
vput "$V_URL" api/key '{"value": "v1-'"$(rand_token)"'"}'
vput "$V_URL" other/key '{"value": "o1"}'
cat > "$T_DIR/v.yaml" <<YAML
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/token
    timeout: 2s
  fs:
    audit_log: $T_DIR/audit.jsonl
    mountpoint: $T_DIR/vmnt
    cache_ttl: 1h
  containers:
    web:
      uid: 1000
      watch: 1s
      secrets: { API: api/key, OTHER: other/key }
    nowatch:
      uid: 1000
      secrets: { API: api/key }
YAML
VM="$T_DIR/vmnt"
start_fs "$HAROMBEFS" "$T_DIR/v.yaml" "$VM"
sleep 1.5	# the first metadata read: the versions to compare with
start_waiter "$VM/web/secrets/API" vault 6000
t0=$(now)
V2="v2-$(rand_token)"
vput "$V_URL" api/key '{"value": "'"$V2"'"}'
wait_woken vault "$t0" 2500 "Vault secret written behind harombe's back" "$WPID"
assert_eq "$(as_uid 1000 cat "$VM/web/secrets/API")" "$V2" "the new value despite cache_ttl: 1h"
assert_eq "$(as_uid 1000 cat "$VM/web/generation")" 1 "web's generation"
ok "watch: 1s: a KV v2 secret written straight to Vault wakes poll() in ${WOKE_MS} ms and drops the cached copy (cache_ttl 1h)"
stop_fs "$T_FS_PID" "$VM"

# ---- on_change: a signal to the container's cgroup, a command as its user ----
CG2=$(cgroup2_root)
[ -n "$CG2" ] || fail "no cgroup2 mount on this host"
ID="harombe-onchange-$$"
mkdir -p "$CG2/$ID/app"
T_CGROUPS+=("$CG2/$ID/app" "$CG2/$ID")
STORE="$T_DIR/store"
mkdir -p "$STORE"
printf 'h1' > "$STORE/t%2Fh"
printf 'o1' > "$STORE/t%2Fo"
OM="$T_DIR/omnt"
cat > "$T_DIR/o.yaml" <<YAML
security:
  credentials: { provider: mock, mock_dir: $STORE }
  fs: { audit_log: $T_DIR/audit.jsonl, mountpoint: $OM }
  containers:
    hooked:
      uid: 1000
      cgroup: "/$ID/app"
      secrets: { H: t/h }
      on_change:
        signal: USR1
        command: "echo \"\$HAROMBE_CONTAINER \$(id -u)\" >> $W/hook.log"
        min_interval: 2s
    quiet:
      uid: 1000
      secrets: { O: t/o }
YAML
start_fs "$HAROMBEFS_TEST" "$T_DIR/o.yaml" "$OM"
# a process of the container: counts the USR1 it gets
sh -c 'echo $$ > "$0/cgroup.procs" && exec setpriv --reuid 1000 --regid 1000 --clear-groups \
	bash -c "trap \"echo usr1 >> $1/sig.log\" USR1; while :; do sleep 0.05; done" 2>/dev/null' "$CG2/$ID/app" "$W" &
T_PIDS+=("$!")
sleep 0.3
set_h() { "$BUILD/tests/harombe-test" -c "$T_DIR/o.yaml" vault set t/h "$1" 2>>"$T_DIR/set.err" || fail "vault set: $(cat "$T_DIR/set.err")"; }
set_h h2
for _ in $(seq 40); do [ -s "$W/sig.log" ] && [ -s "$W/hook.log" ] && break; sleep 0.05; done
[ "$(cat "$W/sig.log" 2>/dev/null)" = usr1 ] || fail "the container's process got no SIGUSR1"
[ "$(cat "$W/hook.log" 2>/dev/null)" = "hooked 1000" ] || fail "the command did not run as uid 1000: $(cat "$W/hook.log" 2>/dev/null)"
ok "on_change: a change sent SIGUSR1 to the processes of the container's cgroup and ran the command as the view's uid, within 2 s"
# three more changes within min_interval: coalesced into one run at its end
set_h h3
set_h h4
set_h h5
sleep 3
runs=$(wc -l < "$W/hook.log")
[ "$runs" -eq 2 ] || fail "four changes within min_interval ran the hook $runs times, not 2"
"$BUILD/tests/harombe-test" -c "$T_DIR/o.yaml" vault set t/o o2 2>>"$T_DIR/set.err"
sleep 0.5
[ "$(wc -l < "$W/hook.log")" -eq 2 ] || fail "a change of another view ran hooked's on_change"
grep '"event":"secret_rotation"' "$T_DIR/audit.jsonl" | grep '"container":"hooked"' |
	grep -q 'on_change: SIGUSR1 to [0-9]* process\(es\)\? of' || fail "on_change not audited"
ok "on_change is rate-limited (changes within min_interval coalesce into one run at its end), only for its own view, and audited"
stop_fs "$T_FS_PID" "$OM"
