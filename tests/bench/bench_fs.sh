#!/bin/bash
# harombefs open+read+close of a 10-secret env view (env backend), beside
# (a) the same bytes on tmpfs, (c) floorfs, the floor issue 19 sets: a truly
# minimal libfuse filesystem (high-level API, -s, direct_io, default entry
# and attribute timeouts of 1 s), and the same floor with entry_timeout=0
# (the per-caller LOOKUP of every name that hiding views needs: fs/fs.c),
# (b) minfs, a minimal low-level filesystem with harombefs's mount options
# and its old timeouts (file attributes never cached), and a template file of
# the same view (app.ini: the same 10 keys through the ini filter,
# docs/templates.md).  With BENCH_FS_BEFORE=PATH, a harombefs binary built
# from an older tree runs beside the current one, for before/after figures
# from the same run.  The same 10 keys are also served from a Vault view (the
# test server tests/vault/vaultsrv.py, KV v2, cache_ttl 1h: every timed open
# a cache hit) and from a SOPS view (a SOPS file of 1,000 keys, decrypted
# once; every open checks it with a stat()), at 1 and 2 client threads
# (BENCH_FS_STORES=0 leaves them out; BENCH_FS_TARGETS picks targets).
# The bind rows open the file as a container does: through a bind mount of
# the view's directory (docker -v /run/harombe/c:/run/secrets, harombe-bind,
# bwrap), where the walk starts at the mount's root and never looks the
# view's name up again, so harombefs gets 1 LOOKUP per open (the file's),
# the floor none, the floor with entry_timeout=0 one.
# Rounds are interleaved; the table reports the median
# round (BENCH_FS_DEBUG=1 prints every round's figures on stderr).  The FUSE
# requests each target costs per open are counted through the kernel's fuse
# tracepoints (tracefs), when the kernel has them.
set -euo pipefail
source "$(dirname "$0")/bench-lib.sh"
TOP=$(pwd)
B="$TOP/${BUILD:-build}"
CYCLES=${BENCH_CYCLES:-20000}
ROUNDS=${BENCH_ROUNDS:-5}
D=$(mktemp -d /tmp/harombe-bench.XXXXXX)
# The audit logs of the audit-on targets grow ~100 MB a round; emptied each round.
# mode 0755: harombefs refuses an audit log in a directory others may write (a tmpfs root is 1777)
mount -t tmpfs -o size=512m,mode=0755 bench "$D"
pids=()
cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	sleep 0.3
	# the binds first: each holds its FUSE mount busy
	for m in "$D"/bind-*; do
		mountpoint -q "$m" && umount -l "$m"
	done
	for m in "$D/hfs" "$D/hfs-noaudit" "$D/hfs-before" "$D/min" "$D/min-s" "$D/floor" "$D/floor-hid" \
		"$D/hfs-vault" "$D/hfs-sops" "$D/hfs-before-vault" "$D/hfs-before-sops"; do
		mountpoint -q "$m" && fusermount3 -u -z "$m"
	done
	[ -z "$VPID" ] || kill "$VPID" 2>/dev/null
	umount -l "$D"; rmdir "$D"
	[ -z "$CGID" ] || rmdir "$CG2/$CGID"
}
trap cleanup EXIT

# A second view of the same keys with a cgroup rule, read from a cgroup made
# for it: each of its checks reads the caller's /proc/PID/cgroup and status.
CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
CGID=""
VPID=""
if [ -n "$CG2" ] && mkdir "$CG2/harombe-bench-$$" 2>/dev/null; then
	CGID="harombe-bench-$$"
fi
for i in $(seq 1 10); do
	export "HAROMBE_SECRET_BENCH_S$i=$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
done
mapping=$(for i in $(seq 1 10); do printf '        S%s: bench/s%s\n' "$i" "$i"; done)
tmpl=$(printf '[bench]\\n'; for i in $(seq 1 10); do printf 's%s = {{ secret \\"bench/s%s\\" | ini }}\\n' "$i" "$i"; done)
for v in audit noaudit; do
	cat > "$D/$v.yaml" <<YAML
security:
  fs:
    audit_log: $D/audit.jsonl
  audit:
    enabled: $([ $v = audit ] && echo true || echo false)
  containers:
    c:
      secrets:
$mapping
      templates:
        app.ini: { inline: "$tmpl" }
$([ -z "$CGID" ] || printf '    cg:\n      cgroup: "/%s"\n      secrets:\n%s\n' "$CGID" "$mapping")
YAML
done
mkdir -p "$D/hfs" "$D/hfs-noaudit" "$D/hfs-before" "$D/min" "$D/min-s" "$D/floor" "$D/floor-hid" "$D/tmpfs/c"
"$B/harombefs" "$D/hfs" -o config="$D/audit.yaml" -f 2>/dev/null & pids+=($!)
"$B/harombefs" "$D/hfs-noaudit" -o config="$D/noaudit.yaml" -f 2>/dev/null & pids+=($!)
before=""
if [ -n "${BENCH_FS_BEFORE:-}" ]; then
	# its own audit log: two daemons appending to one file would contend for it
	sed "s|$D/audit.jsonl|$D/audit-before.jsonl|" "$D/audit.yaml" > "$D/before.yaml"
	"$BENCH_FS_BEFORE" "$D/hfs-before" -o config="$D/before.yaml" -f 2>/dev/null & pids+=($!)
	before=hfs-before
fi
for i in $(seq 1 10); do unset "HAROMBE_SECRET_BENCH_S$i"; done
for _ in $(seq 100); do mountpoint -q "$D/hfs" && mountpoint -q "$D/hfs-noaudit" && break; sleep 0.05; done
cat "$D/hfs/c/env" > "$D/tmpfs/c/env"
"$B/tests/bench/minfs" "$D/min" "$D/tmpfs/c/env" & pids+=($!)
"$B/tests/bench/minfs" "$D/min-s" "$D/tmpfs/c/env" -s & pids+=($!)
"$B/tests/bench/floorfs" "$D/floor" "$D/tmpfs/c/env" -s -f & pids+=($!)
"$B/tests/bench/floorfs" "$D/floor-hid" "$D/tmpfs/c/env" -s -f -o entry_timeout=0 & pids+=($!)
for _ in $(seq 100); do
	mountpoint -q "$D/min" && mountpoint -q "$D/min-s" && mountpoint -q "$D/floor" && mountpoint -q "$D/floor-hid" &&
		{ [ -z "$before" ] || mountpoint -q "$D/hfs-before"; } && break
	sleep 0.05
done
# The same view from the stores that do I/O: Vault (its test server) and SOPS.
stores=""
if [ "${BENCH_FS_STORES:-1}" = 1 ]; then
	VROOT="root-bench-$$"
	python3 "$TOP/tests/vault/vaultsrv.py" --port-file "$D/vault.port" --root-token "$VROOT" \
		--state "$D/vault.json" > "$D/vault.log" 2>&1 & VPID=$!
	for _ in $(seq 100); do [ -s "$D/vault.port" ] && break; sleep 0.05; done
	[ -s "$D/vault.port" ] || { echo "the Vault test server did not start: $(tail -n 3 "$D/vault.log")" >&2; exit 1; }
	VURL="http://127.0.0.1:$(cat "$D/vault.port")"
	printf '%s\n' "$VROOT" > "$D/vault.token"
	chmod 600 "$D/vault.token"
	age-keygen -o "$D/age.txt" 2>/dev/null
	"$B/tests/bench/sopsbench" gen "$D/s.json" 1000 "$(age-keygen -y "$D/age.txt")" "$D/age.txt" >&2
	sopsmap=$(for i in 0 100 200 300 400 500 600 700 800 999; do printf '        S%04d: bench/k%04d\n' "$i" "$i"; done)
	for i in 0 100 200 300 400 500 600 700 800 999; do
		# the SOPS file's values, written to Vault: both views serve the same bytes
		k=$(printf 'bench/k%04d' "$i")
		curl -sf -o /dev/null -X POST -H "X-Vault-Token: $VROOT" -H 'Content-Type: application/json' \
			--data-binary "{\"data\": {\"value\": \"$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')\"}}" \
			"$VURL/v1/secret/data/$k" || { echo "cannot write $k to the Vault test server" >&2; exit 1; }
	done
	for st in vault sops; do
		for w in hfs hfs-before; do
			[ $w = hfs ] || [ -n "$before" ] || continue
			cat > "$D/$w-$st.yaml" <<YAML
security:
  credentials:
$(if [ $st = vault ]; then printf '    provider: vault\n    vault_url: %s\n    token_file: %s\n    kv_version: 2\n' "$VURL" "$D/vault.token";
else printf '    provider: sops\n    secrets_file: %s\n    key_file: %s\n' "$D/s.json" "$D/age.txt"; fi)
  fs:
    audit_log: $D/audit-$w-$st.jsonl
$([ $st = vault ] && echo "    cache_ttl: 1h")
  containers:
    c:
      secrets:
$sopsmap
YAML
			mkdir -p "$D/$w-$st"
			bin="$B/harombefs"
			[ $w = hfs ] || bin=$BENCH_FS_BEFORE
			"$bin" "$D/$w-$st" -o config="$D/$w-$st.yaml" -f 2>/dev/null & pids+=($!)
			stores="$stores $w-$st"
		done
	done
	for _ in $(seq 100); do
		up=1
		for m in $stores; do mountpoint -q "$D/$m" || up=0; done
		[ $up = 1 ] && break
		sleep 0.05
	done
	for m in $stores; do
		cat "$D/$m/c/env" > /dev/null || { echo "$m cannot serve its view" >&2; exit 1; }
	done
fi
# The view's directory bind-mounted, as a container holds it: harombefs's
# view c, and the floors' c (their only directory), like for like.
for m in hfs floor floor-hid; do
	mkdir -p "$D/bind-$m"
	mount --bind "$D/$m/c" "$D/bind-$m"
done
size=$(stat -c %s "$D/tmpfs/c/env")
tsize=$(wc -c < "$D/hfs/c/app.ini")
[ "$tsize" -gt 0 ] || { echo "the template app.ini is empty" >&2; exit 1; }
# the target's file: every target serves c/env, but hfs-tmpl is the view's template
target_file() {
	case $1 in
	hfs-tmpl) echo "$D/hfs/c/app.ini" ;;
	hfs-cg) echo "$D/hfs/cg/env" ;;
	hfs-before-cg) echo "$D/hfs-before/cg/env" ;;
	*-bind) echo "$D/bind-${1%-bind}/env" ;;
	*) echo "$D/$1/c/env" ;;
	esac
}
for m in min floor floor-hid $before hfs-bind floor-bind floor-hid-bind; do
	cmp -s "$(target_file "$m")" "$D/hfs/c/env" || { echo "$m and harombefs serve different bytes" >&2; exit 1; }
done
# openbench for a target: in the view's cgroup for the cgroup targets
run_openbench() {
	local k=$1
	shift
	case $k in
	*-cg) sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG2/$CGID" "$B/tests/bench/openbench" "$@" ;;
	*) "$B/tests/bench/openbench" "$@" ;;
	esac
}

label() {
	case $1 in
	tmpfs) echo "(a) tmpfs, same bytes" ;;
	floor) echo "(c) **floor**: minimal libfuse, -s, direct_io, default timeouts" ;;
	floor-hid) echo "(c) the floor with entry_timeout=0 (per-caller lookups, as hiding needs)" ;;
	floor-bind) echo "(c) the floor, its \`c\` bind-mounted as a container opens it (0 LOOKUPs)" ;;
	floor-hid-bind) echo "(c) the floor with entry_timeout=0, \`c\` bind-mounted (1 LOOKUP)" ;;
	hfs-bind) echo "**harombefs, view bind-mounted as a container opens it** (1 LOOKUP, audit on)" ;;
	min-s) echo "(b) minfs, single-threaded loop" ;;
	min) echo "(b) minfs, multi-threaded loop" ;;
	hfs-noaudit) echo "harombefs, audit off" ;;
	hfs) echo "**harombefs** (audit on, default)" ;;
	hfs-tmpl) echo "harombefs, template \`app.ini\` (audit on)" ;;
	hfs-before) echo "harombefs before (BENCH_FS_BEFORE, audit on)" ;;
	hfs-cg) echo "harombefs, a view with a cgroup rule (audit on)" ;;
	hfs-before-cg) echo "harombefs before, a view with a cgroup rule" ;;
	hfs-vault) echo "harombefs, Vault view, cache_ttl 1h (cache hits)" ;;
	hfs-before-vault) echo "harombefs before, Vault view, cache_ttl 1h" ;;
	hfs-sops) echo "harombefs, SOPS view (file decrypted, unchanged)" ;;
	hfs-before-sops) echo "harombefs before, SOPS view" ;;
	esac
}
curve() {	# the plot's name for a target (samples of the last round)
	case $1 in
	tmpfs) echo "tmpfs" ;;
	floor) echo "floor" ;;
	floor-hid) echo "floor_entry_timeout_0" ;;
	floor-bind) echo "floor_bind-mounted" ;;
	floor-hid-bind) echo "floor_entry_timeout_0_bind-mounted" ;;
	hfs-bind) echo "harombefs_bind-mounted_view" ;;
	min-s) echo "minfs_single-threaded" ;;
	min) echo "minfs_multi-threaded" ;;
	hfs-noaudit) echo "harombefs_audit_off" ;;
	hfs) echo "harombefs" ;;
	hfs-tmpl) echo "harombefs_template" ;;
	hfs-before) echo "harombefs_before" ;;
	hfs-cg) echo "harombefs_cgroup_rule" ;;
	hfs-before-cg) echo "harombefs_before_cgroup_rule" ;;
	*) echo "${1//-/_}" ;;
	esac
}
declare -A P50 P99 OPS
cgt=""
[ -z "$CGID" ] || cgt="hfs-cg${before:+ hfs-before-cg}"
targets="tmpfs floor floor-hid floor-bind floor-hid-bind min-s min hfs-noaudit hfs hfs-bind hfs-tmpl $cgt $before $stores"
# BENCH_FS_TARGETS="floor hfs ...": only these (and always the floors the
# ratios need: the bind-mounted ones too with hfs-bind), for a shorter run
# on a busy machine.
if [ -n "${BENCH_FS_TARGETS:-}" ]; then
	need="floor floor-hid"
	case " $BENCH_FS_TARGETS " in *" hfs-bind "*) need="$need floor-bind floor-hid-bind" ;; esac
	keep=""
	for k in $targets; do
		case " $need $BENCH_FS_TARGETS " in *" $k "*) keep="$keep $k" ;; esac
	done
	targets=$keep
fi
for r in $(seq 1 "$ROUNDS"); do
	# Emptied each round: the audit-on targets write ~100 MB a round in all,
	# and a full log fails opens closed (EIO).  Appends go on at offset 0.
	for f in "$D"/audit*.jsonl; do : > "$f"; done
	for t in 1 2; do
		for k in $targets; do
			samples=""
			[ "$r" = "$ROUNDS" ] && samples=$(bench_samples "fs-${t}t--$(curve "$k")")
			line=$(BENCH_SAMPLES="$samples" run_openbench "$k" "$(target_file "$k")" "$t" $((CYCLES / t)))
			P50[$k.$t]="${P50[$k.$t]:-} $(sed 's/.*p50_us=\([0-9.]*\).*/\1/' <<< "$line")"
			P99[$k.$t]="${P99[$k.$t]:-} $(sed 's/.*p99_us=\([0-9.]*\).*/\1/' <<< "$line")"
			OPS[$k.$t]="${OPS[$k.$t]:-} $(sed 's/.*ops_per_s=\([0-9]*\).*/\1/' <<< "$line")"
			[ -z "${BENCH_FS_DEBUG:-}" ] || echo "round $r $k $t: $line" >&2
		done
	done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

# FUSE requests per open+read+close, by opcode, from the kernel's fuse
# tracepoints: what each target makes the kernel ask its daemon.
T=/sys/kernel/tracing
[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null || true
declare -A REQ
ops="FUSE_LOOKUP FUSE_GETATTR FUSE_OPEN FUSE_READ FUSE_FLUSH FUSE_RELEASE"
traced=0
traced_targets="floor floor-hid floor-bind floor-hid-bind min-s hfs hfs-bind $before"
if [ -w "$T/events/fuse/fuse_request_send/enable" ]; then
	traced=1
	for k in $traced_targets; do
		echo 0 > "$T/tracing_on"; echo > "$T/trace"
		echo 1 > "$T/events/fuse/fuse_request_send/enable"
		echo 1 > "$T/tracing_on"
		"$B/tests/bench/openbench" "$(target_file "$k")" 1 1000 > /dev/null
		echo 0 > "$T/tracing_on"
		echo 0 > "$T/events/fuse/fuse_request_send/enable"
		# openbench makes 1000 timed cycles and 200 of warm-up
		for op in $ops; do
			REQ[$k.$op]=$({ grep -c "($op)" "$T/trace" || true; } | awk '{ printf "%.2f", $1 / 1200 }')
		done
		echo > "$T/trace"
	done
fi

echo "## harombefs: open + read + close of a 10-secret \`env\` view (env backend)"
echo
echo "$size-byte file; each cycle is what \`cat\` does (open, read to EOF, close). $ROUNDS interleaved rounds of $CYCLES cycles; median round shown."
echo "The template row opens \`app.ini\` of the same view ($tsize bytes: the same 10 keys, each through the \`ini\` filter), rendered on each open."
echo "(c) floorfs is the floor of issue 19: libfuse's high-level API, single-threaded loop, direct_io, default entry and"
echo "attribute timeouts (1 s), a constant buffer. The same floor with entry_timeout=0 sends the LOOKUP per name and walk"
echo "that hiding other tenants' views needs (fs/fs.c): the difference between the two rows is what hiding costs in FUSE alone."
echo "(b) minfs has harombefs's mount options and its old timeouts (file attributes never cached)."
echo "The bind-mounted rows open \`env\` through a bind mount of the view's directory, as a container does"
echo "(\`docker -v /run/harombe/c:/run/secrets\`, harombe-bind, bwrap): the walk starts at the mount's root, which the"
echo "kernel does not look up again, so only the file's name is looked up (harombefs and the floor with entry_timeout=0: 1"
echo "LOOKUP; the floor: none). Their last column is the p50 beside the floor bind-mounted the same way."
[ -z "$CGID" ] || echo "The cgroup rows read a second view of the same keys with a cgroup rule, from a process in that cgroup: each of its checks (2 lookups, the open) reads the caller's /proc/PID/cgroup and status (TracerPid)."
echo
echo "| target | threads | p50 µs | p99 µs | opens/s | p50 vs floor | p50 vs floor, entry_timeout=0 | p50 vs floor bind-mounted |"
echo "|---|---|---|---|---|---|---|---|"
for t in 1 2; do
	floor=$(median <<< "${P50[floor.$t]}")
	hid=$(median <<< "${P50[floor-hid.$t]}")
	fbind=$(median <<< "${P50[floor-bind.$t]:-}")
	for k in $targets; do
		p50=$(median <<< "${P50[$k.$t]}")
		vb=-
		case $k in *-bind) [ -z "$fbind" ] || vb=$(ratio "$p50" "$fbind") ;; esac
		echo "| $(label "$k") | $t | $p50 | $(median <<< "${P99[$k.$t]}") | $(median <<< "${OPS[$k.$t]}") | $(ratio "$p50" "$floor") | $(ratio "$p50" "$hid") | $vb |"
	done
done
echo
echo "Target (issue 19): harombefs within 1.25x of (c) the floor at p50, 1 and 2 client threads."
echo
if [ "$traced" = 1 ]; then
	echo "FUSE requests per open+read+close (kernel tracepoint fuse_request_send, 1 client thread):"
	echo
	echo "| target | LOOKUP | GETATTR | OPEN | READ | FLUSH | RELEASE | total |"
	echo "|---|---|---|---|---|---|---|---|"
	for k in $traced_targets; do
		row="" total=0
		for op in $ops; do
			row="$row | ${REQ[$k.$op]}"
			total=$(awk -v a="$total" -v b="${REQ[$k.$op]}" 'BEGIN { printf "%.2f", a + b }')
		done
		echo "| $(label "$k")$row | $total |"
	done
else
	echo "FUSE requests per open: not counted (no tracefs with the fuse tracepoints on this kernel)."
fi
# a summary row, when both of its targets ran (BENCH_FS_TARGETS)
summary() { [ -z "$2" ] || [ -z "$4" ] || bench_summary "$@"; }
for t in 1 2; do
	th="$t thread"; [ "$t" = 1 ] || th="${th}s"
	floor=$(median <<< "${P50[floor.$t]:-}")
	summary "harombefs open+read+close p50, env view, $th" \
		"$(median <<< "${P50[hfs.$t]:-}")" "floor: minimal libfuse (-s, direct_io, default timeouts), same run" "$floor" "µs" "<=1.25"
	summary "harombefs open+read+close p50, $th, beside the floor with entry_timeout=0" \
		"$(median <<< "${P50[hfs.$t]:-}")" "floor with per-caller lookups (hiding), same run" "$(median <<< "${P50[floor-hid.$t]:-}")" "µs" "-"
	summary "what hiding views costs FUSE alone (entry_timeout=0), $th" \
		"$(median <<< "${P50[floor-hid.$t]:-}")" "floor, same run" "$floor" "µs" "-"
	summary "harombefs open+read+close p50, view bind-mounted as a container opens it (1 LOOKUP), $th" \
		"$(median <<< "${P50[hfs-bind.$t]:-}")" "floor: minimal libfuse (-s, direct_io, default timeouts), same run" "$floor" "µs" "-"
	summary "harombefs open+read+close p50, both bind-mounted as a container opens them, $th" \
		"$(median <<< "${P50[hfs-bind.$t]:-}")" "floor, its directory bind-mounted (0 LOOKUPs), same run" \
		"$(median <<< "${P50[floor-bind.$t]:-}")" "µs" "-"
	summary "harombefs open+read+close p50, both bind-mounted, $th, beside the floor with entry_timeout=0" \
		"$(median <<< "${P50[hfs-bind.$t]:-}")" "floor with entry_timeout=0, bind-mounted (1 LOOKUP), same run" \
		"$(median <<< "${P50[floor-hid-bind.$t]:-}")" "µs" "-"
	summary "harombefs open+read+close p50, $th, beside minfs (b)" \
		"$(median <<< "${P50[hfs.$t]:-}")" "minfs, single-threaded loop, same run" "$(median <<< "${P50[min-s.$t]:-}")" "µs" "-"
	summary "harombefs open+read+close p50, $th, beside tmpfs" \
		"$(median <<< "${P50[hfs.$t]:-}")" "tmpfs (a), same run" "$(median <<< "${P50[tmpfs.$t]:-}")" "µs" "-"
	summary "harombefs open+read+close p50, $th, audit on beside off" \
		"$(median <<< "${P50[hfs.$t]:-}")" "harombefs with audit off, same run" "$(median <<< "${P50[hfs-noaudit.$t]:-}")" "µs" "-"
	summary "harombefs open+read+close p50, template view, $th, beside env" \
		"$(median <<< "${P50[hfs-tmpl.$t]:-}")" "the env view, same run" "$(median <<< "${P50[hfs.$t]:-}")" "µs" "-"
	[ -z "$CGID" ] || summary "harombefs open+read+close p50, $th, a view with a cgroup rule beside uid only" \
		"$(median <<< "${P50[hfs-cg.$t]:-}")" "the same keys, a view without one, same run" "$(median <<< "${P50[hfs.$t]:-}")" "µs" "-"
	[ -z "$CGID" ] || [ -z "$before" ] || summary "harombefs before, $th, a view with a cgroup rule beside uid only" \
		"$(median <<< "${P50[hfs-before-cg.$t]:-}")" "before, a view without one, same run" "$(median <<< "${P50[hfs-before.$t]:-}")" "µs" "-"
	for st in vault sops; do
		case " $stores " in *" hfs-$st "*) ;; *) continue ;; esac
		summary "harombefs open+read+close p50, $st view, $th, beside the floor" \
			"$(median <<< "${P50[hfs-$st.$t]:-}")" "floor, same run" "$floor" "µs" "-"
		[ -z "$before" ] || summary "harombefs open+read+close p50, $st view, $th, after beside before" \
			"$(median <<< "${P50[hfs-$st.$t]:-}")" "harombefs before, $st view, same run" \
			"$(median <<< "${P50[hfs-before-$st.$t]:-}")" "µs" "-"
	done
	[ -z "$before" ] || summary "harombefs open+read+close p50, $th, after beside before" \
		"$(median <<< "${P50[hfs.$t]:-}")" "harombefs before (BENCH_FS_BEFORE), same run" "$(median <<< "${P50[hfs-before.$t]:-}")" "µs" "-"
done
exit 0
