"""What systemd does for a service's processes, for the lab's stand-in systemctl.

    reaper.py COMMAND [ARGUMENT...]

Runs the command as a child and stays its parent as a child subreaper
(PR_SET_CHILD_SUBREAPER), so processes the service leaves behind are reaped here
rather than by the machine's init, which in a sandbox may never reap them: a
zombie keepalived VRRP process would keep its pid alive, and the next keepalived
would take it for a running instance and exit. SIGHUP and SIGTERM go on to the
command. When the command exits, the rest of its processes are killed and reaped
(systemd's KillMode=control-group), and the reaper exits as the command did.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36

ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
main = os.fork()
if main == 0:
    os.execvp(sys.argv[1], sys.argv[1:])

for forwarded in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
    signal.signal(forwarded, lambda number, _frame: os.kill(main, number))


def children():
    """This process's live children: the command, and orphans reparented here."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] not in "ZX":
            found.append(int(entry))
    return found


status = 0
while True:
    try:
        pid, wait_status = os.waitpid(-1, 0)
    except InterruptedError:
        continue
    except ChildProcessError:
        break
    if pid == main:
        status = os.waitstatus_to_exitcode(wait_status)
        break


# The command is gone: whatever it left is killed, and every child reaped until
# none is left, zombies included. A child may die between a look at the live ones
# and the next wait: only waitpid's ECHILD says that nothing is left to reap.
for _ in range(250):
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        break
    for pid in children():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.02)
sys.exit(status if status >= 0 else 128 - status)
