"""Analysts' views and example queries on a warehouse built with the real flows; the published snapshot
read by a second process while a run writes; the data dictionary is what the generator makes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import duckdb
import polars as pl
import pytest
from _outputs_warehouse import EARLY_DATE, HORIZON, build

from data_contracts import schema
from warehouse.dictionary import DEFAULT_OUT, DEFAULT_QUERIES, parse_queries, render_dictionary
from warehouse.publish import published_path
from warehouse.views import view_names

pytestmark = pytest.mark.slow

QUERIES = parse_queries(DEFAULT_QUERIES.read_text(encoding="utf-8"))
#: example queries whose answer may be empty on the small network (it has no expiring stock)
MAY_BE_EMPTY = {"expiry_write_offs"}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory)


@pytest.fixture(scope="module")
def con(built):
    c = duckdb.connect(str(published_path(built.warehouse)), read_only=True)
    yield c
    c.close()


def test_every_view_and_macro_is_in_the_published_snapshot(con):
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    macros = {r[0] for r in con.execute("SELECT function_name FROM duckdb_functions() "
                                        "WHERE function_type = 'table_macro'").fetchall()}
    assert set(view_names()) <= views | macros
    assert "plan_diff" in macros


@pytest.mark.parametrize("table", schema.PLAN_TABLES)
def test_latest_plan_views_show_the_latest_base_run_only(con, built, table):
    latest = con.execute(f"SELECT * FROM latest_{table} ORDER BY ALL").pl()
    direct = con.execute(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY ALL", [built.base_run]).pl()
    assert latest.equals(direct)  # not the scenarios that ran later, not the earlier weekly run
    # the small network has no expiring stock, no campaign resource (campaigns: tests/test_campaigns.py) and
    # no bill of materials (pegging through it: tests/test_pegging.py)
    assert table in (schema.PLAN_EXPIRY.name, schema.PLAN_CAMPAIGNS.name, schema.PLAN_PEGGING_BOM.name) or (
        latest.height > 0)
    assert latest.columns == direct.columns


def test_latest_forecast_is_the_latest_base_forecast(con, built):
    runs = con.execute("SELECT DISTINCT run_id FROM latest_forecast").fetchall()
    assert runs == [(built.base_run,)]
    # the horizon, and beyond it the weeks the terminal condition reads (longest release lag + transit)
    from optimization.terminal import beyond_horizon_weeks

    clean = {e: con.execute(f"SELECT * FROM {schema.clean_table_name(e)} WHERE run_id = ?",
                            [built.base_run]).pl() for e in ("routings", "lanes", "sites")}
    beyond = beyond_horizon_weeks(clean["routings"], clean["lanes"], clean["sites"])
    assert beyond > 0
    assert con.execute("SELECT count(DISTINCT week) FROM latest_forecast").fetchone()[0] == HORIZON + beyond


def test_latest_kpis_give_the_change_since_the_previous_base_run(con, built):
    kpis = con.execute("SELECT * FROM latest_kpis").pl()
    assert set(kpis["run_id"]) == {built.base_run}
    assert set(kpis["previous_run_id"]) == {built.early_run}
    both = kpis.filter(pl.col("previous_value").is_not_null())
    assert both.height > 10
    assert (both["change"] - (both["value"] - both["previous_value"])).abs().max() < 1e-9
    total = kpis.filter(pl.col("kpi") == "cost_total").row(0, named=True)
    expected = con.execute("SELECT value FROM plan_kpis WHERE run_id = ? AND kpi = 'cost_total'",
                           [built.early_run]).fetchone()[0]
    assert total["previous_value"] == pytest.approx(expected)


def test_plan_diff_of_a_run_with_itself_is_zero(con, built):
    diff = con.execute("SELECT * FROM plan_diff(?, ?)", [built.base_run, built.base_run]).pl()
    assert diff.height > 0
    for m in ("production", "stock", "backlog", "cost", "fill_rate"):
        assert diff[f"{m}_diff"].drop_nulls().abs().max() == 0


def test_plan_diff_adds_up_to_the_plan_tables(con, built):
    diff = con.execute("SELECT * FROM plan_diff(?, ?)", [built.base_run, built.lanes_run]).pl()
    assert set(diff["run_a"]) == {built.base_run} and set(diff["run_b"]) == {built.lanes_run}
    for run, side in ((built.base_run, "a"), (built.lanes_run, "b")):
        backlog, production = con.execute(
            "SELECT (SELECT sum(backlog) FROM plan_backlog WHERE run_id = $1), "
            "(SELECT sum(quantity) FROM plan_production WHERE run_id = $1)", [run]).fetchone()
        assert diff[f"backlog_{side}"].sum() == pytest.approx(backlog)
        assert diff[f"production_{side}"].sum() == pytest.approx(production)
    keys = diff.select("product_id", "site_id", "week")
    assert keys.height == keys.unique().height


def test_plan_diff_takes_scenario_names_for_their_latest_plans(con, built):
    by_name = con.execute("SELECT * FROM plan_diff('base', 'close-eu-n') ORDER BY ALL").pl()
    by_id = con.execute("SELECT * FROM plan_diff(?, ?) ORDER BY ALL", [built.base_run, built.lanes_run]).pl()
    assert by_name.height > 0 and by_name.equals(by_id)
    assert con.execute("SELECT count(*) FROM plan_diff('no-such-run', 'base')").fetchone()[0] == 0


def test_plan_diff_latest_pairs_each_scenario_with_its_base(con, built):
    pairs = con.execute("SELECT DISTINCT scenario, run_a, run_b FROM plan_diff_latest ORDER BY scenario").fetchall()
    assert pairs == sorted([
        ("close-eu-n", built.base_run, built.lanes_run),
        ("tight", built.base_run, built.tight_run),
        ("tight-bottleneck-plus-50", built.base_run, built.capacity_run),
    ])


def test_forecast_vs_actual_scores_past_forecasts_by_lag(con, built):
    fva = con.execute("SELECT * FROM forecast_vs_actual").pl()
    # only the early run has weeks that later happened (the latest run's weeks are still ahead); scenarios
    # reuse a forecast and are not scored again
    assert set(fva["run_id"]) == {built.early_run}
    assert sorted(set(fva["lag"])) == [0, 1, 2, 3]
    assert fva["week"].min() == EARLY_DATE
    actual = con.execute("SELECT product_id, site_id, week, quantity FROM demand_history WHERE run_id = ?",
                         [built.base_run]).pl()
    joined = fva.join(actual, on=["product_id", "site_id", "week"], validate="1:1")
    assert joined.height == fva.height
    assert (joined["actual"] - joined["quantity"]).abs().max() == 0
    assert (fva["error"] - (fva["forecast"] - fva["actual"])).abs().max() < 1e-9
    assert set(fva["actual_run_id"]) == {built.base_run}


def test_forecast_vs_actual_scores_the_forecasters_own_mean_not_the_booked_orders(con, built):
    """Since booked orders raise the stored mean (stop 25), the view scored the plan's demand: weeks booked
    before they happened looked forecast well. It now scores what ``forecast_accuracy`` scores: the mean less
    ``booked_added``, the quantiles moved back with it, no series planned from booked orders alone."""
    rows = con.execute("""SELECT v.forecast, v.q10, v.q90, f.mean, f.booked_added, f.q10 AS q10_stored, f.model
                          FROM forecast_vs_actual v JOIN forecast f USING (run_id, product_id, site_id, week)
                          """).pl()
    raised = rows.filter(pl.col("booked_added") > 0)
    assert raised.height > 0  # the early run planned booked orders above its forecast
    assert (rows["forecast"] - (rows["mean"] - rows["booked_added"].fill_null(0.0))).abs().max() < 1e-9
    # the quantiles come down by the same units (booked_band `shifted`: they went up by them)
    assert (raised["q10"] - (raised["q10_stored"] - raised["booked_added"]).clip(lower_bound=0.0)).abs().max() < 1e-9
    assert schema.BOOKED_MODEL not in set(rows["model"])


def test_there_are_eleven_example_queries():
    assert len(QUERIES) == 11
    assert len({q.name for q in QUERIES}) == 11


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
def test_example_query_runs_on_the_published_snapshot(con, query):
    result = con.execute(query.sql).pl()
    assert result.width > 0
    if query.name not in MAY_BE_EMPTY:
        assert result.height > 0, f"{query.name} returned no rows on the demo warehouse"


def test_the_shortage_query_counts_each_late_unit_once(con, built):
    """``shortages_next_month`` summed ``short_quantity`` as ``units_short``: a unit waiting three weeks counted
    three times (PBS-like demand on a stranger's network: 5,162 "units short" where the plan had 3,749 late).
    Its units are now ``late_units``, the summary's and the fill rate's count."""
    (query,) = [q for q in QUERIES if q.name == "shortages_next_month"]
    got = con.execute(query.sql).pl()
    want = con.execute(
        "SELECT product_id, site_id, round(sum(late_units)) AS units_late, round(sum(short_quantity)) AS weeks "
        f"FROM {schema.PLAN_SHORTAGES.name} JOIN latest_base_run r USING (run_id) "
        "WHERE week < r.run_date + INTERVAL 4 WEEK GROUP BY ALL").pl()
    joined = got.join(want, on=["product_id", "site_id"], validate="1:1")
    assert joined.height == want.height > 0
    assert (joined["units_late"] == joined["units_late_right"]).all()
    assert (joined["unit_weeks_short"] == joined["weeks"]).all()


def test_the_committed_data_dictionary_is_up_to_date():
    generated = render_dictionary(QUERIES)
    assert DEFAULT_OUT.read_text(encoding="utf-8") == generated, (
        "docs/warehouse.md is stale: run `python -m warehouse.dictionary`")
    for table in schema.TABLES.values():
        assert f"### `{table.name}`" in generated
        for column in table.columns:
            assert f"| `{column}` |" in generated
    for name in view_names():
        assert f"### `{name}" in generated


# A reader process. ``poll``: a new connection each time (what a new analyst's query sees); ``hold``: one
# connection kept open across the publish (an analyst's open session). Two processes, because DuckDB shares
# one database instance between the connections of a process to the same path.
_READER = r"""
import json, os, sys, time, duckdb
mode, path, stop, out = sys.argv[1:5]
seen, errors = [], []
held = duckdb.connect(path, read_only=True) if mode == "hold" else None
while True:
    stopping = os.path.exists(stop)
    try:
        con = held or duckdb.connect(path, read_only=True)
        run_id = con.execute("SELECT run_id FROM latest_base_run").fetchone()[0]
        rows, own = con.execute(
            "SELECT (SELECT count(*) FROM latest_plan_backlog), "
            "(SELECT count(*) FROM plan_backlog WHERE run_id = ?)", [run_id]).fetchone()
        kpis = con.execute("SELECT count(*) FROM latest_kpis").fetchone()[0]
        if held is None:
            con.close()
        if not seen or seen[-1] != [run_id, rows, own, kpis]:
            seen.append([run_id, rows, own, kpis])
    except Exception as exc:  # what the test says must never happen
        errors.append(f"{type(exc).__name__}: {exc}")
    if stopping:
        break
    time.sleep(0.02)
json.dump({"seen": seen, "errors": errors}, open(out, "w"))
"""


def test_a_reader_of_the_snapshot_sees_the_previous_plan_while_a_run_writes(built, tmp_path):
    from flows.replan import replan
    from flows.settings import ReplanParameters
    from optimization import PlanConfig

    # a copy, so that the other tests keep their plan of record
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built.warehouse, warehouse)
    shutil.copyfile(published_path(built.warehouse), published_path(warehouse))
    stop = tmp_path / "stop"
    readers = {mode: subprocess.Popen([sys.executable, "-c", _READER, mode, str(published_path(warehouse)),
                                       str(stop), str(tmp_path / f"{mode}.json")]) for mode in ("poll", "hold")}
    try:
        time.sleep(1.5)
        assert all(r.poll() is None for r in readers.values()), "a reader failed to start"
        new_run = replan(ReplanParameters(warehouse=warehouse, base_run_id=built.base_run,
                                          plan=PlanConfig(horizon_weeks=HORIZON)))
        time.sleep(1.0)
        stop.touch()
        assert [r.wait(timeout=60) for r in readers.values()] == [0, 0]
    finally:
        for r in readers.values():
            if r.poll() is None:
                r.kill()
    poll, hold = (json.loads((tmp_path / f"{mode}.json").read_text()) for mode in ("poll", "hold"))
    assert poll["errors"] == [] and hold["errors"] == []
    # new queries see the previous plan, then the new one, each whole; never anything else
    seen = poll["seen"]
    assert seen[0][0] == built.base_run and seen[-1][0] == new_run
    assert {s[0] for s in seen} == {built.base_run, new_run}
    for run_id, rows, own, kpis in seen:
        assert rows == own > 0 and kpis > 0
    # a session open across the publish keeps reading the snapshot it opened, whole
    assert hold["seen"] == [seen[0]]


def test_a_run_of_another_scope_does_not_replace_the_plan_of_record(tmp_path):
    """26-week runs are the record; a 13-week run is kept but does not replace it (and its KPIs are not
    compared with the record's); a run asked to be the plan of record (`--plan-of-record`) does."""
    from datetime import datetime

    from warehouse.db import open_warehouse

    def add(wh, run_id, minute, horizon, asked=None, demand_file=None):
        params = {"plan": {"horizon_weeks": horizon}, "demand_file": demand_file}
        if asked is not None:
            params["plan_of_record"] = asked
        wh.con.execute(
            f"INSERT INTO {schema.RUNS.name} (run_id, kind, scenario, parameters, status, started_at) "
            "VALUES (?, 'weekly_planning', 'base', ?, 'success', ?)",
            [run_id, json.dumps(params), datetime(2026, 5, 4, 5, minute)],
        )
        wh.con.execute(f"INSERT INTO {schema.PLAN_KPIS.name} VALUES (?, 'fill_rate_units', ?, 'share')",
                       [run_id, 0.9 + minute / 100])

    def record(wh):
        return wh.con.execute("SELECT run_id, horizon_weeks FROM latest_base_run").fetchone()

    with open_warehouse(tmp_path / "w.duckdb") as wh:
        add(wh, "r1", 1, 26)
        add(wh, "r2", 2, 26)
        assert record(wh) == ("r2", 26)
        add(wh, "r3", 3, 13)
        assert record(wh) == ("r2", 26)  # another horizon: kept, not the plan of record
        add(wh, "r4", 4, 26, demand_file="consensus.csv")
        assert record(wh) == ("r2", 26)  # another demand source
        kpis = wh.con.execute("SELECT previous_run_id, comparable, change FROM latest_kpis").fetchone()
        assert kpis[0] == "r1" and kpis[1] is True and kpis[2] == pytest.approx(0.01)
        add(wh, "r5", 5, 13, asked=True)
        assert record(wh) == ("r5", 13)  # asked
        kpis = wh.con.execute("SELECT horizon_weeks, demand_source, previous_run_id, comparable, change "
                              "FROM latest_kpis").fetchone()
        assert kpis == (13, "forecast", "r3", True, pytest.approx(0.02))  # r3 joined the record's scope
        add(wh, "r6", 6, 26)
        assert record(wh) == ("r5", 13)  # the record's scope is now 13 weeks
        add(wh, "r7", 7, 26, asked=True)
        kpis = wh.con.execute("SELECT run_id, previous_run_id, comparable, change FROM latest_kpis").fetchone()
        assert kpis == ("r7", "r6", True, pytest.approx(0.01))
        add(wh, "r8", 8, 13, asked=True)
        kpis = wh.con.execute("SELECT run_id, previous_run_id, comparable, change FROM latest_kpis").fetchone()
        assert kpis == ("r8", "r7", False, None)  # 13 against 26 weeks: not comparable


def test_the_summary_of_a_plan_that_did_not_become_the_plan_of_record_says_so(tmp_path):
    """A planner's hour (stop 27): a replan on a consensus demand printed its plan and nothing said the
    latest_* views and the latest report still showed the 26-week forecast plan. The summary now names the
    record; a plan that is the record, was asked to be, or has since been replaced says nothing."""
    from datetime import datetime

    from report.summary import run_summary
    from warehouse.db import open_warehouse

    wh_path = tmp_path / "w.duckdb"

    def add(run_id, minute, horizon, **extra):
        with open_warehouse(wh_path) as wh:
            wh.con.execute(
                f"INSERT INTO {schema.RUNS.name} (run_id, kind, scenario, parameters, status, started_at, solver, "
                "solver_status, problem_type, solve_seconds) VALUES (?, 'replan', 'base', ?, 'success', ?, "
                "'highs', 'Optimal', 'LP', 1.0)",
                [run_id, json.dumps({"plan": {"horizon_weeks": horizon}, **extra}), datetime(2026, 5, 4, 5, minute)])
            wh.con.execute(f"INSERT INTO {schema.PLAN_KPIS.name} VALUES (?, 'fill_rate_units', 0.9, 'share')",
                           [run_id])

    add("r1", 1, 26)
    add("r2", 2, 26, demand_file="consensus.csv")
    assert "plan of record: still r1 (26 weeks on forecast)" in run_summary(wh_path, "r2")
    assert "plan of record" not in run_summary(wh_path, "r1")
    add("r3", 3, 13, plan_of_record=True)
    assert "plan of record" not in run_summary(wh_path, "r3")  # asked to be the record, it is
    assert "plan of record" not in run_summary(wh_path, "r2")  # older than the record: replaced, not kept beside
