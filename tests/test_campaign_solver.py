"""The campaign solver on one kept highspy model (issue 17): the reported gap is a number in [0, 1] or
none, the kept model gives the hand-solved plans of the PuLP path, and fix-and-optimize never worsens a
plan."""

from __future__ import annotations

import math

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.campaign_blocks import relative_gap
from optimization.plan import uses_blocks
from optimization.solver import mip_gap_of

NO_SS = pl.DataFrame()


@pytest.mark.parametrize(
    ("objective", "highs_bound", "relaxed", "gap"),
    [
        (100.0, 90.0, 80.0, 0.10),  # HiGHS's bound the better one
        (100.0, 70.0, 80.0, 0.20),  # the relaxation's the better one
        (100.0, None, 80.0, 0.20),  # no HiGHS bound (stopped before its root, or the start kept)
        (100.0, -math.inf, 80.0, 0.20),  # HiGHS's "no bound" value
        (100.0, 100.0 + 1e-7, None, 0.0),  # a bound a hair above the plan: 0, never negative
        (100.0, -50.0, None, 1.0),  # a negative bound: 1, never above
        (100.0, None, -1e9, 1.0),
        (0.0, 0.0, None, 0.0),
    ],
)
def test_every_reported_gap_is_in_zero_to_one(objective, highs_bound, relaxed, gap):
    assert mip_gap_of(objective, highs_bound, relaxed) == pytest.approx(gap)


@pytest.mark.parametrize(
    ("objective", "highs_bound", "relaxed"),
    [(None, 90.0, 80.0), (math.inf, 90.0, 80.0), (math.nan, 90.0, 80.0), (100.0, None, None),
     (100.0, -math.inf, None), (100.0, math.nan, math.inf)],
)
def test_no_finite_objective_or_bound_is_no_gap(objective, highs_bound, relaxed):
    assert mip_gap_of(objective, highs_bound, relaxed) is None


def test_relative_gap_is_clamped():
    assert relative_gap(100.0, 120.0) == 0.0
    assert relative_gap(100.0, -1.0) == 1.0
    assert relative_gap(-100.0, -300.0) == 1.0
    assert relative_gap(200.0, 150.0) == pytest.approx(0.25)


# ------------------------------------------------------------------------------------------- kept model
HAND_SOLVED = [
    "test_long_minimum_campaign_forces_building_ahead",
    "test_changeover_makes_one_long_campaign_cheaper_than_two_short_ones",
    "test_changeover_hours_take_capacity_in_the_week_of_the_switch",
    "test_sequence_dependent_changeover_from_the_changeovers_entity",
    "test_maximum_campaign_length_forces_a_switch",
    "test_shortage_behind_a_minimum_campaign_is_campaign_length",
    "test_shortage_not_worth_a_changeover_is_changeover",
    "test_warm_start_does_not_change_the_optimum",
    "test_a_campaign_limit_shorter_than_the_relaxation_still_gives_a_plan",
]


@pytest.mark.parametrize("name", HAND_SOLVED)
def test_the_kept_model_gives_the_hand_solved_plans(monkeypatch, name):
    # every hand-solved campaign test of tests/test_campaigns.py, run again with campaign_kept_model on (the
    # default is off): plan_supply then builds arrays and solves on one kept highspy model
    import optimization.plan as plan
    from tests import test_campaigns

    seen = []

    def kept(network, config):
        seen.append(network.has_campaigns)
        return plan.uses_blocks.__wrapped__(network, config.model_copy(update={"campaign_kept_model": True}))

    kept.__wrapped__ = plan.uses_blocks
    monkeypatch.setattr(plan, "uses_blocks", kept)
    getattr(test_campaigns, name)()
    assert seen and any(seen)


def test_kept_model_is_off_by_default_and_routes_campaigns_to_the_arrays():
    config = PlanConfig(horizon_weeks=8, terminal_condition=False)
    net = build_network(_suite(), ex.START, config)
    assert not config.campaign_kept_model and not uses_blocks(net, config)
    assert uses_blocks(net, config.model_copy(update={"campaign_kept_model": True}))
    assert not uses_blocks(net, config.model_copy(update={"campaign_kept_model": True, "solve_path": "pulp"}))


def _suite() -> dict[str, pl.DataFrame]:
    """A and B on one 100-hour campaign suite R (three-week minimum campaigns), 1 hour a unit, at plant P,
    which serves the demand itself (tests/test_campaigns.py's build-ahead case: optimum holds 450); and C
    alone on a second campaign suite R2, so that fix-and-optimize has two resources to take in turn."""
    return ex.inputs(
        dcs=(),
        products=ex.products(
            dict(product_id="A", holding_cost_per_week=1.0, backlog_penalty=1000.0),
            dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=1000.0),
            dict(product_id="C", holding_cost_per_week=1.0, backlog_penalty=1000.0),
        ),
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=100.0, campaign=True,
                                    min_campaign_weeks=3),
                               dict(resource_id="R2", site_id="P", hours_per_week=100.0, campaign=True)),
        routings=ex.routings(dict(product_id="A", resource_id="R"), dict(product_id="B", resource_id="R"),
                             dict(product_id="C", resource_id="R2")),
        lanes=ex.lanes(),
    )


# the optimum by hand: production 400 + 100 + 400, holding 450 (A built ahead of B's campaign), C none
BUILD_AHEAD = [("A", "P", t, 50.0) for t in range(8)] + [("B", "P", 4, 100.0)] + [
    ("C", "P", t, 50.0) for t in range(8)]


def test_fix_and_optimize_on_the_kept_model_improves_a_bad_start_to_the_optimum():
    import time

    import highspy
    import numpy as np

    from optimization.campaign_blocks import _improve
    from optimization.highs_direct import ArrayBuilder
    from optimization.model import build_model

    config = PlanConfig(horizon_weeks=8, terminal_condition=False, solve_path="blocks")
    net = build_network(_suite(), ex.START, config)
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in BUILD_AHEAD])
    optimum = plan_supply(net, demand, NO_SS, config)
    assert optimum.solver_status == "Optimal"
    holding = optimum.tables["plan_kpis"].filter(pl.col("kpi") == "cost_holding")["value"].item()
    assert holding == pytest.approx(450.0)
    model = build_model(net, *_model_frames(net, demand), config, builder=ArrayBuilder())
    h = model.builder.highs_model(mip=True)
    lp = h.getLp()
    lower, upper = np.asarray(lp.col_lower_).copy(), np.asarray(lp.col_upper_).copy()
    # a bad start: R set up for A all 8 weeks, so B's 100 in week 4 is never made (R2 on C, as it must)
    setup = model.frames["setup_for"]
    cols = setup["col"].to_numpy().astype(np.int32)
    bad = (setup["product_id"] != "B").cast(pl.Float64).to_numpy()
    h.changeColsBounds(len(cols), cols, bad, bad)
    h.run()
    x, objective = np.asarray(h.getSolution().col_value), h.getInfo().objective_function_value
    h.changeColsBounds(len(cols), cols, lower[cols], upper[cols])
    best = optimum.objective - model.builder.constant
    assert objective > best + 1000.0  # B short: at least 1,000 of backlog
    note: list[str] = []
    frames = {k: model.frames[k] for k in ("setup_for", "switch")}
    out, improved = _improve(h, frames, x, objective, lower, upper, time.perf_counter() + 60.0, 0.0, note)
    assert improved == pytest.approx(best)
    # both suites idle 400 set-up hours (ties by id): R's pass finds the optimum, R2's keeps it
    assert [n.split(" (")[0] for n in note] == [f"fix-and-optimize R {best:,.0f}",
                                                f"fix-and-optimize R2 {best:,.0f}"]
    assert float(np.dot(np.asarray(h.getLp().col_cost_), out)) == pytest.approx(best)
    assert sum(out[c] for c, p in zip(cols, setup["product_id"]) if p == "B") >= 1.0  # the suite now makes B
    # the bounds are put back: every setup free again
    assert np.array_equal(np.asarray(h.getLp().col_lower_)[cols], lower[cols])
    assert np.array_equal(np.asarray(h.getLp().col_upper_)[cols], upper[cols])
    assert h.getColIntegrality(int(cols[0]))[1] == highspy.HighsVarType.kInteger


def _model_frames(net, demand: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """``build_model``'s demand (by week index), safety stocks (none) and scheduled production (none)."""
    safety = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64,
                                  "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    return demand.with_columns(t=net.week_index()).drop("week"), safety, scheduled


def _blocks_plan(**cfg):
    config = PlanConfig(horizon_weeks=8, terminal_condition=False, solve_path="blocks", **cfg)
    net = build_network(_suite(), ex.START, config)
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in BUILD_AHEAD])
    return plan_supply(net, demand, NO_SS, config)


def test_each_campaign_blocks_steps_are_in_the_attempts():
    r = _blocks_plan()
    assert r.solver_status == "Optimal" and r.attempts[0].startswith("highs: Optimal (")
    steps = [a for a in r.attempts[1:] if a.startswith("block ")]
    assert steps, r.attempts
    for name in ("relaxation", "start", "MIP", "fixed-integer LP"):
        assert any(f"{name} " in s or f"; {name} (" in s for s in steps), (name, steps)
    assert all("CPU-s" in s for s in steps)


def test_campaign_mip_options_reach_highs_and_a_bad_one_is_refused():
    same = _blocks_plan(campaign_mip_options={"mip_heuristic_effort": 0.3})
    assert same.objective == pytest.approx(_blocks_plan().objective)
    with pytest.raises(ValueError, match="campaign_mip_options: HiGHS refused no_such_option"):
        _blocks_plan(campaign_mip_options={"no_such_option": 1})


# ------------------------------------------------------------------ the start's completion without a MIP
def _pulp_model(batch_size: float | None, min_batch: float | None):
    from optimization.model import build_model

    config = PlanConfig(horizon_weeks=8, terminal_condition=False, solve_path="pulp")
    inputs = _suite()
    inputs["routings"] = ex.routings(
        *(dict(product_id=p, resource_id=r, batch_size=batch_size, min_batch=min_batch)
          for p, r in (("A", "R"), ("B", "R"), ("C", "R2"))))
    net = build_network(inputs, ex.START, config)
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in BUILD_AHEAD])
    return build_model(net, *_model_frames(net, demand), config), config


def _optimum_setups(model, config) -> pl.DataFrame:
    """``col, start`` of every setup binary at the exact MIP's optimum (HiGHS, gap 0); the model's variables
    are left holding that optimum."""
    import pulp

    from optimization.solver import make_solver

    exact = config.model_copy(update={"mip_gap": 0.0})
    status = model.builder.prob.solve(make_solver("highs", exact, mip=True, variables=model.builder.variables))
    assert status == pulp.LpStatusOptimal
    setup = model.frames["setup_for"]
    return setup.select("col", start=pl.Series([round(model.builder.variables[c].varValue)
                                                for c in setup["col"].to_list()], dtype=pl.Float64))


def test_rounded_completion_gives_the_optimum_where_the_batches_are_whole():
    # batches of 50: the hand optimum's production (50 a week, B's 100) is whole batches, so the LP with the
    # optimum's setups fixed, rounded down and fixed, is the optimum itself
    import numpy as np
    import pulp

    from optimization.solve_start import _rounded_complete
    from optimization.solver import objective_of

    model, config = _pulp_model(batch_size=50.0, min_batch=None)
    fixing = _optimum_setups(model, config)
    optimum = objective_of(model.builder.prob)
    before = [(v.lowBound, v.upBound) for v in model.builder.variables]
    got = _rounded_complete(model, config, fixing)
    assert got == pytest.approx(optimum)
    values = np.array([v.varValue for v in model.builder.variables if v.cat == pulp.LpInteger])
    assert np.allclose(values, np.round(values))
    assert [(v.lowBound, v.upBound) for v in model.builder.variables] == before  # bounds put back


def test_rounded_completion_is_a_whole_batch_plan_no_better_than_the_optimum():
    # batches of 30 against 50 a week: the LP makes 1.67 batches, rounded down to 1; a lot under its minimum
    # of 70 is nothing started. The result is a plan (whole batches, lots at their minimum or nothing),
    # never better than the exact MIP's optimum
    import numpy as np

    from optimization.solve_start import _rounded_complete
    from optimization.solver import objective_of

    model, config = _pulp_model(batch_size=30.0, min_batch=70.0)
    fixing = _optimum_setups(model, config)
    optimum = objective_of(model.builder.prob)
    got = _rounded_complete(model, config, fixing)
    assert got is not None and got >= optimum - 1e-6
    v = model.builder.variables
    batches, lots = model.frames["batches"], model.frames["setup"]
    n = np.array([v[c].varValue for c in batches["col"].to_list()])
    assert np.allclose(n, np.round(n))
    made = np.array([v[c].varValue for c in batches["make_col"].to_list()])
    assert np.allclose(made, 30.0 * n)
    on = np.array([v[c].varValue for c in lots["col"].to_list()])
    lot_made = np.array([v[c].varValue for c in lots["make_col"].to_list()])
    assert set(np.round(on).tolist()) <= {0.0, 1.0}
    assert np.all(lot_made[on > 0.5] >= 70.0 - 1e-6) and np.allclose(lot_made[on < 0.5], 0.0)
    assert all(c.valid(1e-6) for c in model.builder.prob.constraints.values())  # a plan: every row holds


def test_rerun_lp_gives_a_kept_lp_its_seconds_after_earlier_runs():
    """An LP run reads HiGHS's ``time_limit`` against a run clock that adds up every run of the instance: a
    kept LP (the master's, re-solved every round; the relaxation with the fit rows) re-run with a plain limit
    shorter than its earlier runs stopped at once, though the re-solve from its basis needs a few iterations.
    ``rerun_lp`` counts the seconds from now."""
    import highspy
    import numpy as np
    from scipy import sparse

    from optimization.highs_direct import new_highs, rerun_lp

    n, m = 2000, 1000
    a = sparse.random(m, n, density=0.01, random_state=1, format="csc")
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = -np.random.default_rng(0).random(n)
    lp.col_lower_, lp.col_upper_ = np.zeros(n), np.ones(n)
    lp.row_lower_, lp.row_upper_ = np.full(m, -highspy.kHighsInf), np.full(m, 5.0)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = a.indptr, a.indices, a.data

    def kept() -> tuple[highspy.Highs, float]:
        h = new_highs()
        h.passModel(lp)
        h.run()  # the first solve, from nothing
        assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        h.changeColsBounds(1, np.array([0], dtype=np.int32), np.array([0.0]), np.array([0.5]))
        return h, h.getRunTime() / 2  # the re-solve from the basis needs a small part of the first's time

    h, seconds = kept()
    h.setOptionValue("time_limit", seconds)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kTimeLimit  # the defect rerun_lp mends
    h, seconds = kept()
    rerun_lp(h, seconds)
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
