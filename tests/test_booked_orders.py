"""Booked orders consume the forecast: the plan's demand per product × site × week is the larger of the
forecast and the orders already booked for it (:func:`forecasting.consensus.consume_forecast`)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from data_contracts import schema
from forecasting import future_orders
from forecasting.consensus import BOOKED_MODEL, SCALED, SHIFTED, consume_forecast, forecast_part

MON = date(2026, 1, 5)
QCOLS = [schema.quantile_column(q) for q in schema.QUANTILES]
KEYS = ["product_id", "site_id", "week"]


def _w(k: int) -> date:
    return MON + timedelta(weeks=k)


def _forecast(rows: list[tuple[str, int, float]]) -> pl.DataFrame:
    """Forecast rows (product, week, mean) at DC1; quantiles at level × (0.5 … 1.5), spread ∝ level."""
    frame = pl.DataFrame([(p, "DC1", _w(k), "AutoETS", m) for p, k, m in rows],
                         schema=["product_id", "site_id", "week", "model", "mean"], orient="row")
    spread = [0.5 + i / (len(QCOLS) - 1) for i in range(len(QCOLS))]
    return frame.with_columns((pl.col("mean") * s).alias(c) for s, c in zip(spread, QCOLS))


def _booked(rows: list[tuple[str, int, float]]) -> pl.DataFrame:
    return pl.DataFrame([(p, "DC1", _w(k), q) for p, k, q in rows], schema=[*KEYS, "quantity"], orient="row")


def _row(frame: pl.DataFrame, product: str, week: int) -> dict:
    got = frame.filter((pl.col("product_id") == product) & (pl.col("week") == _w(week)))
    assert got.height == 1, got
    return got.row(0, named=True)


def test_a_firm_order_above_the_forecast_raises_the_mean_and_keeps_the_spread_in_units():
    fc = _forecast([("P1", 0, 100.0), ("P1", 1, 100.0)])
    got = consume_forecast(fc, _booked([("P1", 1, 250.0)]))
    r = _row(got, "P1", 1)
    assert r["mean"] == pytest.approx(250.0)
    assert r["booked"] == pytest.approx(250.0) and r["booked_added"] == pytest.approx(150.0)
    # every quantile moves up by the units the orders added: the forecast's spread in units, not scaled by
    # the orders (firm orders are not forecast error); a quantile is as far below the orders as it was below
    # the forecast's mean (orders can still be cancelled)
    assert [r[c] for c in QCOLS] == pytest.approx([_row(fc, "P1", 1)[c] + 150.0 for c in QCOLS])
    assert r["booked_band"] == SHIFTED
    untouched = _row(got, "P1", 0)
    assert untouched["mean"] == 100.0 and untouched["booked"] is None and untouched["booked_added"] is None
    assert untouched["booked_band"] is None


def test_a_firm_order_far_above_the_forecast_leaves_its_safety_stock_as_the_forecasts():
    """A firm order 20 times a mostly-zero series' forecast: the week's safety stock (its quantile spread
    above the mean at the service level) stays the forecast's; scaled by the level, it was 20 times that."""
    from optimization.safety_stock import quantile_at

    fc = _forecast([("P1", 0, 10.0), ("P1", 1, 10.0)]).with_columns(  # a mostly-zero series' band
        *(pl.lit(0.0).alias(c) for c in QCOLS[:5]), pl.lit(25.0).alias(QCOLS[-2]), pl.lit(60.0).alias(QCOLS[-1]))
    got = consume_forecast(fc, _booked([("P1", 1, 200.0)]))
    spread = (quantile_at(pl.lit(0.98)) - pl.col("mean")).alias("spread")
    s = got.sort("week").select(spread)["spread"].to_list()
    assert s[1] == pytest.approx(s[0]) and s[0] > 0
    assert _row(got, "P1", 1)[QCOLS[4]] == pytest.approx(190.0)  # the median: 0 before, 0 scaled by 20


def test_orders_below_the_forecast_keep_the_forecast():
    fc = _forecast([("P1", 0, 100.0)])
    got = consume_forecast(fc, _booked([("P1", 0, 40.0)]))
    r = _row(got, "P1", 0)
    assert r["mean"] == 100.0 and [r[c] for c in QCOLS] == [_row(fc, "P1", 0)[c] for c in QCOLS]
    assert r["booked"] == 40.0 and r["booked_added"] == 0.0


def test_a_series_with_only_booked_orders_gets_them_as_its_demand():
    fc = _forecast([("P1", 0, 100.0)])
    got = consume_forecast(fc, _booked([("NEW", 2, 30.0)]))
    r = _row(got, "NEW", 2)
    assert r["mean"] == 30.0 and r["model"] == BOOKED_MODEL and r["booked_added"] == 30.0
    assert [r[c] for c in QCOLS] == [30.0] * len(QCOLS)  # firm orders: no forecast error to carry
    assert got.height == 2 and got.columns == [*fc.columns, "booked", "booked_added", "booked_band"]
    assert r["booked_band"] is None  # no forecast was raised: nothing to take out


def test_a_zero_forecast_moves_its_quantiles_by_the_offset():
    fc = _forecast([("P1", 0, 0.0)]).with_columns(pl.lit(5.0).alias(QCOLS[-1]))
    r = _row(consume_forecast(fc, _booked([("P1", 0, 12.0)])), "P1", 0)
    assert r["mean"] == 12.0 and r[QCOLS[-1]] == 17.0 and r[QCOLS[0]] == 12.0


def test_applied_again_it_moves_nothing():
    fc = _forecast([("P1", 0, 100.0), ("P1", 1, 10.0)])
    booked = _booked([("P1", 1, 60.0), ("P2", 0, 5.0)])
    once = consume_forecast(fc, booked)
    twice = consume_forecast(once, booked)
    assert twice.drop("booked_added").equals(once.drop("booked_added"))
    assert twice["booked_added"].drop_nulls().sum() == 0.0


def test_a_points_frame_takes_the_larger_value():
    demand = pl.DataFrame([("P1", "DC1", _w(0), 7.0), ("P1", "DC1", _w(1), 7.0)], schema=[*KEYS, "quantity"],
                          orient="row")
    got = consume_forecast(demand, _booked([("P1", 0, 9.0), ("P1", 1, 3.0), ("P3", 1, 4.0)]), (),
                           value_col="quantity").sort(KEYS)
    assert got.select(*KEYS, "quantity").rows() == [
        ("P1", "DC1", _w(0), 9.0), ("P1", "DC1", _w(1), 7.0), ("P3", "DC1", _w(1), 4.0)]


def test_forecast_part_takes_the_booked_orders_out_again():
    fc = _forecast([("P1", 0, 100.0), ("P1", 1, 100.0), ("P2", 0, 0.0)]).with_columns(
        pl.when(pl.col("product_id") == "P2").then(5.0).otherwise(pl.col(QCOLS[-1])).alias(QCOLS[-1]))
    booked = _booked([("P1", 1, 250.0), ("P1", 0, 40.0), ("P2", 0, 12.0), ("NEW", 2, 30.0)])
    consumed = consume_forecast(fc, booked)
    own, orders = forecast_part(consumed)
    assert own.sort(KEYS).equals(fc.sort(KEYS))  # the forecaster's rows, quantiles and all
    assert orders.sort(KEYS).equals(booked.sort(KEYS))
    assert consume_forecast(own, orders).sort(KEYS).equals(consumed.sort(KEYS))


def test_forecast_part_takes_out_rows_stored_scaled_by_the_level_ratio():
    """A run stored before the shift raised its quantiles by mean / the forecaster's mean (``booked_band``
    ``scaled``, the migration's backfill): they come back down by that ratio, and consumed again they are
    shifted."""
    fc = _forecast([("P1", 0, 100.0), ("P1", 1, 100.0)])
    booked = _booked([("P1", 1, 250.0)])
    now = consume_forecast(fc, booked)
    raised = pl.col("booked_added") > 0
    old = now.with_columns(*(pl.when(raised).then(pl.col(c) - pl.col("booked_added")).otherwise(pl.col(c))
                             * pl.when(raised).then(2.5).otherwise(1.0) for c in QCOLS),
                           booked_band=pl.lit(SCALED))
    assert _row(old, "P1", 1)[QCOLS[-1]] == pytest.approx(2.5 * _row(fc, "P1", 1)[QCOLS[-1]])
    own, orders = forecast_part(old)
    assert own.sort(KEYS).select(fc.columns).equals(fc.sort(KEYS))
    assert consume_forecast(own, orders).sort(KEYS).equals(now.sort(KEYS))


def test_cancelled_lines_are_not_booked():
    orders = pl.DataFrame(
        [("o1", _w(0), _w(2), "P1", "DC1", 50.0, "cancelled"),
         ("o2", _w(0), _w(2), "P1", "DC1", 20.0, "open"),
         ("o3", _w(0), _w(3), "P1", "DC1", 80.0, "cancelled")],
        schema=schema.ORDERS.schema, orient="row")
    booked = future_orders(orders, _w(1))
    assert booked.rows() == [("P1", "DC1", _w(2), 20.0)]
    got = consume_forecast(_forecast([("P1", 2, 30.0), ("P1", 3, 30.0)]), booked)
    assert _row(got, "P1", 2)["mean"] == 30.0 and _row(got, "P1", 3)["mean"] == 30.0


# --------------------------------------------------------------------------------------------------
# end to end: a weekly run, a consensus replan and a scenario plan the booked orders
# --------------------------------------------------------------------------------------------------
FIRM = 50_000.0  # one firm order far above any weekly forecast of the small demo


@pytest.fixture(scope="module")
def booked_run(tmp_path_factory):
    """A small demo network with a firm order above the forecast (VAC-01 at DC-EU-N, two weeks after the run's
    week), a cancelled order larger still (VAC-01 at DC-EU-S), and a series whose history is removed so that
    only its booked orders remain (MAB-02 at DC-EU-S)."""
    from demo.network import DEMO_RUN_DATE, demo_network, write_demo
    from flows import pipeline
    from flows.settings import RunParameters
    from optimization import PlanConfig

    folder = tmp_path_factory.mktemp("booked") / "input"
    write_demo(demo_network(products=8, dcs=2, weeks_history=104, seed=3), folder)
    first = DEMO_RUN_DATE - timedelta(days=DEMO_RUN_DATE.weekday())
    orders = pl.read_csv(folder / "orders.csv", try_parse_dates=True)
    alone = (pl.col("product_id") == "MAB-02") & (pl.col("site_id") == "DC-EU-S")
    extra = pl.DataFrame(
        [("SO-FIRM", DEMO_RUN_DATE - timedelta(days=1), first + timedelta(weeks=2), "VAC-01", "DC-EU-N", FIRM,
          "open"),
         ("SO-GONE", DEMO_RUN_DATE - timedelta(days=1), first + timedelta(weeks=2), "VAC-01", "DC-EU-S", FIRM,
          "cancelled")],
        schema=orders.schema, orient="row")
    kept = orders.filter(~(alone & (pl.col("requested_week") < first)))
    assert kept.filter(alone).height > 0  # the series still has booked orders
    pl.concat([kept, extra]).write_csv(folder / "orders.csv")
    warehouse = folder.parent / "warehouse.duckdb"
    params = RunParameters(input_dir=folder, warehouse=warehouse, run_date=DEMO_RUN_DATE,
                           plan=PlanConfig(horizon_weeks=12))
    return pipeline.weekly(params), warehouse, first


def _rows(warehouse, run_id: str, table: str, columns: str = "*") -> pl.DataFrame:
    """A run's rows of a warehouse table."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(f"SELECT {columns} FROM {table} WHERE run_id = ?", [run_id]).pl()
    finally:
        con.close()


def _demand(warehouse, run_id: str) -> pl.DataFrame:
    return _rows(warehouse, run_id, "plan_backlog", "product_id, site_id, week, demand")


def _safety_stock(warehouse, run_id: str) -> pl.DataFrame:
    return _rows(warehouse, run_id, "plan_inventory", "product_id, site_id, week, safety_stock")


def _forecast_rows(warehouse, run_id: str) -> pl.DataFrame:
    return _rows(warehouse, run_id, "forecast")


def _at(frame: pl.DataFrame, product: str, site: str, week: date) -> pl.DataFrame:
    return frame.filter((pl.col("product_id") == product) & (pl.col("site_id") == site)
                        & (pl.col("week") == week))


@pytest.mark.slow
def test_a_run_plans_booked_orders(booked_run):
    from report.summary import run_summary

    run_id, warehouse, first = booked_run
    week = first + timedelta(weeks=2)
    fc = _forecast_rows(warehouse, run_id)
    firm = _at(fc, "VAC-01", "DC-EU-N", week).row(0, named=True)
    assert firm["booked"] >= FIRM and firm["mean"] == pytest.approx(firm["booked"])
    assert firm["booked_added"] > 0.9 * FIRM
    # the firm order adds no uncertainty: the week's spread is the forecaster's own, so the safety stock of
    # the weeks whose lead time covers it stays at the series' usual level (scaled by the level's ratio, the
    # order multiplied the week's spread by over a hundred)
    q99 = schema.quantile_column(0.99)
    series = fc.filter((pl.col("product_id") == "VAC-01") & (pl.col("site_id") == "DC-EU-N"))
    spread = series.filter(pl.col("week") != week).select(pl.col(q99) - pl.col("mean"))[q99]
    assert firm[q99] - firm["mean"] <= spread.max() and firm["booked_band"] == SHIFTED
    stock = _safety_stock(warehouse, run_id).filter(
        (pl.col("product_id") == "VAC-01") & (pl.col("site_id") == "DC-EU-N"))
    assert 0 < stock["safety_stock"].max() < 0.1 * FIRM, stock["safety_stock"].max()
    planned = _demand(warehouse, run_id)
    assert _at(planned, "VAC-01", "DC-EU-N", week)["demand"].item() == pytest.approx(firm["booked"])
    # the cancelled order is not booked: its week keeps the forecast
    gone = _at(fc, "VAC-01", "DC-EU-S", week).row(0, named=True)
    assert (gone["booked"] or 0) < FIRM and gone["mean"] < FIRM
    # the series with only booked orders is planned, from them
    alone = fc.filter((pl.col("product_id") == "MAB-02") & (pl.col("site_id") == "DC-EU-S"))
    assert alone.height and set(alone["model"]) == {BOOKED_MODEL} and (alone["mean"] == alone["booked"]).all()
    mab = planned.filter((pl.col("product_id") == "MAB-02") & (pl.col("site_id") == "DC-EU-S"))
    in_horizon = alone.filter(pl.col("week") < first + timedelta(weeks=12))
    assert mab["demand"].sum() == pytest.approx(in_horizon["booked"].sum())
    # a week whose booked orders the forecast covers keeps the forecast
    covered = fc.filter(pl.col("booked").is_not_null() & (pl.col("booked_added") == 0))
    assert covered.height and (covered["mean"] > covered["booked"]).any()
    text = run_summary(warehouse, run_id)
    added = fc["booked_added"].sum()
    assert f"{added:,.0f} units above the forecast added" in text, text
    from report.page import write_report

    html = write_report(warehouse, run_id, out=warehouse.parent / "report.html").read_text(encoding="utf-8")
    assert f"{added:,.0f} units above the forecast added" in html


@pytest.mark.slow
def test_a_consensus_below_the_booked_orders_is_raised_to_them(booked_run, tmp_path):
    from flows import pipeline
    from flows.settings import ReplanParameters
    from optimization import PlanConfig

    run_id, warehouse, first = booked_run
    week = first + timedelta(weeks=2)
    consensus = tmp_path / "consensus.csv"
    fc = _forecast_rows(warehouse, run_id)
    fc.filter(pl.col("model") != BOOKED_MODEL).select(
        "product_id", "site_id", "week", (pl.col("mean") * 0.5).alias("quantity")).write_csv(consensus)
    new_id = pipeline.replan(ReplanParameters(warehouse=warehouse, demand_file=consensus,
                                              plan=PlanConfig(horizon_weeks=12)))
    demand = _demand(warehouse, new_id)
    firm = _at(fc, "VAC-01", "DC-EU-N", week)["booked"].item()
    assert _at(demand, "VAC-01", "DC-EU-N", week)["demand"].item() == pytest.approx(firm)
    # weeks without booked orders take the consensus
    free = fc.filter(pl.col("booked").is_null() & (pl.col("week") < first + timedelta(weeks=12))
                     & (pl.col("mean") > 0))
    r = free.row(0, named=True)
    got = _at(demand, r["product_id"], r["site_id"], r["week"])["demand"].item()
    assert got == pytest.approx(0.5 * r["mean"])
    # the series planned from booked orders alone is still planned
    mab = demand.filter((pl.col("product_id") == "MAB-02") & (pl.col("site_id") == "DC-EU-S"))
    assert mab["demand"].sum() > 0
    # the summary's booked line counts what the orders added above the consensus, series by series (the
    # file halves every planned row, the firm order's too; a series with booked orders alone is not in it),
    # not what they added above the forecast
    from report.summary import run_summary

    above = fc.filter(pl.col("booked").is_not_null()).with_columns(
        added=(pl.col("booked") - pl.when(pl.col("model") != BOOKED_MODEL).then(0.5 * pl.col("mean"))
               .otherwise(0.0)).clip(lower_bound=0.0))
    assert abs(above["added"].sum() - fc["booked_added"].sum()) > 1_000
    text = run_summary(warehouse, new_id)
    assert (f"{above['added'].sum():,.0f} units above the demand file added to the plan's demand in "
            f"{(above['added'] > 0).sum():,} product × site × week(s)") in text, text


@pytest.mark.slow
def test_a_scenario_cutting_demand_keeps_the_booked_orders(booked_run, tmp_path):
    from flows import pipeline
    from flows.settings import ScenarioParameters
    from optimization import PlanConfig

    run_id, warehouse, first = booked_run
    week = first + timedelta(weeks=2)
    scenario = tmp_path / "cut.yaml"
    scenario.write_text("name: cut\ndemand:\n  - {product: VAC-01, multiplier: 0.5}\n")
    new_id = pipeline.scenario(ScenarioParameters(warehouse=warehouse, scenario_file=scenario,
                                                  base_run_id=run_id, plan=PlanConfig(horizon_weeks=12)))
    fc = _forecast_rows(warehouse, run_id)
    demand = _demand(warehouse, new_id)
    firm = _at(fc, "VAC-01", "DC-EU-N", week)["booked"].item()
    assert _at(demand, "VAC-01", "DC-EU-N", week)["demand"].item() == pytest.approx(firm)
    # the cut holds where no order is booked
    r = fc.filter((pl.col("product_id") == "VAC-01") & pl.col("booked").is_null()
                  & (pl.col("week") < first + timedelta(weeks=12)) & (pl.col("mean") > 0)).row(0, named=True)
    got = _at(demand, r["product_id"], r["site_id"], r["week"])["demand"].item()
    assert got == pytest.approx(0.5 * r["mean"])


@pytest.mark.slow
def test_a_tender_in_a_scenario_is_booked_survives_its_demand_cut_and_compare_shows_it(booked_run, tmp_path):
    import duckdb

    from flows import pipeline
    from flows.settings import ScenarioParameters
    from optimization import PlanConfig
    from report.compare import compare_runs, format_comparison

    run_id, warehouse, first = booked_run
    week = first + timedelta(weeks=3)
    scenario = tmp_path / "tender.yaml"
    scenario.write_text("name: tender\ndemand:\n  - {product: VAC-01, multiplier: 0.5}\norders:\n"
                        f"  - {{product: VAC-01, site: DC-EU-N, week: {week}, quantity: 20000}}\n")
    new_id = pipeline.scenario(ScenarioParameters(warehouse=warehouse, scenario_file=scenario,
                                                  base_run_id=run_id, plan=PlanConfig(horizon_weeks=12)))
    fc = _forecast_rows(warehouse, run_id)
    before = _at(fc, "VAC-01", "DC-EU-N", week).row(0, named=True)
    assert before["mean"] < 20_000  # the tender is above anything the base planned that week
    tender = (before["booked"] or 0.0) + 20_000
    assert _at(_demand(warehouse, new_id), "VAC-01", "DC-EU-N", week)["demand"].item() == pytest.approx(tender)
    changed = _at(_forecast_rows(warehouse, new_id), "VAC-01", "DC-EU-N", week).row(0, named=True)
    assert changed["booked"] == pytest.approx(tender)  # stored as booked, not as forecast
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        c = compare_runs(con, run_id, new_id)
    finally:
        con.close()
    row = c.kpis.filter(pl.col("kpi") == "booked_units").row(0, named=True)
    assert row["diff"] == pytest.approx(20_000)
    assert "booked_units" in format_comparison(c) and "+20,000" in format_comparison(c)


@pytest.mark.slow
def test_a_scenario_raising_demand_raises_the_forecast_not_the_booked_orders(booked_run, tmp_path):
    # firm orders are firm: +20% makes a week max(1.2 × forecast, booked), where it used to plan 1.2 × booked
    from flows import pipeline
    from flows.settings import ScenarioParameters
    from optimization import PlanConfig

    run_id, warehouse, first = booked_run
    week = first + timedelta(weeks=2)
    scenario = tmp_path / "more.yaml"
    scenario.write_text("name: more\ndemand:\n  - {multiplier: 1.2}\n")
    new_id = pipeline.scenario(ScenarioParameters(warehouse=warehouse, scenario_file=scenario,
                                                  base_run_id=run_id, plan=PlanConfig(horizon_weeks=12)))
    fc, changed, demand = _forecast_rows(warehouse, run_id), _forecast_rows(warehouse, new_id), \
        _demand(warehouse, new_id)
    firm = _at(fc, "VAC-01", "DC-EU-N", week).row(0, named=True)
    assert _at(demand, "VAC-01", "DC-EU-N", week)["demand"].item() == pytest.approx(firm["booked"])
    # the series with booked orders alone keeps them
    mab = (pl.col("product_id") == "MAB-02") & (pl.col("site_id") == "DC-EU-S") & (pl.col("week") < first
                                                                                   + timedelta(weeks=12))
    assert demand.filter(mab)["demand"].sum() == pytest.approx(fc.filter(mab)["booked"].sum())
    # a week the forecast covers grows with it; the stored forecast says which units the orders added
    keys = ["product_id", "site_id", "week"]
    both = fc.join(changed, on=keys, suffix="_new").filter(pl.col("week") < first + timedelta(weeks=12))
    own = pl.col("mean") - pl.col("booked_added").fill_null(0.0)
    expected = pl.max_horizontal(1.2 * own, pl.col("booked").fill_null(0.0))
    assert (both["mean_new"] - both.select(expected).to_series()).abs().max() < 1e-6
    assert both.filter(pl.col("model") != BOOKED_MODEL).select(
        (pl.col("mean_new") - pl.col("booked_added_new").fill_null(0.0) - 1.2 * own).abs().max()).item() < 1e-6


@pytest.mark.slow
def test_an_older_warehouse_without_the_booked_columns_reads_migrates_and_runs(booked_run, tmp_path):
    import shutil

    import duckdb

    from flows import pipeline
    from flows.settings import RunParameters
    from optimization import PlanConfig
    from report.summary import run_summary

    run_id, warehouse, first = booked_run
    old = tmp_path / "old.duckdb"
    shutil.copy(warehouse, old)
    con = duckdb.connect(str(old))
    for view in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall():
        con.execute(f"DROP VIEW {view[0]}")  # the migration makes them again
    con.execute("ALTER TABLE forecast DROP COLUMN booked_added")
    con.execute("ALTER TABLE forecast DROP COLUMN booked")
    con.execute("COMMENT ON TABLE runs IS NULL")  # the file is of the older schema: migrate it on open
    con.close()
    assert "booked orders:" not in run_summary(old, run_id)  # read-only, not migrated: no figure, no failure
    folder = warehouse.parent / "input"
    params = RunParameters(input_dir=folder, warehouse=old, run_date=first + timedelta(days=2),
                           plan=PlanConfig(horizon_weeks=12))
    new_id = pipeline.weekly(params)
    older = _forecast_rows(old, run_id)
    assert older["booked"].is_null().all() and older["booked_added"].is_null().all()
    assert "booked orders:" not in run_summary(old, run_id)
    assert "booked orders:" in run_summary(old, new_id)
    assert _forecast_rows(old, new_id)["booked_added"].sum() > 0.9 * FIRM


def test_an_older_warehouses_raised_rows_keep_their_rule(tmp_path):
    """A warehouse stored before the shift raised its booked weeks' quantiles by the level's ratio. Migrated,
    its rows carry ``booked_band`` ``scaled``, and ``forecast_part`` and the ``forecast_vs_actual`` view take
    the orders out by that rule: the forecaster's own q10 / q90, not the shifted rule's."""
    import duckdb

    from warehouse.db import open_warehouse
    from warehouse.layout import sql_type

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for t in (schema.RUNS, schema.DEMAND_HISTORY, schema.FORECAST):
        cols = {c: d for c, d in t.columns.items() if c != "booked_band"}  # the older schema
        con.execute(f"CREATE TABLE {t.name} ({', '.join(f'{c} {sql_type(d)}' for c, d in cols.items())})")
    con.execute("INSERT INTO runs (run_id, kind, scenario, run_date, status, started_at) VALUES "
                "('early', 'weekly_planning', 'base', DATE '2026-01-07', 'success', TIMESTAMP '2026-01-07 06:00'),"
                "('late', 'weekly_planning', 'base', DATE '2026-02-04', 'success', TIMESTAMP '2026-02-04 06:00')")
    con.execute("INSERT INTO demand_history VALUES ('late', 'P1', 'DC1', ?, 270.0)", [_w(1)])
    own = _forecast([("P1", 1, 100.0)]).row(0, named=True)  # q10 62.5 … q90 137.5 around 100
    qcols = ", ".join(QCOLS)
    con.execute(f"INSERT INTO forecast (run_id, product_id, site_id, week, model, mean, {qcols}, booked, "
                f"booked_added) VALUES ('early', 'P1', 'DC1', ?, 'AutoETS', 250.0, "
                f"{', '.join(str(own[c] * 2.5) for c in QCOLS)}, 250.0, 150.0)", [_w(1)])
    con.close()
    with open_warehouse(path) as wh:
        stored = wh.read(schema.FORECAST.name, "early")
        assert stored["booked_band"].to_list() == [SCALED]
        back, orders = forecast_part(stored.drop("run_id"))
        assert [back.row(0, named=True)[c] for c in QCOLS] == pytest.approx([own[c] for c in QCOLS])
        assert orders["quantity"].to_list() == [250.0]
        fva = wh.con.execute("SELECT forecast, q10, q90 FROM forecast_vs_actual WHERE run_id = 'early'").fetchall()
    q10, q90 = schema.quantile_column(0.1), schema.quantile_column(0.9)
    assert fva == [pytest.approx((100.0, own[q10], own[q90]))]
