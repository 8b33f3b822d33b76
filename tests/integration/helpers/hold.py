#!/usr/bin/env python3
"""hold.py PATH MAX EXTRA OUT STOP [RETRY_MS]: a tenant that hogs handles.

Opens PATH up to MAX times and keeps every descriptor open.  After the first
failure it tries EXTRA more opens (a burst the daemon should audit once).
Writes "opened=K errno=NAME extra_failed=E" to OUT, then holds the
descriptors until the file STOP exists, and closes them.  With RETRY_MS,
while it holds them it tries one more open every RETRY_MS ms (closing it
when it works) and at the end writes "retries=N ok=N errors=NAME:N,..."
to OUT.final.
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
retry = int(sys.argv[6]) / 1000 if len(sys.argv) > 6 else 0
tries, good, errs = 0, 0, {}
while not os.path.exists(stop):
    if not retry:
        time.sleep(0.05)
        continue
    time.sleep(retry)
    tries += 1
    try:
        os.close(os.open(path, os.O_RDONLY))
        good += 1
    except OSError as e:
        name = errno.errorcode.get(e.errno, str(e.errno))
        errs[name] = errs.get(name, 0) + 1
for fd in fds:
    os.close(fd)
if retry:
    with open(out + ".final.tmp", "w") as f:
        f.write(f"retries={tries} ok={good} errors={','.join(f'{k}:{v}' for k, v in sorted(errs.items())) or 'none'}\n")
    os.rename(out + ".final.tmp", out + ".final")
