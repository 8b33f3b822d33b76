#!/bin/bash
# harombe container secrets and start: the listing (names, keys, whether
# each resolves; never values) with its exit statuses; the exact engine
# command lines (--dry-run); the real docker CLI turning them into the
# intended container (read-only view at /run/secrets, env-file from the
# view or values through the engine's environment, hardening) against a
# stand-in engine; the exit status passed through; and the mounted view
# read inside a bubblewrap sandbox the way a container reads it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/helpers/ops.sh"

MNT="$T_DIR/mnt"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials: { provider: env }
  fs: { audit_log: $T_DIR/audit.jsonl, mountpoint: $MNT }
  containers:
    rootview:
      image: harombe-test/img:1
      environment: { LOG_LEVEL: debug }
      secrets: { A: t/a, B: t/b }
    userview:
      uid: 1000
      gid: 1000
      image: harombe-test/img:1
      secrets: { C: t/c }
    gaps:
      secrets: { A: t/a, MISSING: t/missing }
    noimage:
      secrets: { A: t/a }
YAML
V_A="a-$(rand_token 20)"
V_B=$'b "quoted" $x `y` \\ '"$(rand_token 8)"
V_C="c-$(rand_token 20)"
V_X="x-$(rand_token 20)"
export HAROMBE_SECRET_T_A="$V_A" HAROMBE_SECRET_T_B="$V_B" HAROMBE_SECRET_T_C="$V_C" HAROMBE_SECRET_T_X="$V_X"
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"
H="$HAROMBE"

# ---- container secrets ----
expect 0 "" "$H" -c "$T_DIR/h.yaml" container secrets rootview
[ "$(cat "$T_DIR/out")" = "NAME  KEY  STATUS
A     t/a  ok
B     t/b  ok" ] || fail "secrets table: $(cat "$T_DIR/out")"
expect 1 "" "$H" -c "$T_DIR/h.yaml" container secrets gaps
[ "$(sed -n 3p "$T_DIR/out")" = "MISSING  t/missing  not found: environment variable HAROMBE_SECRET_T_MISSING is not set" ] ||
	fail "missing row: $(cat "$T_DIR/out")"
expect 1 "" "$H" -c "$T_DIR/h.yaml" --format json container secrets gaps
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["container"] == "gaps" and d["provider"] == "env"
assert [(s["name"], s["key"], s["resolves"], s["status"]) for s in d["secrets"]] == \
    [("A", "t/a", True, "ok"), ("MISSING", "t/missing", False, "not found")], d' "$T_DIR/out" || fail "json listing"
for f in out err; do no_trace "$V_A" "$T_DIR/$f"; no_trace "$V_B" "$T_DIR/$f"; done
expect 2 "harombe: no container 'nope' in $T_DIR/h.yaml (known: rootview, userview, gaps, noimage)" \
	"$H" -c "$T_DIR/h.yaml" container secrets nope
mock_config "$T_DIR/m.yaml" "$T_DIR/store" "  containers:
    m:
      secrets: { K: k/one }"
printf v > "$(mock_file "$T_DIR/store" k/one)"
echo EIO > "$T_DIR/store/_all.err"
expect 3 "" "$HT" -c "$T_DIR/m.yaml" container secrets m
[ "$(sed -n 2p "$T_DIR/out")" = "K     k/one  unavailable: mock store fails every key" ] || fail "down row: $(cat "$T_DIR/out")"
expect 2 "" "$H" -c "$T_DIR/h.yaml" container secrets
ok "container secrets lists names, keys and whether each resolves (never a value): 0 all, 1 missing, 3 store down, 2 unknown container"

# ---- the command lines ----
COMMON="--read-only --cap-drop=ALL --security-opt=no-new-privileges --tmpfs=/tmp:rw,noexec,nosuid,nodev,size=64m"
expect 0 "" "$H" -c "$T_DIR/h.yaml" container start rootview --dry-run
[ "$(cat "$T_DIR/out")" = "docker run --name=rootview $COMMON --user=0:0 --volume=$MNT/rootview:/run/secrets:ro --env-file=$MNT/rootview/docker.env --env=LOG_LEVEL=debug --label=harombe.container=rootview harombe-test/img:1" ] ||
	fail "root view: $(cat "$T_DIR/out")"
expect 0 "" "$H" -c "$T_DIR/h.yaml" container start --engine podman userview --dry-run --secret X=t/x -- -d --network none other/img:2 sh -c 'echo "$X" it'\''s'
[ "$(cat "$T_DIR/out")" = "podman run --name=userview $COMMON --user=1000:1000 --volume=$MNT/userview:/run/secrets:ro --env=C --env=X --label=harombe.container=userview -d --network none other/img:2 sh -c 'echo \"\$X\" it'\\''s'" ] ||
	fail "user view: $(cat "$T_DIR/out")"
grep -qx "harombe: note: 2 variables (C, ...) would come from the store through the engine's environment" "$T_DIR/err" ||
	fail "no note about values through the environment"
expect 0 "" "$H" -c "$T_DIR/h.yaml" container start rootview --no-env --name web-1 --dry-run
[ "$(cat "$T_DIR/out")" = "docker run --name=web-1 $COMMON --user=0:0 --volume=$MNT/rootview:/run/secrets:ro --env=LOG_LEVEL=debug --label=harombe.container=rootview harombe-test/img:1" ] ||
	fail "--no-env: $(cat "$T_DIR/out")"
ok "--dry-run prints the exact command: the view read-only at /run/secrets, --env-file (or -e NAME for a view of another user), hardening, the view's user"

expect 2 "harombe: --engine must be docker or podman, not 'rkt'" "$H" -c "$T_DIR/h.yaml" container start rootview --engine rkt --dry-run
expect 2 "harombe: no image for 'noimage': give one after '--', or set security.containers.noimage.image" \
	"$H" -c "$T_DIR/h.yaml" container start noimage --dry-run
expect 2 "harombe: --secret A: 'A' is already one of container 'rootview''s variables" \
	"$H" -c "$T_DIR/h.yaml" container start rootview --secret A=t/x --dry-run
expect 2 "harombe: --secret 1X=t/x: variable name '1X' must start with a letter or '_' (a shell variable name)" \
	"$H" -c "$T_DIR/h.yaml" container start rootview --secret 1X=t/x --dry-run
expect 2 "harombe: --secret wants ENV=KEY, such as GITHUB_TOKEN=github/token" \
	"$H" -c "$T_DIR/h.yaml" container start rootview --secret X --dry-run
expect 2 "harombe: --secret X is given twice" \
	"$H" -c "$T_DIR/h.yaml" container start rootview --secret X=t/x --secret X=t/a --dry-run
expect 2 "harombe: container start needs the container's NAME" "$H" -c "$T_DIR/h.yaml" container start --dry-run
expect 2 "harombe: put the image and its arguments after '--'" "$H" -c "$T_DIR/h.yaml" container start rootview img:1
expect 2 "harombe: no container 'nope' in $T_DIR/h.yaml (known: rootview, userview, gaps, noimage)" \
	"$H" -c "$T_DIR/h.yaml" container start nope --dry-run
printf 'security:\n  container_engine: lxc\n  containers: { c: { image: i } }\n' > "$T_DIR/eng.yaml"
expect 2 "harombe: $T_DIR/eng.yaml:2:21: 'container_engine' must be auto, docker or podman, not 'lxc'" \
	"$H" -c "$T_DIR/eng.yaml" container start c --dry-run
ok "bad engine, image, --secret, name or arguments exit 2 with the reason"

# ---- the real docker CLI against a stand-in engine ----
command -v docker >/dev/null || fail "docker CLI missing (scripts/deps.sh installs docker.io)"
python3 "$(dirname "$0")/helpers/fake-dockerd.py" "$T_DIR/docker.sock" > "$T_DIR/dockerd.log" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 50); do [ -S "$T_DIR/docker.sock" ] && break; sleep 0.1; done
export DOCKER_HOST="unix://$T_DIR/docker.sock" DOCKER_CONFIG="$T_DIR/dockercfg"
created() {	# created PY-EXPR: evaluate against the request the engine got (stdin: CLI stderr)
	python3 -c '
import base64, json, re, sys
m = re.search(r"HAROMBE-CREATE ([A-Za-z0-9+/=]+)", sys.stdin.read())
if not m:
    print("the docker CLI did not reach the engine"); sys.exit(1)
r = json.loads(base64.b64decode(m.group(1)))
h = r["HostConfig"]
bad = [c for c in sys.argv[1:] if not eval(c)]
print("ok" if not bad else "failed: " + "; ".join(bad)); sys.exit(1 if bad else 0)' "$@"
}
set +e
derr=$("$H" -c "$T_DIR/h.yaml" container start rootview 2>&1 >/dev/null)
rc=$?
set -e
[ $rc = 125 ] || fail "harombe did not pass docker's exit status 125 through (got $rc): $derr"
out=$(printf '%s' "$derr" | created \
	'h["Binds"] == ["'"$MNT"'/rootview:/run/secrets:ro"]' 'h["ReadonlyRootfs"] is True' 'h["CapDrop"] == ["ALL"]' \
	'h["SecurityOpt"] == ["no-new-privileges"]' 'h["Tmpfs"] == {"/tmp": "rw,noexec,nosuid,nodev,size=64m"}' \
	'r["User"] == "0:0"' 'r["Image"] == "harombe-test/img:1"' '"name=rootview" in r["_path"]' \
	'r["Labels"] == {"harombe.container": "rootview"}') || fail "engine request: $out"
out=$(printf '%s' "$derr" | EXP_A="$V_A" EXP_B="$V_B" EXP_LOG_LEVEL=debug EXP_NAMES="A B LOG_LEVEL" \
	python3 "$(dirname "$0")/helpers/check.py" docker) || fail "env-file through docker: $out"
ok "docker run gets the view read-only at /run/secrets, the hardening and user, and reads docker.env from the mount ($out); exit 125 passed through"

set +e
derr=$("$H" -c "$T_DIR/h.yaml" container start userview --secret X=t/x 2>&1 >/dev/null)
rc=$?
set -e
[ $rc = 125 ] || fail "exit status $rc"
out=$(printf '%s' "$derr" | EXP_C="$V_C" EXP_X="$V_X" EXP_NAMES="C X" python3 "$(dirname "$0")/helpers/check.py" docker) ||
	fail "values through the environment: $out"
printf '%s' "$derr" | created 'r["User"] == "1000:1000"' 'h["Binds"] == ["'"$MNT"'/userview:/run/secrets:ro"]' >/dev/null ||
	fail "user view request"
ok "a view of another user, and --secret: the values reach the engine through its environment only ($out)"

grep '"event":"injection_start"' "$T_DIR/audit.jsonl" | grep '"container":"userview"' |
	grep -q '"names":\["C","X"\],"keys":\["t/c","t/x"\].*"engine":"docker","result":"ok"' || fail "injection_start"
grep '"event":"injection_complete"' "$T_DIR/audit.jsonl" | grep -q '"exit_status":125' || fail "injection_complete"
for v in "$V_A" "$V_B" "$V_C" "$V_X"; do no_trace "$v" "$T_DIR/audit.jsonl" "$T_DIR/dockerd.log"; done
ok "start is audited (injection_start with names and keys, injection_complete with the exit status), never a value"

# ---- the view as a container sees it: bubblewrap, bound the way -v binds it ----
expect 0 "" "$H" -c "$T_DIR/h.yaml" container start userview --dry-run
src=$(tr ' ' '\n' < "$T_DIR/out" | sed -n 's|^--volume=\(.*\):/run/secrets:ro$|\1|p')
user=$(tr ' ' '\n' < "$T_DIR/out" | sed -n 's|^--user=||p')
[ -d "$src" ] && [ "$user" = 1000:1000 ] || fail "cannot take the bind from the command line"
box_as() {	# box_as UID:GID CMD...
	local u=$1
	shift
	bwrap --ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib --symlink usr/lib64 /lib64 \
		--proc /proc --dev /dev --tmpfs /run --ro-bind "$src" /run/secrets --die-with-parent --unshare-pid \
		-- setpriv --reuid "${u%:*}" --regid "${u#*:}" --clear-groups "$@"
}
box() { box_as "$user" "$@"; }
got=$(box sh -c 'set -a; . /run/secrets/env; printf "%s" "$C"')
[ "$got" = "$V_C" ] || fail "env in the sandbox"
[ "$(box cat /run/secrets/secrets/C)" = "$V_C" ] || fail "secrets/C in the sandbox"
[ "$(box cat /run/secrets/docker.env)" = "C=$V_C" ] || fail "docker.env in the sandbox"
box sh -c 'echo x > /run/secrets/new' 2>/dev/null && fail "the view is writable in the sandbox"
box sh -c 'echo x > /run/secrets/env' 2>/dev/null && fail "env is writable in the sandbox"
set +e
box_as 1001:1001 cat /run/secrets/env >/dev/null 2>"$T_DIR/box.err"
rc=$?
set -e
# (refused by the kernel's mode check, or hidden by the daemon: ENOENT)
[ $rc != 0 ] && grep -qE "Permission denied|No such file or directory" "$T_DIR/box.err" ||
	fail "another uid read the view in the sandbox"
ok "inside bubblewrap, bound as the command line binds it: env, secrets/C and docker.env read as uid 1000, read-only, refused to uid 1001"
stop_fs "$T_FS_PID" "$MNT"
