"""A DuckDB connection to the warehouse file, opened the pipeline's way: no progress bar on the console, and a
conflicting lock waited out for a while (:data:`LOCK_WAIT_SECONDS`) before :class:`WarehouseLocked` is raised.

:func:`warehouse.db.open_warehouse` opens every :class:`~warehouse.db.Warehouse` with :func:`connect`; the
published snapshot, the report, the dry run and the command line's read-only commands connect with it
directly. It imports nothing of :mod:`warehouse.db`.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

__all__ = ["LOCK_WAIT_SECONDS", "WarehouseLocked", "connect"]


#: How long opening the warehouse waits for another process's conflicting lock (a reader holding
#: the file while a stage wants to write, or a writer while a reader opens it) before giving up.
LOCK_WAIT_SECONDS = 60.0
_LOCK_POLL_SECONDS = 0.25


class WarehouseLocked(RuntimeError):
    """Another process kept a conflicting lock on the warehouse file longer than the wait allows."""


def connect(
    path: Path | str, read_only: bool = False, wait_seconds: float | None = None
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for the pipeline, without the progress bar DuckDB otherwise draws on the
    console for any query over 2 s, in the middle of the command line's own output.

    DuckDB allows one writing process or many reading ones. A connection meeting a conflicting lock (an
    analyst's read-only session on the warehouse during a run, or a run while a reader opens it) waits
    and tries again for up to ``wait_seconds`` (default :data:`LOCK_WAIT_SECONDS`) instead of failing at once.

    Raises:
        WarehouseLocked: the lock was still held after the wait; names the file and the read-only
            snapshot readers should open instead.
    """
    wait = LOCK_WAIT_SECONDS if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                from warehouse.paths import published_path

                raise WarehouseLocked(
                    f"{path}: another process holds a conflicting lock (waited {wait:g} s): "
                    f"{str(exc).strip().splitlines()[0]}. Readers open {published_path(path).name} "
                    "instead, which a run never locks."
                ) from None
            time.sleep(_LOCK_POLL_SECONDS)
    con.execute("SET enable_progress_bar = false")
    return con
