# Helpers for the Vault tests: sourced after lib.sh, not run.  They start
# tests/vault/vaultsrv.py (the Vault API test server) on 127.0.0.1 with a
# random port and talk to it with curl.  Nothing here prints a secret.

VAULTSRV="$TOP/tests/vault/vaultsrv.py"
command -v python3 >/dev/null || fail "python3 is missing (scripts/deps.sh installs it)"
command -v curl >/dev/null || fail "curl is missing (scripts/deps.sh installs it)"
[ -f "$VAULTSRV" ] || fail "$VAULTSRV is missing"

# The root token of every test server (random per test file).
VROOT="root-$(rand_token 20)"

# vault_start NAME [vaultsrv args...]: start a server; sets NAME_URL,
# NAME_PORT, NAME_PID and NAME_STATE (its storage, for restarts).
vault_start() {
	local name=$1 dir port pid i
	shift
	dir="$T_DIR/vault-$name"
	mkdir -p "$dir"
	rm -f "$dir/port"
	python3 "$VAULTSRV" --port-file "$dir/port" --root-token "$VROOT" --state "$dir/state.json" \
		"$@" >> "$dir/log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	for i in $(seq 100); do
		[ -s "$dir/port" ] && break
		kill -0 "$pid" 2>/dev/null || fail "vaultsrv $name exited at start: $(tail -n 3 "$dir/log")"
		sleep 0.05
	done
	[ -s "$dir/port" ] || fail "vaultsrv $name did not start within 5 s"
	port=$(cat "$dir/port")
	printf -v "${name}_PORT" '%s' "$port"
	printf -v "${name}_URL" '%s' "http://127.0.0.1:$port"
	printf -v "${name}_PID" '%s' "$pid"
	printf -v "${name}_STATE" '%s' "$dir/state.json"
}

# vault_kill PID: stop a server at once (SIGKILL, as a crash would).
vault_kill() {
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# vapi URL METHOD PATH [JSON]: call the API as root; prints the body and
# sets VAPI_STATUS.  PATH is relative to /v1/.
vapi() {
	local url=$1 method=$2 path=$3 data=${4:-} out
	local args=(-s -o "$T_DIR/vapi.body" -w '%{http_code}' -X "$method" -H "X-Vault-Token: ${VAPI_TOKEN:-$VROOT}")
	[ -n "${VAPI_NS:-}" ] && args+=(-H "X-Vault-Namespace: $VAPI_NS")
	[ -n "$data" ] && args+=(-H 'Content-Type: application/json' --data-binary "$data")
	VAPI_STATUS=$(curl "${args[@]}" "$url/v1/$path") || VAPI_STATUS=000
	out=$(cat "$T_DIR/vapi.body")
	rm -f "$T_DIR/vapi.body"
	printf '%s' "$out"
}

# vput URL PATH JSON-FIELDS: write a KV v2 secret under secret/.
vput() {
	vapi "$1" POST "secret/data/$2" "{\"data\": $3}" > /dev/null
	[ "$VAPI_STATUS" = 200 ] || fail "cannot write secret/$2 to the test server (HTTP $VAPI_STATUS)"
}

# vctl URL OP [JSON]: a /_test/ control call.
vctl() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data-binary "${3:-{\}}" "$1/_test/$2") || code=000
	[ "$code" = 204 ] || fail "control $2 on the test server answered HTTP $code"
}

vfaults() { vctl "$1" faults "${2:-{\}}"; }
vseal() { vctl "$1" seal '{"sealed": true}'; }
vunseal() { vctl "$1" seal '{"sealed": false}'; }
vstats_reset() { vctl "$1" stats/reset; }

# vcount URL PATTERN: requests whose "METHOD path" matches the (Python)
# regular expression PATTERN, since the last reset.
vcount() {
	curl -s "$1/_test/stats" | python3 -c '
import json, re, sys
d = json.load(sys.stdin)
print(sum(n for k, n in d["requests"].items() if re.search(sys.argv[1], k)))' "$2"
}

# vtoken URL JSON: create a token (auth/token/create) and print its id.
vtoken() {
	vapi "$1" POST auth/token/create "$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["auth"]["client_token"])'
}

# json_get FIELD.PATH < JSON: print one field of a JSON document.
json_get() {
	python3 -c '
import json, sys
v = json.load(sys.stdin)
for p in sys.argv[1].split("."):
    v = v[p]
print(v)' "$1"
}

# now_ms: monotonic-enough wall clock in milliseconds, for deadline bounds.
now_ms() {
	echo $(( $(date +%s%N) / 1000000 ))
}

# expect_rc RC CMD...: run CMD (stdout to $T_DIR/out, stderr to $T_DIR/err)
# and check its exit status.
expect_rc() {
	local want=$1 rc
	shift
	set +e
	"$@" > "$T_DIR/out" 2> "$T_DIR/err"
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $(head -c 400 "$T_DIR/err")"
}

# no_secret_in FILE VALUE...: none of the values appears in FILE.
no_secret_in() {
	local f=$1 v
	shift
	for v in "$@"; do
		grep -qF -- "$v" "$f" && fail "a secret value appears in $(basename "$f")"
	done
	return 0
}
