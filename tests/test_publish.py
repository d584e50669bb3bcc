"""Publish only what is proven: checkpoint, copy, verify, atomic rename; the previous snapshot survives
every failure; temporaries never stay; derived files are named after their warehouse. Real DuckDB files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data_contracts import schema
from warehouse.db import open_warehouse
from warehouse.paths import data_docs_dir, latest_report_path, published_path
from warehouse.publish import PublishError, publish_snapshot, remove_stale_temporaries


def _row(table: schema.Table) -> pl.DataFrame:
    """One row of a plan table (run_id filled in by the commit)."""
    cols = {c: t for c, t in table.schema.items() if c != "run_id"}
    sample = {pl.String: "x", pl.Float64: 1.0, pl.Int64: 1, pl.Date: date(2026, 5, 4), pl.Boolean: True}
    return pl.DataFrame([{c: sample.get(t, None) for c, t in cols.items()}], schema=cols)


def _run(wh_path: Path, *, plan_rows: bool = True, finish: str = "commit") -> str:
    with open_warehouse(wh_path) as wh:
        run = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 5, 4), parameters={},
                           code_version="test")
        if plan_rows:
            for table in (schema.PLAN_KPIS, schema.PLAN_INVENTORY):
                wh.stage(run, table.name, _row(table))
        if finish == "commit":
            wh.commit_run(run)
        elif finish == "fail":
            wh.fail_run(run, "boom")
    return run


def _runs_in(snapshot: Path) -> dict[str, str]:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return dict(con.execute("SELECT run_id, status FROM runs").fetchall())
    finally:
        con.close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_succeeded_run_is_published_under_the_warehouses_name(tmp_path):
    wh = tmp_path / "plan.duckdb"
    run = _run(wh)
    assert publish_snapshot(wh, run) == tmp_path / "plan.published.duckdb"
    assert _runs_in(published_path(wh)) == {run: "success"}
    assert _leftovers(tmp_path) == []


def test_two_warehouses_in_one_folder_never_share_a_derived_file(tmp_path):
    a, b = tmp_path / "plan.duckdb", tmp_path / "test.duckdb"
    for f in (published_path, latest_report_path, data_docs_dir):
        assert f(a) != f(b) and f(a).parent == tmp_path
    run_a, run_b = _run(a), _run(b)
    publish_snapshot(a, run_a)
    publish_snapshot(b, run_b)
    assert _runs_in(published_path(a)) == {run_a: "success"} and _runs_in(published_path(b)) == {run_b: "success"}


@pytest.mark.parametrize("case, match", [
    ("running", r"still running"),
    ("failed", r"is failed in the snapshot copy, not success"),
    ("no plan", r"has no rows in plan_kpis"),
])
def test_an_unproven_snapshot_is_refused_and_the_previous_one_kept(tmp_path, case, match):
    wh = tmp_path / "warehouse.duckdb"
    good = _run(wh)
    publish_snapshot(wh, good)
    before = published_path(wh).read_bytes()
    if case == "running":
        bad = _run(wh, finish="none")
    elif case == "failed":
        bad = _run(wh, finish="fail")
    else:
        bad = _run(wh, plan_rows=False)
    with pytest.raises(PublishError, match=match):
        publish_snapshot(wh, bad)
    assert published_path(wh).read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_the_last_commit_in_the_wal_is_checkpointed_before_the_copy(tmp_path):
    """A process that committed and died before its checkpoint leaves the commit in ``.wal`` only."""
    wh = tmp_path / "warehouse.duckdb"
    _run(wh)  # the file exists with its schema
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from datetime import date
        from pathlib import Path
        from data_contracts import schema
        from test_publish import _row
        from warehouse.connection import connect
        from warehouse.db import Warehouse
        con = connect({str(wh)!r})
        con.execute("SET checkpoint_threshold = '1GB'")
        wh = Warehouse(con, Path({str(wh)!r}))
        run = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 5, 4), parameters={{}},
                           code_version="test")
        for table in (schema.PLAN_KPIS, schema.PLAN_INVENTORY):
            wh.stage(run, table.name, _row(table))
        wh.commit_run(run)
        print(run, flush=True)
        os._exit(0)  # no close, no checkpoint: the commit is only in the WAL
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    run = out.stdout.split()[-1]
    assert Path(f"{wh}.wal").stat().st_size > 0
    publish_snapshot(wh, run)
    assert _runs_in(published_path(wh))[run] == "success"


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    target = published_path(wh)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        stale = tmp_path / f".{target.name}.{dead.pid}.tmp"
        live = tmp_path / f".{target.name}.{alive.pid}.tmp"
        other = tmp_path / f".other.published.duckdb.{dead.pid}.tmp"
        for p in (stale, live, other):
            p.write_bytes(b"half a copy")
        assert remove_stale_temporaries(target) == [stale]
        assert live.exists() and other.exists() and not stale.exists()
        live.unlink()
        stale.write_bytes(b"half a copy")
        publish_snapshot(wh, _run(wh))  # the next publish cleans up after a killed one
        assert _leftovers(tmp_path) == [other.name]
    finally:
        alive.kill()
        alive.wait()


def test_a_full_disk_during_the_copy_keeps_the_previous_snapshot(tmp_path):
    """The warehouse and its snapshot on a tmpfs too small for a second copy."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; run as root or in a container that allows it")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("this machine does not allow mounting a tmpfs")
    try:
        wh = mnt / "warehouse.duckdb"
        publish_snapshot(wh, _run(wh))
        before = published_path(wh).read_bytes()
        run = _run(wh)
        ballast = mnt / "ballast"
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        ballast.write_bytes(b"\0" * max(0, free - wh.stat().st_size // 2))  # room for half a copy
        with pytest.raises(OSError) as err:
            publish_snapshot(wh, run)
        assert err.value.errno == 28  # ENOSPC
        assert published_path(wh).read_bytes() == before
        assert _leftovers(mnt) == []
        ballast.unlink()
        publish_snapshot(wh, run)  # space again: the next publish succeeds
        assert _runs_in(published_path(wh))[run] == "success"
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _hold(path: Path, seconds: float, read_only: bool = True) -> subprocess.Popen:
    """Another process holding ``path`` open (an analyst's session on the working file)."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(path)!r}, read_only={read_only})
        print("open", flush=True)
        time.sleep({seconds})
    """)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_a_stage_meeting_a_readers_lock_waits_for_it(tmp_path):
    from warehouse.connection import connect

    wh = tmp_path / "warehouse.duckdb"
    _run(wh)
    reader = _hold(wh, 1.5)
    try:
        con = connect(wh, wait_seconds=30)  # waits until the reader is gone, then writes
        con.execute("CREATE TABLE after_the_reader AS SELECT 1 AS n")
        con.close()
    finally:
        reader.wait(timeout=30)


def test_a_lock_held_beyond_the_wait_names_the_readers_file(tmp_path):
    from warehouse.connection import WarehouseLocked, connect

    wh = tmp_path / "warehouse.duckdb"
    _run(wh)
    reader = _hold(wh, 30)
    try:
        with pytest.raises(WarehouseLocked, match=r"another process holds a conflicting lock \(waited 0.5 s\).*"
                           r"Readers open warehouse.published.duckdb instead"):
            connect(wh, wait_seconds=0.5)
    finally:
        reader.kill()
        reader.wait()
