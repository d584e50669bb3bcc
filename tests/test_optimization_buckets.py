"""Far weeks in longer buckets (optimization/buckets.py): the grid, hand-solved bucketed plans, weekly tables."""

from __future__ import annotations

import polars as pl
import pytest
from pydantic import ValidationError

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.buckets import bucket_grid

NO_SS = pl.DataFrame()
OFF = dict(terminal_condition=False)  # no end-of-horizon target: the hand optima below are plain sums


def _plan(inputs, demand, safety=NO_SS, **cfg):
    config = PlanConfig(**cfg)
    return plan_supply(build_network(inputs, ex.START, config), demand, safety, config)


def _one_line(hours: float = 100.0, release_weeks: int = 0, calendar=None):
    return ex.inputs(
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=hours)),
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=release_weeks)),
        calendar=calendar,
    )


def test_the_grid_keeps_the_lead_time_weeks_weekly():
    config = PlanConfig(horizon_weeks=10, bucket_after_weeks=2, bucket_weeks=4)
    net = build_network(_one_line(), ex.START, config)
    assert bucket_grid(net, config).starts == (0, 1, 2, 6)
    # a release lag of 3 weeks keeps weeks 0-2 weekly whatever bucket_after_weeks says
    lag = build_network(_one_line(release_weeks=3), ex.START, config)
    assert bucket_grid(lag, config).starts == (0, 1, 2, 3, 7)
    # without the setting, and past the horizon, the model stays weekly
    assert not bucket_grid(net, PlanConfig(horizon_weeks=10)).bucketed
    assert not bucket_grid(net, PlanConfig(horizon_weeks=10, bucket_after_weeks=10)).bucketed


def test_a_shutdown_week_inside_a_bucket_gets_no_production_in_the_weekly_tables():
    # weeks {0,1}, {2,3}; week 1 shut: the bucket's 6 h are week 0's, all 5 made are made then
    cal = ex.calendar(dict(resource_id="R", t=1, hours_available=0.0))
    inputs, demand = _one_line(hours=6.0, calendar=cal), ex.demand_of(("A", "D", 1, 5.0))
    r = _plan(inputs, demand, horizon_weeks=4, bucket_after_weeks=0, bucket_weeks=2, **OFF)
    assert r.objective == pytest.approx(5.0)
    cap = r.tables["plan_capacity"].sort("week")
    assert cap["hours_available"].to_list() == pytest.approx([6.0, 0.0, 6.0, 6.0])
    assert cap["hours_used"].to_list() == pytest.approx([5.0, 0.0, 0.0, 0.0])
    prod = r.tables["plan_production"]
    made = dict(prod.group_by("week").agg(pl.col("quantity").sum()).iter_rows())
    assert made[ex.week(0)] == pytest.approx(5.0) and made.get(ex.week(1), 0.0) == pytest.approx(0.0)


def test_a_bucket_pools_its_weeks_hours_the_hand_optimum_and_weekly_tables():
    # 6 h a week, 10 wanted in week 1. Weekly: 6 made in week 1, 4 in week 0 held a week (0.4) → 10.4.
    # One 2-week bucket has 12 h for the bucket's 10: made and sold within it, nothing held → 10.0 (the
    # bucket's relaxation: inside a bucket the order of weeks is not seen).
    inputs, demand = _one_line(hours=6.0), ex.demand_of(("A", "D", 1, 10.0))
    exact = _plan(inputs, demand, horizon_weeks=4, **OFF)
    bucketed = _plan(inputs, demand, horizon_weeks=4, bucket_after_weeks=0, bucket_weeks=2, **OFF)
    assert exact.objective == pytest.approx(10.4)
    assert bucketed.solver_status == "Optimal" and bucketed.objective == pytest.approx(10.0)
    t = bucketed.tables
    prod = t["plan_production"].sort("week")
    assert prod["week"].to_list() == [ex.week(0), ex.week(1)]
    assert prod["quantity"].to_list() == pytest.approx([5.0, 5.0])
    cap = t["plan_capacity"].sort("week")
    assert cap["hours_used"].to_list() == pytest.approx([5.0, 5.0, 0.0, 0.0])
    assert cap["hours_available"].to_list() == pytest.approx([6.0] * 4)
    back = t["plan_backlog"].sort("week")
    assert back["demand"].to_list() == pytest.approx([5.0, 5.0, 0.0, 0.0])  # the bucket's demand, evenly
    assert back["backlog"].to_list() == pytest.approx([0.0] * 4)
    assert t["plan_inventory"]["week"].n_unique() == 4  # every week, none left out


def test_a_release_lag_splits_a_buckets_output_over_two_buckets_hand_optimum():
    # release 1 week; weeks {0}, {1,2}, {3,4}; 10 wanted in week 4 (the last bucket). Per unit served:
    # started in week 0 → released in bucket 1 and held to its end: 1 + 0.1 × 2 weeks = 1.2;
    # started in bucket 1 → half released in week 2 (held: 0.1 × 2 on that half), half in week 3: 1.1;
    # started in bucket 2 → half released after the horizon: 2 per unit served. Optimum 10 × 1.1 = 11.0
    # (weekly: started in week 3 → 10.0).
    inputs, demand = _one_line(release_weeks=1), ex.demand_of(("A", "D", 4, 10.0))
    exact = _plan(inputs, demand, horizon_weeks=5, **OFF)
    bucketed = _plan(inputs, demand, horizon_weeks=5, bucket_after_weeks=0, bucket_weeks=2, **OFF)
    assert exact.objective == pytest.approx(10.0)
    assert bucketed.objective == pytest.approx(11.0)
    prod = bucketed.tables["plan_production"].sort("week")
    assert prod["week"].to_list() == [ex.week(1), ex.week(2)]
    assert prod["quantity"].to_list() == pytest.approx([5.0, 5.0])
    assert prod["release_week"].to_list() == [ex.week(2), ex.week(3)]  # each week's own lag
    kpis = dict(bucketed.tables["plan_kpis"].select("kpi", "value").iter_rows())
    assert kpis["cost_holding"] == pytest.approx(1.0)
    # the weekly stock carries exactly the holding the model charged (2.5 + 5 + 2.5 unit-weeks)
    inv = bucketed.tables["plan_inventory"].group_by("week").agg(pl.col("closing").sum()).sort("week")
    assert inv["closing"].to_list() == pytest.approx([0.0, 2.5, 5.0, 2.5, 0.0])
    assert float(inv["closing"].sum()) * 0.1 == pytest.approx(kpis["cost_holding"])


def test_the_stock_tables_released_is_each_buckets_release_spread_evenly_and_says_so():
    """The bucket model knows what a bucket releases, not in which of its weeks: the stock table spreads it
    (summed over a bucket, the production table's releases), and the column's documentation says so."""
    from data_contracts import schema

    inputs, demand = _one_line(release_weeks=1), ex.demand_of(("A", "D", 4, 10.0))  # weeks {0}, {1,2}, {3,4}
    t = _plan(inputs, demand, horizon_weeks=5, bucket_after_weeks=0, bucket_weeks=2, **OFF).tables
    released = t["plan_inventory"].group_by("week").agg(pl.col("released").sum()).sort("week")
    assert released["released"].to_list() == pytest.approx([0.0, 2.5, 2.5, 2.5, 2.5])
    own = t["plan_production"].group_by("release_week").agg(pl.col("released_quantity").sum())
    own = dict(own.iter_rows())
    assert own == pytest.approx({ex.week(2): 5.0, ex.week(3): 5.0})  # each production week's own release
    doc = schema.PLAN_INVENTORY.column_docs["released"]
    assert "bucket" in doc and "spread evenly" in doc and "release_week" in doc


@pytest.mark.parametrize("seed", [1, 5])
def test_bucketed_plans_keep_every_weekly_contract_and_both_paths_agree(seed):
    from data_contracts.plan import validate_plan
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(
        seed=seed, n_products=12, n_plants=2, n_dcs=3, horizon=20, resources_per_plant=4
    )
    safety = demand.select("product_id", "site_id", "week", safety_stock=pl.col("quantity") * 0.5)
    cfg = dict(horizon_weeks=20, bucket_after_weeks=6, bucket_weeks=4)
    pulp = _plan(inputs, demand, safety, solve_path="pulp", **cfg)
    blocks = _plan(inputs, demand, safety, solve_path="blocks", **cfg)
    assert pulp.solver_status == blocks.solver_status == "Optimal"
    assert blocks.objective == pytest.approx(pulp.objective, rel=1e-7)
    validate_plan(pulp.tables, inputs["lanes"], inputs["resources"])  # balance, capacity, no negative stock
    inv = pulp.tables["plan_inventory"]
    assert inv["week"].n_unique() == 20
    kpis = dict(pulp.tables["plan_kpis"].select("kpi", "value").iter_rows())
    assert kpis["cost_total"] == pytest.approx(pulp.objective, rel=1e-9)
    # the weekly tables sum to the model's: production hours and demand are only spread, never lost
    exact = _plan(inputs, demand, safety, solve_path="pulp", horizon_weeks=20)
    demand_units = {r.tables["plan_backlog"]["demand"].sum() for r in (exact, pulp)}
    assert max(demand_units) == pytest.approx(min(demand_units))


def test_buckets_refuse_the_settings_they_cannot_express():
    with pytest.raises(ValidationError, match="max_backlog_weeks"):
        PlanConfig(bucket_after_weeks=8, max_backlog_weeks=4)
    with pytest.raises(ValidationError, match="min_shelf_life_share_at_dc"):
        PlanConfig(bucket_after_weeks=8, min_shelf_life_share_at_dc=0.5)
    with pytest.raises(ValidationError):
        PlanConfig(bucket_after_weeks=8, bucket_weeks=1)


def test_output_reaching_past_the_horizon_in_pieces_counts_once_for_the_end_target_on_both_paths():
    # release 2 weeks; weeks {0}, {1}, {2,3}, {4,5}: the last bucket's starts are released in weeks 6 and 7,
    # two pieces after the horizon, both pipeline for the end-of-horizon target (demand of weeks 6-9)
    inputs = _one_line(release_weeks=2)
    demand = ex.demand_of(*[("A", "D", t, 10.0) for t in (5, 6, 7, 8, 9)])
    cfg = dict(horizon_weeks=6, bucket_after_weeks=0, bucket_weeks=2)
    pulp = _plan(inputs, demand, solve_path="pulp", **cfg)
    blocks = _plan(inputs, demand, solve_path="blocks", **cfg)
    assert pulp.solver_status == blocks.solver_status == "Optimal"
    assert blocks.objective == pytest.approx(pulp.objective, rel=1e-9)
    kpis = dict(pulp.tables["plan_kpis"].select("kpi", "value").iter_rows())
    assert kpis["pipeline_units_end"] > 0
    assert kpis["cost_end_stock_shortfall"] == pytest.approx(0.0, abs=1e-6)  # the target is met
