"""The watchdog of flows/lifetime.py: a process it guards ends when the process that started it is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import flows.lifetime
import warehouse.publish
from warehouse.lock import process_alive

ROOT = Path(__file__).resolve().parents[1]

#: a parent that starts a long sleeper, ties it to itself, says the sleeper's pid and waits to be killed
_PARENT = """
import subprocess, sys, time
from flows.lifetime import tie_to_this_process
sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
tie_to_this_process(sleeper.pid)
print(sleeper.pid, flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie its new parent has not reaped yet."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def test_one_alive_check_serves_the_publish_and_the_watchdog():
    assert flows.lifetime.process_alive is process_alive is warehouse.publish.process_alive
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    assert process_alive(os.getpid()) and not process_alive(finished.pid)


def test_the_guarded_process_ends_when_its_parent_is_killed(tmp_path):
    # started from another folder: the watchdog finds its own code wherever the run was started
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              text=True)
    sleeper = int(parent.stdout.readline())
    try:
        time.sleep(0.5)
        assert not _gone(sleeper), "the watchdog ended the sleeper while its parent lived"
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 20
        while not _gone(sleeper) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _gone(sleeper), "the sleeper outlived its killed parent"
    finally:
        parent.kill()
        if not _gone(sleeper):
            os.kill(sleeper, signal.SIGKILL)
