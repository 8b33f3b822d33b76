#!/usr/bin/env python3
"""ptrace_seize.py PID STOP: attach to PID with PTRACE_SEIZE (the tracee is
not stopped; its TracerPid becomes ours), print "seized", hold until the
file STOP exists, then detach by exiting."""
import ctypes
import os
import sys
import time

PTRACE_SEIZE = 0x4206
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.ptrace.restype = ctypes.c_long
pid = int(sys.argv[1])
if libc.ptrace(PTRACE_SEIZE, pid, None, None) != 0:
    print(f"seize failed: {os.strerror(ctypes.get_errno())}", flush=True)
    sys.exit(1)
print("seized", flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
