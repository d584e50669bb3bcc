"""What a command pays outside its stages: the warehouse is migrated once per schema, not at every
connection, and the console script ends without tearing the interpreter down (exit handlers still run,
exit codes and output are unchanged, a running thread is waited for)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from data_contracts import schema
from warehouse.db import open_warehouse
from warehouse.layout import _schema_mark
from warehouse.views import VIEWS

ROOT = Path(__file__).resolve().parents[1]


def _mark(wh) -> str | None:
    rows = wh.con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = ?",
                          [schema.RUNS.name]).fetchall()
    return rows[0][0] if rows else None


def _views(wh) -> set[str]:
    return {r[0] for r in wh.con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}


def test_a_warehouse_is_migrated_once_per_schema(tmp_path):
    path = tmp_path / "w.duckdb"
    with open_warehouse(path) as wh:  # a new file: every table and view, and the schema's mark
        assert _mark(wh) == _schema_mark() and _views(wh) >= set(VIEWS)
        view = next(iter(VIEWS))
        wh.con.execute(f"DROP VIEW {view}")
    with open_warehouse(path) as wh:  # the mark is this code's: nothing is re-created (the check is the mark)
        assert view not in _views(wh)
        wh.con.execute(f"COMMENT ON TABLE {schema.RUNS.name} IS 'plantwin-schema older'")  # an older code's
        wh.con.execute(f"ALTER TABLE {schema.RUNS.name} DROP COLUMN finished_at")
    with open_warehouse(path) as wh:  # another mark: migrated again, the view and the column are back
        assert view in _views(wh) and _mark(wh) == _schema_mark()
        columns = {r[0] for r in wh.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [schema.RUNS.name]
        ).fetchall()}
        assert "finished_at" in columns
    with open_warehouse(path, read_only=True) as wh:
        assert _mark(wh) == _schema_mark()


def _script(body: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(body)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_console_script_runs_exit_handlers_and_keeps_codes_and_output(tmp_path):
    out = tmp_path / "dictionary.md"
    done = _script(f"""
        import atexit, sys
        atexit.register(lambda: open("handler-ran", "w").write("yes"))
        sys.argv = ["plantwin", "dictionary", "--out", {str(out)!r}]
        from cli.main import main
        main()
        """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "handler-ran").read_text() == "yes"
    assert str(out) in done.stdout and out.read_text().count("\n") > 50
    refused = _script(f"""
        import sys
        sys.argv = ["plantwin", "run", "--input", {str(tmp_path / "nope")!r}, "--warehouse", "w.duckdb"]
        from cli.main import main
        main()
        """, tmp_path)
    assert refused.returncode == 2 and "no input folder" in refused.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_the_console_script_waits_for_a_running_thread(tmp_path):
    done = _script(f"""
        import sys, threading, time
        def late():
            time.sleep(0.5)
            open("thread-done", "w").write("yes")
        threading.Thread(target=late).start()
        sys.argv = ["plantwin", "dictionary", "--out", {str(tmp_path / "d.md")!r}]
        from cli.main import main
        main()
        """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "thread-done").read_text() == "yes"
