"""The campaign start's search (issue 17): a rotation per suite sized from the relaxation, moves on a
suite's schedule, the batches rounded up where the hours hold them, and the search with the LP as the judge
reaching hand-solved optima from a bad start."""

from __future__ import annotations

import time

import numpy as np
import polars as pl
import pytest

from optimization import PlanConfig
from optimization.campaign_schedule import SuiteGrid, rotation_setups, schedule_moves
from optimization.campaign_start import filled_integers
from tests.test_campaigns import BUILD_AHEAD, _kpi, _plan, _suite, built_model

A, B, NONE = 0, 1, -1


def _grid(hours_a: list[float], hours_b: list[float], available: list[float] | None = None,
          lo: int = 2, hi: int | None = None) -> SuiteGrid:
    """One suite R (100 hours a week unless ``available`` says, changeovers of 10 hours) making A and B;
    the relaxation's hours of each a week (1 hour a unit)."""
    weeks = len(hours_a)
    available = available or [100.0] * weeks
    rows = [
        dict(product_id=p, resource_id="R", t=t, col=i, make=h, hours_per_unit=1.0, hours_available=available[t],
             min_campaign_weeks=lo, max_campaign_weeks=hi, changeover_hours=10.0)
        for i, (p, t, h) in enumerate([("A", t, hours_a[t]) for t in range(weeks)]
                                      + [("B", t, hours_b[t]) for t in range(weeks)])
    ]
    return SuiteGrid.of(pl.DataFrame(rows, schema_overrides={"max_campaign_weeks": pl.Int64}))


def test_a_rotation_sizes_each_campaign_by_its_share_of_the_relaxations_hours():
    # the relaxation makes 60 h of A every week and 20 h of B from week 2: A 480 h, B 120 h → shares 0.8 / 0.2.
    # A is needed first (a tenth of its hours by week 0; B's by week 2). One cycle over 8 weeks: A
    # round(6.4) = 6 weeks, B round(1.6) = 2; two cycles (4 weeks each): A 3, B round(0.8) = 1 → its
    # minimum 2, then A again to the end
    grid = _grid([60.0] * 8, [0.0, 0.0] + [20.0] * 6)
    assert rotation_setups(grid, 1)[0].tolist() == [A] * 6 + [B] * 2
    assert rotation_setups(grid, 2)[0].tolist() == [A] * 3 + [B] * 2 + [A] * 3
    # the setups of a schedule and back
    chosen = rotation_setups(grid, 2)
    setups = grid.setups(chosen)
    assert setups["start"].sum() == 8.0 and np.array_equal(grid.chosen(setups), chosen)


def test_a_rotation_waits_for_a_week_with_room_for_the_changeover():
    # week 6 has 5 hours, fewer than a 10-hour changeover: A runs on through it and B starts in week 7;
    # with A's maximum at 6 weeks the suite stands set up for nothing in week 6 instead
    grid = _grid([60.0] * 8, [0.0, 0.0] + [20.0] * 6, available=[100.0] * 6 + [5.0, 100.0])
    assert rotation_setups(grid, 1)[0].tolist() == [A] * 7 + [B]
    capped = _grid([60.0] * 8, [0.0, 0.0] + [20.0] * 6, available=[100.0] * 6 + [5.0, 100.0], hi=6)
    assert rotation_setups(capped, 1)[0].tolist() == [A] * 6 + [NONE, B]


def test_a_schedule_keeps_the_campaign_lengths_and_switches_only_where_a_changeover_fits():
    grid = _grid([1.0] * 8, [1.0] * 8, available=[100.0] * 5 + [5.0, 100.0, 100.0], lo=2, hi=4)
    assert grid.valid(0, np.array([A, A, A, A, B, B, A, A]))  # A 4 weeks (its maximum), B 2 (its minimum)
    assert grid.valid(0, np.array([A, A, A, B, B, B, B, A]))  # A again for 1 week, cut by the horizon: fine
    assert not grid.valid(0, np.array([A, A, A, B, A, A, B, B]))  # B for 1 week after a switch
    assert not grid.valid(0, np.array([A] * 5 + [B, B, B]))  # A 5 weeks > 4; and B switched in in week 5
    assert not grid.valid(0, np.array([A, A, A, A, B, A, A, A]))  # B 1 week
    assert not grid.valid(0, np.array([A, A, B, B, B, A, A, A]))  # A switched in in week 5 (5 hours)


def test_moves_merge_swap_and_shift_campaigns():
    row = np.array([A, A, A, B, B, A, A, A])
    moves = [m.tolist() for m in schedule_moves(row)]
    assert moves[:2] == [[A] * 8, [A, A, A, B, B, B, B, B]]  # merged into the campaign before, fewest switches first
    assert [B, B, A, A, A, A, A, A] in moves  # the first two campaigns swapped, lengths kept
    assert [A, A, A, A, A, A, B, B] in moves  # B (2 weeks) and the last A (3) swapped
    assert [A, A, B, B, B, A, A, A] in moves and [A, A, A, A, B, A, A, A] in moves  # B's start a week earlier/later
    assert [A, A, A, B, A, A, A, A] in moves and [A, A, A, B, B, B, A, A] in moves  # B's end a week earlier/later
    assert [A, A, A, A, B, B, A, A] in moves  # B a week later
    # the first campaign a week later, at least 3 weeks: its week to the campaign after it
    assert [A, B, B, B, A, A] in [m.tolist() for m in schedule_moves(np.array([B, A, A, A, A, A]), shortest=3)]
    assert schedule_moves(np.array([A] * 8)) == []
    # a new campaign of another product in the first or the last week
    # ... and, last, the one campaign's product exchanged for B
    assert [m.tolist() for m in schedule_moves(np.array([A] * 4), np.array([A, B]))] == [
        [B, A, A, A], [A, A, A, B], [B, B, B, B]]
    # each campaign's product exchanged for each other product, its weeks kept, after every other move
    assert [m.tolist() for m in schedule_moves(row, np.array([A, B]))][-3:] == [
        [A, A, A, A, A, A, A, A], [B, B, B, B, B, A, A, A], [A, A, A, B, B, B, B, B]]


def test_batches_are_rounded_up_where_the_hours_left_hold_one_more():
    # batches of 40 units on a 100-hour resource (1 hour a unit). Week 0: the LP makes 1.5 batches (60 h, 40
    # free); rounded down to 1 frees 20 more: 60 h, one more batch fits → 2. Week 1: 2.4 batches (96 h, 4
    # free); 2 leave 20 h: no room → 2. Week 2: 0.6 of A's batch and 0.3 of B's (36 h, 64 free); 0 and 0
    # leave 100 h, room for both → 1 each
    batches = pl.DataFrame({"col": [0, 1, 2, 3], "make_col": [10, 11, 12, 13], "batch_size": [40.0] * 4,
                            "resource_id": ["R"] * 4, "t": [0, 1, 2, 2]})
    make = pl.DataFrame({"col": [10, 11, 12, 13], "hours_per_unit": [1.0] * 4})
    x = np.zeros(14)
    x[:4] = [1.5, 2.4, 0.6, 0.3]
    ints = np.arange(4)
    floor = np.floor(x[:4])
    slack = pl.DataFrame({"resource_id": ["R"] * 3, "t": [0, 1, 2], "slack": [40.0, 4.0, 64.0]})
    frames = {"batches": batches, "make": make}
    none = np.zeros(0, dtype=np.int32)
    assert filled_integers(frames, ints, x, floor, none, slack).tolist() == [2, 2, 1, 1]
    # only 14 h free in week 2 (50 after rounding down): the larger fraction (A's 0.6) gets it
    slack = slack.with_columns(slack=pl.Series([40.0, 4.0, 14.0]))
    assert filled_integers(frames, ints, x, floor, none, slack).tolist() == [2, 2, 1, 0]
    # A's lot not started (its make column 12 in `zero`): its hours are free, and B's batch takes them
    assert filled_integers(frames, ints, x, floor, np.array([12], dtype=np.int32), slack).tolist() == [2, 2, 0, 1]


def _relaxed(inputs, rows, config):
    """The model of ``inputs`` and its LP relaxation solved (the campaign start's first step): the model,
    the relaxation's HiGHS and the ``setup_for`` frame with the relaxation's ``make``."""
    from optimization.pulp_highs import BulkHiGHS

    model = built_model(inputs, rows, config)
    model.builder.prob.solve(BulkHiGHS(mip=False, msg=False, variables=model.builder.variables))
    made = model.builder.values(model.frames["make"].select("col"), "make").rename({"col": "make_col"})
    setup = model.frames["setup_for"].join(made, on="make_col", how="left").with_columns(pl.col("make").fill_null(0.0))
    return model, model.builder.prob.solverModel, setup


def test_the_search_reaches_the_hand_optimum_from_a_start_that_never_makes_b():
    from optimization.solve_search import _searched_setups

    # three-week campaigns: B occupies weeks 3-5 (or 4-6) and A's demand of those weeks is built ahead: holding
    # 450 (tests/test_campaigns.py). From a start set up for A all 8 weeks (B's 100 never made: 100,000 of
    # backlog) the rotations and moves, judged by the LP with the setups fixed, find that plan
    config = PlanConfig(horizon_weeks=8, terminal_condition=False)
    inputs = _suite(campaign=True, min_campaign_weeks=3)
    model, relaxation, setup = _relaxed(inputs, BUILD_AHEAD, config)
    all_a = setup.select("col", start=(pl.col("product_id") == "A").cast(pl.Float64))
    optimum = _plan(inputs, BUILD_AHEAD)
    assert _kpi(optimum, "cost_holding") == pytest.approx(450.0)
    chosen, note, plan = _searched_setups(model, relaxation, setup, all_a, time.perf_counter() + 60.0)
    assert plan is not None and plan[1] == pytest.approx(optimum.objective)
    on = setup.join(chosen, on="col").filter(pl.col("start") > 0.5)
    b = sorted(on.filter(pl.col("product_id") == "B")["t"].to_list())
    assert b in ([3, 4, 5], [4, 5, 6])
    assert "sequenced" in note and "rotation" in note


def test_with_the_search_the_plan_is_the_hand_optimum_and_every_week_whole():
    # the dear changeover of tests/test_campaigns.py: one changeover, B first, A from week 2 to the end
    from tests.test_campaigns import _two_runs

    dear = _two_runs(changeover_cost=5000.0)
    assert any(a.startswith("setups searched") for a in dear.attempts)
    assert _kpi(dear, "changeovers") == pytest.approx(1.0)
    assert _kpi(dear, "cost_holding") == pytest.approx(200.0)
    off = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD,
                PlanConfig(horizon_weeks=8, terminal_condition=False, campaign_search=False))
    on = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD)
    assert not any(a.startswith("setups searched") for a in off.attempts)
    assert on.objective == pytest.approx(off.objective)


def test_the_search_ends_on_its_budget_and_names_the_clock_when_it_cuts():
    from optimization.solve_search import _searched_setups

    # the all-A start of the test above: with a budget of one schedule only it is judged (B's 100 never made),
    # far from the optimum the full budget reaches; the same budget gives the same plan twice; a deadline
    # already passed stops the search after its first schedule and the line says the clock cut it
    config = PlanConfig(horizon_weeks=8, terminal_condition=False)
    inputs = _suite(campaign=True, min_campaign_weeks=3)
    optimum = _plan(inputs, BUILD_AHEAD).objective
    far = time.perf_counter() + 600.0
    model, relaxation, setup = _relaxed(inputs, BUILD_AHEAD, config)
    all_a = setup.select("col", start=(pl.col("product_id") == "A").cast(pl.Float64))
    one, note, plan = _searched_setups(model, relaxation, setup, all_a, far, evaluations=1)
    assert one.sort("col").equals(all_a.sort("col"))
    # B's 100 units behind for weeks, 1000 a unit-week
    assert plan is not None and plan[1] > optimum + 100_000.0
    assert "1 of 1 schedules" in note and "CLOCK" not in note
    first = plan[1]
    runs = []
    for _ in range(2):
        model, relaxation, setup = _relaxed(inputs, BUILD_AHEAD, config)
        runs.append(_searched_setups(model, relaxation, setup, all_a, far, evaluations=12))
    assert runs[0][0].sort("col").equals(runs[1][0].sort("col"))
    assert np.array_equal(runs[0][2][0], runs[1][2][0]) and runs[0][2][1] == runs[1][2][1]
    assert "12 of 12 schedules" in runs[0][1]
    model, relaxation, setup = _relaxed(inputs, BUILD_AHEAD, config)
    cut, note, plan = _searched_setups(model, relaxation, setup, all_a, time.perf_counter() - 1.0)
    assert f"CUT BY THE CLOCK after 1 of {PlanConfig().campaign_search_evaluations} schedules" in note
    assert cut.sort("col").equals(all_a.sort("col")) and plan[1] == pytest.approx(first)


def test_a_hot_first_lp_cut_by_its_iterations_is_solved_cold_to_the_same_value():
    from optimization.campaign_search import SetupSearch
    from optimization.highs_direct import new_highs

    # the first schedule's LP from the relaxation's basis, stopped after 1 simplex iteration, is solved cold:
    # the same value as with no limit (the LP's optimum does not depend on where the simplex starts)
    config = PlanConfig(horizon_weeks=8, terminal_condition=False)
    inputs = _suite(campaign=True, min_campaign_weeks=3)
    values = []
    for limit in (1, 10**9):
        model, relaxation, setup = _relaxed(inputs, BUILD_AHEAD, config)
        h = new_highs()
        h.passModel(relaxation.getLp())
        h.setBasis(relaxation.getBasis())
        grid = SuiteGrid.of(setup)
        search = SetupSearch(h, grid, hot_iterations=limit)
        values.append(search.value(rotation_setups(grid, 1)))
        assert search.work >= 1 and search.evaluations == 1
    assert np.isfinite(values[0]) and values[0] == pytest.approx(values[1])


def test_moves_are_priced_by_the_best_plans_reduced_costs():
    from optimization.campaign_search import SetupSearch
    from optimization.highs_direct import new_highs

    # suite R over 4 weeks, A's setups columns 0-3, B's 4-7 (as _grid numbers them). Reduced costs: a week of
    # B costs -30 in week 3 (a gain), +10 elsewhere; a week of A +0 in weeks 0-2 and +5 in week 3. From
    # A A A A: B in week 3 changes A3 1→0 (-5) and B3 0→1 (-30): -35; B in week 0: -0 + 10 = +10; all B:
    # -5 + 10·3 - 30 = -5
    grid = _grid([1.0] * 4, [1.0] * 4)
    search = SetupSearch(new_highs(), grid)
    search.duals = np.array([0.0, 0.0, 0.0, 5.0, 10.0, 10.0, 10.0, -30.0])
    row = np.array([A] * 4)
    moves = [np.array([A, A, A, B]), np.array([B, A, A, A]), np.array([B] * 4)]
    assert search.priced(0, row, moves).tolist() == pytest.approx([-35.0, 10.0, -5.0])



def test_the_priced_search_reaches_the_hand_optimum_too():
    from optimization.solve_search import _searched_setups

    config = PlanConfig(horizon_weeks=8, terminal_condition=False)
    inputs = _suite(campaign=True, min_campaign_weeks=3)
    model, relaxation, setup = _relaxed(inputs, BUILD_AHEAD, config)
    all_a = setup.select("col", start=(pl.col("product_id") == "A").cast(pl.Float64))
    _, _, plan = _searched_setups(model, relaxation, setup, all_a, time.perf_counter() + 600.0, priced=True)
    assert plan is not None and plan[1] == pytest.approx(_plan(inputs, BUILD_AHEAD).objective)


def test_after_a_search_plan_no_mip_cut_by_the_clock_runs_and_the_attempts_say_whose_plan_it_is():
    # the dear changeover of tests/test_campaigns.py with the search on: its plan is the start as judged (no
    # completion MIP, no fix-and-optimize pass), and the last line says the MIP found none better (the hand
    # optimum is the search's); with the search off the completion runs as before
    from tests.test_campaigns import _two_runs

    on = _two_runs(time_blocks=False, changeover_cost=5000.0)  # the search's path (the blocks with time off)
    assert any(a.startswith("start: the search's plan") for a in on.attempts)
    assert not any(a.startswith("fix-and-optimize") or a.startswith("start: none") for a in on.attempts)
    assert "plan: the start (the MIP found none better)" in on.attempts
    off = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD,
                PlanConfig(horizon_weeks=8, terminal_condition=False, campaign_search=False,
                           campaign_time_blocks=False))
    assert not any(a.startswith("start: the search's plan") for a in off.attempts)
    assert any(a.startswith("start: ") for a in off.attempts)
