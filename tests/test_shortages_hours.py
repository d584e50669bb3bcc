"""The recovery advice of a capacity shortage never asks a week for more hours than it holds (168): the rest
goes to the other weeks that could still serve it in time, or the advice says hours alone cannot recover it.
Solved by hand on the smallest network."""

from __future__ import annotations

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex

CFG = PlanConfig(horizon_weeks=6, terminal_condition=False)


def _short_in_week_3(quantity: float) -> dict:
    """A made on R (100 hours a week, 1 hour a unit, released a week later) at P, shipped to D in a week:
    demand in week 3 can only be started in weeks 0 and 1, at most 200 units. Its shortage row."""
    inputs = ex.inputs(
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=1)),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
    )
    net = build_network(inputs, ex.START, CFG)
    r = plan_supply(net, ex.demand(dict(product_id="A", site_id="D", t=3, quantity=quantity)), pl.DataFrame(), CFG)
    assert r.solver_status == "Optimal"
    return r.tables["plan_shortages"].filter(pl.col("week") == ex.week(3)).row(0, named=True)


def test_hours_that_one_week_can_hold_are_asked_of_that_week():
    # 250 wanted, 200 made: 50 hours, which a week of 100 planned hours holds (68 more)
    row = _short_in_week_3(250.0)
    assert row["reason"] == "capacity" and row["short_quantity"] == pytest.approx(50.0)
    assert "+50.0 hours on R in 2027-W0" in row["detail"] and "recovers 50 units" in row["detail"]


def test_more_hours_than_a_week_holds_are_spread_over_the_weeks_that_can_still_serve():
    # 320 wanted, 200 made: 120 hours. Week 1 (the latest start, the dearest hour) holds 68 more, week 0 the
    # other 52; neither is asked for more than 168 hours in all
    row = _short_in_week_3(320.0)
    assert row["short_quantity"] == pytest.approx(120.0)
    assert row["detail"].startswith(
        "R at P is full; +120.0 hours on R recover 120 units, more than 2027-W02 can still hold (+68.0 of a "
        "week's 168): +68.0 in 2027-W02, +52.0 in 2027-W01; an hour in 2027-W02 is worth "), row["detail"]


def test_a_shortage_the_weeks_in_time_cannot_hold_says_hours_alone_cannot_recover_it():
    # 400 wanted, 200 made: 200 hours, more than weeks 0 and 1 hold beside their 100 planned (2 × 68 = 136)
    row = _short_in_week_3(400.0)
    assert row["short_quantity"] == pytest.approx(200.0)
    assert row["detail"].startswith(
        "R at P is full; +200.0 hours on R would recover 200 units, but the weeks that could still serve it in "
        "time (2027-W01–2027-W02) hold only +136.0 more (a week has 168 hours): hours alone cannot recover it; "
        "an hour in 2027-W02 is worth "), row["detail"]
