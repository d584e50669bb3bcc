"""Child processes die with the process that started them, even on ``kill -9``.

Prefect's temporary API server (started when no ``PREFECT_API_URL`` is set) is a child process that
Prefect stops at interpreter exit, which a killed process never reaches: the server then runs on,
holding a port and memory. :func:`temporary_server_dies_with_us` starts that server up front and a
small watchdog beside it, in its own session, that stops the server as soon as this process is gone
(whatever ended it) and exits on its own once the server has stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from warehouse.lock import process_alive  # light: the watchdog process imports no DuckDB or Prefect

__all__ = ["temporary_server_dies_with_us", "tie_to_this_process"]

def _watch(parent: int, child: int) -> None:
    """The watchdog: polls its parent and the child it guards; when the parent is gone, TERM then KILL."""
    while process_alive(child):
        if not process_alive(parent) or os.getppid() != parent:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
                try:
                    os.kill(child, sig)
                except ProcessLookupError:
                    return
                deadline = time.monotonic() + wait
                while process_alive(child) and time.monotonic() < deadline:
                    time.sleep(0.1)
            return
        time.sleep(0.25)


def tie_to_this_process(pid: int) -> subprocess.Popen:
    """Start a watchdog that ends process ``pid`` when this process ends (also on SIGKILL).

    The watchdog runs in its own session (a terminal's Ctrl-C does not reach it) and exits by itself
    once ``pid`` has ended.
    """
    # the folder holding this package first on the path: the watchdog runs this very code, from any folder
    root = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-m", "flows.lifetime", str(os.getpid()), str(pid)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True, env={**os.environ, "PYTHONPATH": path},
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


def main(argv: list[str] | None = None) -> None:
    """``python -m flows.lifetime PARENT CHILD``: the watchdog that :func:`tie_to_this_process` starts."""
    parser = argparse.ArgumentParser(prog="python -m flows.lifetime", description="Watchdog: ends CHILD "
                                     "(TERM, then KILL after 5 s) once PARENT is gone; exits when CHILD has.")
    parser.add_argument("parent", type=int, help="pid of the process whose end ends CHILD")
    parser.add_argument("child", type=int, help="pid of the process to end")
    args = parser.parse_args(argv)
    _watch(args.parent, args.child)


if __name__ == "__main__":
    main()
