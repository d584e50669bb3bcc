"""Fault injection: what an unlucky operator meets, on a small generated network, through the real CLI.

Each case asserts the one promise: the published snapshot is the previous good plan or the new complete
one, never anything in between, and the next run succeeds. The whole-flow cases run ``plantwin run`` as a
user does (a subprocess with its own temporary Prefect server) and are marked slow; they share one
warehouse, so every kill adds its damage to the last and the final runs must succeed on top of all of it.

Cases (see also tests/test_publish.py for the disk-full and WAL cases, tests/test_arrival.py for a file
changed during the read):
* ``kill -9`` at five named points (``PLANTWIN_FAULT_KILL_AT``, :func:`flows.stages.fault_point`): the
  temporary Prefect server dies with the killed run, a half-written snapshot copy is removed by the next run;
* an input file still being written when the run starts: the run waits, then fails, nothing published;
* a reader holding ``warehouse.duckdb`` and a concurrent second run, at once: both runs succeed;
* a forecast worker pool whose parent is killed: the workers die too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import duckdb
import pytest

from data_contracts import schema
from flows.stages import FAULT_ENV
from demo.network import DEMO_RUN_DATE, demo_network, write_demo
from warehouse.paths import published_path

PLANTWIN = Path(sys.executable).with_name("plantwin")
KILL_POINTS = ("ingest-landed", "forecast", "plan-solved", "publish-rename", "report")


def _env(tag: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # each run starts its own server
    return {**env, "PLANTWIN_TEST_TAG": tag, **extra}


def _run(folder: Path, warehouse: Path, tag: str, *extra: str, env: dict[str, str] | None = None,
         wait: bool = True) -> subprocess.Popen | subprocess.CompletedProcess:
    args = [str(PLANTWIN), "run", "--input", str(folder), "--warehouse", str(warehouse), "--horizon", "8",
            "--run-date", DEMO_RUN_DATE.isoformat(), *extra]
    if not wait:
        return subprocess.Popen(args, env=env or _env(tag), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=warehouse.parent)
    return subprocess.run(args, env=env or _env(tag), capture_output=True, text=True, timeout=900,
                          cwd=warehouse.parent)


def _tagged(tag: str) -> list[int]:
    """Processes started with ``PLANTWIN_TEST_TAG=tag`` in their environment (the run and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"PLANTWIN_TEST_TAG={tag}".encode() in (entry / "environ").read_bytes().split(b"\0"):
                state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State")), "")
                if "Z" not in state.split()[1:2]:
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _gone(tag: str, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not _tagged(tag):
            return True
        time.sleep(0.25)
    return False


def _snapshot_state(path: Path) -> tuple[int, int, str | None]:
    """(runs still running, succeeded runs, latest base run) of a published snapshot; a complete one
    has no running run and plan rows for its latest base run."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        running = con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0]
        ok = con.execute("SELECT count(*) FROM runs WHERE status = 'success'").fetchone()[0]
        latest = con.execute("SELECT run_id FROM latest_base_run").fetchone()
        latest_id = latest[0] if latest else None
        kpis = con.execute("SELECT count(*) FROM plan_kpis WHERE run_id = ?", [latest_id]).fetchone()[0]
        assert kpis > 0, f"the snapshot's latest base run {latest_id} has no KPIs"
        return running, ok, latest_id
    finally:
        con.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("faults") / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)  # with _READY: no settle wait
    return folder


@pytest.mark.slow
def test_kill_9_at_every_stage_then_the_next_runs_succeed(inputs, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    first = _run(inputs, warehouse, uuid.uuid4().hex)
    assert first.returncode == 0, first.stderr
    survived = []
    for point in KILL_POINTS:
        before = published_path(warehouse).read_bytes()
        before_state = _snapshot_state(published_path(warehouse))
        tag = uuid.uuid4().hex
        killed = _run(inputs, warehouse, tag, env=_env(tag, **{FAULT_ENV: point}))
        assert killed.returncode == -signal.SIGKILL, (point, killed.returncode, killed.stderr[-2000:])
        assert _gone(tag), f"{point}: processes of the killed run still alive: {_tagged(tag)}"
        state = _snapshot_state(published_path(warehouse))
        if point == "report":  # killed after the publish: the new complete snapshot
            assert state[0] == 0 and state[1] > before_state[1] and state[2] != before_state[2], point
        else:  # the previous good snapshot, byte for byte
            assert published_path(warehouse).read_bytes() == before, point
        if point == "publish-rename":  # the verified copy killed before its rename stays behind ...
            assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")], point
        else:  # ... until the next publish removes it
            assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")], point
        survived.append(point)
    assert survived == list(KILL_POINTS)

    # The next run, while an analyst holds warehouse.duckdb open and a second run starts beside it.
    reader = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, time
        con = duckdb.connect({str(warehouse)!r}, read_only=True)
        print("open", flush=True)
        time.sleep(4)
    """)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "open"
    tags = [uuid.uuid4().hex, uuid.uuid4().hex]
    runs = [_run(inputs, warehouse, tags[0], wait=False)]
    time.sleep(1.0)
    runs.append(_run(inputs, warehouse, tags[1], wait=False))
    outs = [r.communicate(timeout=900) for r in runs]
    reader.wait(timeout=60)
    for r, (out, err) in zip(runs, outs, strict=True):
        assert r.returncode == 0, err[-3000:]
        assert "fill rate" in out
    running, ok, _ = _snapshot_state(published_path(warehouse))
    assert running == 0
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        statuses = dict(con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall())
    finally:
        con.close()
    # runs killed before their commit are recorded failed (abandoned) by the next run; the first run, the
    # two killed after their commit (publish-rename, report) and the two last runs succeeded
    assert statuses == {"success": 5, "failed": 3}
    assert ok == 5
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # stale copy removed
    assert all(_gone(t) for t in tags)


@pytest.mark.slow
def test_a_file_still_being_written_is_not_planned_or_published(inputs, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    folder = tmp_path / "input"
    folder.mkdir()
    for f in inputs.iterdir():
        if f.name == schema.READY_MARKER:
            continue  # an exporter that writes no marker: the run waits for its files to settle
        (folder / f.name).write_bytes(f.read_bytes())
        os.utime(folder / f.name, (time.time() - 3600, time.time() - 3600))
    assert _run(folder, warehouse, uuid.uuid4().hex).returncode == 0
    before = published_path(warehouse).read_bytes()
    orders = (folder / "orders.csv").read_bytes()
    header, body = orders.split(b"\n", 1)
    stop = threading.Event()

    def exporter() -> None:  # rewrites orders.csv a chunk at a time, as a slow export does
        (folder / "orders.csv").write_bytes(header + b"\n")
        step = max(1, len(body) // 400)
        pos = 0
        while not stop.is_set():
            chunk = body[pos:pos + step] or body[:step]
            with (folder / "orders.csv").open("ab") as f:
                f.write(chunk)
            pos += step
            time.sleep(0.05)

    params = tmp_path / "params.yaml"
    params.write_text("input_settle_seconds: 0.5\ninput_settle_timeout_seconds: 3\n")
    writer = threading.Thread(target=exporter)
    writer.start()
    try:
        result = _run(folder, warehouse, uuid.uuid4().hex, "--params", str(params))
    finally:
        stop.set()
        writer.join()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "orders.csv still being written" in result.stderr and "rule: input_complete" in result.stderr
    assert published_path(warehouse).read_bytes() == before


def test_forecast_workers_die_with_a_killed_parent(tmp_path):
    script = textwrap.dedent("""
        import os, time
        from forecasting.engine import worker_pool

        def pid(_):
            time.sleep(0.2)
            return os.getpid()

        if __name__ == "__main__":
            with worker_pool(2) as pool:
                print(" ".join(str(p) for p in sorted(set(pool.map(pid, range(8))))), flush=True)
                time.sleep(60)
    """)
    (tmp_path / "parent.py").write_text(script)
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).parents[1], env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    workers = [int(p) for p in parent.stdout.readline().split()]
    assert workers and all(Path(f"/proc/{p}").exists() for p in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if Path(f"/proc/{p}").exists()]
