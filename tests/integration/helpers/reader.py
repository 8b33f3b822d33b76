#!/usr/bin/env python3
"""reader.py PATH DIR: a reader that waits for orders.  Each time a file
DIR/go.N appears (N = 1, 2, ...), it reads PATH and writes "ok" or the
errno name to DIR/res.N.  Its pid goes to DIR/pid; DIR/quit ends it."""
import errno
import os
import sys
import time

path, d, n = sys.argv[1], sys.argv[2], 1
with open(os.path.join(d, "pid.tmp"), "w") as f:
    f.write(f"{os.getpid()}\n")
os.rename(os.path.join(d, "pid.tmp"), os.path.join(d, "pid"))
while True:
    go = os.path.join(d, f"go.{n}")
    if os.path.exists(os.path.join(d, "quit")):
        break
    if not os.path.exists(go):
        time.sleep(0.02)
        continue
    try:
        with open(path, "rb") as f:
            f.read()
        res = "ok"
    except OSError as e:
        res = errno.errorcode.get(e.errno, str(e.errno))
    with open(os.path.join(d, f"res.{n}.tmp"), "w") as f:
        f.write(res + "\n")
    os.rename(os.path.join(d, f"res.{n}.tmp"), os.path.join(d, f"res.{n}"))
    n += 1
