#!/bin/bash
# Source code and manual pages as an agent would cat them, for the scanner's
# precision beside the benign tool output (reported, no target): npm's own
# JavaScript, the Python packages of the system, and the manual pages of
# ssh, curl, wget, mysql and psql.  Not committed; generated at bench time.
#
#   gen-code-corpus.sh DIR
set -u
DIR=${1:?usage: gen-code-corpus.sh DIR}
mkdir -p "$DIR"
find /usr/lib/node_modules/npm/lib /usr/lib/node_modules/npm/node_modules -name "*.js" -size -200k 2>/dev/null |
	sort | head -3000 | xargs -r cat > "$DIR/npmjs.txt" 2>/dev/null
find /usr/lib/python3/dist-packages -name "*.py" -size -200k 2>/dev/null | sort | head -3000 |
	xargs -r cat > "$DIR/pydist.txt" 2>/dev/null
for m in ssh sshd_config curl wget mysql psql; do man -P cat "$m" 2>/dev/null; done > "$DIR/man.txt"
echo "code corpus: $(cat "$DIR"/*.txt | wc -c) bytes in $DIR" >&2
