#!/bin/bash
# harombe audit query and report over the JSON-lines audit log: every
# filter, both formats, the time forms, the exit statuses, malformed lines,
# and the events harombefs and the CLI really write.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

LOG="$T_DIR/fixed.jsonl"
cat > "$LOG" <<'JSONL'
{"time":"2024-01-01T10:00:00.000Z","event":"secret_read","source":"harombefs","container":"browser","view":"env","names":["GITHUB_TOKEN"],"keys":["github/token"],"caller":{"pid":10,"uid":1000,"gid":1000,"command":"node"},"result":"ok"}
{"time":"2024-01-02T11:00:00.000Z","event":"secret_read","source":"harombefs","container":"browser","view":"secrets/SLACK","names":["SLACK"],"keys":["slack/webhook"],"caller":{"pid":11,"uid":1000,"gid":1000,"command":"curl"},"result":"ok"}
{"time":"2024-01-02T12:00:00.000Z","event":"access_denied","source":"harombefs","container":"browser","view":"env","names":["GITHUB_TOKEN"],"keys":["github/token"],"caller":{"pid":12,"uid":1001,"gid":1001,"command":"cat"},"result":"denied","reason":"uid 1001 is not the view's owner (1000)"}

not json at all
{"time":"2024-01-03T09:30:00.000Z","event":"secret_rotation","source":"harombe","keys":["github/token#value"],"caller":{"pid":13,"uid":0,"gid":0,"command":"harombe"},"action":"rotate","result":"ok"}
{"time":"2024-01-03T13:00:00.000Z","event":"secret_read","source":"harombefs","container":"code_exec","view":"env.json","names":["AWS_KEY","DB"],"keys":["aws/key","db/url"],"caller":{"pid":14,"uid":0,"gid":0,"command":"python3"},"result":"error","reason":"DB (db/url): unavailable"}
{"time":"2024-01-04T08:00:00.000Z","event":"secret_write","source":"harombe","keys":["github/token2"],"caller":{"pid":15,"uid":0,"gid":0,"command":"harombe"},"action":"import","result":"ok"}
{"event":"secret_read","result":"ok"}
JSONL
Q() { expect "$1" "$2" "$HAROMBE" audit "${@:3}" --log "$LOG"; }
rows() { tail -n +2 "$T_DIR/out"; }

Q 0 "harombe: warning: skipped 2 lines of '$LOG' that are not audit records (first: line 5)" query
[ "$(head -n 1 "$T_DIR/out")" = "TIME                  EVENT                 CONTAINER         RESULT  BY                      KEYS" ] ||
	fail "header: $(head -n 1 "$T_DIR/out")"
[ "$(rows | wc -l)" = 6 ] || fail "6 records expected: $(cat "$T_DIR/out")"
[ "$(rows | sed -n 3p)" = "2024-01-02T12:00:00Z  access_denied         browser           denied  uid 1001 (cat)          github/token [env]  (uid 1001 is not the view's owner (1000))" ] ||
	fail "row: $(rows | sed -n 3p)"
[ "$(rows | sed -n 4p)" = "2024-01-03T09:30:00Z  secret_rotation       -                 ok      uid 0 (harombe)         github/token#value [rotate]" ] ||
	fail "row: $(rows | sed -n 4p)"
ok "query lists every record oldest first as a table, and warns about the lines that are not records (by number)"

Q 0 "" query --event secret_read
[ "$(rows | wc -l)" = 3 ] || fail "--event secret_read: $(rows | wc -l)"
Q 0 "" query --event secret_read,access_denied --container browser
[ "$(rows | wc -l)" = 3 ] || fail "--event a,b --container: $(rows | wc -l)"
Q 0 "" query --secret github/token
[ "$(rows | awk '{print $2}' | tr '\n' ' ')" = "secret_read access_denied secret_rotation " ] ||
	fail "--secret matches the key and its fields, not github/token2: $(rows)"
Q 0 "" query --secret github/
[ "$(rows | wc -l)" = 4 ] || fail "--secret github/ (a folder): $(rows | wc -l)"
Q 0 "" query --since 2024-01-02 --until 2024-01-03T12:00:00Z
[ "$(rows | awk '{print $1}' | tr '\n' ' ')" = "2024-01-02T11:00:00Z 2024-01-02T12:00:00Z 2024-01-03T09:30:00Z " ] ||
	fail "--since/--until: $(rows)"
Q 0 "" query --since 2024-01-03T14:00:00+02:00 --result error
[ "$(rows | wc -l)" = 1 ] && rows | grep -q "code_exec" || fail "zone offset and --result"
Q 0 "" query --event secret_read --secret github/token --since 2024-01-01
[ "$(rows | wc -l)" = 1 ] || fail "the seed document's example query"
ok "filters: --event (one or several), --container, --secret (fields and folders), --since/--until (dates, times, zones), --result"

Q 0 "" --format json query --container browser
[ "$(wc -l < "$T_DIR/out")" = 3 ] || fail "json lines"
python3 - "$T_DIR/out" "$LOG" <<'PY' || fail "json records differ from the log"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2]) if '"browser"' in l]
assert got == want, (got, want)
PY
Q 0 "" --format table query --container code_exec
[ "$(rows | wc -l)" = 1 ] || fail "--format table"
ok "--format json gives the matching records themselves, one JSON object per line; --format table the table"

Q 1 "" query --container nobody
[ "$(wc -l < "$T_DIR/out")" = 1 ] || fail "no match should print the header only"
Q 2 "harombe: unknown event 'tool_call' (known: secret_read, secret_write, secret_delete, secret_rotation, vault_authentication, injection_start, injection_complete, access_denied, leak_detected)" \
	query --event tool_call
Q 2 "harombe: --since 'last tuesday' is not a time (2024-01-31, 2024-01-31T10:00:00Z) or a time ago (30m, 12h, 7d)" \
	query --since "last tuesday"
Q 2 "harombe: --until '30' is not a time (2024-01-31, 2024-01-31T10:00:00Z) or a time ago (30m, 12h, 7d)" query --until 30
Q 2 "harombe: --since is later than --until" query --since 2024-02-01 --until 2024-01-01
Q 2 "harombe: --result must be ok, error or denied, not 'fine'" query --result fine
Q 2 "harombe: audit query: --group-by is for audit report only" query --group-by event
Q 2 "harombe: unexpected argument 'extra'" query extra
expect 2 "harombe: cannot read the audit log '$T_DIR/none.jsonl': No such file or directory" \
	"$HAROMBE" audit query --log "$T_DIR/none.jsonl"
expect 2 "" "$HAROMBE" audit
grep -q "^usage: harombe audit query" "$T_DIR/err" || fail "usage"
ok "nothing matching exits 1; unknown events, bad times, results, arguments and an unreadable log exit 2 with the reason"

Q 0 "" report --since 2024-01-01 --group-by container
[ "$(cat "$T_DIR/out")" = "CONTAINER    EVENTS        OK     ERROR    DENIED  FIRST                 LAST
browser           3         2         0         1  2024-01-01T10:00:00Z  2024-01-02T12:00:00Z
(none)            2         2         0         0  2024-01-03T09:30:00Z  2024-01-04T08:00:00Z
code_exec         1         0         1         0  2024-01-03T13:00:00Z  2024-01-03T13:00:00Z" ] ||
	fail "report by container: $(cat "$T_DIR/out")"
Q 0 "" --format json report --since 2024-01-02 --group-by secret
python3 - "$T_DIR/out" <<'PY' || fail "report by secret (json): $(cat "$T_DIR/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["group_by"] == "secret" and d["since"] == "2024-01-02T00:00:00Z", d
g = {x["group"]: (x["events"], x["ok"], x["error"], x["denied"]) for x in d["groups"]}
assert g == {"slack/webhook": (1, 1, 0, 0), "github/token": (1, 0, 0, 1), "github/token#value": (1, 1, 0, 0),
             "aws/key": (1, 0, 1, 0), "db/url": (1, 0, 1, 0), "github/token2": (1, 1, 0, 0)}, g
PY
Q 0 "" report --since 2024-01-01 --until 2024-01-02T23:59:59Z --group-by event --container browser
[ "$(rows | awk '{print $1, $2}' | tr '\n' ' ')" = "secret_read 2 access_denied 1 " ] || fail "report by event: $(rows)"
Q 2 "harombe: audit report needs --since T and --group-by container|secret|event" report --group-by event
Q 2 "harombe: --group-by must be container, secret or event, not 'actor'" report --since 1d --group-by actor
ok "report counts per container, secret (each key of a record) or event with ok/error/denied and first/last; table or json; bad input exits 2"

# The events harombefs and the CLI really write, from the configured log.
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials: { provider: env }
  fs: { audit_log: $T_DIR/audit.jsonl, mountpoint: $T_DIR/mnt }
  containers:
    web: { uid: 1000, secrets: { TOKEN: web/token } }
YAML
export HAROMBE_SECRET_WEB_TOKEN="v-$(rand_token 20)"
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$T_DIR/mnt"
as_uid 1000 cat "$T_DIR/mnt/web/env" > /dev/null
cat "$T_DIR/mnt/web/env" > /dev/null 2>&1 && fail "root read uid 1000's view"
stop_fs "$T_FS_PID" "$T_DIR/mnt"
expect 0 "" "$HAROMBE" -c "$T_DIR/h.yaml" run --container web -- true
printf 'v2' | expect 0 "" "$HAROMBE" -c "$T_DIR/h.yaml" vault set web/other -
expect 0 "" "$HAROMBE" -c "$T_DIR/h.yaml" vault delete web/token
expect 1 "" "$HAROMBE" -c "$T_DIR/h.yaml" vault delete web/none
expect 0 "" "$HAROMBE" -c "$T_DIR/h.yaml" audit query --event secret_write,secret_delete
[ "$(rows | awk '{print $2, $4, $7}' | tr '\n' ' ')" = "secret_write ok (harombe) secret_delete ok (harombe) secret_delete error (harombe) " ] ||
	fail "vault set/delete audit: $(cat "$T_DIR/out")"
expect 0 "" "$HAROMBE" -c "$T_DIR/h.yaml" audit query --since 1h --container web
[ "$(rows | awk '{print $2, $4}' | tr '\n' ' ')" = "secret_read ok access_denied denied injection_start ok injection_complete ok " ] ||
	fail "live events: $(cat "$T_DIR/out")"
rows | head -n 1 | grep -q "uid 1000 (cat)          web/token \[env\]$" || fail "caller and view: $(rows | head -n 1)"
expect 0 "" "$HAROMBE" -c "$T_DIR/h.yaml" audit report --since 10m --group-by event
grep -q "^secret_read  *1  *1  *0  *0 " "$T_DIR/out" || fail "live report: $(cat "$T_DIR/out")"
no_trace "$HAROMBE_SECRET_WEB_TOKEN" "$T_DIR/audit.jsonl" "$T_DIR/out"
ok "reads through harombefs, a refusal, a run, vault set and delete (audited by the CLI), queried from security.fs.audit_log with --since 1h and reported"
