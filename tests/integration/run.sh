#!/bin/bash
# Runs every integration test (tests/integration/t_*.sh) and reports.
# T_ONLY="a b": only the files whose names contain one of the words.
# Needs root: tests mount real FUSE filesystems.  Exit status 0 only when
# every test file passed.
set -u
cd "$(dirname "$0")"
failed=()
n=0
for t in t_*.sh; do
	if [ -n "${T_ONLY:-}" ]; then
		want=0
		for w in $T_ONLY; do [[ "$t" == *"$w"* ]] && want=1; done
		[ $want = 1 ] || continue
	fi
	n=$((n + 1))
	echo "# $t"
	start=$(date +%s)
	if ! bash "$t"; then
		failed+=("$t")
	fi
	echo "# $t took $(( $(date +%s) - start )) s"
done
echo
if [ ${#failed[@]} -ne 0 ]; then
	echo "FAILED: ${#failed[@]} of $n integration test files: ${failed[*]}"
	exit 1
fi
echo "PASSED: all $n integration test files"
