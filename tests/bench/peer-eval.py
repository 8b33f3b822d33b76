#!/usr/bin/python3
"""The labelled corpus (tests/tools/gen-labelled-corpus.py) through secretlint,
scored as tests/tools/scaneval scores harombe:

  positive   detected when every secret is gone from the masked text;
             "partial" when secretlint found something but an 8-byte run
             that belongs to the secret alone survived
  negative   any finding is a false positive
  hash       any finding on a hash, digest, UUID or integrity string
  near_miss  the share redacted (reported, no target)

Each item is written to a file of its own (ITEM.txt) and secretlint runs
once over all of them (--format json); the masked text is the item's text
with every reported range starred out, as its mask-result format does.
Prints the summary in scaneval's words, and "recall X%" / "flagged N" lines
the benchmark reads.  Never prints a secret.

usage: peer-eval.py SECRETLINT CORPUS.jsonl WORKDIR
"""
import json
import os
import subprocess
import sys


def survives(masked, secret, text):
    if len(secret) < 8:
        return secret in masked
    rest = text.replace(secret, "\x01" * len(secret))
    for i in range(len(secret) - 7):
        run = secret[i:i + 8]
        if run in masked and run not in rest:
            return True
    return False


def mask(text, ranges):
    # secretlint's ranges count UTF-16 code units (JavaScript strings)
    u = bytearray(text.encode("utf-16-le"))
    star = "*".encode("utf-16-le")
    for a, b in ranges:
        for k in range(a, min(b, len(u) // 2)):
            u[2 * k:2 * k + 2] = star
    return u.decode("utf-16-le", errors="replace")


def main():
    secretlint, corpus, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    items = [json.loads(line) for line in open(corpus, encoding="utf-8") if line.strip()]
    names = []
    for i, it in enumerate(items):
        name = os.path.join(work, f"item{i:05d}.txt")
        with open(name, "w", encoding="utf-8") as f:
            f.write(it["text"])
        names.append(name)
    rc = os.path.join(work, ".secretlintrc.json")
    with open(rc, "w") as f:
        json.dump({"rules": [{"id": "@secretlint/secretlint-rule-preset-recommend"}]}, f)
    p = subprocess.run([secretlint, "--secretlintrc", rc, "--format", "json", "--no-color", "--no-glob",
                        "--no-gitignore"] + names, capture_output=True, text=True)
    if p.returncode not in (0, 1):
        sys.exit(f"peer-eval: secretlint failed (exit {p.returncode}): {p.stderr.strip()[-500:]}")
    found = {}
    for res in json.loads(p.stdout or "[]"):
        found[os.path.abspath(res["filePath"])] = [m["range"] for m in res.get("messages", [])]
    pos = hit = partial = neg = fp = hashes = hash_fp = near = near_red = 0
    per = {}
    for it, name in zip(items, names):
        ranges = found.get(os.path.abspath(name), [])
        label = it["label"]
        if label == "hash":
            hashes += 1
            hash_fp += bool(ranges)
        elif label == "near_miss":
            near += 1
            near_red += bool(ranges)
        elif label == "negative":
            neg += 1
            fp += bool(ranges)
        else:
            masked = mask(it["text"], ranges)
            ok, part = True, False
            for s in it["secrets"]:
                if survives(masked, s, it["text"]):
                    ok = False
                    part = part or bool(ranges)
            pos += 1
            hit += ok
            partial += part
            t = per.setdefault(it.get("format", it.get("rule", "?")), [0, 0])
            t[0] += 1
            t[1] += ok
    print(f"secretlint quality: {os.path.basename(corpus)}")
    print(f"  positives {pos}, detected {hit}: recall {100 * hit / max(pos, 1):.2f}%")
    print(f"  partial redactions: {partial}")
    print(f"  negatives {neg}, flagged {fp}: false-positive rate {100 * fp / max(neg, 1):.2f}%")
    print(f"  hashes, digests, UUIDs, commit ids, integrity strings {hashes}, flagged {hash_fp}")
    print(f"  near misses (documented example keys, wrong lengths) {near}, redacted {near_red}: "
          f"{100 * near_red / max(near, 1):.1f}%")
    covered = sum(1 for t in per.values() if t[1])
    print(f"  formats with any detection: {covered} of {len(per)}")
    print("  per format:")
    for k, (n, h) in per.items():
        print(f"    {k:30s} {h:4d}/{n:<4d} {100 * h / n:6.2f}%")


if __name__ == "__main__":
    main()
