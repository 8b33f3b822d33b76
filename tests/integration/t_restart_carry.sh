#!/bin/bash
# What a restart carries (lib/carry.h): a background harombefs (the keeper
# holds the FUSE connection and the carried state) restarted on purpose
# (SIGQUIT, the handover path) and by kill -9 of its daemon.  Vault leases
# are adopted, not minted again: the same credentials are read, and the new
# daemon renews them; a lease the new config no longer names is revoked; a
# stop revokes them all.  The views' generation counters never go back, and
# a poll() waiting on a file opened before the restarts is woken by a
# rotation after them within a second.  PKI certificates pass the same way:
# the same serial and key after SIGQUIT and kill -9, no new pki/issue; an
# adopted certificate is issued again at 2/3 of its life and wakes a poll()
# waiter; one the new config no longer names is dropped (its lease
# revoked); a stop carries nothing.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
H=$HAROMBE
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
vput "$V_URL" app/key '{"value": "'"$(rand_token 32)"'"}'
vapi "$V_URL" POST database/roles/readonly '{"db_name": "pg", "default_ttl": "3s", "max_ttl": "600s"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot create the database role (HTTP $VAPI_STATUS)"
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"

config() {	# config CONTAINER...
	local c
	{
		printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    %s\n' \
			"$V_URL" "${AUTH:-token_file: $T_DIR/token}"
		printf '    dynamic_paths: [database/creds/]\n    lease_idle: 60s\n'
		printf '  fs:\n    audit_log: %s\n    mountpoint: %s\n  containers:\n' "$AUDIT" "$MNT"
		for c in "$@"; do
			printf '    %s:\n      secrets:\n' "$c"
			printf '        DB_USER: database/creds/readonly#username\n'
			printf '        DB_PASS: database/creds/readonly#password\n'
			printf '        KEY: app/key\n'
		done
	} > "$T_DIR/h.yaml.new"
	mv "$T_DIR/h.yaml.new" "$T_DIR/harombe.yaml"
}
leases() { curl -s "$V_URL/_test/leases"; }
nleases() { leases | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["leases"]))'; }
mints() { vcount "$V_URL" '^GET database/creds/readonly$'; }
creds() { cat "$MNT/$1/secrets/DB_USER" "$MNT/$1/secrets/DB_PASS" | sha256sum; }
gen() { cat "$MNT/$1/generation"; }

start_keeper() {
	mkdir -p "$MNT"
	"$HAROMBEFS" "$MNT" -o config="$T_DIR/harombe.yaml" 2>"$T_DIR/start.err" ||
		fail "background start: $(cat "$T_DIR/start.err")"
	T_MOUNTS+=("$MNT")
	KEEPER=$(pgrep -f -x "$HAROMBEFS $MNT -o config=$T_DIR/harombe.yaml" || true)
	[ -n "$KEEPER" ] || fail "no keeper process"
	T_PIDS+=("$KEEPER")
}
stop_keeper() {
	kill -TERM "$KEEPER"
	for _ in $(seq 100); do kill -0 "$KEEPER" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$KEEPER" 2>/dev/null && fail "the keeper did not exit on SIGTERM"
	grep -qsE " $MNT fuse\.harombefs " /proc/mounts && fail "$MNT still mounted after SIGTERM"
	return 0
}

config c1 c2
vstats_reset "$V_URL"
start_keeper
server() {	# the keeper's current daemon (waits for one)
	local p
	for _ in $(seq 200); do
		p=$(pgrep -P "$KEEPER" || true)
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	fail "the keeper has no daemon"
}
new_server() {	# new_server OLD-PID: wait for the keeper's next daemon, serving
	local p
	for _ in $(seq 200); do
		p=$(pgrep -P "$KEEPER" || true)
		[ -n "$p" ] && [ "$p" != "$1" ] && break
		sleep 0.05
	done
	[ -n "$p" ] && [ "$p" != "$1" ] || fail "no new daemon after $2"
	cat "$MNT/c1/generation" > /dev/null || fail "the new daemon does not serve after $2"
	echo "$p"
}
S=$(server)
grep -q ' -> /secretmem\| -> /memfd:harombefs-carry' <(ls -l "/proc/$KEEPER/fd") ||
	fail "the keeper holds no carried state"
ok "the keeper holds the daemon's carried state ($(ls -l "/proc/$KEEPER/fd" | grep -o '/secretmem\|/memfd:harombefs-carry' | head -n 1)) beside /dev/fuse"

C1=$(creds c1)
C2=$(creds c2)
[ "$(mints)" = 2 ] || fail "$(mints) leases minted for 2 containers"
[ "$(nleases)" = 2 ] || fail "$(nleases) live leases, expected 2"
"$H" -c "$T_DIR/harombe.yaml" vault set app/key "v2-$(rand_token 20)" 2>"$T_DIR/set.err" ||
	fail "vault set: $(cat "$T_DIR/set.err")"
assert_eq "$(gen c1)" "1" "c1's generation after a change"

# A poll() waiter on a file opened (and read) before the restarts.
W="$T_DIR/w"
mkdir -p "$W"
cat > "$W/waiter.py" <<'PY'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
os.read(fd, 65536)
open(sys.argv[2] + ".ready", "w").close()
if len(sys.argv) > 4:	# "late": poll only once told to (the file stays open meanwhile)
    while not os.path.exists(sys.argv[2] + ".go"):
        time.sleep(0.05)
p = select.poll()
p.register(fd, select.POLLIN | select.POLLPRI)
ev = p.poll(int(sys.argv[3]))
with open(sys.argv[2], "w") as f:
    f.write("%d %.6f\n" % (ev[0][1] if ev else 0, time.monotonic()))
PY
# w1 polls from before the restarts; w2 holds a file opened before them and
# polls only after them (the new daemon first hears of it in its poll request).
python3 "$W/waiter.py" "$MNT/c1/secrets/KEY" "$W/w1" 30000 &
W1=$!
T_PIDS+=("$W1")
python3 "$W/waiter.py" "$MNT/c1/env" "$W/w2" 30000 late &
W2=$!
T_PIDS+=("$W2")
for _ in $(seq 50); do [ -e "$W/w1.ready" ] && [ -e "$W/w2.ready" ] && break; sleep 0.1; done
[ -e "$W/w1.ready" ] && [ -e "$W/w2.ready" ] || fail "the poll() waiters did not start"
sleep 0.3

# 1. A planned restart: SIGQUIT (the handover path).
vstats_reset "$V_URL"
kill -QUIT "$KEEPER"
S=$(new_server "$S" "SIGQUIT")
grep -qx 'LISTEN_FDNAMES=fuse:fuse-init:carry' <(tr '\0' '\n' < "/proc/$S/environ") ||
	fail "the carried state was not passed in LISTEN_FDS"
assert_eq "$(creds c1)" "$C1" "c1's credentials after SIGQUIT"
assert_eq "$(creds c2)" "$C2" "c2's credentials after SIGQUIT"
[ "$(mints)" = 0 ] || fail "SIGQUIT restart: $(mints) new leases minted"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 0 ] || fail "SIGQUIT restart revoked leases"
assert_eq "$(gen c1)" "1" "c1's generation after SIGQUIT"
ok "SIGQUIT: the new daemon adopted both leases (0 minted, 0 revoked, the same credentials); generation still 1"

# 2. kill -9 of the daemon: nothing handed over at that moment.
kill -KILL "$S"
S=$(new_server "$S" "kill -9")
assert_eq "$(creds c1)" "$C1" "c1's credentials after kill -9"
assert_eq "$(creds c2)" "$C2" "c2's credentials after kill -9"
[ "$(mints)" = 0 ] || fail "kill -9 restart: $(mints) new leases minted"
assert_eq "$(gen c1)" "1" "c1's generation after kill -9"
[ -e "$W/w1" ] && fail "the poll() waiter woke without a change: $(cat "$W/w1")"
touch "$W/w2.go"
sleep 0.5
[ -e "$W/w2" ] && fail "a poll() begun after the restarts on a file opened before them returned at once: $(cat "$W/w2")"
ok "kill -9: the next daemon adopted both leases from the keeper (0 minted, the same credentials); generation still 1"

# The adopted leases are renewed by the new daemon (TTL 3 s: renewal at 2 s).
sleep 3.5
renews=$(vcount "$V_URL" '^PUT sys/leases/renew$')
[ "$renews" -ge 2 ] || fail "only $renews renewals of 2 adopted leases in 3.5 s with a 3 s TTL"
[ "$(mints)" = 0 ] || fail "an adopted lease was minted again instead of renewed"
assert_eq "$(creds c1)" "$C1" "c1's credentials after the renewals"
expect_rc 0 "$H" -c "$T_DIR/harombe.yaml" vault leases
for c in c1 c2; do grep -q "^$c  *database/creds/readonly " "$T_DIR/out" || fail "vault leases lacks $c"; done
ok "the adopted leases are renewed ($renews renewals), never minted again, and listed by vault leases"

# 3. A rotation after the restarts wakes the waiter blocked since before them.
t0=$(python3 -c 'import time; print("%.6f" % time.monotonic())')
"$H" -c "$T_DIR/harombe.yaml" vault set app/key "v3-$(rand_token 20)" 2>"$T_DIR/set.err" ||
	fail "vault set: $(cat "$T_DIR/set.err")"
wait "$W1" || fail "the waiter failed"
read -r ev t1 < "$W/w1"
[ "$ev" -eq $((1 | 2)) ] || fail "poll() reported events $ev, not POLLIN|POLLPRI"
ms=$(python3 -c "print(int(($t1 - $t0) * 1000))")
[ "$ms" -lt 1000 ] || fail "the waiter woke ${ms} ms after the change"
wait "$W2" || fail "the late waiter failed"
read -r ev2 t2 < "$W/w2"
[ "$ev2" -eq $((1 | 2)) ] || fail "the late poll() reported events $ev2, not POLLIN|POLLPRI"
ms2=$(python3 -c "print(int(($t2 - $t0) * 1000))")
[ "$ms2" -lt 1000 ] || fail "the late waiter woke ${ms2} ms after the change"
assert_eq "$(gen c1)" "2" "c1's generation after the rotation"
ok "a poll() blocked across SIGQUIT and kill -9 woke ${ms} ms after a rotation with POLLIN|POLLPRI, one begun after them on a file opened before them ${ms2} ms; generation 1 -> 2"

# 4. A config without c2: the restart revokes c2's lease and keeps c1's.
config c1
vstats_reset "$V_URL"
kill -QUIT "$KEEPER"
S=$(new_server "$S" "SIGQUIT with c2 removed")
for _ in $(seq 50); do [ "$(nleases)" = 1 ] && break; sleep 0.1; done
[ "$(nleases)" = 1 ] || fail "$(nleases) live leases after c2 left the config, expected 1"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 1 ] || fail "c2's lease was not revoked"
assert_eq "$(creds c1)" "$C1" "c1's credentials after c2 left"
[ "$(mints)" = 0 ] || fail "$(mints) leases minted after c2 left"
assert_eq "$(gen c1)" "2" "c1's generation after the third restart"
ok "a lease the new config no longer names is revoked at adoption; c1's is kept"

# 4b. A reload (SIGHUP) revokes the old generation's leases and mints for the
# new one, as it always did; from then on the new generation's are carried.
vstats_reset "$V_URL"
kill -HUP "$KEEPER"
for _ in $(seq 50); do [ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 1 ] && break; sleep 0.1; done
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 1 ] || fail "the reload did not revoke the old generation's lease"
C1R=$(creds c1)
[ "$(mints)" = 1 ] || fail "$(mints) leases minted after the reload, expected 1"
vstats_reset "$V_URL"
kill -KILL "$S"
S=$(new_server "$S" "kill -9 after a reload")
assert_eq "$(creds c1)" "$C1R" "c1's credentials after a reload and a kill -9"
[ "$(mints)" = 0 ] || fail "$(mints) leases minted after a reload and a kill -9"
[ "$(nleases)" = 1 ] || fail "$(nleases) live leases after a reload and a kill -9, expected 1"
ok "after a reload the new generation's lease is the one carried: a kill -9 then mints nothing"

# 5. Stop: every lease revoked, and the keeper exits.
leases | python3 -c 'import json,sys; [print(l["id"]) for l in json.load(sys.stdin)["leases"]]' > "$T_DIR/ids"
[ -s "$T_DIR/ids" ] || fail "no lease ids from the test server"
stop_keeper
[ "$(nleases)" = 0 ] || fail "$(nleases) leases left after the stop"
ok "a stop (not a restart) revokes the leases"

grep -c '"event":"vault_lease".*"action":"adopted".*"result":"ok"' "$AUDIT" > "$T_DIR/n" || true
[ "$(cat "$T_DIR/n")" = 6 ] || fail "$(cat "$T_DIR/n") adopted records, expected 6 (2 + 2 + 1 + 1)"
grep -q '"event":"vault_lease".*"container":"c1".*"action":"adopted".*"lease":"[0-9a-f]\{32\}"' "$AUDIT" ||
	fail "adoption not audited with the container and a hashed lease id"
while read -r id; do grep -qF "$id" "$AUDIT" && fail "a lease id in the audit log"; done < "$T_DIR/ids"
no_secret_in "$AUDIT" "$VROOT"
ok "vault_lease 'adopted' audit records, lease ids hashed"

# 6. AppRole: leases hang on the token that minted them (Vault revokes them
# with it), so the login token is carried too: no new login after a restart.
vctl "$V_URL" policy '{"name": "dyn", "rules": {"secret/*": ["read"], "database/creds/*": ["read"], "sys/leases/*": ["update"]}}'
vapi "$V_URL" POST auth/approle/role/dyn '{"token_policies": "dyn", "token_ttl": "60s"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot create the AppRole (HTTP $VAPI_STATUS)"
ROLE_ID=$(vapi "$V_URL" GET auth/approle/role/dyn/role-id | json_get data.role_id)
vapi "$V_URL" POST auth/approle/role/dyn/secret-id '{}' | json_get data.secret_id > "$T_DIR/secret-id"
chmod 600 "$T_DIR/secret-id"
AUTH="role_id: $ROLE_ID
    secret_id_file: $T_DIR/secret-id" config c1
vstats_reset "$V_URL"
start_keeper
S=$(server)
C1=$(creds c1)
[ "$(vcount "$V_URL" '^POST auth/approle/login$')" = 1 ] || fail "expected one AppRole login"
[ "$(mints)" = 1 ] || fail "$(mints) leases minted for one container"
vstats_reset "$V_URL"
kill -QUIT "$KEEPER"
S=$(new_server "$S" "SIGQUIT (AppRole)")
assert_eq "$(creds c1)" "$C1" "c1's credentials after SIGQUIT (AppRole)"
kill -KILL "$S"
S=$(new_server "$S" "kill -9 (AppRole)")
assert_eq "$(creds c1)" "$C1" "c1's credentials after kill -9 (AppRole)"
[ "$(vcount "$V_URL" '^POST auth/approle/login$')" = 0 ] || fail "a restart logged in again instead of adopting the token"
[ "$(mints)" = 0 ] || fail "$(mints) leases minted after the AppRole restarts"
stop_keeper
[ "$(nleases)" = 0 ] || fail "$(nleases) leases left after the AppRole stop"
ok "AppRole: SIGQUIT and kill -9 adopt the login token with the lease (0 logins, 0 mints); a stop revokes with it"

# 7. Certificates: carried like the leases.  c1's (20 s life, no lease) is
# issued again at 2/3 of it by the daemon two restarts later; c2's and c3's
# role generates leases (revoked when dropped).
command -v openssl >/dev/null || fail "openssl is missing (scripts/deps.sh installs it)"
python3 -c 'import cryptography' 2>/dev/null ||
	fail "python3-cryptography is missing (scripts/deps.sh installs it): the test server's PKI needs it"
vapi "$V_URL" POST pki/root/generate/internal '{"common_name": "harombe test CA", "ttl": "87600h"}' > /dev/null
[ "$VAPI_STATUS" = 200 ] || fail "cannot make the test CA (HTTP $VAPI_STATUS)"
for role in web leased; do
	vapi "$V_URL" POST "pki/roles/$role" '{"allowed_domains": ["internal"], "allow_subdomains": true, "key_type": "ec", "max_ttl": "1h", "generate_lease": '"$([ $role = leased ] && echo true || echo false)"'}' > /dev/null
	[ "$VAPI_STATUS" = 204 ] || fail "cannot make the PKI role $role (HTTP $VAPI_STATUS)"
done
config_pki() {	# config_pki CONTAINER...
	local c
	{
		printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    token_file: %s\n' \
			"$V_URL" "$T_DIR/token"
		printf '    lease_idle: 60s\n'
		printf '  fs:\n    audit_log: %s\n    mountpoint: %s\n  containers:\n' "$AUDIT" "$MNT"
		for c in "$@"; do
			printf '    %s:\n      certificates:\n        tls:\n' "$c"
			printf '          role: %s\n          common_name: %s.svc.internal\n' \
				"$([ "$c" = c1 ] && echo web || echo leased)" "$c"
			printf '          ttl: %s\n' "$([ "$c" = c1 ] && echo 20s || echo 1h)"
		done
	} > "$T_DIR/h.yaml.new"
	mv "$T_DIR/h.yaml.new" "$T_DIR/harombe.yaml"
}
serial() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
issues() { vcount "$V_URL" '^POST pki/issue/'; }
pki_leases() {
	curl -s "$V_URL/_test/leases" |
		python3 -c 'import json,sys; print(sum(1 for l in json.load(sys.stdin)["leases"] if l["path"] == "pki/issue/leased"))'
}
same_certs() {	# same_certs WHEN: each container reads the certificate and key read at first
	local c
	for c in c1 c2 c3; do
		cmp -s "$MNT/$c/tls.crt" "$T_DIR/$c.crt" || fail "$1: $c's tls.crt changed"
		cmp -s "$MNT/$c/tls.key" "$T_DIR/$c.key" || fail "$1: $c's tls.key changed"
	done
}
config_pki c1 c2 c3
vstats_reset "$V_URL"
: > "$AUDIT"
start_keeper
S=$(server)
for c in c1 c2 c3; do
	cat "$MNT/$c/tls.crt" > "$T_DIR/$c.crt" || fail "cannot read $c/tls.crt"
	cat "$MNT/$c/tls.key" > "$T_DIR/$c.key" || fail "cannot read $c/tls.key"
done
[ "$(issues)" = 3 ] || fail "$(issues) certificates issued for 3 containers"
[ "$(pki_leases)" = 2 ] || fail "$(pki_leases) certificate leases, expected 2"
S1=$(serial "$T_DIR/c1.crt")
python3 "$W/waiter.py" "$MNT/c1/tls.crt" "$W/wc" 40000 &
WC=$!
T_PIDS+=("$WC")
for _ in $(seq 50); do [ -e "$W/wc.ready" ] && break; sleep 0.1; done
[ -e "$W/wc.ready" ] || fail "the poll() waiter on tls.crt did not start"

vstats_reset "$V_URL"
kill -QUIT "$KEEPER"
S=$(new_server "$S" "SIGQUIT (certificates)")
same_certs "SIGQUIT"
[ "$(issues)" = 0 ] || fail "SIGQUIT restart: $(issues) certificates issued"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 0 ] || fail "SIGQUIT restart revoked certificate leases"
kill -KILL "$S"
S=$(new_server "$S" "kill -9 (certificates)")
same_certs "kill -9"
[ "$(issues)" = 0 ] || fail "kill -9 restart: $(issues) certificates issued"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 0 ] || fail "kill -9 restart revoked certificate leases"
[ "$(pki_leases)" = 2 ] || fail "$(pki_leases) certificate leases after the restarts, expected 2"
[ -e "$W/wc" ] && fail "the poll() waiter on tls.crt woke during the restarts: $(cat "$W/wc")"
ok "SIGQUIT and kill -9: the same certificates and keys (serial $S1 for c1), 0 pki/issue requests, 0 revocations"

wait "$WC" || fail "the poll() waiter on tls.crt failed"
read -r ev _ < "$W/wc"
[ "$ev" -eq $((1 | 2)) ] || fail "poll() on tls.crt reported events $ev, not POLLIN|POLLPRI (no renewal of the adopted certificate?)"
S2=$(serial "$MNT/c1/tls.crt")
[ "$S2" != "$S1" ] || fail "poll() woke but c1's tls.crt has the old serial"
[ "$(issues)" = 1 ] || fail "$(issues) certificates issued at the adopted one's 2/3 of life, expected 1 (c1's)"
cat "$MNT/c1/tls.crt" > "$T_DIR/c1.crt"
cat "$MNT/c1/tls.key" > "$T_DIR/c1.key"
openssl x509 -noout -pubkey -in "$T_DIR/c1.crt" > "$T_DIR/pub.cert"
openssl pkey -pubout -in "$T_DIR/c1.key" > "$T_DIR/pub.key"
cmp -s "$T_DIR/pub.cert" "$T_DIR/pub.key" || fail "after the renewal, tls.key is not the key of tls.crt"
ok "the adopted certificate is issued again at 2/3 of its life by the daemon two restarts later: new serial, poll() waiter from before the restarts woken"

# c3 leaves the config: its certificate is dropped and its lease revoked; the rest stay
config_pki c1 c2
vstats_reset "$V_URL"
kill -QUIT "$KEEPER"
S=$(new_server "$S" "SIGQUIT with c3 removed (certificates)")
for _ in $(seq 50); do [ "$(pki_leases)" = 1 ] && break; sleep 0.1; done
[ "$(pki_leases)" = 1 ] || fail "$(pki_leases) certificate leases after c3 left the config, expected 1"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 1 ] || fail "c3's certificate lease was not revoked"
for c in c1 c2; do
	cmp -s "$MNT/$c/tls.crt" "$T_DIR/$c.crt" || fail "$c's tls.crt changed when c3 left"
done
[ "$(issues)" = 0 ] || fail "$(issues) certificates issued when c3 left"
ok "a certificate the new config no longer names is dropped and its lease revoked; c1's and c2's are kept"

n=$(grep -c '"event":"vault_lease".*"action":"adopted","path":"pki/issue/.*"serial":"[0-9a-f:]\{20,\}".*"result":"ok"' "$AUDIT" || true)
[ "$n" = 8 ] || fail "$n certificate adopted records, expected 8 (3 + 3 + 2)"
python3 - "$AUDIT" "$S2" <<'PY' || fail "c1's adoption is not audited with its container and serial $S2"
import json, sys
want = sys.argv[2].lower()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if (r.get("event") == "vault_lease" and r.get("action") == "adopted" and r.get("container") == "c1"
            and r.get("path", "").startswith("pki/issue/web?common_name=c1.svc.internal")
            and r.get("serial", "").replace(":", "").lower() == want):
        sys.exit(0)
sys.exit(1)
PY
for c in c1 c2 c3; do
	no_secret_in "$AUDIT" "$(sed -n 2p "$T_DIR/$c.key")"
	no_secret_in "$T_DIR/start.err" "$(sed -n 2p "$T_DIR/$c.key")"
done
ok "vault_lease 'adopted' audit records for certificates carry the serial, never key material"

# a stop: the leased certificate's lease is revoked, and the next start carries nothing
vstats_reset "$V_URL"
stop_keeper
[ "$(pki_leases)" = 0 ] || fail "$(pki_leases) certificate leases left after the stop"
start_keeper
S=$(server)
cmp -s "$MNT/c1/tls.crt" "$T_DIR/c1.crt" && fail "a start after a stop served the old certificate"
[ "$(issues)" = 1 ] || fail "$(issues) certificates issued for one open after a stop, expected 1"
stop_keeper
ok "a stop revokes the certificate leases and carries nothing to the next start"
