#!/bin/bash
# 1 GiB through `harombe secrets filter` in constant memory: generated on
# the fly and counted on the fly, never written to disk.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scanlib.sh"

# gen MIB: MIB mebibytes of mixed text with 16 fake tokens per MiB (they
# vary from block to block, so nothing is merely repeated).
cat > "$T_DIR/gen.py" <<'EOF'
import random, string, sys
mib = int(sys.argv[1])
r = random.Random(7)
words = "the quick tool output log line with a build and a step and some hex".split()
base, size = [], 0
while size < (1 << 20) - 16 * 57 - 4096:
    base.append(" ".join(r.choice(words) for _ in range(r.randint(3, 14))) + " sha " + "%032x" % r.getrandbits(128))
    size += len(base[-1]) + 1
block = "\n".join(base) + "\n"
pad = (1 << 20) - len(block) - 16 * 57
block = (block + "x" * (pad - 1) + "\n").encode()
out = sys.stdout.buffer
b62 = string.ascii_letters + string.digits
for i in range(mib):
    out.write(block)
    out.write("".join("GITHUB_TOKEN=" + "gh" + "p_" + "".join(r.choice(b62) for _ in range(36)) + " ok\n"
                      for _ in range(16)).encode())
EOF
cat > "$T_DIR/count.py" <<'EOF'
import sys
pat, leak_pat = b"GITHUB_TOKEN=[REDACTED] ok", b"gh" b"p_"
n = leak = total = 0
prev = b""
inp = sys.stdin.buffer
while True:
    b = inp.read(1 << 22)
    if not b:
        break
    total += len(b)
    # an occurrence that starts in the previous read's tail straddles the
    # boundary and was not counted there
    n += (prev[-(len(pat) - 1):] + b).count(pat)
    leak += (prev[-(len(leak_pat) - 1):] + b).count(leak_pat)
    prev = b
print(n, leak, total)
EOF

run() {	# run MIB: stats line of the filter, then redactions, leaks and bytes out
	python3 "$T_DIR/gen.py" "$1" | "$HAROMBE" secrets filter --quiet --stats 2> "$T_DIR/stats.$1" |
		python3 "$T_DIR/count.py" > "$T_DIR/count.$1"
}

run 64
run 1024
read -r n leak total < "$T_DIR/count.1024"
[ "$leak" -eq 0 ] || fail "$leak tokens left in 1 GiB"
[ "$n" -eq $((1024 * 16)) ] || fail "$n of $((1024 * 16)) tokens redacted"
rss_small=$(grep -o 'max_rss_kib [0-9]*' "$T_DIR/stats.64" | cut -d' ' -f2)
rss_big=$(grep -o 'max_rss_kib [0-9]*' "$T_DIR/stats.1024" | cut -d' ' -f2)
bytes_in=$(grep -o 'bytes_in [0-9]*' "$T_DIR/stats.1024" | cut -d' ' -f2)
[ "$bytes_in" -eq $((1024 * 1048576)) ] || fail "filter read $bytes_in bytes"
echo "# peak RSS: 64 MiB in: ${rss_small} KiB, 1 GiB in: ${rss_big} KiB"
[ "$rss_big" -le $((rss_small + 4096)) ] || fail "memory grows with the input: $rss_small KiB -> $rss_big KiB"
ok "1 GiB through filter: every token redacted, none left, peak memory the same as for 64 MiB"
