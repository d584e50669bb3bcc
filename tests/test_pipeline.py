"""End to end: the weekly planning flow through Prefect on a small generated network, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data_contracts import schema
from typer.testing import CliRunner

from cli.main import app
from flows.settings import RunParameters
from flows.weekly import weekly_planning
from optimization import PlanConfig
from demo.network import DEMO_RUN_DATE, demo_network, write_demo
from warehouse.publish import published_path

pytestmark = pytest.mark.slow

HORIZON = 12
TOL = 1e-6


@pytest.fixture(scope="module")
def network_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("network") / "input"
    write_demo(demo_network(products=8, dcs=2, weeks_history=104, seed=3), folder)
    return folder


@pytest.fixture(scope="module")
def run(network_dir, tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    params = RunParameters(input_dir=network_dir, warehouse=warehouse, run_date=DEMO_RUN_DATE,
                           plan=PlanConfig(horizon_weeks=HORIZON))
    run_id = weekly_planning(params)
    return run_id, ReadOnly(warehouse), warehouse


class ReadOnly:
    """Queries the warehouse through a short-lived read-only connection, so that later runs can write it."""

    def __init__(self, path: Path):
        self.path = path

    def execute(self, sql: str, params: list | None = None) -> _Result:
        con = duckdb.connect(str(self.path), read_only=True)
        try:
            return _Result(con.execute(sql, params or []).pl())
        finally:
            con.close()


class _Result:
    def __init__(self, frame: pl.DataFrame):
        self.frame = frame

    def pl(self) -> pl.DataFrame:
        return self.frame

    def fetchall(self) -> list[tuple]:
        return self.frame.rows()

    def fetchone(self) -> tuple | None:
        return self.frame.row(0) if self.frame.height else None


def _table(con, name: str, run_id: str) -> pl.DataFrame:
    return con.execute(f"SELECT * FROM {name} WHERE run_id = ?", [run_id]).pl()


def test_the_run_succeeds_and_records_itself(run):
    run_id, con, _ = run
    row = con.execute("SELECT status, kind, solver_status, input_load_ids, stage_seconds FROM runs "
                      "WHERE run_id = ?", [run_id]).fetchone()
    assert row[0] == "success" and row[1] == "weekly_planning" and row[2] == "Optimal"
    assert "orders" in row[3] and "plan" in row[4]


@pytest.mark.parametrize("table", [
    "demand_history", "forecast", "forecast_series", "forecast_backtest", "plan_production", "plan_shipments",
    "plan_inventory", "plan_backlog", "plan_capacity", "plan_kpis", "clean_orders", "contract_results",
])
def test_every_output_table_has_rows(run, table):
    run_id, con, _ = run
    assert con.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", [run_id]).fetchone()[0] > 0


def test_raw_rows_are_all_kept(run, network_dir):
    _, con, _ = run
    for t in schema.INPUT_ENTITIES:
        path = network_dir / f"{t.name}.csv"
        if path.exists():
            rows = pl.read_csv(path, infer_schema=False).height
            assert con.execute(f"SELECT count(*) FROM raw_{t.name}").fetchone()[0] == rows, t.name


def test_stock_balances_for_every_product_site_week(run):
    run_id, con, _ = run
    inv = _table(con, "plan_inventory", run_id)
    assert inv.height > 0
    residual = inv.select(
        (pl.col("opening") + pl.col("released") + pl.col("receipts") + pl.col("arrivals") - pl.col("departures")
         - pl.col("served") - pl.col("expired") - pl.col("closing")).abs().max()
    ).item()
    assert residual < TOL
    # opening of a week is the closing of the week before
    chained = inv.sort("product_id", "site_id", "week").with_columns(
        prev=pl.col("closing").shift(1).over("product_id", "site_id")
    ).drop_nulls("prev")
    assert chained.select((pl.col("opening") - pl.col("prev")).abs().max()).item() < TOL
    assert inv.select(pl.col("closing").min()).item() >= -TOL


def test_flows_agree_between_tables(run):
    run_id, con, _ = run
    inv = _table(con, "plan_inventory", run_id)
    ship = _table(con, "plan_shipments", run_id)
    prod = _table(con, "plan_production", run_id)
    departures = ship.group_by("product_id", pl.col("from_site").alias("site_id"), "week").agg(
        pl.col("quantity").sum())
    arrivals = ship.group_by("product_id", pl.col("to_site").alias("site_id"),
                             pl.col("arrival_week").alias("week")).agg(pl.col("quantity").sum())
    released = prod.group_by("product_id", "site_id", pl.col("release_week").alias("week")).agg(
        pl.col("released_quantity").sum())
    for frame, column in ((departures, "departures"), (arrivals, "arrivals"), (released, "released")):
        joined = frame.join(inv, on=["product_id", "site_id", "week"], how="inner")
        assert joined.select((pl.col("quantity" if column != "released" else "released_quantity")
                              - pl.col(column)).abs().max()).item() < TOL, column


def test_no_resource_is_over_its_hours(run):
    run_id, con, _ = run
    cap = _table(con, "plan_capacity", run_id)
    assert cap.select((pl.col("hours_used") - pl.col("hours_available")).max()).item() <= TOL
    prod = _table(con, "plan_production", run_id)
    used = prod.group_by("resource_id", "week").agg(pl.col("hours").sum())
    joined = used.join(cap, on=["resource_id", "week"], how="left", validate="1:1")
    assert joined["hours_used"].null_count() == 0
    assert joined.select((pl.col("hours") - pl.col("hours_used")).abs().max()).item() < TOL


def test_backlog_accounts_for_all_demand(run):
    run_id, con, _ = run
    bl = _table(con, "plan_backlog", run_id).sort("product_id", "site_id", "week")
    bl = bl.with_columns(prev=pl.col("backlog").shift(1).over("product_id", "site_id").fill_null(0.0))
    residual = bl.select((pl.col("prev") + pl.col("demand") - pl.col("served") - pl.col("lost")
                          - pl.col("backlog")).abs().max()).item()
    assert residual < TOL


def test_forecast_covers_the_horizon_with_ordered_quantiles(run):
    run_id, con, _ = run
    fc = _table(con, "forecast", run_id)
    weeks = sorted(fc["week"].unique().to_list())
    start = DEMO_RUN_DATE - timedelta(days=DEMO_RUN_DATE.weekday())
    # the horizon, and beyond it the weeks the plan's terminal condition reads (longest release lag + transit)
    from optimization.terminal import beyond_horizon_weeks

    clean = {e: _table(con, schema.clean_table_name(e), run_id) for e in ("routings", "lanes", "sites")}
    beyond = beyond_horizon_weeks(clean["routings"], clean["lanes"], clean["sites"])
    assert weeks[0] == start and len(weeks) == HORIZON + beyond and beyond > 0
    assert weeks == [start + timedelta(weeks=k) for k in range(HORIZON + beyond)]
    qcols = [schema.quantile_column(q) for q in schema.QUANTILES]
    assert fc.select(pl.min_horizontal(qcols).min()).item() >= 0
    for lo, hi in zip(qcols, qcols[1:]):
        assert fc.filter(pl.col(lo) > pl.col(hi) + TOL).is_empty(), (lo, hi)


def test_snapshot_is_published(run):
    run_id, _, warehouse = run
    con = duckdb.connect(str(published_path(warehouse)), read_only=True)
    try:
        assert con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()[0] == "success"
    finally:
        con.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("plantwin")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ})


def test_cli_runs_and_a_bad_input_fails_cleanly_with_no_outputs(network_dir, tmp_path):
    warehouse = tmp_path / "wh.duckdb"
    # in process (the module's Prefect server is up already) ...
    settings = tmp_path / "params.yaml"  # a deployment's `params` shape; the command line wins over it
    settings.write_text("plan:\n  horizon_weeks: 12\n  time_limit_seconds: 120\nforecast:\n  backtest_windows: 2\n")
    good = CliRunner().invoke(app, ["run", "--input", str(network_dir), "--warehouse", str(warehouse),
                                    "--horizon", "8", "--run-date", DEMO_RUN_DATE.isoformat(),
                                    "--params", str(settings)])
    assert good.exit_code == 0, good.output
    assert "fill rate" in good.stdout and "busiest resources" in good.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = json.loads(con.execute("SELECT parameters FROM runs").fetchone()[0])
    assert stored["plan"]["horizon_weeks"] == 8 and stored["plan"]["time_limit_seconds"] == 120
    assert stored["forecast"]["backtest_windows"] == 2
    published_before = published_path(warehouse).read_bytes()

    broken = tmp_path / "broken"
    broken.mkdir()
    for f in network_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    (broken / "products.csv").unlink()
    # ... and through the installed console script, as a user runs it
    bad = _cli("run", "--input", str(broken), "--warehouse", str(warehouse), "--horizon", "8",
               "--run-date", DEMO_RUN_DATE.isoformat(), cwd=tmp_path)
    assert bad.returncode == 2
    assert "products" in bad.stderr and "Traceback" not in bad.stderr + bad.stdout
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        statuses = con.execute("SELECT status, count(*) FROM runs GROUP BY status ORDER BY status").fetchall()
        assert statuses == [("failed", 1), ("success", 1)]
        failed = con.execute("SELECT run_id, error FROM runs WHERE status = 'failed'").fetchone()
        assert "products" in failed[1]
        for t in ("forecast", "plan_production", "plan_kpis", "clean_orders"):
            assert con.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", [failed[0]]).fetchone()[0] == 0
    finally:
        con.close()
    assert published_path(warehouse).read_bytes() == published_before


def test_replan_with_a_frozen_horizon_keeps_the_first_weeks_production(run):
    from flows.replan import replan
    from flows.settings import ReplanParameters

    base_id, con, warehouse = run
    demand = Path(warehouse).with_name("consensus.csv")
    con.execute("SELECT product_id, site_id, week, mean * 1.5 AS quantity FROM forecast WHERE run_id = ?",
                [base_id]).pl().write_csv(demand)
    new_id = replan(ReplanParameters(warehouse=warehouse, demand_file=demand,
                                     plan=PlanConfig(horizon_weeks=HORIZON, frozen_weeks=2)))
    row = con.execute("SELECT kind, base_run_id, status FROM runs WHERE run_id = ?", [new_id]).fetchone()
    assert row == ("replan", base_id, "success")
    frozen_end = DEMO_RUN_DATE - timedelta(days=DEMO_RUN_DATE.weekday()) + timedelta(weeks=2)
    q = ("SELECT product_id, resource_id, week, round(quantity, 6) FROM plan_production "
         "WHERE run_id = ? AND week < ? AND quantity > 1e-9 ORDER BY ALL")
    frozen = con.execute(q, [base_id, frozen_end]).fetchall()
    assert frozen and con.execute(q, [new_id, frozen_end]).fetchall() == frozen
    demand_sum = [con.execute("SELECT sum(demand) FROM plan_backlog WHERE run_id = ?", [r]).fetchone()[0]
                  for r in (base_id, new_id)]
    assert demand_sum[1] == pytest.approx(1.5 * demand_sum[0], rel=1e-6)
