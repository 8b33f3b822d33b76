#!/bin/bash
# The Vault client under faults, through `harombe vault get`: latency, 5xx
# and 429 bursts with jittered retries, hangs against the deadline,
# truncated bodies, connection resets, malformed JSON, HA standby
# redirects; and the test server's own sys/health.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vault-lib.sh"

vault_start V
unset VAULT_AGENT_ADDR VAULT_NAMESPACE VAULT_MAX_RETRIES VAULT_DISABLE_REDIRECTS
export VAULT_ADDR=$V_URL VAULT_TOKEN=$VROOT VAULT_CLIENT_TIMEOUT=3s
H=$HAROMBE
S1=$(rand_token 32)
vput "$V_URL" app/key '{"value": "'"$S1"'"}'
get() { expect_rc "$1" "$H" --provider vault vault get app/key; }
reads() { vcount "$V_URL" '^GET secret/data/app/key$'; }

# the KV version is learned once per process; count only data reads
vfaults "$V_URL" '{"latency_ms": 300}'
get 0
assert_eq "$(cat "$T_DIR/out")" "$S1" "slow server"
vfaults "$V_URL"
ok "a slow answer inside the deadline is fine"

for code in 503 500 502 429 412; do
	vstats_reset "$V_URL"
	vfaults "$V_URL" '{"status": '$code', "status_count": 2, "match": "/data/"}'
	get 0
	assert_eq "$(cat "$T_DIR/out")" "$S1" "after a $code burst"
	[ "$(reads)" = 3 ] || fail "HTTP $code burst of 2: $(reads) reads, expected 3"
done
vfaults "$V_URL"
ok "bursts of 503, 500, 502, 429 and 412 are retried (3 attempts by default)"

vstats_reset "$V_URL"
vfaults "$V_URL" '{"status": 503, "status_count": 5, "match": "/data/"}'
get 3
assert_contains "$T_DIR/err" "HTTP 503" "status in the message"
[ "$(reads)" = 3 ] || fail "a long 503 burst: $(reads) reads, expected 3 (2 retries)"
vstats_reset "$V_URL"
vfaults "$V_URL" '{"status": 503, "status_count": 5, "match": "/data/"}'
VAULT_MAX_RETRIES=0 get 3
[ "$(reads)" = 1 ] || fail "VAULT_MAX_RETRIES=0: $(reads) reads"
vstats_reset "$V_URL"
vfaults "$V_URL" '{"status": 501, "status_count": 5, "match": "/data/"}'
get 3
[ "$(reads)" = 1 ] || fail "501 was retried ($(reads) reads)"
assert_contains "$T_DIR/err" "HTTP 501" "501"
vstats_reset "$V_URL"
vfaults "$V_URL" '{"status": 404, "status_count": 5, "match": "/data/"}'
get 1
[ "$(reads)" = 1 ] || fail "404 was retried"
vfaults "$V_URL"
ok "retries stop after max_retries (VAULT_MAX_RETRIES); 501 and 4xx are not retried"

# retries never outlive the deadline
vfaults "$V_URL" '{"status": 503, "status_count": -1, "match": "/data/"}'
t0=$(now_ms)
VAULT_MAX_RETRIES=100 VAULT_CLIENT_TIMEOUT=1s get 3
dt=$(( $(now_ms) - t0 ))
[ "$dt" -lt 2500 ] || fail "100 retries took ${dt} ms with a 1 s deadline"
vfaults "$V_URL"
ok "jittered backoff stays inside the deadline (1 s deadline, 100 retries allowed: ${dt} ms)"

vfaults "$V_URL" '{"hang": true, "match": "/data/"}'
t0=$(now_ms)
VAULT_CLIENT_TIMEOUT=1s get 3
dt=$(( $(now_ms) - t0 ))
vfaults "$V_URL"
assert_contains "$T_DIR/err" "timed out" "hang"
assert_contains "$T_DIR/err" "no answer from $V_URL within 1000 ms" "hang message"
[ "$dt" -lt 2500 ] || fail "a hung server held the command ${dt} ms with a 1 s deadline"
ok "a hung server costs the deadline and no more (${dt} ms for 1 s), reported as timed out"

vstats_reset "$V_URL"
vfaults "$V_URL" '{"truncate_count": 1, "match": "/data/"}'
get 0
assert_eq "$(cat "$T_DIR/out")" "$S1" "after one truncated body"
[ "$(reads)" = 2 ] || fail "truncated body: $(reads) reads, expected 2"
vfaults "$V_URL" '{"truncate_count": 10, "match": "/data/"}'
get 3
assert_contains "$T_DIR/err" "truncated" "persistent truncation"
vstats_reset "$V_URL"
vfaults "$V_URL" '{"reset_count": 2, "match": "/data/"}'
get 0
assert_eq "$(cat "$T_DIR/out")" "$S1" "after two resets"
vfaults "$V_URL" '{"reset_count": 10, "match": "/data/"}'
get 3
assert_contains "$T_DIR/err" "connection failed" "persistent resets"
vfaults "$V_URL"
ok "truncated bodies and connection resets are retried, then reported"

vstats_reset "$V_URL"
vfaults "$V_URL" '{"garbage_count": 1, "match": "/data/"}'
get 3
assert_contains "$T_DIR/err" "malformed JSON" "garbage"
[ "$(reads)" = 1 ] || fail "malformed JSON was retried"
vfaults "$V_URL"
get 0
ok "a malformed JSON answer is a clear error, not a crash"

# HA: a standby answers 307 to the active node, as Vault does
vault_start S --standby-of "$V_URL"
vstats_reset "$V_URL"
VAULT_ADDR=$S_URL get 0
assert_eq "$(cat "$T_DIR/out")" "$S1" "through the standby"
[ "$(vcount "$S_URL" '^GET secret/data/app/key$')" = 1 ] || fail "the standby was not asked first"
[ "$(reads)" = 1 ] || fail "the redirect did not reach the active node"
VAULT_ADDR=$S_URL expect_rc 0 "$H" --provider vault vault set app/other "$S1"
body=$(vapi "$V_URL" GET secret/data/app/other)
assert_eq "$(echo "$body" | json_get data.data.value)" "$S1" "POST re-sent to the active node"
VAULT_ADDR=$S_URL VAULT_DISABLE_REDIRECTS=true get 3
assert_contains "$T_DIR/err" "HTTP 307" "redirect not followed"
assert_contains "$T_DIR/err" "redirects are disabled" "redirect message"
ok "standby 307 redirects are followed (GET and POST with its body); VAULT_DISABLE_REDIRECTS stops them"

# the test server's health endpoint follows the documented codes
hc() { curl -s -o /dev/null -w '%{http_code}' "$1/v1/sys/health${2:-}"; }
[ "$(hc "$V_URL")" = 200 ] || fail "health active"
[ "$(hc "$S_URL")" = 429 ] || fail "health standby"
[ "$(hc "$S_URL" '?standbyok=true')" = 200 ] || fail "health standbyok"
vseal "$V_URL"
[ "$(hc "$V_URL")" = 503 ] || fail "health sealed"
[ "$(hc "$V_URL" '?sealedcode=299')" = 299 ] || fail "health sealedcode"
curl -s "$V_URL/v1/sys/health" | json_get sealed | grep -qx True || fail "health body"
get 3
assert_contains "$T_DIR/err" "unavailable" "sealed is unavailable"
vunseal "$V_URL"
get 0
ok "sys/health codes (200, 429, 503, overrides); a sealed Vault is 'unavailable'"

for f in "$T_DIR"/err "$T_DIR"/out; do no_secret_in "$f" "$VROOT"; done
