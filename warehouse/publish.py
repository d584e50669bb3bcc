"""Publish a read-only snapshot of the warehouse for analysts, by atomic rename, only once it is proven.

Publishing is the one step an analyst sees, so nothing is renamed over the previous snapshot unless the
copy is known good:

1. ``CHECKPOINT`` the warehouse (under the run's lock, with no other connection open), so that the
   last commit is in the main file and not only in its ``.wal``; a ``.wal`` left after it is refused.
2. Copy the file to a temporary beside the target and ``fsync`` it.
3. Open the copy read-only and check it: the run is ``success`` and, for a run that plans, its plan
   tables have rows; no run is still ``running`` in it.
4. Rename the copy over the target (``os.replace``, atomic) and ``fsync`` the folder.

On any failure the previous snapshot stays as it was and the error goes up (the run exits non-zero).
The temporary is removed on every exit path; one left by a killed process (``.<name>.<pid>.tmp`` whose
process is gone) is removed by the next publish.

Every derived file is named after the warehouse (``<stem>.published.duckdb``, see :mod:`warehouse.paths`),
so two warehouses in one folder never overwrite each other's snapshot.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb

from data_contracts import schema
from warehouse.connection import connect
from warehouse.lock import process_alive
from warehouse.paths import published_path

__all__ = ["PublishError", "published_path", "publish_snapshot", "remove_stale_temporaries", "verify_snapshot"]

#: Run kinds that produce a plan: their snapshot must hold plan rows.
_PLANNING_KINDS = ("weekly_planning", "replan", "scenario")
#: Plan tables a planning run's snapshot must have rows in.
_PLAN_TABLES = (schema.PLAN_KPIS.name, schema.PLAN_INVENTORY.name)


class PublishError(RuntimeError):
    """The snapshot could not be proven good; the previous one stays published."""


def publish_snapshot(
    warehouse: Path | str, run_id: str | None = None, before_rename: Callable[[], None] | None = None
) -> Path:
    """Checkpoint, copy, verify and atomically rename the warehouse over its published snapshot.

    Readers holding the previous snapshot open keep reading it (the rename unlinks the old name only);
    new readers see the new snapshot whole.

    Args:
        warehouse: the warehouse file (the caller holds its lock and no connection to it).
        run_id: the run being published; None checks only that no run is left ``running``.
        before_rename: called once the copy is verified, just before the rename (fault injection).

    Raises:
        PublishError: the copy is not a complete snapshot of a succeeded run; nothing was renamed.
        OSError: the copy could not be written (a full disk); nothing was renamed.
    """
    source = Path(warehouse)
    target = published_path(source)
    remove_stale_temporaries(target)
    _checkpoint(source)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(source, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        verify_snapshot(tmp, run_id)
        if before_rename is not None:
            before_rename()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return target


def verify_snapshot(path: Path | str, run_id: str | None = None) -> None:
    """Open a snapshot read-only and check it is complete; see the module docstring.

    Raises:
        PublishError: names what is wrong (the run's status, an empty plan table, a run still running).
    """
    path = Path(path)
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise PublishError(f"the snapshot copy {path.name} cannot be opened: {_first_line(exc)}; "
                           "the previous snapshot stays published.") from None
    try:
        running = con.execute(f"SELECT count(*) FROM {schema.RUNS.name} WHERE status = 'running'").fetchone()[0]
        if running:
            raise PublishError(f"the snapshot copy shows {running} run(s) still running: not a finished state; "
                               "the previous snapshot stays published.")
        if run_id is None:
            return
        row = con.execute(f"SELECT kind, status FROM {schema.RUNS.name} WHERE run_id = ?", [run_id]).fetchone()
        if row is None or row[1] != "success":
            raise PublishError(f"run {run_id} is {'missing' if row is None else row[1]} in the snapshot copy, "
                               "not success; the previous snapshot stays published.")
        if row[0] in _PLANNING_KINDS:
            for table in _PLAN_TABLES:
                n = con.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id]).fetchone()[0]
                if n == 0:
                    raise PublishError(f"run {run_id} has no rows in {table} in the snapshot copy; "
                                       "the previous snapshot stays published.")
    except duckdb.Error as exc:
        raise PublishError(f"the snapshot copy {path.name} cannot be read: {_first_line(exc)}; "
                           "the previous snapshot stays published.") from None
    finally:
        con.close()


def remove_stale_temporaries(target: Path) -> list[Path]:
    """Remove ``.<target>.<pid>.tmp`` files whose process is gone (a publish killed half-way)."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(\d+)\.tmp")
    removed = []
    if not target.parent.is_dir():
        return removed
    for path in target.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _checkpoint(source: Path) -> None:
    con = connect(source)  # waits a bounded time for a reader holding the file
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = source.with_name(source.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise PublishError(f"{wal.name} still holds commits after CHECKPOINT (another connection open?); "
                           "the previous snapshot stays published.")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
