#!/bin/bash
# Every view format, read by its real consumer, restores adversarial values
# byte for byte: env through bash, dash and systemd's env-file parser,
# env.json through Python's json, docker.env through the docker CLI,
# secrets/NAME through cmp.  Sourcing never executes anything.
. "$(dirname "$0")/lib.sh"

MARK="$T_DIR/executed"
V_QUOTE='say "hi" and '\''bye'\'''
V_SUBST='$(touch '"$MARK"'.subst)'
V_BTICK='`touch '"$MARK"'.btick`'
V_BSLASH='back\slash\\ \n \'
V_NL=$'line1\nline2\n'
V_UTF8='ünïcødé ☃ 🔑'
V_EMPTY=''
V_DOLLAR='$HOME ${PATH} $$ $'
V_CR=$'a\rb'
V_SPACE='  leading and trailing  '
V_HASH='#not a comment ; x'
V_EQ='a=b=c'
NAMES="V_QUOTE V_SUBST V_BTICK V_BSLASH V_NL V_UTF8 V_EMPTY V_DOLLAR V_CR V_SPACE V_HASH V_EQ"
# what docker --env-file can express, and what systemd's generator can
# echo back without expanding it ($NAME) or dropping it (empty)
DOCKER_NAMES="V_QUOTE V_SUBST V_BTICK V_BSLASH V_UTF8 V_EMPTY V_DOLLAR V_CR V_SPACE V_HASH V_EQ"
SYSTEMD_NAMES="V_QUOTE V_SUBST V_BTICK V_BSLASH V_NL V_UTF8 V_CR V_SPACE V_HASH V_EQ"

mapping() { local n; for n in $1; do printf '        %s: adv/%s\n' "$n" "${n,,}"; done; }
cat > "$T_DIR/h.yaml" <<YAML
security:
  credentials:
    provider: env
  fs:
    audit_log: $T_DIR/audit.jsonl
  containers:
    adv:
      secrets:
$(mapping "$NAMES")
    dock:
      secrets:
$(mapping "$DOCKER_NAMES")
    sd:
      secrets:
$(mapping "$SYSTEMD_NAMES")
YAML

for n in $NAMES; do export "HAROMBE_SECRET_ADV_${n}=${!n}"; done
for n in $NAMES; do export "EXP_$n=${!n}"; done
MNT="$T_DIR/mnt"
start_fs "$HAROMBEFS" "$T_DIR/h.yaml" "$MNT"
for n in $NAMES; do unset "HAROMBE_SECRET_ADV_${n}"; done


# bash and dash: each compares the sourced variables with EXP_* itself.
for sh in bash dash; do
	out=$(env \
		EXP_NAMES="$NAMES" "$sh" -c '
		set -a; . "$1"; set +a
		bad=0
		for n in $EXP_NAMES; do
			eval "got=\${$n}; want=\${EXP_$n}"
			[ "$got" = "$want" ] || { echo "mismatch $n"; bad=1; }
		done
		[ $bad -eq 0 ] && echo same' "$sh" "$MNT/adv/env")
	[ "$out" = same ] || fail "$sh: $out"
	ok "$sh sources env and restores all $(echo $NAMES | wc -w) values byte for byte"
done
[ ! -e "$MARK.subst" ] && [ ! -e "$MARK.btick" ] || fail "sourcing env executed a command"
ok "sourcing env executes nothing"

# systemd's own env-file parser (the one behind EnvironmentFile=), through
# the environment.d generator, which prints what it parsed.
GEN=/usr/lib/systemd/user-environment-generators/30-systemd-environment-d-generator
[ -x "$GEN" ] || fail "$GEN missing (Debian package systemd)"
mkdir -p "$T_DIR/xdg/environment.d"
ln -s "$MNT/sd/env" "$T_DIR/xdg/environment.d/50-harombe.conf"
out=$(env -i XDG_CONFIG_HOME="$T_DIR/xdg" HOME="$T_DIR" "$GEN" 2>"$T_DIR/gen.err" |
	env EXP_NAMES="$SYSTEMD_NAMES" python3 "$(dirname "$0")/helpers/check.py" systemd) ||
	fail "systemd parser: $out $(cat "$T_DIR/gen.err")"
[ -s "$T_DIR/gen.err" ] && fail "systemd parser complained: $(cat "$T_DIR/gen.err")"
ok "systemd's env-file parser reads env back exactly ($out)"

out=$(EXP_NAMES="$NAMES" python3 "$(dirname "$0")/helpers/check.py" json "$MNT/adv/env.json") ||
	fail "env.json: $out"
ok "env.json parses as JSON with every value exact ($out)"

for n in $NAMES; do
	cmp -s "$MNT/adv/secrets/$n" <(printf '%s' "${!n}") || fail "secrets/$n differs"
done
ok "secrets/NAME holds each raw value byte for byte"

# docker.env through the real docker CLI against a stand-in engine.
python3 "$(dirname "$0")/helpers/fake-dockerd.py" "$T_DIR/docker.sock" > "$T_DIR/dockerd.log" 2>&1 &
T_PIDS+=($!)
for _ in $(seq 50); do [ -S "$T_DIR/docker.sock" ] && break; sleep 0.1; done
command -v docker >/dev/null || fail "docker CLI missing (scripts/deps.sh installs docker.io)"
set +e
derr=$(DOCKER_HOST="unix://$T_DIR/docker.sock" DOCKER_CONFIG="$T_DIR/dockercfg" \
	docker run --env-file "$MNT/dock/docker.env" harombe-test/none true 2>&1)
set -e
out=$(printf '%s' "$derr" | EXP_NAMES="$DOCKER_NAMES" python3 "$(dirname "$0")/helpers/check.py" docker) ||
	fail "docker --env-file: $out"
ok "docker run --env-file reads docker.env with every value exact ($out)"

# a value with a newline cannot be expressed in docker.env: open fails, and
# the audit log says why (without the value)
if cat "$MNT/adv/docker.env" >/dev/null 2>"$T_DIR/cat.err"; then fail "docker.env with a newline value was served"; fi
assert_contains "$T_DIR/cat.err" "Input/output error" "errno for docker.env"
grep '"view":"docker.env"' "$T_DIR/audit.jsonl" | grep '"container":"adv"' | grep -q '"result":"error"' ||
	fail "no audit error for adv/docker.env"
grep '"view":"docker.env"' "$T_DIR/audit.jsonl" | grep -q 'value of V_NL contains a newline' ||
	fail "audit reason for docker.env does not name the variable"
ok "docker.env with a multi-line value fails to open with the reason in the audit log"

# st_size: exact after open (bash reads exactly st_size bytes), and tools
# that seek from the end work.
read -r size rd eof < <("$FSPROBE" fstatread "$MNT/adv/env" | sed 's/[a-z]*=//g')
[ "$size" = "$rd" ] && [ "$eof" = 1 ] || fail "fstat size $size, one read gave $rd, eof $eof"
[ "$size" = "$(cat "$MNT/adv/env" | wc -c)" ] || fail "fstat size differs from content length"
ok "fstat after open gives the exact size; one read of st_size bytes reads it all"
[ "$(wc -c < "$MNT/adv/env")" = "$size" ] || fail "wc -c"
[ "$(tail -n 1 "$MNT/adv/env")" = "$(cat "$MNT/adv/env" | tail -n 1)" ] || fail "tail"
path_size=$(stat -c %s "$MNT/adv/env")
[ "$path_size" -ge "$size" ] || fail "stat by path ($path_size) smaller than content ($size)"
ok "wc -c and tail agree with cat; stat by path is an upper bound ($path_size)"

# views are read-only
if (echo x > "$MNT/adv/env") 2>/dev/null; then fail "write to a view succeeded"; fi
if touch "$MNT/adv/new" 2>/dev/null; then fail "creating a file succeeded"; fi
ok "the mount is read-only"

stop_fs "$T_FS_PID" "$MNT"
ok "SIGTERM unmounts and exits 0"
