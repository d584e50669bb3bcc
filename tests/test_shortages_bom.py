"""Shortage reasons through the bill of materials: a sold item short because a resource making one of its
components is full names the component and that root resource. Solved by hand."""

from __future__ import annotations

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex

CFG = PlanConfig(horizon_weeks=8, terminal_condition=False)


def _three_level(rs_hours: float):
    """K (sold at D, 1 week away) ← F (filled, batch-free) ← S (drug substance), all at plant P, 1 week to
    release each; K draws 1.25 F a unit started, F draws 1 S; yields F 0.9, S 0.8; 1 hour a unit. The fill
    and pack lines have 1,000 hours a week, the bioreactor RS ``rs_hours``."""
    return ex.inputs(
        products=ex.products(
            dict(product_id="K", holding_cost_per_week=1.0, backlog_penalty=100.0),
            dict(product_id="F", family="filled", holding_cost_per_week=0.5),
            dict(product_id="S", family="drug_substance", holding_cost_per_week=0.1),
        ),
        resources=ex.resources(
            dict(resource_id="RK", site_id="P", hours_per_week=1000.0),
            dict(resource_id="RF", site_id="P", hours_per_week=1000.0),
            dict(resource_id="RS", site_id="P", hours_per_week=rs_hours),
        ),
        routings=ex.routings(
            dict(product_id="K", resource_id="RK", release_weeks=1),
            dict(product_id="F", resource_id="RF", release_weeks=1, **{"yield": 0.9}),
            dict(product_id="S", resource_id="RS", release_weeks=1, **{"yield": 0.8}),
        ),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
        bom=ex.bom(
            dict(parent_id="K", component_id="F", quantity_per=1.0, scrap=0.2),
            dict(parent_id="F", component_id="S", quantity_per=0.5, scrap=0.5),
        ),
    )


def test_a_sold_item_short_for_its_drug_substance_names_the_component_and_the_bioreactor():
    # 100 K wanted at D in week 6: K must start by week 4, F by week 3, S by week 2. RS has 20 hours a week,
    # so at most 60 S start in weeks 0-2: 48 good S → 48 F started → 43.2 good F → 34.56 K: 65.44 short.
    # The pack and fill lines are far from full: the reason is the bioreactor making S, through F. One K
    # short needs 1.25 / 0.9 / 0.8 = 1.7361 S started, so 65.44 K take 113.6 more hours on RS.
    net = build_network(_three_level(20.0), ex.START, CFG)
    demand = ex.demand(dict(product_id="K", site_id="D", t=6, quantity=100.0))
    r = plan_supply(net, demand, pl.DataFrame(), CFG)
    assert r.solver_status == "Optimal"
    short = r.tables["plan_shortages"]
    assert set(short["reason"]) == {"component"}  # week 6 and, still in backlog, week 7 (11.52 made late)
    row = short.filter(pl.col("week") == ex.week(6)).row(0, named=True)
    assert row["product_id"] == "K" and row["short_quantity"] == pytest.approx(65.44)
    assert row["reason"] == "component" and row["resource_id"] == "RS"
    # in the dearest of weeks 0-2 (2027-W01 to W03)
    assert row["detail"].startswith(
        "its component S (through F) is short: RS at P is full; +113.6 hours on RS in 2027-W0")
    assert "recovers 65 units" in row["detail"]


def test_an_own_full_line_is_still_named_before_an_idle_component_resource():
    # the same network with a large bioreactor and a pack line of 30 hours: K's own line is the bottleneck
    inputs = _three_level(1000.0)
    inputs["resources"] = inputs["resources"].with_columns(
        hours_per_week=pl.when(pl.col("resource_id") == "RK").then(10.0).otherwise(pl.col("hours_per_week")))
    net = build_network(inputs, ex.START, CFG)
    demand = ex.demand(dict(product_id="K", site_id="D", t=6, quantity=100.0))
    r = plan_supply(net, demand, pl.DataFrame(), CFG)
    row = r.tables["plan_shortages"].row(0, named=True)
    assert row["reason"] == "capacity" and row["resource_id"] == "RK"


def test_a_sold_item_short_because_its_bought_in_component_ran_out_names_it():
    # S cannot be made (no routing): only 20 S on hand at P feed F. 20 F start → 18 good F → 14.4 K, so
    # 85.6 of the 100 K are short and no resource is full: the reason names S, which ran out at P by
    # week 3 (2027-W04: F's latest start for K's latest start in week 4).
    inputs = _three_level(1000.0)
    inputs["routings"] = inputs["routings"].filter(pl.col("product_id") != "S")
    inputs["inventory"] = ex.inventory(dict(product_id="S", site_id="P", quantity=20.0))
    net = build_network(inputs, ex.START, CFG)
    demand = ex.demand(dict(product_id="K", site_id="D", t=6, quantity=100.0))
    r = plan_supply(net, demand, pl.DataFrame(), CFG)
    row = r.tables["plan_shortages"].filter(pl.col("week") == ex.week(6)).row(0, named=True)
    assert row["short_quantity"] == pytest.approx(100.0 - 20.0 * 0.9 / 1.25)
    assert row["reason"] == "component" and row["resource_id"] is None
    assert row["detail"] == ("its component S (through F) ran out at P by 2027-W04 and none can be made in "
                             "time for it (no routing, or a longer release lag): only its stock serves")
