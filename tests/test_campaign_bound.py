"""The Lagrangian bound of campaign MIPs from the relaxation's duals (optimization/campaign_bound.py)."""

from __future__ import annotations

import dataclasses

import highspy
import numpy as np
import polars as pl
import pulp
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.campaign_bound import block_columns, lagrangian_bound, lp_matrix, priced_setups
from optimization.campaign_master import dantzig_wolfe_bound, price_and_branch
from optimization.model import build_model
from optimization.pulp_highs import BulkHiGHS

NONE = {"product_id": pl.String, "site_id": pl.String, "t": pl.Int64}


#: five tiny networks on the suite of :func:`_suite`, 5 weeks: campaign settings, batch size, demand rows
TINY_NETWORKS = [
    (dict(changeover_hours=20.0, changeover_cost=10.0), None,
     [(p, "P", t, 50.0) for p in "AB" for t in range(4)]),
    (dict(changeover_hours=20.0, changeover_cost=10.0, min_campaign_weeks=2), 25.0,
     [(p, "P", t, 60.0) for p in "AB" for t in range(4)]),
    (dict(changeover_hours=40.0, max_campaign_weeks=2), 30.0,
     [("A", "P", t, 70.0) for t in range(5)] + [("B", "P", 4, 100.0)]),
    (dict(changeover_cost=500.0, min_campaign_weeks=3), 40.0,
     [("A", "P", t, 80.0) for t in range(5)] + [("B", "P", t, 30.0) for t in (1, 3)]),
    (dict(changeover_hours=60.0), None,
     [("A", "P", 1, 150.0), ("B", "P", 2, 150.0), ("A", "P", 4, 90.0)]),
]


def _suite(batch: float | None = None, **campaign) -> dict[str, pl.DataFrame]:
    """Products A and B (holding 1, backlog penalty 1000) on one 100-hour campaign suite R at plant P, which
    serves the demand itself; 1 hour a unit, production 1 a unit, optionally in whole batches."""
    return ex.inputs(
        dcs=(),
        products=ex.products(
            dict(product_id="A", holding_cost_per_week=1.0, backlog_penalty=1000.0),
            dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=1000.0),
        ),
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=100.0, campaign=True, **campaign)),
        routings=ex.routings(*(dict(product_id=p, resource_id="R", batch_size=batch, min_batch=batch) for p in "AB")),
        lanes=ex.lanes(),
    )


def _solved(inputs, rows, weeks: int):
    """A tiny network's model with its LP relaxation solved (the model, its objective, the HiGHS model holding
    it, the integer mask) and the exact MIP optimum (HiGHS, gap 0) with its plan (every column)."""
    config = PlanConfig(horizon_weeks=weeks, terminal_condition=False)
    net = build_network(inputs, ex.START, config)
    demand = pl.DataFrame(rows, schema={**NONE, "quantity": pl.Float64}, orient="row")
    safety = pl.DataFrame(schema={**NONE, "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    model = build_model(net, demand, safety, scheduled, config)
    prob, variables = model.builder.prob, model.builder.variables
    assert prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables)) == pulp.LpStatusOptimal
    ints = np.array([v.cat == pulp.LpInteger for v in variables])
    exact = build_model(net, demand, safety, scheduled, config)
    assert exact.builder.prob.solve(BulkHiGHS(mip=True, msg=False, gapRel=0.0, variables=exact.builder.variables)) \
        == pulp.LpStatusOptimal
    plan = np.array([v.varValue for v in exact.builder.variables])
    return model, pulp.value(prob.objective), prob.solverModel, ints, pulp.value(exact.builder.prob.objective), plan


def _bound(inputs, rows, weeks: int = 4) -> tuple[float, float, float, object, np.ndarray]:
    """The relaxation, the Lagrangian bound and the exact MIP optimum (HiGHS, gap 0) of a tiny network, the
    bound's result and the setup columns."""
    model, relaxed, h, ints, optimum, _ = _solved(inputs, rows, weeks)
    result = lagrangian_bound(h, block_columns(model.frames), ints, relaxed)
    return relaxed, result.bound, optimum, result, model.frames["setup_for"]["col"].to_numpy()


def test_whole_batches_lift_the_bound_by_the_hours_they_leave_by_hand():
    # A wants 110 a week for 4 weeks on a 100-hour suite; batches of 30 make at most 90 a week. The
    # relaxation makes 100 a week: production 400, backlog 10+20+30+40 unit-weeks × 1000 → 100,400. An hour
    # of the suite in week t is worth (4 − t) × 1000 − 1 there (a unit served earlier, less its production
    # cost); at those prices the suite's block makes 3 batches a week and loses 10 hours a week:
    # 10 × (3999 + 2999 + 1999 + 999) = 99,960, so the bound is 200,360. The optimum: 90 a week,
    # production 360, backlog 20+40+60+80 → 200,360: here the bound closes the gap.
    rows = [("A", "P", t, 110.0) for t in range(4)]
    relaxed, bound, optimum, result, _ = _bound(_suite(batch=30.0), rows)
    assert relaxed == pytest.approx(100_400.0)
    assert optimum == pytest.approx(200_360.0)
    assert bound == pytest.approx(200_360.0, rel=1e-9)
    assert result.blocks[0].optimal and result.blocks[0].resource_id == "R"


def test_at_degenerate_prices_the_bound_is_the_relaxation():
    # 100 a week on the same suite: the relaxation uses every hour but needs none more, so its capacity
    # price is 0 and the block loses nothing at its prices; the optimum (90 a week) is far above. One pricing
    # round at the relaxation's duals cannot see it (what subgradient steps or column generation would fix).
    rows = [("A", "P", t, 100.0) for t in range(4)]
    relaxed, bound, optimum, *_ = _bound(_suite(batch=30.0), rows)
    assert relaxed == pytest.approx(400.0) and optimum == pytest.approx(100_360.0)
    assert bound == pytest.approx(relaxed)


@pytest.mark.parametrize(
    ("campaign", "batch", "rows"),
    TINY_NETWORKS,
)
def test_the_bound_lies_between_the_relaxation_and_the_optimum(campaign, batch, rows):
    relaxed, bound, optimum, *_ = _bound(_suite(batch=batch, **campaign), rows, weeks=5)
    assert relaxed - 1e-6 <= bound <= optimum + 1e-6 * max(1.0, abs(optimum))


def test_priced_setups_are_the_blocks_schedule_as_zero_or_one():
    rows = [("A", "P", t, 110.0) for t in range(4)]
    *_, result, setup_cols = _bound(_suite(batch=30.0), rows)
    cols, values = priced_setups(result, setup_cols)
    assert sorted(cols.tolist()) == sorted(setup_cols.tolist()) and set(values.tolist()) <= {0.0, 1.0}
    # one product: at those prices the suite is set up for A every week
    assert values.sum() >= 4


def test_a_block_stopped_before_its_first_plan_fixes_no_setups():
    # a block MIP cut by its time with no incumbent leaves zeros: fixed, they would be a suite that never
    # runs; its suite keeps the setups it had
    rows = [("A", "P", t, 110.0) for t in range(4)]
    *_, result, setup_cols = _bound(_suite(batch=30.0), rows)
    unplanned = dataclasses.replace(result.blocks[0], values=np.zeros(len(result.blocks[0].cols)), planned=False)
    cols, values = priced_setups(dataclasses.replace(result, blocks=(unplanned,)), setup_cols)
    assert len(cols) == 0 and len(values) == 0


def test_the_campaign_plan_reports_its_gap_against_the_lagrangian_bound():
    # the plan's gap is taken against the better bound: with the bound on, the reported gap is no larger
    # and the solve's steps name it
    rows = [("A", "P", t, 110.0) for t in range(4)]
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows])
    safety = pl.DataFrame()  # none
    out = {}
    for on in (False, True):
        config = PlanConfig(horizon_weeks=4, terminal_condition=False, campaign_lagrangian=on, mip_gap=0.0)
        out[on] = plan_supply(build_network(_suite(batch=30.0), ex.START, config), demand, safety, config)
    assert out[True].objective == pytest.approx(out[False].objective) == pytest.approx(200_360.0)
    assert any(a.startswith("lagrangian bound:") for a in out[True].attempts)
    assert not any(a.startswith("lagrangian bound:") for a in out[False].attempts)
    assert out[True].mip_gap <= out[False].mip_gap + 1e-9


# --- the Dantzig-Wolfe master (optimization/campaign_master.py) -------------------------------------------


def _master(inputs, rows, weeks: int = 4, with_start: bool = True):
    """The relaxation, stop 23's one-round bound, the master's result, the exact optimum (HiGHS, gap 0), its
    plan (every column) and the relaxation's HiGHS LP (for checking a plan's rows)."""
    model, relaxed, h, ints, optimum, plan = _solved(inputs, rows, weeks)
    blocks = block_columns(model.frames)
    one_round = lagrangian_bound(h, blocks, ints, relaxed).bound
    result = dantzig_wolfe_bound(h, blocks, ints, relaxed, seconds=60.0, start=plan if with_start else None)
    return relaxed, one_round, result, optimum, plan, h.getLp()


def test_the_master_reaches_the_optimum_where_one_round_at_degenerate_prices_cannot():
    # 100 a week on the 100-hour suite in batches of 30: at the relaxation's prices (capacity worth 0) the
    # one-round bound stays at the relaxation (400). The master's columns are whole schedules of the suite,
    # each making whole batches (0, 30, 60 or 90 a week), so no mix of them makes more than 90 in a week;
    # the master prices the hours the plan lacks and its bound closes on the optimum: 360 of production and
    # 10 + 20 + 30 + 40 unit-weeks late at 1,000 = 100,360.
    rows = [("A", "P", t, 100.0) for t in range(4)]
    for with_start in (True, False):  # from the optimum's schedule, or from slacks on the linking rows
        relaxed, one_round, result, optimum, *_ = _master(_suite(batch=30.0), rows, with_start=with_start)
        assert relaxed == pytest.approx(400.0) and one_round == pytest.approx(400.0)
        assert optimum == pytest.approx(100_360.0)
        assert result.bound == pytest.approx(100_360.0, rel=1e-9)
        assert result.converged


def test_the_masters_first_round_is_the_one_round_bound():
    rows = [("A", "P", t, 110.0) for t in range(4)]
    relaxed, one_round, result, optimum, *_ = _master(_suite(batch=30.0), rows)
    assert one_round == pytest.approx(200_360.0)
    assert result.rounds[0].lagrangian == pytest.approx(one_round, rel=1e-9)
    assert result.bound == pytest.approx(optimum)


def test_a_steady_mix_of_whole_campaigns_is_what_the_master_cannot_see():
    # A and B want 50 a week each on the 100-hour suite (no batches): the schedules "A every week" and
    # "B every week" (100 a week, no switch: the first week pays none) at weight ½ each make 50 of each a
    # week at the relaxation's cost, 400. The master is the relaxation here while every real plan must
    # switch: the gap left is in the linking rows (time), not inside the suite.
    rows = [(p, "P", t, 50.0) for p in "AB" for t in range(4)]
    relaxed, _, result, optimum, *_ = _master(_suite(changeover_hours=20.0, changeover_cost=10.0), rows, weeks=5)
    assert relaxed == pytest.approx(400.0)
    assert result.bound == pytest.approx(400.0, rel=1e-9) and result.converged
    assert optimum > 1_000.0


@pytest.mark.parametrize("with_start", [True, False])
@pytest.mark.parametrize(
    ("campaign", "batch", "rows"),
    TINY_NETWORKS,
)
def test_the_master_bound_lies_between_the_one_round_bound_and_the_optimum(campaign, batch, rows, with_start):
    relaxed, one_round, result, optimum, *_ = _master(_suite(batch=batch, **campaign), rows, weeks=5,
                                                      with_start=with_start)
    tol = 1e-6 * max(1.0, abs(optimum))
    assert relaxed - tol <= one_round - tol <= result.bound <= optimum + tol
    assert all(r.lagrangian <= optimum + tol for r in result.rounds)


def test_price_and_branch_gives_a_whole_batch_plan_every_row_holds():
    # the master with binary weights: one generated schedule of the suite, the rest of the plan free; every
    # row of the model holds at it, its batches are whole, and it is never better than the optimum
    rows = [("A", "P", t, 70.0) for t in range(5)] + [("B", "P", 4, 100.0)]
    _, _, result, optimum, plan, lp = _master(_suite(batch=30.0, changeover_hours=40.0, max_campaign_weeks=2),
                                              rows, weeks=5, with_start=False)
    value, x = price_and_branch(result, len(plan), seconds=30.0)
    assert value is not None and value >= optimum - 1e-6 * abs(optimum)
    a = lp_matrix(lp)
    ax = a @ x
    assert np.all(ax >= np.asarray(lp.row_lower_) - 1e-6) and np.all(ax <= np.asarray(lp.row_upper_) + 1e-6)
    assert np.all(x >= np.asarray(lp.col_lower_) - 1e-9) and np.all(x <= np.asarray(lp.col_upper_) + 1e-9)
    batches = np.asarray(lp.integrality_) == highspy.HighsVarType.kInteger
    assert np.allclose(x[batches], np.round(x[batches]), atol=1e-6)
    assert float(np.asarray(lp.col_cost_) @ x) == pytest.approx(value)


def test_the_campaign_plan_reports_its_gap_against_the_master_bound():
    rows = [("A", "P", t, 100.0) for t in range(4)]
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows])
    out = {}
    for master in (False, True):
        config = PlanConfig(horizon_weeks=4, terminal_condition=False, mip_gap=0.5, campaign_master=master,
                            campaign_price_and_branch=master)
        out[master] = plan_supply(build_network(_suite(batch=30.0), ex.START, config), demand, pl.DataFrame(),
                                  config)
    assert any(a.startswith("master bound: 100,360") for a in out[True].attempts)
    assert any(a.startswith("price-and-branch plan: 100,360") for a in out[True].attempts)
    assert not any(a.startswith("master bound:") for a in out[False].attempts)
    assert out[True].objective == pytest.approx(100_360.0)
    assert out[True].mip_gap == pytest.approx(0.0, abs=1e-9) and out[True].mip_gap <= out[False].mip_gap


def test_price_and_branch_from_a_start_is_never_worse_than_it():
    # the master begun from a plan holds that plan's schedules: with no time to branch, the plan comes back
    rows = [("A", "P", t, 70.0) for t in range(5)] + [("B", "P", 4, 100.0)]
    _, _, result, optimum, plan, lp = _master(_suite(batch=30.0, changeover_hours=40.0, max_campaign_weeks=2),
                                              rows, weeks=5, with_start=True)
    value, x = price_and_branch(result, len(plan), seconds=30.0)
    assert value == pytest.approx(optimum)
    assert float(np.asarray(lp.col_cost_) @ x) == pytest.approx(value)


def test_without_time_for_the_masters_lp_price_and_branch_is_skipped_and_the_bound_is_the_first_rounds():
    # no time for the master's LP: the bound is round 0's (stop 23's: 200,360 here) and no MIP over
    # an unsolved master is started
    rows = [("A", "P", t, 110.0) for t in range(4)]
    config = PlanConfig(horizon_weeks=4, terminal_condition=False, campaign_master=True,
                        campaign_price_and_branch=True, campaign_master_seconds=1e-6)
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows])
    out = plan_supply(build_network(_suite(batch=30.0), ex.START, config), demand, pl.DataFrame(), config)
    assert any(a.startswith("price-and-branch plan: skipped") for a in out.attempts)
    assert any(a.startswith("master bound: 200,360") and "1 rounds" in a for a in out.attempts)
