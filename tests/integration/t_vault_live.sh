#!/bin/bash
# A container's leases and certificates live as long as the container: while
# a cgroup its readers were in exists (a view with a cgroup rule), or a file
# of its view is open, they are renewed past lease_idle; once the cgroup is
# removed they are revoked (the certificate dropped) within seconds, without
# waiting for lease_idle; a view without a cgroup rule falls back to open
# files and lease_idle.  Uses a real cgroup v2 directory (mkdir, rmdir).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"
python3 -c 'import cryptography' 2>/dev/null ||
	fail "python3-cryptography is missing (scripts/deps.sh installs it): the test server's PKI needs it"

CGROOT=$(cgroup2_root)
[ -n "$CGROOT" ] || fail "no cgroup v2 hierarchy is mounted (/proc/mounts)"
CGNAME="harombe-it-$$"
CG="$CGROOT/$CGNAME"
mkdir "$CG" || fail "cannot make a cgroup under $CGROOT"
T_CGROUPS+=("$CG")

vault_start V
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
vapi "$V_URL" POST database/roles/ro '{"db_name": "pg", "default_ttl": "3s", "max_ttl": "1h"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot create the database role (HTTP $VAPI_STATUS)"
vapi "$V_URL" POST pki/root/generate/internal '{"common_name": "harombe test CA"}' > /dev/null
vapi "$V_URL" POST pki/roles/web '{"allowed_domains": ["internal"], "allow_subdomains": true, "key_type": "ec"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot make the PKI role (HTTP $VAPI_STATUS)"

cat > "$T_DIR/harombe.yaml" <<YAML
security:
  credentials:
    provider: vault
    vault_url: $V_URL
    token_file: $T_DIR/token
    lease_idle: 2s
  fs:
    audit_log: $AUDIT
    mountpoint: $MNT
  containers:
    boxed:
      cgroup: "/$CGNAME"
      secrets:
        DB_USER: database/creds/ro#username
      certificates:
        tls: {role: web, common_name: boxed.internal, ttl: 1h}
    plain:
      secrets:
        DB_USER: database/creds/ro#username
YAML
nleases() {	# nleases ROLE-PATH
	curl -s "$V_URL/_test/leases" | python3 -c 'import json,sys; print(sum(1 for l in json.load(sys.stdin)["leases"] if l["path"] == sys.argv[1]))' "$1"
}
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"

# a reader in the cgroup reads, then exits: the cgroup stays
sh -c 'echo $$ > "$1/cgroup.procs" && cat "$2/boxed/env" "$2/boxed/tls.crt" > /dev/null' sh "$CG" "$MNT" ||
	fail "the reader in cgroup /$CGNAME could not read its view"
cat "$MNT/boxed/env" > /dev/null 2>&1 && fail "a reader outside the cgroup read the boxed view"
[ "$(nleases database/creds/ro)" = 1 ] || fail "expected one lease for the boxed container"
vstats_reset "$V_URL"
sleep 6
[ "$(nleases database/creds/ro)" = 1 ] || fail "the boxed lease is gone 6 s after its read, with the cgroup still there (lease_idle 2s)"
r=$(vcount "$V_URL" '^PUT sys/leases/renew$')
[ "$r" -ge 2 ] || fail "only $r renewals in 6 s of a 3 s lease whose cgroup exists"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 0 ] || fail "revoked while the cgroup exists"
expect_rc 0 "$HAROMBE" -c "$T_DIR/harombe.yaml" vault leases
grep -q "^boxed  *pki/issue/web" "$T_DIR/out" || fail "the certificate was dropped while the cgroup exists"
ok "cgroup /$CGNAME exists, nothing open, nothing read for 6 s (lease_idle 2s): the lease is renewed ($r times), the certificate kept"

# the container goes: its cgroup is removed
rmdir "$CG" || fail "cannot remove the cgroup"
t0=$(now_ms)
while [ "$(nleases database/creds/ro)" != 0 ]; do
	[ $(( $(now_ms) - t0 )) -lt 5000 ] || fail "the lease of a container whose cgroup is gone still lives after 5 s"
	sleep 0.1
done
gone_ms=$(( $(now_ms) - t0 ))
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 1 ] || fail "expected one revocation"
sleep 0.5
grep -q '"event":"vault_lease".*"container":"boxed".*"action":"dropped"' "$AUDIT" || fail "the certificate was not dropped"
grep -q "revoked the lease of 'database/creds/ro' for 'boxed' (its container is gone)" "$T_LOG" ||
	fail "the log does not say why the lease went"
ok "cgroup removed: the lease is revoked ${gone_ms} ms later and the certificate dropped, without waiting for lease_idle"

# no cgroup rule: an open file keeps it alive; closed, lease_idle decides
python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
open(sys.argv[2], "w").close()
time.sleep(6)
os.close(fd)' "$MNT/plain/env" "$T_DIR/held" &
hpid=$!
for _ in $(seq 50); do [ -e "$T_DIR/held" ] && break; sleep 0.1; done
vstats_reset "$V_URL"
sleep 5
[ "$(nleases database/creds/ro)" = 1 ] || fail "the lease of a container with an open file went after 5 s (lease_idle 2s)"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 0 ] || fail "revoked while a file is open"
wait "$hpid"
t0=$(now_ms)
while [ "$(nleases database/creds/ro)" != 0 ]; do
	[ $(( $(now_ms) - t0 )) -lt 6000 ] || fail "the lease still lives 6 s after the last file closed (lease_idle 2s)"
	sleep 0.2
done
idle_ms=$(( $(now_ms) - t0 ))
[ "$idle_ms" -ge 1000 ] || fail "revoked ${idle_ms} ms after the close: before lease_idle"
ok "no cgroup rule: an open file keeps the lease for 6 s; revoked ${idle_ms} ms after the close (lease_idle 2s)"
stop_fs "$T_FS_PID" "$MNT"
