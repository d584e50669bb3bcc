"""Setup-week cover inequalities of campaign items (optimization/campaign_weeks.py): validity, lift."""

from __future__ import annotations

import itertools
import re

import highspy
import numpy as np
import polars as pl
import pulp
import pytest

from optimization.campaign_weeks import add_rows, separate, week_cut_terms, week_cuts, windows
from optimization.pulp_highs import BulkHiGHS
from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.model import build_model
from optimization.solve import solve_model
from tests.test_campaign_echelon import NONE, SAFETY, WEEKS, _model, _two_level

DEMAND = [(f"F{i}", "D", t, q) for i, q in ((1, 60.0), (2, 50.0)) for t in range(1, WEEKS)]


def _cuts(model):
    return week_cuts(model.network, model.frames, model.demand, model.safety, model.releases, model.arrivals,
                     model.config.frozen_weeks)


def _batches(network: dict[str, pl.DataFrame], size: float) -> dict[str, pl.DataFrame]:
    """The substances on the suite started in whole batches of ``size``."""
    routings = network["routings"].with_columns(
        batch_size=pl.when(pl.col("resource_id") == "RS").then(size).otherwise(pl.col("batch_size")))
    return {**network, "routings": routings}


def _ending(inputs, demand_rows, safety_rows, targets):
    """:func:`_model` with end-of-horizon stock targets (``product_id, target``): the terminal condition."""
    config = PlanConfig(horizon_weeks=WEEKS)
    net = build_network(inputs, ex.START, config)
    demand = pl.DataFrame(list(demand_rows), schema={**NONE, "quantity": pl.Float64}, orient="row")
    safety = pl.DataFrame(list(safety_rows), schema={**NONE, "safety_stock": pl.Float64}, orient="row")
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    terminal = pl.DataFrame(targets, schema={"product_id": pl.String, "target": pl.Float64}, orient="row")
    return build_model(net, demand, safety, scheduled, config, terminal=terminal)


def _short_week(network: dict[str, pl.DataFrame], t: int, hours: float) -> dict[str, pl.DataFrame]:
    """The suite with only ``hours`` in week ``t``."""
    return {**network, "calendar": ex.calendar(dict(resource_id="RS", t=t, hours_available=hours))}


SETTINGS = {
    # no batches: a 30-hour switch leaves 70 of 100 hours (δ = 0.3)
    "continuous": (_two_level(changeover_hours=30.0), None, pytest.approx(0.3)),
    # batches of 30: 3 a week, 2 after the switch (δ = 1/3), a minimum campaign of 2 weeks
    "batches": (_two_level(changeover_hours=30.0, changeover_cost=200.0, min_campaign_weeks=2), 30.0,
                pytest.approx(1 / 3)),
    # batches of 40 and an 80-hour switch: a week switched into holds none (δ = 1, as on the demo)
    "demo-like": (_two_level(changeover_hours=80.0), 40.0, 1.0),
    # batches of 40 after a 30-hour switch (δ = ½), and 35 hours in week 2: no batch fits there but the switch
    # does, so a campaign switched into in week 2 starts week 3 with both its batches
    "short week": (_short_week(_two_level(changeover_hours=30.0), 2, 35.0), 40.0, 0.5),
}
TARGETS = [("F1", 90.0), ("F2", 40.0), ("S2", 30.0)]


@pytest.mark.parametrize("ending", [False, True])
@pytest.mark.parametrize("name", list(SETTINGS))
def test_no_integer_plan_of_any_schedule_violates_any_window(name, ending):
    # Every schedule of the suite (S1, S2 or idle each week, 3^4 = 81): with its setups fixed, every row's
    # left side is minimised over all of its plans (whole batches where there are batches, a MIP), not only
    # the cheapest plan's; the least must reach the row's right side. With end-of-horizon targets the rows
    # running to the horizon's end are checked too.
    network, size, delta = SETTINGS[name]
    inputs = network if size is None else _batches(network, size)
    model = _ending(inputs, DEMAND, SAFETY, TARGETS) if ending else _model(inputs, DEMAND, SAFETY)
    cuts = _cuts(model)
    assert cuts.loss[:, 1:].max(axis=1).tolist() == [delta, delta]
    every, _ = windows(cuts)
    assert every["terminal"].any() == ending
    rows = week_cut_terms(cuts, every).group_by("w", maintain_order=True).agg("col", "coef") \
        .join(every.select("w", "rhs"), on="w").select("w", "rhs", "col", "coef")
    assert rows.height == every.height >= 10
    prob, variables = model.builder.prob, model.builder.variables
    prob.solve(BulkHiGHS(mip=True, msg=False, gapRel=0.0, variables=variables))
    h: highspy.Highs = prob.solverModel
    h.setOptionValue("mip_rel_gap", 0.0)
    setup = model.frames["setup_for"].sort("t", "product_id")
    cols = setup["col"].to_numpy().astype(np.int32)
    zeros = np.zeros(len(variables))
    checked = 0
    for schedule in itertools.product((None, "S1", "S2"), repeat=WEEKS):
        fixed = np.array([1.0 if schedule[t] == p else 0.0 for p, t in setup.select("product_id", "t").iter_rows()])
        h.changeColsBounds(cols.size, cols, fixed, fixed)
        feasible = True
        for _, rhs, col, coef in rows.iter_rows():
            cost = zeros.copy()
            cost[np.asarray(col)] = coef
            h.changeColsCost(len(variables), np.arange(len(variables), dtype=np.int32), cost)
            h.run()
            if h.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                feasible = False
                break
            assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            assert h.getInfo().objective_function_value >= rhs - 1e-6 * max(1.0, rhs), schedule
        checked += feasible
    assert checked >= 27


def test_the_steady_mix_is_cut_and_the_rows_lift_the_relaxation_below_the_optimum():
    # Batches of 40 on the 100-hour suite (2 a week, none after an 80-hour switch), both substances wanted
    # every week: the relaxation shares the suite's weeks between them with no switch. Its windows are short
    # of set-up weeks, and three rounds of rows lift it towards the optimum, never past it.
    network = _batches(_two_level(changeover_hours=80.0, changeover_cost=100.0), 40.0)
    demand = [(f"F{i}", "D", t, q) for i, q in ((1, 60.0), (2, 50.0)) for t in range(1, 6)]
    safety = [("F1", "D", t, 20.0) for t in range(6)]
    model = _model(network, demand, safety, weeks=6)
    prob, variables = model.builder.prob, model.builder.variables
    assert prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables)) == pulp.LpStatusOptimal
    relaxed = pulp.value(prob.objective)
    cuts = _cuts(model)
    added = 0
    for r in range(3):
        chosen = separate(cuts, np.array([v.varValue or 0.0 for v in variables]), per_item=10)
        if chosen.height == 0:
            break
        add_rows(model.builder, cuts, chosen, r)
        assert prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables)) == pulp.LpStatusOptimal
        added += chosen.height
    lifted = pulp.value(prob.objective)
    exact = _model(network, demand, safety, weeks=6)  # without the rows: an invalid row would show above it
    assert exact.builder.prob.solve(BulkHiGHS(mip=True, msg=False, gapRel=0.0, variables=exact.builder.variables)) \
        == pulp.LpStatusOptimal
    optimum = pulp.value(exact.builder.prob.objective)
    assert added > 0
    assert relaxed + 1.0 < lifted <= optimum + 1e-6 * max(1.0, optimum)


def test_the_week_rows_after_the_start_raise_the_bound_and_keep_the_plan():
    # The lift test's network planned with campaign_week_rows off and on: on, the rows join the model after the
    # start and the relaxation re-solved from its basis is the bound the attempts report (above the plain
    # relaxation; the campaign_fit rows are left out to see these alone); the plan is the same either way, as
    # the start and the search keep the plain relaxation.
    network = _batches(_two_level(changeover_hours=80.0, changeover_cost=100.0), 40.0)
    demand = ex.demand(*[dict(product_id=f"F{i}", site_id="D", t=t, quantity=q)
                         for i, q in ((1, 60.0), (2, 50.0)) for t in range(1, 6)])
    out = {}
    for on in (False, True):
        config = PlanConfig(horizon_weeks=6, terminal_condition=False, campaign_fit_bound=False,
                            campaign_week_rows=on)
        out[on] = plan_supply(build_network(network, ex.START, config), demand, pl.DataFrame(), config)
    assert out[True].objective == pytest.approx(out[False].objective)
    assert not any(a.startswith("week rows:") for a in out[False].attempts)
    rows = [a for a in out[True].attempts if a.startswith("week rows:")]
    assert len(rows) == 1
    added, bound, lift = re.match(r"week rows: (\d+) in \d+ rounds, bound ([\d,]+) \(\+([\d,]+)\)", rows[0]).groups()
    assert int(added) > 0 and int(lift.replace(",", "")) > 0
    assert out[True].relaxation_objective < float(bound.replace(",", "")) <= out[True].objective + 1e-6


def test_every_rounds_rows_leave_the_model_before_the_duals():
    # Three rounds of rows on the lift test's network (40 and 30 a week over 8 weeks): every round's rows are
    # in the MIP, and all of them leave the model before the LP with the integers fixed, whose capacity and
    # lane duals are then those of the same plan without the rows.
    network = _batches(_two_level(changeover_hours=80.0, changeover_cost=100.0), 40.0)
    demand = ex.demand(*[dict(product_id=f"F{i}", site_id="D", t=t, quantity=q)
                         for i, q in ((1, 40.0), (2, 30.0)) for t in range(1, 8)])
    duals, models, outcomes = {}, {}, {}
    for on in (False, True):
        config = PlanConfig(horizon_weeks=8, terminal_condition=False, campaign_fit_bound=False,
                            campaign_week_rows=on)
        net = build_network(network, ex.START, config)
        model = build_model(net, demand.with_columns(t=net.week_index()).drop("week"), pl.DataFrame(
            schema={**NONE, "safety_stock": pl.Float64}), pl.DataFrame(schema={
                "product_id": pl.String, "resource_id": pl.String, "t": pl.Int64, "quantity": pl.Float64}), config)
        outcomes[on] = solve_model(model, config)
        models[on] = model
        duals[on] = {f: model.builder.duals(f)["pi"].to_list() for f in ("capacity", "lane")}
    rows = re.match(r"week rows: (\d+) in (\d+) rounds", next(
        a for a in outcomes[True].attempts if a.startswith("week rows:"))).groups()
    assert int(rows[0]) > 0 and int(rows[1]) >= 2
    assert outcomes[True].has_duals and outcomes[True].objective == pytest.approx(outcomes[False].objective)
    assert not any(c.name.startswith("campaign_weeks") for c in models[True].builder.prob.constraints())
    assert "campaign_weeks" not in models[True].builder.rows
    for family in ("capacity", "lane"):
        assert duals[True][family] == pytest.approx(duals[False][family])
