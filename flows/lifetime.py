"""Child processes die with the process that started them, even on ``kill -9``.

Prefect's temporary API server (started when no ``PREFECT_API_URL`` is set) is a child process that
Prefect stops at interpreter exit, which a killed process never reaches: the server then runs on,
holding a port and memory. :func:`temporary_server_dies_with_us` starts that server up front and a
small watchdog beside it, in its own session, that stops the server as soon as this process is gone
(whatever ended it) and exits on its own once the server has stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["temporary_server_dies_with_us", "tie_to_this_process"]

#: The watchdog: polls its parent and the child it guards; when the parent is gone, TERM then KILL.
_WATCHDOG = """
import os, signal, sys, time
parent, child = int(sys.argv[1]), int(sys.argv[2])
def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
while alive(child):
    if not alive(parent) or os.getppid() != parent:
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                sys.exit(0)
            deadline = time.monotonic() + wait
            while alive(child) and time.monotonic() < deadline:
                time.sleep(0.1)
        sys.exit(0)
    time.sleep(0.25)
"""


def tie_to_this_process(pid: int) -> subprocess.Popen:
    """Start a watchdog that ends process ``pid`` when this process ends (also on SIGKILL).

    The watchdog runs in its own session (a terminal's Ctrl-C does not reach it) and exits by itself
    once ``pid`` has ended.
    """
    return subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(pid)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True,
    )


def temporary_server_dies_with_us() -> int | None:
    """Start Prefect's temporary server now, tied to this process; its pid, or None when a server is
    configured (``PREFECT_API_URL``) and none is started."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance Prefect's client uses when no API URL is set
    server.start()
    process = server.server_process
    if process is None:
        return None
    tie_to_this_process(process.pid)
    return process.pid
