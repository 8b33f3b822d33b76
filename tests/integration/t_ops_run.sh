#!/bin/bash
# harombe run: the command gets exactly its secrets in its environment;
# harombe's own credentials are not passed on; the exit status and signals
# go through; bad input and a failing store stop it before the command
# starts.  A canary value leaves no trace outside the child: not in
# harombe's memory while the child runs, not in its environment or command
# line, not in any file, log or audit record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

S="$T_DIR/store"
mock_config "$T_DIR/h.yaml" "$S" "  containers:
    app:
      secrets: { TOKEN: app/token, ML: app/ml }
    many:
      secrets: { $(for i in $(seq 1 12); do printf 'M%s: many/m%s, ' "$i" "$i"; done) }"
CANARY="hrmbcnry$(rand_token 32)"
V_ML=$'line1\nline2 "q" \'s\' $HOME `id` \\ ünï'
printf '%s' "$CANARY" > "$(mock_file "$S" app/token)"
printf '%s' "$V_ML" > "$(mock_file "$S" app/ml)"
printf 'extra-%s' "$(rand_token 10)" > "$(mock_file "$S" app/extra)"
sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# The child checks its environment against hashes: no value on a command line.
CHECK='import hashlib, os, sys
want = dict(a.split("=", 1) for a in sys.argv[1:])
bad = [n for n, h in want.items() if hashlib.sha256(os.environb.get(n.encode(), b"<unset>")).hexdigest() != h]
sys.exit(3 if bad else 0)'
expect 0 "" "$HT" -c "$T_DIR/h.yaml" run --container app --secret EXTRA=app/extra -- python3 -c "$CHECK" \
	"TOKEN=$(sha "$CANARY")" "ML=$(sha "$V_ML")" "EXTRA=$(sha "$(cat "$(mock_file "$S" app/extra)")")"
no_trace "$CANARY" "$T_DIR/out" "$T_DIR/err"
ok "the command gets the container's secrets and --secret ones, byte for byte (newlines, quotes, \$, backticks, UTF-8)"

for i in $(seq 1 12); do printf 'm%s' "$i" > "$(mock_file "$S" "many/m$i")"; done
expect 0 "" "$HT" -c "$T_DIR/h.yaml" run --container many -- sh -c 'printf "%s" "$M1$M2$M3$M4$M5$M6$M7$M8$M9$M10$M11$M12"'
[ "$(cat "$T_DIR/out")" = m1m2m3m4m5m6m7m8m9m10m11m12 ] || fail "12 secrets: $(cat "$T_DIR/out")"
ok "a container with more secrets than arguments: all 12 arrive"

expect 42 "" "$HT" -c "$T_DIR/h.yaml" run --container app -- sh -c 'exit 42'
expect 143 "" "$HT" -c "$T_DIR/h.yaml" run --container app -- sh -c 'kill -TERM $$'
ok "the exit status goes through (42), and a signal that ends the command gives 128+N (143)"

rm -f "$T_DIR/ready"
"$HT" -c "$T_DIR/h.yaml" run --container app -- sh -c \
	"trap 'exit 42' TERM; trap 'echo usr1 >> $T_DIR/got' USR1; : > $T_DIR/ready; i=0; while [ \$i -lt 600 ]; do sleep 0.05; i=\$((i+1)); done; exit 9" &
P=$!
for _ in $(seq 200); do [ -e "$T_DIR/ready" ] && break; sleep 0.05; done
[ -e "$T_DIR/ready" ] || fail "the command did not start"
kill -USR1 "$P"
for _ in $(seq 200); do [ -s "$T_DIR/got" ] && break; sleep 0.05; done
kill -TERM "$P"
set +e; wait "$P"; rc=$?; set -e
[ $rc = 42 ] || fail "SIGTERM to harombe did not reach the command (exit $rc)"
[ "$(cat "$T_DIR/got")" = usr1 ] || fail "SIGUSR1 was not forwarded"
ok "SIGUSR1 and SIGTERM sent to harombe reach the command, which decides how to end (exit 42)"

cat > "$T_DIR/env.yaml" <<YAML
security:
  credentials: { provider: env }
  fs: { audit_log: $T_DIR/audit.jsonl }
YAML
HAROMBE_SECRET_E_ONE=one HAROMBE_SECRET_E_TWO=two VAULT_TOKEN=hvs.parent SOPS_AGE_KEY=AGE-parent PLAIN=kept \
	expect 0 "" "$HAROMBE" -c "$T_DIR/env.yaml" run --secret ONE=e/one -- sh -c \
	'printf "%s|%s|%s|%s|%s|%s" "$ONE" "${HAROMBE_SECRET_E_TWO-unset}" "${HAROMBE_SECRET_E_ONE-unset}" "${VAULT_TOKEN-unset}" "${SOPS_AGE_KEY-unset}" "$PLAIN"'
[ "$(cat "$T_DIR/out")" = "one|unset|unset|unset|unset|kept" ] || fail "env backend: $(cat "$T_DIR/out")"
ok "env backend: the command gets ONE, not harombe's HAROMBE_SECRET_*, VAULT_TOKEN or SOPS_AGE_KEY; other variables pass"

R() { expect "$@"; }
R 127 "harombe: cannot run 'no-such-command-here': No such file or directory" \
	"$HT" -c "$T_DIR/h.yaml" run --container app -- no-such-command-here
printf '#!/bin/sh\n' > "$T_DIR/noexec.sh"
R 126 "harombe: cannot run '$T_DIR/noexec.sh': Permission denied" "$HT" -c "$T_DIR/h.yaml" run --container app -- "$T_DIR/noexec.sh"
R 1 "harombe: cannot give NOPE (no/such) to the command: not found: no mock file for 'no/such'" \
	"$HT" -c "$T_DIR/h.yaml" run --secret NOPE=no/such -- true
printf 'a\0b' > "$(mock_file "$S" app/nul)"
R 2 "harombe: cannot give N (app/nul) to the command: invalid: the value contains a NUL byte, which an environment variable cannot hold" \
	"$HT" -c "$T_DIR/h.yaml" run --secret N=app/nul -- true
echo ETIMEDOUT > "$S/_all.err"
R 3 "harombe: cannot give TOKEN (app/token) to the command: timed out: mock store fails every key" \
	"$HT" -c "$T_DIR/h.yaml" run --container app -- touch "$T_DIR/ran"
rm "$S/_all.err"
[ ! -e "$T_DIR/ran" ] || fail "the command ran although a secret could not be fetched"
R 2 "harombe: put the command after '--': harombe run [OPTIONS] -- COMMAND [ARGS]" "$HT" -c "$T_DIR/h.yaml" run --container app true
R 2 "harombe: no command after '--'" "$HT" -c "$T_DIR/h.yaml" run --container app --
R 2 "harombe: nothing to give the command: use --container NAME or --secret ENV=KEY" "$HT" -c "$T_DIR/h.yaml" run -- true
R 2 "harombe: no container 'nope' in $T_DIR/h.yaml (known: app, many)" "$HT" -c "$T_DIR/h.yaml" run --container nope -- true
R 2 "harombe: --secret TOKEN: 'TOKEN' is already one of container 'app''s variables" \
	"$HT" -c "$T_DIR/h.yaml" run --container app --secret TOKEN=app/extra -- true
R 2 "harombe: --secret X is given twice" "$HT" -c "$T_DIR/h.yaml" run --secret X=a/b --secret X=a/c -- true
R 2 "harombe: --secret X: key 'a/../b' has a '.' or '..' segment" "$HT" -c "$T_DIR/h.yaml" run --secret X=a/../b -- true
R 2 "harombe: --secret: variable name 'A-B' may contain only letters, digits and '_' (a shell variable name)" \
	"$HT" -c "$T_DIR/h.yaml" run --secret A-B=a/b -- true
ok "bad input exits 2, a missing key 1, a failing store 3, an unrunnable command 127/126; the command never starts without its secrets"

grep '"event":"injection_start"' "$T_DIR/audit.jsonl" | grep '"container":"app"' |
	grep -q '"names":\["TOKEN","ML","EXTRA"\],"keys":\["app/token","app/ml","app/extra"\].*"action":"run","command":"python3","result":"ok"' ||
	fail "injection_start"
grep '"event":"injection_complete"' "$T_DIR/audit.jsonl" | grep -q '"exit_status":42' || fail "injection_complete"
grep '"event":"injection_start"' "$T_DIR/audit.jsonl" | grep -q '"result":"error","reason":"mock store fails every key"' ||
	fail "failed start not audited"
ok "runs are audited: injection_start (names, keys, command name), injection_complete (exit status), failures with the reason"

# ---- the canary: only the child may hold it ----
rm -f "$T_DIR/ready" "$T_DIR/go"
"$HT" -c "$T_DIR/h.yaml" run --container app -- sh -c \
	"[ \"\$TOKEN\" = \"\$(cat $(mock_file "$S" app/token))\" ] || exit 5; : > $T_DIR/ready; i=0; while [ ! -e $T_DIR/go ] && [ \$i -lt 1200 ]; do sleep 0.05; i=\$((i+1)); done" \
	> "$T_DIR/run.out" 2> "$T_DIR/run.err" &
P=$!
for _ in $(seq 200); do [ -e "$T_DIR/ready" ] && break; sleep 0.05; done
[ -e "$T_DIR/ready" ] || fail "the child did not start"
CHILD=$(pgrep -P "$P" | head -n 1)
[ -n "$CHILD" ] || fail "no child of harombe"
# Every readable mapping of a process, searched for the canary.
memscan() {
	python3 - "$1" "$CANARY" <<'PY'
import re, sys
pid, needle = sys.argv[1], sys.argv[2].encode()
found = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) r", line)
        if not m or "[vvar]" in line or "[vsyscall]" in line:
            continue
        start, end = int(m.group(1), 16), int(m.group(2), 16)
        # AddressSanitizer reserves terabytes of shadow: not process data
        if end - start > (1 << 34):
            continue
        pos, tail = start, b""
        while pos < end:
            n = min(1 << 24, end - pos)
            try:
                mem.seek(pos)
                chunk = mem.read(n)
            except OSError:
                chunk = b""
            if needle in tail + chunk:
                found += 1
                break
            tail = chunk[-(len(needle) - 1):] if chunk else b""
            pos += n
print(found)
PY
}
[ "$(memscan "$CHILD")" -gt 0 ] || fail "the scan cannot find the canary in the child (so it could not find it anywhere)"
[ "$(memscan "$P")" = 0 ] || fail "harombe still holds the canary in its memory while the child runs"
grep -qaF "$CANARY" "/proc/$P/environ" "/proc/$P/cmdline" && fail "harombe's environment or command line holds the canary"
: > "$T_DIR/go"
set +e; wait "$P"; rc=$?; set -e
[ $rc = 0 ] || fail "canary run exited $rc"
ok "while the child runs, its memory holds the canary and harombe's does not (wiped after the spawn); not in harombe's environ or cmdline"

search() {
	local d
	for d in "$@"; do
		[ -d "$d" ] || continue
		find "$d" -xdev -type f -not -path "$S/*" -print0 2>/dev/null | xargs -0 -r grep -lsF -D skip -- "$CANARY" || true
	done
}
hits=$(search "$T_DIR" /tmp /var/tmp /var/log /var/lib /etc /run /dev/shm "$TOP")
[ -z "$hits" ] || fail "the canary was found in: $hits"
[ -s "$T_DIR/audit.jsonl" ] || fail "no audit log was searched"
cp "$(mock_file "$S" app/token)" "$T_DIR/planted"
search "$T_DIR" | grep -q planted || fail "the search cannot find a planted canary"
ok "no file holds the canary outside the store: not the audit log, not harombe's output, not /tmp, /var, /etc, /run or the tree"
