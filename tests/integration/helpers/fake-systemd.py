#!/usr/bin/python3
"""A stand-in for systemd running one Type=notify service, for the tests:
systemd cannot be started on our machines (it is not PID 1, and booting it
in a namespace would clean the host's /tmp).  It implements the parts of
systemd that harombefs.service relies on, as systemd.service(5) and
sd_notify(3) describe them:

  ExecStartPre=+   run with $NOTIFY_SOCKET; it may store descriptors
  ExecStart=       the main process, given the fd store in LISTEN_FDS,
                   LISTEN_PID and LISTEN_FDNAMES
  NotifyAccess=exec  messages from the main or the current control process
  FileDescriptorStoreMax=  FDSTORE=1 + FDNAME=, FDSTOREREMOVE=1, BARRIER=1
  ExecReload=kill -HUP $MAINPID   on SIGHUP to this process
  ExecStopPost=+   with SERVICE_RESULT, EXIT_CODE and EXIT_STATUS
  Restart=on-failure  a main process that did not end in success starts
                   again (ExecStartPre= included); the fd store is kept
  stop             on SIGTERM to this process: SIGTERM to the main process,
                   ExecStopPost=, the fd store released, exit 0

usage: fake-systemd.py LOG SOCKET -- PRE... -- MAIN... -- POST...

Every event is a line in LOG: "notify PID main|control MESSAGE-LINE",
"fdstore NAME", "start-pre rc=N", "main PID", "main-exit CODE STATUS",
"stop-post RESULT rc=N", "restart", "stopped"."""
import array
import os
import signal
import socket
import struct
import sys
import time

log_path, sock_path = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
cmds, cur = [], None
for a in rest:
    if a == "--":
        cur = []
        cmds.append(cur)
    else:
        cur.append(a)
PRE, MAIN, POST = cmds

logf = open(log_path, "a", buffering=1)


def log(line):
    logf.write(line + "\n")


if os.path.exists(sock_path):
    os.unlink(sock_path)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(sock_path)
sock.setblocking(False)

store = []          # [(name, fd)], oldest first
main_pid = 0
control_pid = 0
flags = {"term": False, "hup": False}
signal.signal(signal.SIGTERM, lambda *a: flags.__setitem__("term", True))
signal.signal(signal.SIGHUP, lambda *a: flags.__setitem__("hup", True))


def on_messages():
    while True:
        try:
            msg, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 16))
        except BlockingIOError:
            return
        fds, pid = [], 0
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(data[: len(data) - len(data) % a.itemsize])
                fds.extend(a)
            elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", data[:12])[0]
        who = "main" if pid and pid == main_pid else "control" if pid and pid == control_pid else None
        if who is None:
            log("rejected %d" % pid)
            for fd in fds:
                os.close(fd)
            continue
        lines = msg.decode(errors="replace").split("\n")
        for line in lines:
            if line:
                log("notify %d %s %s" % (pid, who, line))
        name = next((l[7:] for l in lines if l.startswith("FDNAME=")), "stored")
        if "FDSTORE=1" in lines:
            for fd in fds:
                store.append((name, fd))
                log("fdstore " + name)
            fds = []
        if "FDSTOREREMOVE=1" in lines:
            for n, fd in [e for e in store if e[0] == name]:
                os.close(fd)
                store.remove((n, fd))
                log("fdstoreremove " + name)
        for fd in fds:      # BARRIER=1: closing it is the answer
            os.close(fd)


def spawn(argv, env_extra=None, pass_store=False):
    pid = os.fork()
    if pid == 0:
        try:
            env = dict(os.environ)
            env["NOTIFY_SOCKET"] = sock_path
            env.update(env_extra or {})
            if pass_store and store:
                high = [os.dup(fd) for _, fd in store]
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i, inheritable=True)
                env["LISTEN_FDS"] = str(len(store))
                env["LISTEN_PID"] = str(os.getpid())
                env["LISTEN_FDNAMES"] = ":".join(n for n, _ in store)
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    return pid


def wait_for(pid):
    """Wait for pid while serving notifications; returns the wait status."""
    while True:
        on_messages()
        w, st = os.waitpid(pid, os.WNOHANG)
        if w == pid:
            on_messages()
            return st
        if flags["hup"] and pid == main_pid:
            flags["hup"] = False
            os.kill(main_pid, signal.SIGHUP)
        if flags["term"] and pid == main_pid:
            flags["term"] = False
            flags["stopping"] = True
            os.kill(main_pid, signal.SIGTERM)
        time.sleep(0.02)


def run_control(argv, env_extra=None):
    global control_pid
    control_pid = spawn(argv, env_extra)
    st = wait_for(control_pid)
    control_pid = 0
    return os.waitstatus_to_exitcode(st)


while True:
    rc = run_control(PRE)
    log("start-pre rc=%d" % rc)
    if rc != 0:
        # (systemd would retry; a test wants to see it fail once)
        result, code, status = "exit-code", "pre", str(rc)
    else:
        main_pid = spawn(MAIN, pass_store=True)
        log("main %d" % main_pid)
        st = wait_for(main_pid)
        main_pid = 0
        if os.WIFSIGNALED(st):
            sig = os.WTERMSIG(st)
            code, status = "killed", signal.Signals(sig).name[3:]
            # a main process that SIGTERM ended during a stop succeeded
            result = "success" if flags.get("stopping") and sig == signal.SIGTERM else "signal"
        else:
            code, status = "exited", str(os.WEXITSTATUS(st))
            result = "success" if os.WEXITSTATUS(st) == 0 else "exit-code"
        log("main-exit %s %s" % (code, status))
    rc = run_control(POST, {"SERVICE_RESULT": result, "EXIT_CODE": code, "EXIT_STATUS": status})
    log("stop-post %s rc=%d" % (result, rc))
    if result == "success" or flags.get("stopping") or flags["term"] or code == "pre":
        break
    log("restart")
for _, fd in store:
    os.close(fd)
log("stopped")
