#!/bin/bash
# cgroup: is only as strong as ptrace: a process with the view's uid inside
# the allowed cgroup, traced by one outside it, is refused (and audited with
# the reason); traced from inside the cgroup, or not traced, it reads.
# (This host may have no Yama; the tracer here is root, which Yama allows
# at ptrace_scope 1 and 2 too.)
. "$(dirname "$0")/lib.sh"

CG2=$(cgroup2_root)
[ -n "$CG2" ] || fail "no cgroup2 mount on this host"
ID="harombe-trace-$$"
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    cg:
      uid: 1000
      cgroup: "/$ID/allowed"
      secrets: { C: t/c }
YAML
MNT="$T_DIR/mnt"
HAROMBE_SECRET_T_C=$(rand_token) start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"
mkdir -p "$CG2/$ID/allowed" "$CG2/$ID/outside"
T_CGROUPS+=("$CG2/$ID/allowed" "$CG2/$ID/outside" "$CG2/$ID")
in_cg() { local cg=$1; shift; sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"; }
IO="$T_DIR/io"
mkdir -p "$IO" && chmod 0777 "$IO"
H="$(dirname "$0")/helpers"

in_cg "$CG2/$ID/allowed" setpriv --reuid 1000 --regid 1000 --clear-groups \
	/usr/bin/python3 "$H/reader.py" "$MNT/cg/secrets/C" "$IO" >/dev/null 2>&1 &
T_PIDS+=($!)
for _ in $(seq 100); do [ -s "$IO/pid" ] && break; sleep 0.05; done
READER=$(cat "$IO/pid")
T_PIDS+=("$READER")
order() {	# order N: the reader reads once; its result
	touch "$IO/go.$1"
	for _ in $(seq 250); do [ -s "$IO/res.$1" ] && break; sleep 0.02; done
	cat "$IO/res.$1" 2>/dev/null || echo "no answer"
}
[ "$(order 1)" = ok ] || fail "the untraced reader in the allowed cgroup is refused"

# traced from outside the cgroup
in_cg "$CG2/$ID/outside" /usr/bin/python3 "$H/ptrace_seize.py" "$READER" "$IO/untrace1" > "$IO/tracer1" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 100); do [ -s "$IO/tracer1" ] && break; sleep 0.05; done
[ "$(cat "$IO/tracer1")" = seized ] || fail "the tracer could not attach: $(cat "$IO/tracer1")"
grep -q "^TracerPid:[[:space:]]*[1-9]" "/proc/$READER/status" || fail "the reader is not traced (test proves nothing)"
r=$(order 2)
case "$r" in ENOENT|EACCES) ;; *) fail "a reader traced from outside the cgroup got: $r" ;; esac
grep '"event":"access_denied"' "$T_DIR/audit.jsonl" | grep '"container":"cg"' |
	grep -q "pid $READER is traced by pid [0-9]* in cgroup /$ID/outside, outside /$ID/allowed" ||
	fail "the traced refusal is not audited with its reason"
ok "a reader in the allowed cgroup traced from outside it is refused ($r), audited with the tracer's cgroup"
touch "$IO/untrace1"
for _ in $(seq 100); do grep -q "^TracerPid:[[:space:]]*0" "/proc/$READER/status" && break; sleep 0.05; done
[ "$(order 3)" = ok ] || fail "the reader is still refused after the tracer left"

# traced from inside the cgroup
in_cg "$CG2/$ID/allowed" /usr/bin/python3 "$H/ptrace_seize.py" "$READER" "$IO/untrace2" > "$IO/tracer2" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 100); do [ -s "$IO/tracer2" ] && break; sleep 0.05; done
[ "$(cat "$IO/tracer2")" = seized ] || fail "the second tracer could not attach"
[ "$(order 4)" = ok ] || fail "a reader traced from inside its cgroup is refused"
touch "$IO/untrace2" "$IO/quit"
ok "untraced, or traced from inside the allowed cgroup, the reader reads"

stop_fs "$T_FS_PID" "$MNT"
