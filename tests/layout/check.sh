#!/bin/bash
# The layout DESIGN.md and docs/architecture.md draw, checked on the tree
# and the built programs (make check runs it):
#   - includes point downward: lib <- backends <- inject <- fs; scan needs
#     only lib; cli uses anything but fs; mount-helpers only lib
#   - the harombe command links no FUSE (nm and ldd of $BUILD/harombe)
#   - only backends/backend.c names every concrete backend
#   - only lib/config.c (and the SOPS YAML store) include libyaml
#   - the fetch of a view's keys, write-all and "~" expansion exist once
#   - no source file over 900 lines without a "Length:" note in its
#     opening comment saying why it stays whole
# Prints every violation with file:line and exits 1 if there is one.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bad=0
say() { echo "layout: $*"; bad=1; }

# 1. Includes.
declare -A allowed=(
	[lib]="lib"
	[scan]="lib scan"
	[backends]="lib backends"
	[inject]="lib backends inject"
	[fs]="lib backends inject fs"
	[cli]="lib backends inject scan cli"
	[mount-helpers]="lib mount-helpers"
)
for layer in "${!allowed[@]}"; do
	while IFS= read -r hit; do
		file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
		inc=$(sed -n 's/^#include "\([^"]*\)".*/\1/p' <<<"${rest#*:}")
		[[ $inc == */* ]] || continue
		top=${inc%%/*}
		[[ -n ${allowed[$top]+x} ]] || continue
		[[ " ${allowed[$layer]} " == *" $top "* ]] ||
			say "$file:$line: $layer/ includes $inc (a layer above it or beside it)"
	done < <(grep -rn '^#include "' --include='*.[ch]' "$layer")
done

# 2. The command links no FUSE.
if [ ! -x "$BUILD/harombe" ]; then
	say "$BUILD/harombe is not built"
else
	n=$(nm "$BUILD/harombe" | grep -c 'fuse_')
	[ "$n" -eq 0 ] || say "$BUILD/harombe holds $n fuse_ symbols"
	ldd "$BUILD/harombe" | grep -q fuse && say "$BUILD/harombe links libfuse"
fi

# 3. Only backends/backend.c names every concrete backend.
while IFS= read -r hit; do
	file=${hit%%:*}
	case "$file" in
	backends/backend.c|backends/backend-internal.h) ;;
	backends/env.c|backends/sops/sops.c|backends/vault/vault.c) ;;	# each defines its own
	*) say "$hit: names a concrete backend" ;;
	esac
done < <(grep -rnE '\bbackend_(env|sops|vault)\b' --include='*.[ch]' lib backends inject fs cli scan)

# 4. libyaml.
while IFS= read -r hit; do
	case "${hit%%:*}" in
	lib/config.c|backends/sops/yaml.c) ;;
	*) say "$hit: only lib/config.c (and the SOPS YAML store) may use libyaml" ;;
	esac
done < <(grep -rn '#include <yaml.h>' --include='*.[ch]' lib backends inject fs cli scan mount-helpers)

# 5. One copy of the sensitive and the small paths.
while IFS= read -r hit; do
	case "${hit%%:*}" in
	inject/fetch.c|backends/backend.c|backends/backend.h|backends/cache.c) ;;
	*) say "$hit: fetches a view's keys itself (use inject_fetch)" ;;
	esac
done < <(grep -rnE 'backend_get_many(_for)?\(' --include='*.[ch]' lib backends inject fs cli scan)
while IFS= read -r hit; do
	say "$hit: a private copy (lib/fileio.h has it)"
done < <(grep -rnE '^static [a-z *]*\b(write_all|expand_home|read_all)\(' --include='*.c' lib backends inject fs cli scan)

# 6. Long files say why.
while read -r n file; do
	[ "$file" = total ] && continue
	[ "$n" -gt 900 ] || continue
	awk 'NR==1,/\*\//' "$file" | grep -q 'Length:' ||
		say "$file: $n lines, and its opening comment has no 'Length:' note saying why it stays whole"
done < <(find lib backends inject fs cli scan mount-helpers -name '*.c' -print0 | xargs -0 wc -l)

if [ $bad -ne 0 ]; then
	echo "layout: FAILED"
	exit 1
fi
echo "layout: ok (includes, no FUSE in harombe, one backend table, libyaml, one fetch path, file lengths)"
