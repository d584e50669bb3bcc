"""A lock on the warehouse file so that two runs never interleave their writes."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["WarehouseBusy", "process_alive", "warehouse_lock"]


class WarehouseBusy(RuntimeError):
    """Another run holds the warehouse longer than this one may wait."""


@contextmanager
def warehouse_lock(path: Path | str, wait_seconds: float = 0.0, poll_seconds: float = 0.5) -> Iterator[None]:
    """Hold an exclusive lock on ``<warehouse>.lock`` for the duration of a run.

    Args:
        path: the warehouse file.
        wait_seconds: how long to wait for another run to finish before giving up.
        poll_seconds: how often to try again while waiting.

    Raises:
        WarehouseBusy: the lock was still held after ``wait_seconds``; names the holder's process id.
    """
    lock_path = Path(f"{path}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait_seconds
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                    raise WarehouseBusy(
                        f"warehouse {path} is in use by another run (process {holder}); waited "
                        f"{wait_seconds:.0f} s. Try again when it has finished."
                    ) from None
                time.sleep(poll_seconds)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts): the one check behind the publish's
    stale temporaries and the flows' watchdog (``flows.lifetime``), which imports only this light module."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
