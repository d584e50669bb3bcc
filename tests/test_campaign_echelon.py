"""Echelon cover inequalities of campaign items (optimization/campaign_echelon.py): factors, validity, lift."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pulp
import pytest

from optimization import PlanConfig, build_network
from optimization import examples as ex
from optimization.campaign_echelon import cut_terms, echelon_cuts, echelon_items, separate
from optimization.model import build_model
from optimization.pulp_highs import BulkHiGHS

NONE = {"product_id": pl.String, "site_id": pl.String, "t": pl.Int64}
WEEKS = 4


def _two_level(**campaign) -> dict[str, pl.DataFrame]:
    """Drug substances S1, S2 on one 100-hour campaign suite RS at plant P (1 hour a unit, release a week
    later), each filled 2 : 1 into F1, F2 on RF (yield 0.8, scrap 0.2: per start 0.5 / 0.8 = 0.625 of its
    substance), which the DC D sells; lane P → D takes a week; 40 of F1 on hand at D."""
    return ex.inputs(
        products=ex.products(
            *(dict(product_id=f"F{i}", holding_cost_per_week=1.0, backlog_penalty=100.0) for i in (1, 2)),
            *(dict(product_id=f"S{i}", family="drug_substance", holding_cost_per_week=0.5) for i in (1, 2)),
        ),
        resources=ex.resources(
            dict(resource_id="RS", site_id="P", hours_per_week=100.0, campaign=True, **campaign),
            dict(resource_id="RF", site_id="P", hours_per_week=1000.0),
        ),
        routings=ex.routings(
            *(dict(product_id=f"S{i}", resource_id="RS", release_weeks=1) for i in (1, 2)),
            *(dict(product_id=f"F{i}", resource_id="RF", **{"yield": 0.8}) for i in (1, 2)),
        ),
        bom=ex.bom(*(dict(parent_id=f"F{i}", component_id=f"S{i}", quantity_per=0.5, scrap=0.2) for i in (1, 2))),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
        inventory=ex.inventory(dict(product_id="F1", site_id="D", quantity=40.0)),
    )


def _model(inputs, demand_rows, safety_rows=(), weeks: int = WEEKS):
    config = PlanConfig(horizon_weeks=weeks, terminal_condition=False)
    net = build_network(inputs, ex.START, config)
    demand = pl.DataFrame(list(demand_rows), schema={**NONE, "quantity": pl.Float64}, orient="row")
    safety = pl.DataFrame(list(safety_rows), schema={**NONE, "safety_stock": pl.Float64}, orient="row")
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    return build_model(net, demand, safety, scheduled, config)


def _cuts(model):
    return echelon_cuts(model.network, model.frames, model.demand, model.safety, model.releases, model.arrivals,
                        model.config.frozen_weeks)


DEMAND = [(f"F{i}", "D", t, q) for i, q in ((1, 60.0), (2, 50.0)) for t in range(1, WEEKS)]
SAFETY = [("F1", "D", t, 20.0) for t in range(WEEKS)]


def test_the_echelon_of_a_substance_is_its_filled_product_at_its_factor_by_hand():
    # A good F1 takes 0.5 / (1 − 0.2) = 0.625 S1 per start over yield 0.8: 0.78125 S1.
    model = _model(_two_level(), DEMAND)
    items = echelon_items(model.network, model.frames)
    assert items.rows() == [("S1", "F1", pytest.approx(0.78125)), ("S1", "S1", 1.0),
                            ("S2", "F2", pytest.approx(0.78125)), ("S2", "S2", 1.0)]


def test_no_row_holds_back_an_item_with_a_routing_off_the_campaign_suites():
    inputs = _two_level()
    inputs["routings"] = pl.concat([inputs["routings"], ex.routings(dict(product_id="S2", resource_id="RF"))])
    items = echelon_items(_model(inputs, DEMAND).network, _model(inputs, DEMAND).frames)
    assert items["item_id"].unique().to_list() == ["S1"]


@pytest.mark.parametrize("campaign", [dict(changeover_hours=30.0), dict(changeover_cost=200.0, min_campaign_weeks=2)])
def test_no_window_is_violated_at_any_integer_plan(campaign):
    # Every schedule of the suite (S1, S2 or idle each week, 3^4 = 81) that has a plan: its LP with the
    # setups fixed gives an integer plan, at which no window of either item may be violated.
    model = _model(_two_level(**campaign), DEMAND, SAFETY)
    cuts = _cuts(model)
    setup = model.frames["setup_for"].sort("t", "product_id")
    variables = model.builder.variables
    checked = 0
    for schedule in itertools.product((None, "S1", "S2"), repeat=WEEKS):
        for p, t, c in setup.select("product_id", "t", "col").iter_rows():
            v = 1.0 if schedule[t] == p else 0.0
            variables[c].lowBound = variables[c].upBound = v
        status = model.builder.prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables))
        if status != pulp.LpStatusOptimal:
            continue
        x = np.array([v.varValue or 0.0 for v in variables])
        assert separate(cuts, x, per_item=10, tolerance=1e-7).height == 0, schedule
        checked += 1
    assert checked >= 27


def test_rows_separated_on_the_relaxation_lift_it_and_stay_below_the_optimum():
    # Six weeks, demand from week 2, a switch costing 100 and campaigns of at most 2 weeks: the relaxation
    # runs the suite on a steady fractional mix and leaves windows whose demand neither its setups nor its
    # stock cover. Three rounds of separation lift it (1,013.1 → 1,054.4, a fractional switch more); the
    # optimum (6,095.4) is far above: what the rows see is small, as on the demo.
    demand = [(f"F{i}", "D", t, q) for i, q in ((1, 60.0), (2, 50.0)) for t in range(2, 6)]
    safety = [("F1", "D", t, 20.0) for t in range(6)]
    network = _two_level(changeover_hours=30.0, changeover_cost=100.0, max_campaign_weeks=2)
    model = _model(network, demand, safety, weeks=6)
    prob, variables = model.builder.prob, model.builder.variables
    assert prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables)) == pulp.LpStatusOptimal
    relaxed = pulp.value(prob.objective)
    cuts = _cuts(model)
    names = pl.DataFrame({"i": np.arange(len(cuts.items)), "product_id": cuts.items})
    added = 0
    for r in range(3):
        chosen = separate(cuts, np.array([v.varValue or 0.0 for v in variables]), per_item=10)
        if chosen.height == 0:
            break
        terms = cut_terms(cuts, chosen).join(names, on="product_id").join(chosen, on=["i", "k", "l"])
        for (p, k, l, rhs), group in terms.group_by("product_id", "k", "l", "rhs", maintain_order=True):
            expr = pulp.LpAffineExpression([(variables[c], a) for c, a in group.select("col", "coef").iter_rows()])
            prob += pulp.LpConstraint(expr, pulp.LpConstraintGE, f"echelon_cover_{r}_{p}_{k}_{l}", rhs)
        assert prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables)) == pulp.LpStatusOptimal
        added += chosen.height
    lifted = pulp.value(prob.objective)
    exact = _model(network, demand, safety, weeks=6)
    assert exact.builder.prob.solve(BulkHiGHS(mip=True, msg=False, gapRel=0.0, variables=exact.builder.variables)) \
        == pulp.LpStatusOptimal
    optimum = pulp.value(exact.builder.prob.objective)
    assert added > 0
    assert relaxed + 1.0 < lifted <= optimum + 1e-6 * max(1.0, optimum)
