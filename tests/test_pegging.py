"""Pegging, by hand: which production or stock each DC's served units came from, first in, first out."""

from __future__ import annotations

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.pegging import plan_pegging

CFG = PlanConfig(horizon_weeks=4, terminal_condition=False)


def _plan():
    """A at plant P (resource R, 100 h a week, 1 h a unit, released the week it starts), 30 on hand at D,
    one week's transit P → D. D wants 50 in week 1 and 120 in week 2: the 30 on hand serve week 1 first and
    week 0's production the other 20; week 2's 120 need 20 more made in week 0 (week 1 makes at most 100)."""
    inputs = ex.inputs(
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
        inventory=ex.inventory(dict(product_id="A", site_id="D", lot_id="L1", quantity=30.0)),
    )
    net = build_network(inputs, ex.START, CFG)
    demand = ex.demand(dict(product_id="A", site_id="D", t=1, quantity=50.0),
                       dict(product_id="A", site_id="D", t=2, quantity=120.0))
    r = plan_supply(net, demand, pl.DataFrame(), CFG)
    assert r.solver_status == "Optimal"
    return r.tables


def test_served_units_are_pegged_to_the_stock_then_the_production_that_reached_them():
    t = _plan()
    peg = plan_pegging(t["plan_inventory"], t["plan_production"], t["plan_shipments"])
    served = peg.filter(pl.col("use") == "served")
    made = t["plan_production"].filter(pl.col("quantity") > 0)
    # every served unit is pegged, and no more
    assert served["quantity"].sum() == pytest.approx(170.0)
    by = {(w, s, start): q for w, s, start, q in served.select("week", "source", "start_week", "quantity").rows()}
    # week 1: the 30 on hand at D first, then 20 of what P made in week 0 (shipped then, arriving in week 1)
    assert by[(ex.week(1), "stock", None)] == pytest.approx(30.0)
    assert made.select("week", "released_quantity").rows() == [(ex.week(0), 40.0), (ex.week(1), 100.0)]
    assert by[(ex.week(1), "production", ex.week(0))] == pytest.approx(20.0)
    # week 2: the 20 of week 0 held at P (shipped first in week 1, first in, first out), then week 1's 100
    assert by[(ex.week(2), "production", ex.week(0))] == pytest.approx(20.0)
    assert by[(ex.week(2), "production", ex.week(1))] == pytest.approx(100.0)
    assert len(by) == 4
    assert set(served["source_site"]) == {"D", "P"} and set(served["resource_id"].drop_nulls()) == {"R"}
    # what is pegged is what was used: served, expired, consumed and the stock left, per site
    inv = t["plan_inventory"]
    used = inv["served"].sum() + inv["expired"].sum() + inv["consumed"].sum() + inv.filter(
        pl.col("week") == inv["week"].max())["closing"].sum()
    assert peg["quantity"].sum() == pytest.approx(used)


def test_a_plan_without_stock_rows_pegs_nothing():
    t = _plan()
    empty = plan_pegging(t["plan_inventory"].clear(), t["plan_production"], t["plan_shipments"])
    assert empty.height == 0 and "quantity" in empty.columns
