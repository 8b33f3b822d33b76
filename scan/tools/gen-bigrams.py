#!/usr/bin/python3
"""Letter-pair table for scan/entropy.c: how much more likely each pair of
letters is inside words of code and prose than in random text.

For every pair (a, b) of lower-cased letters that follow each other inside a
word (words are split at non-letters and at case changes: getHTTPResponse ->
get, HTTP, Response), the table holds log2(P(b | a) * 26) in 1/16 bits,
clamped to int8.  0 means "as likely as chance".  Built from the Python
files given on the command line; scan/bigrams.h came from Debian 12's
/usr/lib/python3.11/*.py, and `make regen-bigrams` runs exactly that:

    scan/tools/gen-bigrams.py /usr/lib/python3.11/*.py > scan/bigrams.h
"""
import math
import re
import sys

cnt = [[1] * 26 for _ in range(26)]
for path in sys.argv[1:]:
    with open(path, encoding="utf-8", errors="ignore") as f:
        text = f.read()
    for run in re.findall(r"[A-Za-z]+", text):
        for word in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+", run):
            w = word.lower()
            for a, b in zip(w, w[1:]):
                cnt[ord(a) - 97][ord(b) - 97] += 1
print("/* GENERATED FILE, DO NOT EDIT: make regen-bigrams rebuilds it with")
print(" * scan/tools/gen-bigrams.py /usr/lib/python3.11/[*].py > scan/bigrams.h")
print(" * log2(P(b|a) * 26) in 1/16 bits, for letter pairs inside words.  Included")
print(" * by scan/entropy.c only. */")
print("#ifndef SCAN_BIGRAMS_H")
print("#define SCAN_BIGRAMS_H")
print()
print("static const signed char bigram[26][26] = {")
for a in range(26):
    total = sum(cnt[a])
    row = [max(-127, min(127, round(16 * math.log2(c / total * 26)))) for c in cnt[a]]
    print("\t{ " + ", ".join(str(v) for v in row) + " },")
print("};")
print()
print("#endif")
