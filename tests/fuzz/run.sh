#!/bin/bash
# make fuzz: each libFuzzer target for FUZZ_SECONDS (default 30) with ASan
# and UBSan, seeded from the fixtures.  A crash stops the run; its input is
# kept in tests/fuzz/regressions/<target>/, where check_fuzz_regress replays
# it from then on (fix the bug, keep the file).
set -u
cd "$(dirname "$0")/../.."
B=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-30}
status=0
seed() {	# seed TARGET DIR: fixture files for that target
	case "$1" in
	sops_json) cp tests/fixtures/sops/*.json tests/fixtures/sops/negative/*.json tests/fixtures/sops/age-example.txt "$2"/ ;;
	sops_yaml) cp tests/fixtures/sops/*.yaml tests/fixtures/seed/*.yaml "$2"/ ;;
	sops_ini) cp tests/fixtures/sops/*.ini "$2"/ ;;
	sops_dotenv) printf 'A=ENC[AES256_GCM,data:AA==,iv:AA==,tag:AAAAAAAAAAAAAAAAAAAAAA==,type:str]\n#c\nsops_mac=\nsops_lastmodified=2022-03-15T22:11:15Z\nsops_age__list_0__map_recipient=x\nsops_age__list_0__map_enc=-----BEGIN\\n\n' > "$2/seed.env" ;;
	age) for f in tests/fixtures/age-vectors/testdata/*; do
		awk 'f { print } /^$/ && !f { f = 1 }' "$f" > "$2/$(basename "$f")"; done ;;
	esac
}
for t in "$@"; do
	corpus="$B/corpus/$t"
	seeds="$B/seeds/$t"
	mkdir -p "$corpus" "$seeds" "tests/fuzz/regressions/$t"
	seed "$t" "$seeds"
	echo "# fuzz $t for ${SECS}s"
	if ! "$B/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len=65536 \
		-artifact_prefix="tests/fuzz/regressions/$t/" "$corpus" "$seeds" > "$B/fuzz_$t.log" 2>&1; then
		echo "FAILED: fuzz_$t found a crash; input in tests/fuzz/regressions/$t/ (log: $B/fuzz_$t.log)"
		tail -n 30 "$B/fuzz_$t.log"
		status=1
	else
		grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$B/fuzz_$t.log" | tail -n 1
	fi
done
exit $status
