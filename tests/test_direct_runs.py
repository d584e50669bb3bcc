"""The command line runs the same stages with or without Prefect, and both write identical tables.

``flows.pipeline`` holds each run's body once; the Prefect flows pass it their tasks, the CLI the plain
stages. A weekly run, a replan and a twin replay through each path, on the same small network, must leave
the same rows in every output table (run ids and timestamps aside). The direct path never imports Prefect,
and a refused command creates nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data_contracts import schema
from demo.network import DEMO_RUN_DATE, demo_network, write_demo
from flows import pipeline
from flows.settings import ReplanParameters, RunParameters, TwinParameters
from optimization import PlanConfig
from twin.config import TwinConfig
from warehouse.db import open_warehouse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
_VOLATILE = {"run_id", "base_run_id", "twin_id", "created_at", "started_at", "finished_at", "load_id",
             "loaded_at", "_load_id", "stage_seconds", "code_version", "solve_seconds"}


def _same_meaning(frame: pl.DataFrame) -> pl.DataFrame:
    """``runs``' JSON columns without what differs by construction: the warehouse path, the base run's id
    and the load ids (each run loads its own copy; the entities loaded must agree)."""
    if "parameters" not in frame.columns:
        return frame
    def params(text: str | None) -> str:
        value = json.loads(text or "{}")
        return json.dumps({k: v for k, v in value.items() if k not in ("warehouse", "base_run_id")},
                          sort_keys=True)
    return frame.with_columns(
        pl.col("parameters").map_elements(params, return_dtype=pl.String),
        pl.col("input_load_ids").map_elements(lambda t: ", ".join(sorted(json.loads(t or "{}"))),
                                              return_dtype=pl.String),
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("direct") / "input"
    write_demo(demo_network(products=6, dcs=2, weeks_history=80, seed=11), folder)
    return folder


def _run_both_ways(network: Path, root: Path, prefect: bool) -> Path:
    from flows.replan import replan
    from flows.twin_replay import twin_replay
    from flows.weekly import weekly_planning

    warehouse = root / ("prefect" if prefect else "direct") / "warehouse.duckdb"
    params = RunParameters(input_dir=network, warehouse=warehouse, run_date=DEMO_RUN_DATE,
                           plan=PlanConfig(horizon_weeks=8))
    base = weekly_planning(params) if prefect else pipeline.weekly(params)
    again = ReplanParameters(warehouse=warehouse, base_run_id=base, plan=PlanConfig(horizon_weeks=6))
    replan(again) if prefect else pipeline.replan(again)
    twin = TwinParameters(warehouse=warehouse, run_id=base, twin=TwinConfig(paths=20, seed=3))
    twin_replay(twin) if prefect else pipeline.twin(twin)
    return warehouse


def _tables(warehouse: Path) -> dict[str, pl.DataFrame]:
    """Every run-keyed table, runs in start order, volatile columns dropped, rows sorted."""
    out = {}
    with open_warehouse(warehouse, read_only=True) as wh:
        runs = wh.read(schema.RUNS.name).sort("started_at")
        order = {r: i for i, r in enumerate(runs["run_id"])}
        for t in (schema.RUNS, schema.QUARANTINE, schema.CONTRACT_RESULTS, *schema.OUTPUT_TABLES,
                  *schema.TWIN_TABLES):
            frame = wh.read(t.name)
            if "run_id" in frame.columns:
                frame = frame.with_columns(run=pl.col("run_id").replace_strict(order, return_dtype=pl.Int64))
            frame = _same_meaning(frame.drop([c for c in frame.columns if c in _VOLATILE]))
            out[t.name] = frame.sort(frame.columns, nulls_last=True)
        stage_names = [sorted(json.loads(s or "{}")) for s in runs["stage_seconds"]]
    out["stage names"] = pl.DataFrame({"names": [", ".join(n) for n in stage_names]})
    return out


def test_prefect_and_direct_paths_write_identical_tables(network, tmp_path):
    direct = _tables(_run_both_ways(network, tmp_path, prefect=False))
    through_prefect = _tables(_run_both_ways(network, tmp_path, prefect=True))
    assert direct.keys() == through_prefect.keys()
    for name, frame in direct.items():
        # identical up to the last bits of float sums, whose order polars does not fix across processes
        assert_frame_equal(frame, through_prefect[name], check_exact=False, rtol=1e-9, atol=1e-9), name
    assert direct[schema.PLAN_PRODUCTION.name].height > 0
    assert direct[schema.TWIN_SUMMARY.name].height > 0
    assert direct["stage names"]["names"][0] == ", ".join(sorted(
        ["ingest", "run-date", "contracts", "forecast", "learn-process", "plan"]))


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    code = ("import sys; from cli.main import app\n"
            "try:\n    app(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
            "print('PREFECT_IMPORTED', 'prefect' in sys.modules); sys.exit(code)")
    environment = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    environment.update(env or {}, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=600)


def test_cli_run_without_a_server_does_not_start_prefect(network, tmp_path):
    done = _cli("run", "--input", str(network), "--warehouse", str(tmp_path / "w.duckdb"),
                "--run-date", str(DEMO_RUN_DATE), "--horizon", "6", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PREFECT_IMPORTED False" in done.stdout
    assert "Running HiGHS" not in done.stdout + done.stderr  # the solver's banner stays off the console
    with open_warehouse(tmp_path / "w.duckdb", read_only=True) as wh:
        assert wh.read(schema.RUNS.name)["status"].to_list() == ["success"]


@pytest.mark.parametrize("args, message", [
    (["run", "--input", "no-such-folder", "--warehouse", "wh/w.duckdb"], "no input folder no-such-folder"),
    (["run", "--source", "no-such.toml", "--warehouse", "wh/w.duckdb"], "no source config no-such.toml"),
    (["replan", "--warehouse", "wh/w.duckdb", "--demand", "nope.csv"], "no demand file nope.csv"),
])
def test_a_refused_command_creates_nothing_and_is_not_retried(args, message, tmp_path):
    done = _cli(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-3000:]
    assert message in done.stderr
    assert "PREFECT_IMPORTED False" in done.stdout
    assert list(tmp_path.iterdir()) == []  # no warehouse, no lock file, no folder
