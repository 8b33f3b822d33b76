#!/bin/bash
# Certificates from Vault's PKI engine (certificates: in a container): the
# view's tls.crt, tls.key and ca.crt form a chain `openssl verify` accepts,
# the key is the certificate's, two containers get two certificates, N
# opens issue once, the certificate is issued again at 2/3 of its life
# (a new serial) and that wakes a poll() waiter and counts in the view's
# generation; a role Vault refuses (unknown, common name not allowed)
# fails the open with Vault's own text; a leased certificate is revoked
# when harombefs stops.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"
command -v openssl >/dev/null || fail "openssl is missing (scripts/deps.sh installs it)"
python3 -c 'import cryptography' 2>/dev/null ||
	fail "python3-cryptography is missing (scripts/deps.sh installs it): the test server's PKI needs it"

vault_start V
unset VAULT_ADDR VAULT_AGENT_ADDR VAULT_TOKEN VAULT_NAMESPACE
MNT="$T_DIR/mnt"
AUDIT="$T_DIR/audit.jsonl"
printf '%s\n' "$VROOT" > "$T_DIR/token"
chmod 600 "$T_DIR/token"
vapi "$V_URL" POST pki/root/generate/internal '{"common_name": "harombe test CA", "ttl": "87600h"}' > /dev/null
[ "$VAPI_STATUS" = 200 ] || fail "cannot make the test CA (HTTP $VAPI_STATUS)"
vapi "$V_URL" POST pki/roles/web '{"allowed_domains": ["internal"], "allow_subdomains": true, "key_type": "ec", "max_ttl": "1h"}' > /dev/null
[ "$VAPI_STATUS" = 204 ] || fail "cannot make the PKI role (HTTP $VAPI_STATUS)"

TTL=1h
config() {	# config [EXTRA CONTAINER LINES for c1]
	{
		printf 'security:\n  credentials:\n    provider: vault\n    vault_url: %s\n    token_file: %s\n' \
			"$V_URL" "$T_DIR/token"
		printf '    lease_idle: 30s\n'
		printf '  fs:\n    audit_log: %s\n    mountpoint: %s\n  containers:\n' "$AUDIT" "$MNT"
		for c in 1 2; do
			printf '    c%s:\n      certificates:\n        tls:\n' "$c"
			printf '          role: %s\n          common_name: c%s.svc.internal\n' "${ROLE:-web}" "$c"
			printf '          alt_names: [api.c%s.internal]\n          ip_sans: [127.0.0.1]\n' "$c"
			printf '          ttl: %s\n' "$TTL"
			printf '      on_change: {command: [/bin/sh, -c, "echo changed >> %s/onchange.c%s"]}\n' "$T_DIR" "$c"
		done
		[ $# -gt 0 ] && printf '%s\n' "$@"
		true
	} > "$T_DIR/harombe.yaml"
}
serial() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }

config
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
ls "$MNT/c1" > "$T_DIR/ls"
for f in tls.crt tls.key ca.crt; do grep -qx "$f" "$T_DIR/ls" || fail "$f is not in the view: $(tr '\n' ' ' < "$T_DIR/ls")"; done
for c in 1 2; do
	for f in tls.crt tls.key ca.crt; do cat "$MNT/c$c/$f" > "$T_DIR/c$c.$f" || fail "cannot read c$c/$f"; done
done
for i in $(seq 5); do cat "$MNT/c1/tls.crt" "$MNT/c1/tls.key" "$MNT/c1/ca.crt" > /dev/null; done
n=$(vcount "$V_URL" '^POST pki/issue/web$')
[ "$n" = 2 ] || fail "2 containers x 6 opens of 3 files issued $n certificates, not 2"
ok "tls.crt, tls.key and ca.crt in the view; 2 containers x 6 opens of 3 files issued 2 certificates"

for c in 1 2; do
	openssl verify -CAfile "$T_DIR/c$c.ca.crt" "$T_DIR/c$c.tls.crt" > "$T_DIR/verify" 2>&1 ||
		fail "openssl verify refuses c$c's chain: $(cat "$T_DIR/verify")"
	openssl x509 -noout -pubkey -in "$T_DIR/c$c.tls.crt" > "$T_DIR/pub.cert"
	openssl pkey -pubout -in "$T_DIR/c$c.tls.key" > "$T_DIR/pub.key"
	cmp -s "$T_DIR/pub.cert" "$T_DIR/pub.key" || fail "c$c: tls.key is not the key of tls.crt"
	openssl x509 -noout -subject -ext subjectAltName -in "$T_DIR/c$c.tls.crt" > "$T_DIR/subj" 2>&1
	assert_contains "$T_DIR/subj" "CN *= *c$c.svc.internal" "c$c's common name"
	assert_contains "$T_DIR/subj" "DNS:api.c$c.internal" "c$c's alt name"
	assert_contains "$T_DIR/subj" "IP Address:127.0.0.1" "c$c's IP SAN"
done
[ "$(serial "$T_DIR/c1.tls.crt")" != "$(serial "$T_DIR/c2.tls.crt")" ] || fail "two containers got one certificate"
ok "openssl verify accepts each chain read through the mount; the key matches; CN and SANs as configured; two containers, two certificates"

# the key file: 0400 for the view's owner, and nobody else
[ "$(stat -c %a "$MNT/c1/tls.key")" = 400 ] || fail "tls.key is mode $(stat -c %a "$MNT/c1/tls.key")"
as_uid 1001 cat "$MNT/c1/tls.key" > /dev/null 2>&1 && fail "uid 1001 read c1's tls.key"
grep -q "BEGIN EC PRIVATE KEY" "$T_DIR/c1.tls.key" || fail "tls.key holds no private key"
no_secret_in "$AUDIT" "$(sed -n 2p "$T_DIR/c1.tls.key")"
no_secret_in "$T_LOG" "$(sed -n 2p "$T_DIR/c1.tls.key")"
ok "tls.key is 0400 for the view's owner; no key material in the audit log or the daemon log"

# Certificate files under the attribute cache (fs/fs.c): a stat by path
# gives the size bound, never a size; fstat() after open() is the file's
# exact size, also with another thread walking to it at the same time.
for f in tls.crt tls.key ca.crt; do
	exp=$(wc -c < "$T_DIR/c1.$f")
	out=$(python3 -c "$FSTAT_WALK_PY" "$MNT/c1/$f" 50)
	read -r bad seen got <<< "$out"
	[ "$bad" = 0 ] || fail "$f: fstat after open was not the content's size $bad times in 50 with another thread walking"
	[ "$got" = "$exp" ] || fail "$f: read $got bytes, first read $exp"
	[ "$seen" -gt "$exp" ] || fail "$f: stat by path gave $seen, not the bound (the content is $exp bytes)"
done
ok "tls.crt, tls.key, ca.crt: fstat after open exact (50 of 50, another thread walking), stat by path the bound"

# renewal at 2/3 of a 6 s life (4 s): a new serial, a woken poll() waiter, a generation step
# (a new daemon: the certificates above live an hour, so no renewal skews their counts)
stop_fs "$T_FS_PID" "$MNT"
TTL=6s config
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
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
    f.write("%d %.3f\n" % (ev[0][1] if ev else 0, time.time()))
PY
g0=$(cat "$MNT/c1/generation")
s0=$(serial "$MNT/c1/tls.crt")
[ ! -e "$T_DIR/onchange.c1" ] || fail "on_change ran before any re-issue"
python3 "$W/waiter.py" "$MNT/c1/tls.crt" "$W/woke" 15000 &
wpid=$!
for _ in $(seq 50); do [ -e "$W/woke.ready" ] && break; sleep 0.1; done
[ -e "$W/woke.ready" ] || fail "the poll() waiter did not start"
wait "$wpid" || fail "the poll() waiter failed"
read -r ev t_woke < "$W/woke"
[ "$ev" -eq $((1 | 2)) ] || fail "poll() on tls.crt reported events $ev, not POLLIN|POLLPRI (no renewal within 15 s?)"
s1=$(serial "$MNT/c1/tls.crt")
[ "$s1" != "$s0" ] || fail "poll() woke but tls.crt has the old serial"
g1=$(cat "$MNT/c1/generation")
[ "$g1" -gt "$g0" ] || fail "the generation did not move ($g0 -> $g1)"
cat "$MNT/c1/tls.crt" > "$T_DIR/new.crt"
cat "$MNT/c1/tls.key" > "$T_DIR/new.key"
openssl x509 -noout -pubkey -in "$T_DIR/new.crt" > "$T_DIR/pub.cert"
openssl pkey -pubout -in "$T_DIR/new.key" > "$T_DIR/pub.key"
cmp -s "$T_DIR/pub.cert" "$T_DIR/pub.key" || fail "after renewal, tls.key is not the key of tls.crt"
grep -q '"event":"vault_lease".*"container":"c1".*"action":"reissued".*"result":"ok"' "$AUDIT" ||
	fail "the re-issue is not audited"
for _ in $(seq 20); do [ -s "$T_DIR/onchange.c1" ] && break; sleep 0.1; done
[ -s "$T_DIR/onchange.c1" ] || fail "on_change did not run for the re-issued certificate"
ok "issued again at 2/3 of a 6 s life: new serial, poll() waiter woken, generation $g0 -> $g1, on_change ran, audited"
stop_fs "$T_FS_PID" "$MNT"

# the same request named as a key under secrets: shares the container's certificate
config '    c3:' '      secrets:' '        TLS_CERT: "pki/issue/web?common_name=c3.internal#certificate"' \
	'      certificates:' '        tls: {role: web, common_name: c3.internal}'
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cmp -s "$MNT/c3/secrets/TLS_CERT" "$MNT/c3/tls.crt" || fail "secrets/TLS_CERT is not the certificate of tls.crt"
grep -q '^TLS_CERT=' "$MNT/c3/docker.env" 2>/dev/null || grep -q 'TLS_CERT' "$MNT/c3/env" || fail "TLS_CERT is not in env"
n=$(vcount "$V_URL" '^POST pki/issue/web$')
[ "$n" = 1 ] || fail "a certificate key under secrets: and the same request's files issued $n certificates, not 1"
stop_fs "$T_FS_PID" "$MNT"
ok "a certificate request named under secrets: shares the container's certificate with its files (one issue)"

# Vault's refusals reach the open as EACCES/EIO with Vault's own words in the log
ROLE=nosuch config
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cat "$MNT/c1/tls.crt" > /dev/null 2>&1 && fail "a certificate from an unknown role"
grep -q "HTTP 400: unknown role: nosuch" "$T_LOG" || fail "the unknown role is not in the log: $(tail -n 3 "$T_LOG")"
stop_fs "$T_FS_PID" "$MNT"
vapi "$V_URL" POST pki/roles/narrow '{"allowed_domains": ["other.example"], "allow_subdomains": true, "key_type": "ec"}' > /dev/null
ROLE=narrow config
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cat "$MNT/c1/tls.crt" > /dev/null 2>&1 && fail "a certificate for a name the role does not allow"
grep -q "HTTP 400: common name c1.svc.internal not allowed by this role" "$T_LOG" ||
	fail "the refused common name is not in the log: $(tail -n 3 "$T_LOG")"
stop_fs "$T_FS_PID" "$MNT"
ok "an unknown role and a common name the role does not allow fail the open, with Vault's text in the log"

# a role with generate_lease: the lease is revoked when harombefs stops
vapi "$V_URL" POST pki/roles/leased '{"allowed_domains": ["internal"], "allow_subdomains": true, "key_type": "ec", "generate_lease": true}' > /dev/null
ROLE=leased TTL=1h config
vstats_reset "$V_URL"
start_fs "$HAROMBEFS" "$T_DIR/harombe.yaml" "$MNT"
cat "$MNT/c1/tls.crt" "$MNT/c2/tls.key" > /dev/null
n=$(curl -s "$V_URL/_test/leases" | python3 -c 'import json,sys; print(sum(1 for l in json.load(sys.stdin)["leases"] if l["path"] == "pki/issue/leased"))')
[ "$n" = 2 ] || fail "$n certificate leases, expected 2"
stop_fs "$T_FS_PID" "$MNT"
n=$(curl -s "$V_URL/_test/leases" | python3 -c 'import json,sys; print(sum(1 for l in json.load(sys.stdin)["leases"] if l["path"] == "pki/issue/leased"))')
[ "$n" = 0 ] || fail "$n certificate leases left after shutdown"
[ "$(vcount "$V_URL" '^PUT sys/leases/revoke$')" = 2 ] || fail "expected 2 revocations"
ok "generate_lease: each container's certificate lease is revoked when harombefs stops"

# the command line issues one of its own
expect_rc 0 "$HAROMBE" -c "$T_DIR/harombe.yaml" vault get 'pki/issue/web?common_name=cli.internal#certificate'
openssl x509 -noout -subject -in "$T_DIR/out" > "$T_DIR/subj" 2>&1 || fail "vault get of a certificate request printed no certificate"
assert_contains "$T_DIR/subj" "CN *= *cli.internal" "the CLI's certificate"
expect_rc 2 "$HAROMBE" -c "$T_DIR/harombe.yaml" vault get 'pki/issue/web?common_name=cli.example#certificate'
assert_contains "$T_DIR/err" "HTTP 400: common name cli.example not allowed by this role" "the CLI's refusal"
ok "harombe vault get of a certificate request prints a fresh certificate, or Vault's refusal (HTTP 400: exit 2, as for a bad key)"

# config check lists the files
config
expect_rc 0 "$HAROMBE" -c "$T_DIR/harombe.yaml" config check
assert_contains "$T_DIR/out" "file tls.key (mode 0400): pki/issue/web?common_name=c1.svc.internal&.*#private_key" \
	"config check lists the certificate files"

# config errors name the place
config '    c3:' '      certificates:' '        tls: {common_name: x.internal}'
expect_rc 2 "$HAROMBE" -c "$T_DIR/harombe.yaml" config check
assert_contains "$T_DIR/err" "harombe.yaml:.*certificate 'tls' needs 'role'" "missing role"
config '    c3:' '      certificates:' '        a: {role: web, common_name: a.internal}' '        b: {role: web, common_name: b.internal}'
expect_rc 2 "$HAROMBE" -c "$T_DIR/harombe.yaml" config check
assert_contains "$T_DIR/err" "'ca.crt' is already a certificate file" "two certificates, one ca.crt"
ok "certificates: a missing role and two certificates writing one ca.crt are refused with file:line"
