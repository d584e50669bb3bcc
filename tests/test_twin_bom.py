"""The twin over a bill of materials and campaigns: starts draw their components, a failed batch is a
batch, and a failed drug-substance batch shows downstream. Tiny plans, answers worked out by hand."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ParameterError
from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from twin.config import FailedBatch
from twin.index import build_index
from twin.process import ProcessConfig, estimate_process
from twin.replay import PlanTables, TwinConfig, TwinInputs, replay_plan
from twin.supply import sample_releases

PST = ["product_id", "site_id", "week"]
NO_SERIES = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "series_class": pl.String})
NO_HISTORY = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                  "quantity": pl.Float64})
EXACT = dict(demand_variance=False, process_variance=False)


def _solve(inputs, rows, config):
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows])
    net = build_network(inputs, ex.START, config)
    result = plan_supply(net, demand, pl.DataFrame(), config)
    assert result.solver_status == "Optimal"
    t = result.tables
    plan = PlanTables(production=t["plan_production"], shipments=t["plan_shipments"],
                      inventory=t["plan_inventory"], backlog=t["plan_backlog"], expiry=t["plan_expiry"])
    forecast = demand.select(*PST, pl.lit("test").alias("model"), pl.col("quantity").alias("mean"),
                             *[pl.col("quantity").alias(schema.quantile_column(q)) for q in schema.QUANTILES])
    process = estimate_process(schema.BATCHES.empty(), inputs["routings"], ProcessConfig())
    return net, plan, TwinInputs(network=net, plan=plan, forecast=forecast, series=NO_SERIES,
                                 history=NO_HISTORY, process=process)


def _three_level(s_batch: float | None = None, f_batch: float | None = None):
    """K (sold at D, 1 week away) ← F (filled) ← S (drug substance), all made at plant P, 1 week to release.

    Per unit started: K draws 1 / (1 − 0.2) = 1.25 F, F draws 0.5 / (1 − 0.5) = 1 S. Yields: F 0.9, S 0.8.
    """
    return ex.three_level(s_batch=s_batch, f_batch=f_batch)


CFG = PlanConfig(horizon_weeks=8, terminal_condition=False)
# 100 K wanted at D in week 6: K starts in week 4 (100), F in week 3 (125 / 0.9 = 138.9), S in week 2 (173.6)
K_DEMAND = [("K", "D", 6, 100.0)]


def _weekly(result, product, site, col) -> dict[int, float]:
    w = result.weekly.filter((pl.col("product_id") == product) & (pl.col("site_id") == site))
    return {int((wk - ex.START).days // 7): v for wk, v in w.select("week", col).rows() if abs(v) > 1e-9}


def test_without_variance_the_twin_draws_components_as_the_plan_does():
    net, plan, inputs = _solve(_three_level(), K_DEMAND, CFG)
    assert plan.inventory["consumed"].sum() > 0  # the fixture has dependent demand
    result = replay_plan(inputs, TwinConfig(paths=2, **EXACT))
    cols = ("closing", "served", "consumed", "released", "departures", "arrivals", "expired")
    got = result.weekly.join(plan.inventory.select(*PST, *cols), on=PST, how="full", coalesce=True,
                             suffix="_plan")
    for col in cols:
        diff = (got[col].fill_null(0.0) - got[f"{col}_plan"].fill_null(0.0)).abs().max()
        assert diff < 1e-6, f"{col} differs from the plan by {diff}"
    assert _weekly(result, "F", "P", "consumed") == pytest.approx({4: 125.0})
    assert _weekly(result, "S", "P", "consumed") == pytest.approx({3: 125 / 0.9})
    s = {r["metric"]: r["mean"] for r in result.summary.iter_rows(named=True)}
    assert s["fill_rate_units"] == pytest.approx(1.0)


def test_a_failed_drug_substance_batch_shows_downstream_as_lost_product():
    # S is made in batches of 100: the plan starts 173.6 S in week 2, 1.736 batches (one whole, one partial
    # of 73.6). The whole batch fails: 73.6 × 0.8 = 58.9 S are released in week 3 instead of 138.9, so F's
    # start (continuous) is cut to 58.9 (it needs 1 S a unit), 53.0 good F are released in week 4, K's
    # start is cut to 53.0 / 1.25 = 42.4 and 42.4 of the 100 K are served at D in week 6: 57.6 short.
    net, plan, inputs = _solve(_three_level(s_batch=100.0), K_DEMAND, CFG)
    s_started = 125 / 0.9 / 0.8
    s_batches = plan.production.filter(pl.col("product_id") == "S")["batches"].item()
    assert s_batches == pytest.approx(s_started / 100)
    fail = FailedBatch(resource_id="RS", week=ex.week(2))
    result = replay_plan(inputs, TwinConfig(paths=2, failed_batches=(fail,), **EXACT))
    s_left = (s_started - 100.0) * 0.8
    assert _weekly(result, "S", "P", "released") == pytest.approx({3: s_left})
    assert _weekly(result, "S", "P", "consumed") == pytest.approx({3: s_left})
    assert _weekly(result, "F", "P", "released") == pytest.approx({4: s_left * 0.9})
    assert _weekly(result, "K", "P", "released") == pytest.approx({5: s_left * 0.9 / 1.25})
    assert _weekly(result, "K", "D", "served") == pytest.approx({6: s_left * 0.9 / 1.25})
    s = {r["metric"]: r for r in result.summary.iter_rows(named=True)}
    assert s["short_units"]["mean"] == pytest.approx(100.0 - s_left * 0.9 / 1.25)
    assert s["short_units"]["plan_value"] == pytest.approx(0.0)
    # both S batches fail: no F, no K, all 100 short
    both = replay_plan(inputs, TwinConfig(paths=2, failed_batches=(fail.model_copy(update={"batches": 2}),),
                                          **EXACT))
    assert _weekly(both, "F", "P", "released") == {}
    assert {r["metric"]: r["mean"] for r in both.summary.iter_rows(named=True)}["short_units"] == \
        pytest.approx(100.0)


def test_a_parent_short_of_its_component_starts_whole_batches_only():
    # As above, but F is filled in batches of 50: its plan starts 138.9 F (2.78 batches). With 58.9 S it
    # could start 58.9 F = 1.06 batches, so it starts one batch (50 F, drawing 50 S; 8.9 S stay in stock),
    # releases 45 F, and K starts 45 / 1.25 = 36: 36 K served, 64 short.
    net, plan, inputs = _solve(_three_level(s_batch=100.0, f_batch=50.0), K_DEMAND, CFG)
    fail = FailedBatch(resource_id="RS", week=ex.week(2))
    result = replay_plan(inputs, TwinConfig(paths=2, failed_batches=(fail,), **EXACT))
    s_left = (125 / 0.9 / 0.8 - 100.0) * 0.8
    assert _weekly(result, "S", "P", "consumed") == pytest.approx({3: 50.0})
    assert _weekly(result, "S", "P", "closing")[7] == pytest.approx(s_left - 50.0)
    assert _weekly(result, "F", "P", "released") == pytest.approx({4: 45.0})
    assert _weekly(result, "K", "D", "served") == pytest.approx({6: 36.0})


def _campaign_suite():
    """A and B (backlog penalty 1000) on one campaign suite R at plant P (100 h a week, 1 h a unit, batches
    of 50, campaigns of at least 2 weeks), which serves the demand itself."""
    return ex.inputs(
        dcs=(),
        products=ex.products(dict(product_id="A", backlog_penalty=1000.0),
                             dict(product_id="B", backlog_penalty=1000.0)),
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=100.0, campaign=True,
                                    min_campaign_weeks=2, changeover_hours=0.0)),
        routings=ex.routings(dict(product_id="A", resource_id="R", batch_size=50.0, release_weeks=1),
                             dict(product_id="B", resource_id="R", batch_size=50.0, release_weeks=1)),
        lanes=ex.lanes(),
    )


def test_a_failed_batch_of_a_two_week_campaign_costs_one_batch_of_its_product():
    # A is wanted 100 in weeks 3 and 4, B 100 in weeks 6 and 7: the suite runs A in weeks 2-3 (two batches a
    # week) and B in weeks 5-6. One A batch of week 3 fails: 50 A fewer released in week 4, 50 A short in
    # week 4; B is untouched.
    rows = [("A", "P", 3, 100.0), ("A", "P", 4, 100.0), ("B", "P", 6, 100.0), ("B", "P", 7, 100.0)]
    net, plan, inputs = _solve(_campaign_suite(), rows, PlanConfig(horizon_weeks=8, terminal_condition=False))
    a = plan.production.filter(pl.col("product_id") == "A").sort("week")
    assert a["batches"].to_list() == pytest.approx([2.0, 2.0])
    assert a["week"].to_list() == [ex.week(2), ex.week(3)]
    result = replay_plan(inputs, TwinConfig(paths=2, failed_batches=(
        FailedBatch(resource_id="R", week=ex.week(3)),), **EXACT))
    assert _weekly(result, "A", "P", "released") == pytest.approx({3: 100.0, 4: 50.0})
    assert _weekly(result, "A", "P", "served") == pytest.approx({3: 100.0, 4: 50.0})
    assert _weekly(result, "B", "P", "served") == pytest.approx({6: 100.0, 7: 100.0})
    s = {r["metric"]: r["mean"] for r in result.summary.iter_rows(named=True)}
    assert s["short_units"] == pytest.approx(50.0)
    # sampled failures are batches too: on every path a row loses a whole number of 50-unit batches
    index = build_index(net, plan, inputs.forecast.select("product_id", "site_id").unique())
    process = inputs.process.with_columns(learned_failure_rate=pl.lit(0.3), yield_sd=pl.lit(0.0),
                                          learned_yield=pl.lit(1.0), release_weeks_sd=pl.lit(0.0))
    _, released = sample_releases(index, process, 4000, True, np.random.default_rng(1))
    assert set(np.unique(released)) == {0.0, 50.0, 100.0}
    lost_one = (released == 50.0).mean()
    assert lost_one == pytest.approx(2 * 0.3 * 0.7, abs=0.03)  # Binomial(2, 0.3) = 1


def test_a_partial_batch_of_an_lp_plan_fails_as_a_batch_of_its_own():
    # an LP plan may start 2.5 batches of 100: one failure costs a whole batch (100) or the partial one (50),
    # never 250 / 3
    inputs = ex.inputs(dcs=(), routings=ex.routings(dict(product_id="A", resource_id="R", batch_size=100.0,
                                                          release_weeks=1)),
                       resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=1000.0)),
                       lanes=ex.lanes())
    net, plan, twin_in = _solve(inputs, [("A", "P", 2, 250.0)], CFG)
    assert plan.production["batches"].to_list() == pytest.approx([2.5])
    index = build_index(net, plan, twin_in.forecast.select("product_id", "site_id").unique())
    process = twin_in.process.with_columns(learned_failure_rate=pl.lit(0.5), yield_sd=pl.lit(0.0),
                                           learned_yield=pl.lit(1.0), release_weeks_sd=pl.lit(0.0))
    _, released = sample_releases(index, process, 2000, True, np.random.default_rng(2))
    assert set(np.unique(released)) == {0.0, 50.0, 100.0, 150.0, 200.0, 250.0}


def test_a_failed_batch_that_names_no_planned_start_is_refused():
    net, plan, inputs = _solve(_three_level(s_batch=100.0), K_DEMAND, CFG)
    with pytest.raises(ParameterError, match="starts nothing there"):
        replay_plan(inputs, TwinConfig(paths=1, failed_batches=(
            FailedBatch(resource_id="RS", week=ex.week(5)),)))
    with pytest.raises(ParameterError, match="the start has 2"):
        replay_plan(inputs, TwinConfig(paths=1, failed_batches=(
            FailedBatch(resource_id="RS", week=ex.week(2), batches=3),)))


def test_a_component_shipped_between_plants_without_lead_time_feeds_the_fill():
    # S is made at P1 and moved to P2 on a lane without lead time, where F is filled and shipped to D
    # (1 week): 100 F at D in week 4 → F starts 100 / 0.9 at P2 in week 2 drawing as much S, which arrives
    # from P1 the same week. The exact replay is the plan: S consumed at P2, F served at D (a shipment on
    # a lane without lead time used to vanish in the replay).
    inputs = ex.inputs(
        plants=("P1", "P2"),
        products=ex.products(dict(product_id="F", holding_cost_per_week=1.0),
                             dict(product_id="S", family="drug_substance", holding_cost_per_week=0.5)),
        resources=ex.resources(dict(resource_id="RS", site_id="P1", hours_per_week=1000.0),
                               dict(resource_id="RF", site_id="P2", hours_per_week=1000.0)),
        routings=ex.routings(dict(product_id="S", resource_id="RS", release_weeks=1),
                             dict(product_id="F", resource_id="RF", release_weeks=1, **{"yield": 0.9})),
        lanes=ex.lanes(dict(from_site="P1", to_site="P2"),
                       dict(from_site="P2", to_site="D", lead_time_weeks=1)),
        bom=ex.bom(dict(parent_id="F", component_id="S", quantity_per=1.0)),
    )
    net, plan, twin_in = _solve(inputs, [("F", "D", 4, 100.0)], CFG)
    result = replay_plan(twin_in, TwinConfig(paths=2, **EXACT))
    assert _weekly(result, "S", "P2", "consumed") == pytest.approx({2: 100 / 0.9})
    assert _weekly(result, "S", "P2", "arrivals") == pytest.approx({2: 100 / 0.9})
    assert _weekly(result, "F", "D", "served") == pytest.approx({4: 100.0})
    s = {r["metric"]: r for r in result.summary.iter_rows(named=True)}
    assert s["fill_rate_units"]["mean"] == pytest.approx(1.0) == s["fill_rate_units"]["plan_value"]


def test_a_shipment_on_a_lane_without_lead_time_arrives_in_the_replay():
    # single level: A made at P (1 week to release), shipped to D on a lane without lead time, 30 wanted in
    # week 2. The exact replay serves all 30 (it used to lose the shipment: 0% against the plan's 100%).
    net, plan, twin_in = _solve(ex.inputs(routings=ex.routings(dict(product_id="A", resource_id="R",
                                                                     release_weeks=1))),
                                [("A", "D", 2, 30.0)], CFG)
    assert plan.shipments["arrival_week"].to_list() == plan.shipments["week"].to_list()
    result = replay_plan(twin_in, TwinConfig(paths=2, **EXACT))
    assert _weekly(result, "A", "D", "served") == pytest.approx({2: 30.0})


def test_fail_batch_options_name_a_resource_and_a_week_and_count_repeats():
    from cli.twin_replay import _failed_batches

    got = _failed_batches(["BR1:2027-01-20", "BR1:2027-01-18", "BR2:2027-01-25:DS-1"])
    assert got == (FailedBatch(resource_id="BR1", week=ex.week(2), batches=2),  # any day names its week
                   FailedBatch(resource_id="BR2", week=ex.week(3), product_id="DS-1"))
    for bad in ("BR1", "BR1:2027-13-01", ":2027-01-18", "BR1:2027-01-18:P:x"):
        with pytest.raises(ParameterError, match="expected RESOURCE:YYYY-MM-DD"):
            _failed_batches([bad])


def test_the_ending_stock_units_count_sold_items_as_the_plans_kpi_does():
    """A planner's hour (stop 27): the twin's ending stock on the demo read 855,065 units for the plan where
    its KPI ``stock_units_end`` read 638,566: the twin added grams of drug substance and litres of bulk to the
    vials. Both count sold items now; the value still counts every item."""
    inputs = _three_level()
    inputs["inventory"] = ex.inventory(dict(product_id="S", site_id="P", quantity=500.0))  # more S than K needs
    net, plan, twin_in = _solve(inputs, K_DEMAND, CFG)
    result = replay_plan(twin_in, TwinConfig(paths=2, **EXACT))
    end = plan.inventory.filter(pl.col("week") == plan.inventory["week"].max())
    left = dict(end.group_by("product_id").agg(pl.col("closing").sum()).iter_rows())
    assert left["S"] > 100.0  # the component's stock is there at the end, and is not a sold unit
    row = result.summary.filter(pl.col("metric") == "ending_stock_units").row(0, named=True)
    assert row["plan_value"] == pytest.approx(left.get("K", 0.0)) and row["mean"] == pytest.approx(row["plan_value"])
    kpis = plan_supply(net, ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in K_DEMAND]),
                       pl.DataFrame(), CFG).tables["plan_kpis"]
    assert row["plan_value"] == pytest.approx(kpis.filter(kpi="stock_units_end")["value"].item())
