#!/usr/bin/python3
"""Compare what a consumer read with what was expected.  Expected values
come from the environment (EXP_<NAME>), names from EXP_NAMES; nothing is
read from or written to disk but the file under test.  Prints only names
and lengths, never a value.

  check.py json FILE            FILE is env.json; must hold exactly EXP_NAMES
  check.py docker               stdin: docker CLI stderr with HAROMBE-ENV <b64>
  check.py systemd              stdin: environment.d generator output
"""
import base64
import json
import os
import re
import sys


def expected():
    names = os.environ["EXP_NAMES"].split()
    return {n: os.environb[("EXP_" + n).encode()] for n in names}


def compare(got, want):
    bad = 0
    for name, value in want.items():
        if name not in got:
            print(f"missing {name}")
            bad += 1
        elif got[name] != value:
            print(f"mismatch {name}: got {len(got[name])} bytes, expected {len(value)}")
            bad += 1
    for name in got:
        if name not in want:
            print(f"unexpected {name}")
            bad += 1
    if not bad:
        print(f"ok {len(want)} values")
    return 1 if bad else 0


def check_json(path):
    with open(path, "rb") as f:
        data = json.loads(f.read().decode("utf-8"))
    return compare({k: v.encode() for k, v in data.items()}, expected())


def check_docker():
    text = sys.stdin.read()
    m = re.search(r"HAROMBE-ENV ([A-Za-z0-9+/=]+)", text)
    if not m:
        print("docker CLI did not reach the engine (env file refused?)")
        return 1
    env = json.loads(base64.b64decode(m.group(1)))
    got = {}
    for item in env:
        k, _, v = item.partition("=")
        got[k] = v.encode()
    want = expected()
    return compare({k: v for k, v in got.items() if k in want or k.startswith("HAROMBE")}, want)


# systemd's generator prints NAME=VALUE, quoting VALUE in shell style with
# C escapes when needed (systemd's shell_maybe_quote + cescape).
ESC = {"n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f",
       "v": b"\v", "\\": b"\\", '"': b'"', "'": b"'", "$": b"$", "`": b"`"}


def unquote(v):
    if not (v.startswith(b'"') and v.endswith(b'"')):
        return v
    v, out, i = v[1:-1], b"", 0
    while i < len(v):
        c = v[i:i + 1]
        if c == b"\\":
            n = v[i + 1:i + 2].decode("latin-1")
            if n == "x":
                out += bytes([int(v[i + 2:i + 4], 16)])
                i += 4
                continue
            if n in ESC:
                out += ESC[n]
                i += 2
                continue
            raise ValueError(f"unknown escape \\{n}")
        out += c
        i += 1
    return out


def check_systemd():
    want = expected()
    got = {}
    for line in sys.stdin.buffer.read().split(b"\n"):
        k, sep, v = line.partition(b"=")
        if sep and k.decode() in want:
            got[k.decode()] = unquote(v)
    return compare(got, want)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "json":
        sys.exit(check_json(sys.argv[2]))
    if cmd == "docker":
        sys.exit(check_docker())
    if cmd == "systemd":
        sys.exit(check_systemd())
    sys.exit(2)
