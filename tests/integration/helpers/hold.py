#!/usr/bin/env python3
"""hold.py PATH MAX EXTRA OUT STOP: a tenant that hogs handles.

Opens PATH up to MAX times and keeps every descriptor open.  After the first
failure it tries EXTRA more opens (a burst the daemon should audit once).
Writes "opened=K errno=NAME extra_failed=E" to OUT, then holds the
descriptors until the file STOP exists, and closes them.
"""
import errno
import os
import sys
import time

path, limit, extra, out, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
fds, err, failed = [], 0, 0
while len(fds) < limit:
    try:
        fds.append(os.open(path, os.O_RDONLY))
    except OSError as e:
        err = e.errno
        break
if err:
    for _ in range(extra):
        try:
            fds.append(os.open(path, os.O_RDONLY))
        except OSError:
            failed += 1
with open(out + ".tmp", "w") as f:
    f.write(f"opened={len(fds)} errno={errno.errorcode.get(err, '0') if err else '0'} extra_failed={failed}\n")
os.rename(out + ".tmp", out)
while not os.path.exists(stop):
    time.sleep(0.05)
for fd in fds:
    os.close(fd)
