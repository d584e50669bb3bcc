"""A shortage's detail is the same on every run of the same plan: where two candidates tie (two resources
binding at the same price, in the same week, for the same product), the first by resource name is named,
whatever order the rows arrive in. Polars' sort is not stable unless asked, so a bare sort on the price
left the pick to the order the rows came in."""

from __future__ import annotations

import polars as pl

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.shortage_capacity import capacity_candidates

CFG = PlanConfig(horizon_weeks=6, terminal_condition=False)


def _twin_inputs() -> dict:
    """A made at P on R and on S alike (100 hours a week each, 1 hour a unit, released a week later),
    shipped to D in a week."""
    return ex.inputs(
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=100.0),
                               dict(resource_id="S", site_id="P", hours_per_week=100.0)),
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=1),
                             dict(product_id="A", resource_id="S", release_weeks=1)),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
    )


def _own(resource_ids: list[str]) -> pl.DataFrame:
    """One shortage of A at D in week 3 with a window on each resource, rows in the order given."""
    return pl.DataFrame([
        dict(product_id="A", site_id="D", t=3, short=50.0, resource_id=r, plant="P", hours_per_unit=1.0,
             shelf_life_weeks=None, lo=0, hi=1, q=1.0, component_id=None, via="")
        for r in resource_ids
    ], schema_overrides={"shelf_life_weeks": pl.Int64, "component_id": pl.String})


def _full_capacity() -> pl.DataFrame:
    """Both resources full in weeks 0 and 1 at the same shadow price."""
    return pl.DataFrame([
        dict(resource_id=r, t=t, week=ex.week(t), shadow_price=4.0, utilisation=1.0, hours_available=100.0,
             hours_used=100.0)
        for r in ("S", "R") for t in (0, 1)
    ])


def test_a_tie_between_two_resources_names_the_first_by_name_in_either_row_order():
    net = build_network(_twin_inputs(), ex.START, CFG)
    picked = [
        capacity_candidates(net, _own(order), _own([]).clear(), _full_capacity())["resource_id"].to_list()
        for order in (["R", "S"], ["S", "R"]) * 3
    ]
    assert picked == [["R"]] * 6


def test_the_planned_detail_is_the_same_on_every_run_and_names_the_first_resource():
    net = build_network(_twin_inputs(), ex.START, CFG)
    demand = ex.demand(dict(product_id="A", site_id="D", t=3, quantity=450.0))
    details = set()
    for _ in range(4):
        r = plan_supply(net, demand, pl.DataFrame(), CFG)
        assert r.solver_status == "Optimal"
        row = r.tables["plan_shortages"].filter(pl.col("week") == ex.week(3)).row(0, named=True)
        details.add((row["resource_id"], row["detail"]))
    assert len(details) == 1, details
    resource, detail = details.pop()
    assert resource == "R" and detail.startswith("R at P is full"), detail
