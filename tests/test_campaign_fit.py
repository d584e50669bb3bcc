"""The campaign_fit inequality (optimization/campaign_links.py): whole batches that fit a week, after a switch
fewer."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl
import pulp
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.campaign_bound import relaxation_with_rows
from optimization.campaign_links import campaign_fit
from optimization.model import build_model
from optimization.pulp_highs import BulkHiGHS
from optimization.solve_duals import _drop_bound_rows
from test_campaign_bound import NONE, TINY_NETWORKS, _suite


def _model(inputs, rows, weeks: int, fit: bool):
    config = PlanConfig(horizon_weeks=weeks, terminal_condition=False, campaign_fit_cuts=fit, campaign_fill_rows=True)
    net = build_network(inputs, ex.START, config)
    demand = pl.DataFrame(rows, schema={**NONE, "quantity": pl.Float64}, orient="row")
    safety = pl.DataFrame(schema={**NONE, "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    return build_model(net, demand, safety, scheduled, config)


def _solve(model, mip: bool) -> float:
    prob, variables = model.builder.prob, model.builder.variables
    assert prob.solve(BulkHiGHS(mip=mip, msg=False, gapRel=0.0, variables=variables)) == pulp.LpStatusOptimal
    return pulp.value(prob.objective)


def _three(inputs, rows, weeks: int = 4) -> tuple[float, float, float, float, object, np.ndarray]:
    """The relaxation without and with the rows, the exact optimum (HiGHS, gap 0) without and with them, the
    model with the rows and the exact plan without them (every column)."""
    plain, fitted = _model(inputs, rows, weeks, False), _model(inputs, rows, weeks, True)
    relaxed, relaxed_fit = _solve(plain, False), _solve(fitted, False)
    exact, exact_fit = _model(inputs, rows, weeks, False), _model(inputs, rows, weeks, True)
    optimum, optimum_fit = _solve(exact, True), _solve(exact_fit, True)
    plan = np.array([v.varValue for v in exact.builder.variables])
    return relaxed, relaxed_fit, optimum, optimum_fit, fitted, plan


def _rows(model) -> dict[str, dict[int, float]]:
    """Each campaign_fit and campaign_fill row's coefficients by column."""
    rows = model.builder.rows
    names = [n for family in ("campaign_fit", "campaign_fill") if family in rows
             for n in rows[family]["name"].to_list()]
    index = {id(v): i for i, v in enumerate(model.builder.variables)}
    out = {}
    for name in names:
        con = model.builder.prob.constraints[name]
        out[name] = {index[id(v)]: c for v, c in con.items()}
    return out


def test_whole_batches_a_week_close_the_gap_by_hand():
    # A wants 110 a week for 4 weeks on a 100-hour suite in batches of 30: at most 3 batches (90) a week. The
    # relaxation makes 100 a week (backlog 10+20+30+40 unit-weeks × 1000 + 400 → 100,400); with the rows a
    # week set up starts at most 90: backlog 20+40+60+80 × 1000 + production 360 = 200,360 = the optimum.
    rows = [("A", "P", t, 110.0) for t in range(4)]
    relaxed, relaxed_fit, optimum, optimum_fit, *_ = _three(_suite(batch=30.0), rows)
    assert relaxed == pytest.approx(100_400.0)
    assert relaxed_fit == pytest.approx(200_360.0)
    assert optimum == pytest.approx(200_360.0) and optimum_fit == pytest.approx(optimum)


def test_the_degenerate_case_the_lagrangian_cannot_see_is_closed_by_hand():
    # 100 a week: the relaxation needs no more hours (400; its capacity price is 0, so the one-round
    # Lagrangian stays there); 90 fit a week, so with the rows the relaxation is the optimum: 100,360.
    relaxed, relaxed_fit, optimum, *_ = _three(_suite(batch=30.0), [("A", "P", t, 100.0) for t in range(4)])
    assert relaxed == pytest.approx(400.0)
    assert relaxed_fit == pytest.approx(100_360.0) == pytest.approx(optimum)


def test_after_a_switch_only_the_batches_beside_the_changeover_fit_by_hand():
    # 40-hour changeovers, batches of 30 on the 100-hour suite: G = 3 batches (90) a week, F = ⌊60/30⌋ = 2
    # batches (60) in a week switched into; the first week has no switch, so G there.
    model = _model(_suite(batch=30.0, changeover_hours=40.0), [("A", "P", t, 70.0) for t in range(3)], 3, True)
    setup = model.frames["setup_for"]
    col = {(p, t): c for p, t, c in setup.select("product_id", "t", "col").iter_rows()}
    make = {(p, t): c for p, t, c in setup.select("product_id", "t", "make_col").iter_rows()}
    rows = _rows(model)
    assert len(rows) == 6 + 4  # A and B × 3 weeks, and the fill rows of weeks 1 and 2
    first = rows["campaign_fit_A_R_0"]
    assert first == {make["A", 0]: 1.0, col["A", 0]: -90.0}
    later = rows["campaign_fit_B_R_2"]
    assert later == {make["B", 2]: 1.0, col["B", 2]: -60.0, col["B", 1]: -30.0}
    assert rows["campaign_fill_B_R_2"] == {make["B", 2]: 1.0, col["B", 2]: -90.0}  # whole batches: 90 of 100
    assert "campaign_fill_A_R_0" not in rows  # the first week's campaign_fit row is this row


def test_no_fill_row_where_the_week_holds_its_hours_in_whole_units():
    # Continuous routings (no batch size) and batches that divide the week (25 into 100 hours): G is the
    # campaign row's m, so a fill row would repeat it.
    for batch in (None, 25.0):
        model = _model(_suite(batch=batch, changeover_hours=40.0), [("A", "P", t, 70.0) for t in range(3)], 3, True)
        assert model.builder.rows["campaign_fill"].height == 0


def _fit_only(inputs, rows, weeks: int) -> float:
    """The relaxation with the campaign_fit rows but not the campaign_fill rows."""
    model = _model(inputs, rows, weeks, True)
    for name in model.builder.rows["campaign_fill"]["name"].to_list():
        del model.builder.prob.constraints[name]
    return _solve(model, False)


def test_the_fill_rows_close_the_longer_changeover_case_by_hand():
    # The 80-hour changeover case below (A 90 in week 1, B 90 in week 2, batches of 30): the best plan costs
    # 270. The fit rows alone leave the relaxation at 265.26: a week set up a share s after a week set up
    # fully may start F·s + (G − F) = 90 with F = 0, and the campaign row s × 100 — so a week shared by A and B
    # starts a batch more than fits in it. With the fill rows (start ≤ 90 × setup) the relaxation is 270.
    inputs, rows = _suite(batch=30.0, changeover_hours=80.0), [("A", "P", 1, 90.0), ("B", "P", 2, 90.0)]
    assert _fit_only(inputs, rows, 4) == pytest.approx(265.26, abs=0.01)
    _, relaxed_fit, optimum, optimum_fit, *_ = _three(inputs, rows)
    assert relaxed_fit == pytest.approx(270.0) == pytest.approx(optimum) == pytest.approx(optimum_fit)


def test_the_fill_rows_lift_the_relaxation_and_keep_the_optimum():
    # Stop 23's third tiny network (40-hour switch, batches of 30, campaigns of at most 2 weeks, A 70 a
    # week and B 100 in week 4): the fit rows lift the relaxation 10,628.3 → 64,718.3, the fill rows on top
    # to 103,930.0, below the optimum 130,570.0, which they leave as it is.
    campaign, batch, rows = TINY_NETWORKS[2]
    inputs = _suite(batch=batch, **campaign)
    fit_only = _fit_only(inputs, rows, 5)
    relaxed, relaxed_fit, optimum, optimum_fit, *_ = _three(inputs, rows, weeks=5)
    assert (relaxed, fit_only, relaxed_fit, optimum) == pytest.approx((10_628.3, 64_718.3, 103_930.0, 130_570.0),
                                                                      abs=0.1)
    assert optimum_fit == pytest.approx(optimum)


def test_a_changeover_longer_than_the_room_for_a_batch_leaves_none_by_hand():
    # 80-hour changeovers: ⌊20/30⌋ = 0 batches in a week switched into. A wants 90 in week 1, B 90 in week 2,
    # nothing on hand; the suite starts set up for what it runs in week 0. The best plan makes A in week 0
    # (held a week: 90), switches to B in week 1 (no batch fits), makes B in week 2: production 180 + 90 = 270.
    rows = [("A", "P", 1, 90.0), ("B", "P", 2, 90.0)]
    relaxed, relaxed_fit, optimum, optimum_fit, *_ = _three(_suite(batch=30.0, changeover_hours=80.0), rows)
    assert optimum == pytest.approx(270.0) and optimum_fit == pytest.approx(optimum)
    assert relaxed - 1e-6 <= relaxed_fit <= optimum + 1e-6


@pytest.mark.parametrize(("campaign", "batch", "rows"), TINY_NETWORKS)
def test_the_rows_hold_at_the_exact_plan_and_lie_between_relaxation_and_optimum(campaign, batch, rows):
    relaxed, relaxed_fit, optimum, optimum_fit, fitted, plan = _three(_suite(batch=batch, **campaign), rows, weeks=5)
    assert relaxed - 1e-6 <= relaxed_fit <= optimum + 1e-6 * max(1.0, abs(optimum))
    assert optimum_fit == pytest.approx(optimum, rel=1e-9, abs=1e-6)
    for name, coefs in _rows(fitted).items():  # the plan solved without the rows holds each (same columns)
        assert sum(c * plan[i] for i, c in coefs.items()) <= 1e-6, name


@pytest.mark.parametrize("campaign", [dict(changeover_hours=40.0), dict(changeover_hours=80.0, min_campaign_weeks=2)])
def test_no_integer_plan_of_any_schedule_is_cut_off(campaign):
    # Every schedule of the suite (A, B or idle each week, 3^4 = 81): its best whole-batch plan (HiGHS, gap 0,
    # setups fixed) costs the same with the rows as without, and holds every row.
    rows = [(p, "P", t, q) for p, q in (("A", 50.0), ("B", 40.0)) for t in range(4)]
    plain, fitted = (_model(_suite(batch=30.0, **campaign), rows, 4, fit) for fit in (False, True))
    coefs = _rows(fitted)
    checked = 0
    for schedule in itertools.product((None, "A", "B"), repeat=4):
        values = []
        for model in (plain, fitted):
            variables = model.builder.variables
            for p, t, c in model.frames["setup_for"].select("product_id", "t", "col").iter_rows():
                variables[c].lowBound = variables[c].upBound = 1.0 if schedule[t] == p else 0.0
            status = model.builder.prob.solve(BulkHiGHS(mip=True, msg=False, gapRel=0.0, variables=variables))
            values.append(pulp.value(model.builder.prob.objective) if status == pulp.LpStatusOptimal else None)
        assert (values[0] is None) == (values[1] is None), schedule
        if values[0] is None:
            continue
        assert values[1] == pytest.approx(values[0], rel=1e-9, abs=1e-6), schedule
        plan = np.array([v.varValue or 0.0 for v in plain.builder.variables])
        for name, row in coefs.items():
            assert sum(c * plan[i] for i, c in row.items()) <= 1e-6, (schedule, name)
        checked += 1
    assert checked >= 27


def test_the_fit_bound_after_the_start_lifts_the_bound_the_lagrangian_cannot_by_hand():
    # The degenerate case (100 a week, batches of 30): the relaxation is 400 and the one-round Lagrangian
    # stays there (capacity price 0). With campaign_fit_bound the rows join the model after the start and
    # the relaxation re-solved from its basis is the optimum, 100,360; the plan is the same either way.
    demand = ex.demand(*[dict(product_id="A", site_id="P", t=t, quantity=100.0) for t in range(4)])
    out = {}
    for on in (False, True):
        config = PlanConfig(horizon_weeks=4, terminal_condition=False, mip_gap=0.0, campaign_fit_bound=on,
                            campaign_fill_rows=True)
        out[on] = plan_supply(build_network(_suite(batch=30.0), ex.START, config), demand, pl.DataFrame(), config)
    assert out[True].objective == pytest.approx(out[False].objective) == pytest.approx(100_360.0)
    fit = [a for a in out[True].attempts if a.startswith("fit rows:")]
    assert len(fit) == 1 and fit[0].startswith("fit rows: 14, relaxation 100,360 ")  # A, B × 4 weeks; fill 3
    assert not any(a.startswith("fit rows:") for a in out[False].attempts)
    lagrangian = [a for a in out[True].attempts if a.startswith("lagrangian bound:")]
    assert lagrangian and lagrangian[0].startswith("lagrangian bound: 100,360 ")


def test_rows_the_relaxation_cannot_take_leave_it_as_it_was():
    # relaxation_with_rows with a row no plan holds (A starts ≥ 10^6 in week 0): the re-solve is not optimal,
    # so the row is taken out of the HiGHS model again and its optimum restored (same value, same row count).
    model = _model(_suite(batch=30.0), [("A", "P", t, 110.0) for t in range(4)], 4, False)
    prob, variables = model.builder.prob, model.builder.variables
    relaxed = _solve(model, False)
    h = prob.solverModel
    rows = h.getNumRow()
    make = variables[model.frames["setup_for"].filter((pl.col("product_id") == "A") & (pl.col("t") == 0))
                     ["make_col"].item()]
    impossible = pulp.LpConstraint(pulp.LpAffineExpression([(make, 1.0)]), pulp.LpConstraintGE, "never", 1e6)
    lifted, optimal = relaxation_with_rows(h, [impossible], variables, float(prob.objective.constant), 10.0)
    assert lifted is None and optimal
    assert h.getNumRow() == rows
    assert h.getInfo().objective_function_value + prob.objective.constant == pytest.approx(relaxed)
    fit = campaign_fit(model.builder, model.network, model.frames["setup_for"], model.frames["pair"], 0)["name"]
    lifted, optimal = relaxation_with_rows(h, [prob.constraints[n] for n in fit.to_list()], variables,
                                           float(prob.objective.constant), 10.0)
    assert optimal and lifted == pytest.approx(200_360.0)


def test_the_rows_leave_the_hour_prices_of_a_hand_solved_plan_alone():
    # B wants 100 in week 0, A 120 a week in weeks 1-3 on the 100-hour suite, continuous, a 30-hour switch.
    # By hand: B in week 0, then A (the switch leaves 70 units in week 1, then 100 a week): A is 50, 70, 90
    # late (210,000) and 370 units are made: 210,370. An hour more in week 1 is one more A three weeks
    # earlier: 3 × 1,000 − 1 = 2,999. In the LP with the setups fixed week 1's campaign_fit row (A ≤ 70 after
    # the switch) binds beside the capacity row: left in, it took the dual (the hour priced 0 and no price
    # range); the rows leave the model before that LP, so the prices are the hand ones with the rows on or off.
    demand = ex.demand(dict(product_id="B", site_id="P", t=0, quantity=100.0),
                       *[dict(product_id="A", site_id="P", t=t, quantity=120.0) for t in range(1, 4)])
    out = {}
    for on in (False, True):
        config = PlanConfig(horizon_weeks=4, terminal_condition=False, campaign_fit_bound=on)
        out[on] = plan_supply(build_network(_suite(changeover_hours=30.0), ex.START, config), demand, pl.DataFrame(),
                              config)
    assert any(a.startswith("fit rows: 8,") for a in out[True].attempts)
    for result in out.values():
        assert result.objective == pytest.approx(210_370.0)
        week1 = result.tables["plan_capacity"].filter(pl.col("week") == ex.START + dt.timedelta(weeks=1))
        assert week1.select("shadow_price", "price_hour_more", "price_hour_less").row(0) == pytest.approx(
            (2_999.0, 2_999.0, 2_999.0))
        reasons = result.tables["plan_shortages"].select("product_id", "short_quantity", "reason").sort("short_quantity")
        assert reasons.rows() == [("A", 50.0, "capacity"), ("A", 70.0, "capacity"), ("A", 90.0, "capacity")]
    assert out[True].tables["plan_capacity"].equals(out[False].tables["plan_capacity"])
    assert out[True].tables["plan_shortages"].equals(out[False].tables["plan_shortages"])


@pytest.mark.parametrize("options", [{}, {"campaign_need_bound": True}, {"campaign_start_cuts": True},
                                     {"campaign_fit_bound": True}])
def test_a_week_without_a_switch_prices_the_hour_by_hand(options):
    # The hand case above (B in week 0, then A on the 100-hour suite, 1 hour a unit, a 30-hour switch): A is
    # 50, 70, 90 late in weeks 1-3. With the setups fixed, an hour more in week 2 is one more A made there and
    # one fewer late in weeks 2 and 3: 2 × 1,000 of backlog saved less 1 of production = 1,999; in week 3,
    # 1,000 − 1 = 999; in week 1, 2,999. Weeks 2 and 3
    # have no switch: the campaign link row (A ≤ 100 × setup) is then the capacity row itself, and left in the
    # LP with the integers fixed it took the dual (0 in both weeks). Week 0 makes B, whose demand it meets: 0.
    demand = ex.demand(dict(product_id="B", site_id="P", t=0, quantity=100.0),
                       *[dict(product_id="A", site_id="P", t=t, quantity=120.0) for t in range(1, 4)])
    config = PlanConfig(horizon_weeks=4, terminal_condition=False, **options)
    result = plan_supply(build_network(_suite(changeover_hours=30.0), ex.START, config), demand, pl.DataFrame(),
                         config)
    assert result.objective == pytest.approx(210_370.0)
    prices = result.tables["plan_capacity"].sort("week")["shadow_price"].to_list()
    assert prices == pytest.approx([0.0, 2_999.0, 1_999.0, 999.0])
    reasons = result.tables["plan_shortages"].select("product_id", "short_quantity", "reason").sort("short_quantity")
    assert reasons.rows() == [("A", 50.0, "capacity"), ("A", 70.0, "capacity"), ("A", 90.0, "capacity")]


def test_a_campaign_set_up_through_a_shutdown_week_keeps_its_duals():
    # A runs on the suite in every week, and the suite has no hours in week 2 (a shutdown): the plan keeps it
    # set up for A there (leaving it would cost a 30-hour switch back in week 3), so that week's link row
    # reads A ≤ 0 × setup, a row without the setup's term. Taking the implied link rows out before the duals
    # must pass it by (its capacity row says the same); it raised KeyError on the setup's column (the demo
    # with campaigns failed on its maintenance shutdown, stop 28).
    inputs = {**_suite(changeover_hours=30.0), "calendar": ex.calendar(dict(resource_id="R", t=2, hours_available=0.0))}
    demand = ex.demand(*[dict(product_id="A", site_id="P", t=t, quantity=100.0) for t in range(4)])
    config = PlanConfig(horizon_weeks=4, terminal_condition=False)
    result = plan_supply(build_network(inputs, ex.START, config), demand, pl.DataFrame(), config)
    campaigns = result.tables["plan_campaigns"]
    assert campaigns.select("product_id").to_series().to_list() == ["A"]
    capacity = result.tables["plan_capacity"].sort("week")
    assert capacity["hours_available"].to_list() == pytest.approx([100.0, 100.0, 0.0, 100.0])


def test_the_fill_rows_leave_the_model_before_the_duals_with_the_fit_rows():
    # the LP with the integers fixed must not have them (a fill row binds where a week's whole batches fill
    # it, beside the capacity row it was derived from, and could take its dual): _drop_bound_rows takes both
    # families out
    model = _model(_suite(batch=30.0, changeover_hours=40.0), [("A", "P", t, 70.0) for t in range(3)], 3, True)
    names = set(model.builder.prob.constraints)
    assert any(n.startswith("campaign_fill_") for n in names) and any(n.startswith("campaign_fit_") for n in names)
    _drop_bound_rows(model)
    assert not any(n.startswith(("campaign_fill_", "campaign_fit_")) for n in model.builder.prob.constraints)
    assert "campaign_fill" not in model.builder.rows and "campaign_fit" not in model.builder.rows


@pytest.mark.parametrize("on", [True, False])
def test_the_fill_rows_follow_their_option(on):
    # PlanConfig.campaign_fill_rows: the fill rows go with the fit rows (here campaign_fit_cuts) or not at all
    config = PlanConfig(horizon_weeks=3, terminal_condition=False, campaign_fit_cuts=True, campaign_fill_rows=on)
    net = build_network(_suite(batch=30.0, changeover_hours=40.0), ex.START, config)
    demand = pl.DataFrame([("A", "P", t, 70.0) for t in range(3)], schema={**NONE, "quantity": pl.Float64},
                          orient="row")
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    model = build_model(net, demand, pl.DataFrame(schema={**NONE, "safety_stock": pl.Float64}), scheduled, config)
    assert model.builder.rows["campaign_fit"].height == 6
    assert ("campaign_fill" in model.builder.rows) == on
