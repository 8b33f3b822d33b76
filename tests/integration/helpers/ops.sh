# Sourced after lib.sh by the t_ops_*.sh tests (the operations commands).

HT="$BUILD/tests/harombe-test"	# harombe with the mock store registered
[ -x "$HT" ] || fail "$HT missing (make $HT)"

# expect RC 'LINE' CMD...: CMD exits RC and, when LINE is not empty, stderr
# has exactly that line.  Output stays in $T_DIR/out and $T_DIR/err.
expect() {
	local rc=$1 msg=$2 got
	shift 2
	set +e
	"$@" >"$T_DIR/out" 2>"$T_DIR/err"
	got=$?
	set -e
	[ "$got" = "$rc" ] || fail "'$*' exited $got, expected $rc; stderr: $(head -c 2000 "$T_DIR/err")"
	[ -z "$msg" ] || grep -qxF -- "$msg" "$T_DIR/err" ||
		fail "'$*': expected the line '$msg' on stderr, got: $(head -c 2000 "$T_DIR/err")"
}

# The mock store's file for a key ('/' is %2F, '#' is %23).
mock_file() {	# mock_file DIR KEY
	local k=${2//\//%2F}
	printf '%s/%s' "$1" "${k//#/%23}"
}

# mock_config FILE STORE [YAML appended under security:]; $FS_EXTRA goes
# under security.fs.
mock_config() {
	mkdir -p "$2"
	cat > "$1" <<YAML
security:
  credentials:
    provider: mock
    mock_dir: $2
  fs:
    audit_log: $T_DIR/audit.jsonl
    mountpoint: $T_DIR/mnt
${FS_EXTRA:-}
${3:-}
YAML
}

# no_trace STRING FILE...: none of the files holds STRING.
no_trace() {
	local s=$1 f
	shift
	for f in "$@"; do
		[ -e "$f" ] || continue
		grep -qF -- "$s" "$f" && fail "a value appears in $f"
	done
	return 0
}
