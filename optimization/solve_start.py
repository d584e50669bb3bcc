"""The campaign MIP's start: the relaxation, its production sequenced into campaigns, the setups completed.

:func:`_campaign_start` solves the LP relaxation and takes setups from it (sequenced, searched:
:mod:`optimization.solve_search`, or the blocks with time's schedules: :func:`_blocks_first`), completes them
with the setups fixed (:func:`_complete`, a MIP; by rounding in LP time when it finds nothing) and lifts the
bound (:mod:`optimization.solve_bounds`). The constants below are these steps' shares of the campaign time.
Run by :func:`optimization.solve.solve_model`.
"""

from __future__ import annotations

import time

import highspy
import numpy as np
import polars as pl
import pulp

from optimization.campaign_bound import LagrangianBound, block_columns, block_specs, bound_of, priced_setups
from optimization.campaign_start import improves, rounded_integers, sequenced_setups
from optimization.campaign_time import schedule_integers, time_blocks
from optimization.campaign_worker import TimeBlocksRun
from optimization.config import PlanConfig
from optimization.model import Model
from optimization.pulp_highs import integer_mask
from optimization.solve_bounds import (
    LAGRANGIAN_SECONDS, LAGRANGIAN_SHARE, _bound_note, _fit_bound, _master_bound, _suites_round, _week_bound,
)
from optimization.solve_search import PlainRelaxation, _searched_setups
from optimization.solver import _took, _within_gap, make_solver, objective_of


#: share of the time left after the relaxation that the MIP start may use to complete its fixed campaigns
START_SHARE = 0.5
#: with ``campaign_time_blocks``, share of the campaign time left after the fit rows that the blocks with time
#: may take on both cores (:func:`_blocks_first`; a block stopped by it gives its dual bound); the rest is their
#: priced start's (9.2 CPU-s on the demo, stop 27)
TIME_BLOCK_SHARE = 0.8
#: on the blocks path, the gap a schedule's completion (setups fixed, the batches a MIP) is solved to, as a share
#: of ``mip_gap``: at ``mip_gap`` itself HiGHS stops at its root up to 1% above the schedule's best plan (the
#: search's best on the demo with shrunk seasons: 5,332.3 M at 0.60% where its rounding had 5,313.5 M; stop 31),
#: and that slack is most of what lies between the plan and the blocks' bound
COMPLETION_GAP_SHARE = 0.1
#: HiGHS options of that completion: RENS and the root reduced-cost heuristic off. With the setups fixed HiGHS
#: ends the completion at its root; where its roundings are not within the gap, sub-MIPs of three heuristics run
#: there, and RINS's alone finds a plan as good. On the two of seven demands whose completion ran sub-MIPs: the
#: same plan or a better one in 23.0 and 27.8 CPU-s instead of 42.3 and 44.1; the other completions end at their
#: root as before (docs/campaign-solver.md, stop 32)
COMPLETION_OPTIONS: dict[str, bool | int | float | str] = {
    "mip_heuristic_run_rens": False, "mip_heuristic_run_root_reduced_cost": False}
#: share of the campaign time left after the start the master's rounds (``campaign_master``) may take at most
MASTER_SHARE = 0.5
#: share of the campaign time left after the relaxation that the search over the suites' schedules may use
#: (:func:`_searched_setups`): a safety limit, reported when it cuts; the search ends on its budget of
#: schedules judged (``PlanConfig.campaign_search_evaluations``)
SEARCH_SHARE = 0.8
#: seconds the campaign MIP gets even when the relaxation and the start used up its limit (it then mostly
#: reports the start against its root bound)
MIN_MIP_SECONDS = 5.0


def _campaign_start(
    model: Model, config: PlanConfig, deadline: float | None = None, log: list[str] | None = None
) -> tuple[tuple[np.ndarray, np.ndarray] | None, float | None, float | None]:
    """A full MIP start: solve the LP relaxation, sequence its production into campaigns
    (:mod:`optimization.campaign_start`), fix those setups and solve what is left (whole batches) with a
    share of the time left before ``deadline`` (``time.perf_counter()`` seconds; None: of the time limit),
    and at least as long as the relaxation took (with ``campaign_search`` the searched schedules' best
    whole-batch plan is the start instead, :func:`_searched_setups`). The relaxation itself may take the
    plan's whole
    ``time_limit_seconds``: without it there is no start, and without a start a large campaign MIP (or
    any on a loaded machine) may end its limit with no plan at all; a late plan beats none. With
    ``campaign_lagrangian`` the relaxation's duals also give a Lagrangian bound
    (:mod:`optimization.campaign_bound`), after the start (whose time it never takes), within
    :data:`LAGRANGIAN_SECONDS` and :data:`LAGRANGIAN_SHARE` of the time left (with ``campaign_master``,
    column generation from there: :func:`_master_bound`, within ``campaign_master_seconds``); with
    ``campaign_priced_start`` each suite's best schedule at those prices is completed too (price-and-fix) and
    the better start kept. With ``campaign_time_blocks`` the bound and the start come from the blocks with time
    solved on both cores, and the search is their fallback (:func:`_blocks_first`).
    Returns the start (every column), the relaxation's objective and the best lower bound known (the
    Lagrangian's, or the relaxation's); no start where a step fails. Each step's outcome and time goes to
    ``log``."""
    log = [] if log is None else log
    prob = model.builder.prob
    variables = model.builder.variables
    began, cpu = time.perf_counter(), time.process_time()
    try:
        status = prob.solve(make_solver("highs", config, mip=False, variables=variables,
                                        method=config.campaign_relaxation_method))
    except Exception:
        return None, None, None
    if status != pulp.LpStatusOptimal:
        return None, None, None
    relaxed = float(pulp.value(prob.objective))
    relaxation_seconds = time.perf_counter() - began
    log.append(f"relaxation ({config.campaign_relaxation_method}): {relaxed:,.0f}" + _took(began, cpu))
    made = model.builder.values(model.frames["make"].select("col"), "make").rename({"col": "make_col"})
    setup = model.frames["setup_for"].join(made, on="make_col", how="left", validate="1:1").with_columns(
        pl.col("make").fill_null(0.0)
    )
    start = sequenced_setups(setup)
    relaxation_model = prob.solverModel  # its duals price the Lagrangian bound (each solve makes a new one)

    def time_left() -> float:
        return config.time_limit_seconds if deadline is None else max(deadline - time.perf_counter(), 0.0)

    if config.campaign_time_blocks and config.campaign_lagrangian and not config.campaign_master:
        best, best_values, lower = _blocks_first(model, config, relaxation_model, relaxed, setup, start, time_left,
                                                 log)
        return _started(model, best, best_values), relaxed, lower
    rounded = None  # the searched setups' plan by rounding, (values, objective)
    if config.campaign_search:
        start, rounded = _search(model, config, relaxation_model, setup, start, time_left(), log)
    # at least as long as the relaxation took (its LP is as large): a start that completes is the plan
    # when the MIP finds none. With the search's whole-batch plan in hand there is no completion: a MIP
    # cut by the clock would make the plan depend on the load, and on four networks it never improved
    # the search's plan (docs/campaign-solver.md, stop 25)
    best = _planned(model, config, start, rounded, max(time_left() * START_SHARE, relaxation_seconds), log)
    best_values = None if best is None else np.array([v.varValue or 0.0 for v in variables])
    lower, priced = relaxed, True  # priced: the relaxation's HiGHS model holds an optimum and duals
    if config.campaign_fit_bound and not config.campaign_fit_cuts and best is not None:
        seconds = _rows_seconds(time_left())
        lower, priced = _fit_bound(model, relaxation_model, relaxed, seconds, log)
    if config.campaign_week_rows and best is not None and priced:
        seconds = _rows_seconds(time_left())
        lower, priced = _week_bound(model, relaxation_model, lower, seconds, log)
    if config.campaign_lagrangian and config.campaign_master and best is not None and priced:
        seconds = min(config.campaign_master_seconds, MASTER_SHARE * time_left())
        lower, planned = _master_bound(model, config, relaxation_model, lower, best_values, seconds, log)
        if planned is not None and improves(planned[0], best):
            best, best_values = planned
    elif config.campaign_lagrangian and best is not None and priced:  # after the start, from the passes' and MIP's time
        bound = _suites_round(model, relaxation_model, lower, relaxed, time_left(), log)
        lower = bound.bound
        if config.campaign_priced_start and any(b.planned for b in bound.blocks):
            objective = _priced_complete(model, config, bound, start, time_left() * START_SHARE, log)
            if objective is not None and improves(objective, best):
                log[-1] += " (kept)"
                best, best_values = objective, np.array([v.varValue or 0.0 for v in variables])
    return _started(model, best, best_values), relaxed, lower


def _started(model: Model, best: float | None,
             values: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The start as (every column's index, its value), its objective kept on the model; None without one."""
    if best is None:
        return None
    model.start_objective = best
    return np.arange(len(model.builder.variables), dtype=np.int32), values


def _search(model: Model, config: PlanConfig, relaxation: highspy.Highs | PlainRelaxation, setup: pl.DataFrame,
            sequenced: pl.DataFrame, seconds: float, log: list[str],
            first: dict[str, pl.DataFrame] | None = None) -> tuple[pl.DataFrame, tuple | None]:
    """The search over the suites' schedules (:func:`_searched_setups`, ``first`` judged before its own
    candidates) within :data:`SEARCH_SHARE` of ``seconds``: its setups and its whole-batch plan (values,
    objective; None when none), its line logged."""
    began, cpu = time.perf_counter(), time.process_time()
    start, note, rounded = _searched_setups(model, relaxation, setup, sequenced,
                                            time.perf_counter() + SEARCH_SHARE * seconds,
                                            config.campaign_search_evaluations, config.campaign_search_priced_moves,
                                            first)
    log.append(note + _took(began, cpu))
    return start, rounded


def _planned(model: Model, config: PlanConfig, start: pl.DataFrame, rounded: tuple | None, seconds: float,
             log: list[str]) -> float | None:
    """The start's plan, held by the variables: the search's whole-batch plan ``rounded`` when there is one,
    else ``start``'s setups completed as a MIP within ``seconds`` (at least :data:`MIN_MIP_SECONDS`), else
    (nothing found in that time, a loaded machine) completed by rounding in LP time. Its objective, or None."""
    variables = model.builder.variables
    if rounded is not None:
        log.append(f"start: the search's plan {rounded[1]:,.0f}")
        for v, x in zip(variables, rounded[0]):
            v.varValue = float(x)
        return rounded[1]
    began, cpu = time.perf_counter(), time.process_time()
    best = _complete(model, config, start, max(seconds, MIN_MIP_SECONDS))
    log.append("start: " + ("none" if best is None else f"{best:,.0f}") + _took(began, cpu))
    if best is None:  # the completion found nothing in its time (a loaded machine): a plan in LP time
        began, cpu = time.perf_counter(), time.process_time()
        best = _rounded_complete(model, config, start)
        log.append("rounded start: " + ("none" if best is None else f"{best:,.0f}") + _took(began, cpu))
    return best


def _priced_complete(model: Model, config: PlanConfig, bound: LagrangianBound, start: pl.DataFrame, seconds: float,
                     log: list[str]) -> float | None:
    """The priced start (price-and-fix): each suite's setups fixed to its block's MIP schedule in ``bound``
    (:func:`~optimization.campaign_bound.priced_setups`; a suite whose block has no plan keeps ``start``'s), the
    rest completed as a MIP within ``seconds`` (at least :data:`MIN_MIP_SECONDS`). Its objective (the variables
    hold its plan), or None when none was found."""
    began, cpu = time.perf_counter(), time.process_time()
    objective = _complete(model, config, _priced_fixing(bound, start), max(seconds, MIN_MIP_SECONDS))
    log.append("priced start: " + ("none" if objective is None else f"{objective:,.0f}") + _took(began, cpu))
    return objective


def _priced_fixing(bound: LagrangianBound, start: pl.DataFrame) -> pl.DataFrame:
    """The setups to fix (``col, start``): each suite's from its block's MIP schedule in ``bound``
    (:func:`~optimization.campaign_bound.priced_setups`), ``start``'s where its block has no plan."""
    cols, values = priced_setups(bound, start["col"].to_numpy())
    chosen = pl.DataFrame({"col": cols, "priced": values}, schema={"col": start["col"].dtype, "priced": pl.Float64})
    return start.join(chosen, on="col", how="left").select("col", start=pl.coalesce("priced", "start"))


def _blocks_first(model: Model, config: PlanConfig, relaxation: highspy.Highs, relaxed: float, setup: pl.DataFrame,
                  sequenced: pl.DataFrame, time_left, log: list[str]) -> tuple[float | None, np.ndarray | None, float]:
    """``campaign_time_blocks``: the bound and the start from the blocks with time, the search only their
    fallback.

    The fit rows (and week rows, when on) are re-solved into the relaxation at once; the blocks with time are
    priced at its duals and solved on ``config.solve_workers`` threads, cheapest first, each to completion
    (:class:`~optimization.campaign_worker.TimeBlocksRun`), within :data:`TIME_BLOCK_SHARE` of the time left,
    while this thread solves the suites' own round; the better bound is kept. The start is their schedules
    completed (:func:`_priced_fixing`, a suite without a block plan keeping its ``sequenced`` setups) to a tenth
    of ``mip_gap`` (:func:`_complete_schedule`) with all the time left, by rounding in LP time when that MIP finds
    nothing (:func:`_planned`); where it is not within ``mip_gap`` of the bound and time is left, the search
    moves from that schedule and its plan, its best schedule completed the same way (:func:`_search_completed`),
    is kept where better; after it the MIP runs only when the start is not within ``mip_gap`` of the bound
    (:func:`~optimization.solve.solve_model`). **The search**: where the blocks are fewer than the threads
    (the piece's one suite; networks whose suites share one block), a core is free of them and the search runs
    on it meanwhile, and the better of its plan and the priced start is the start; else, when no block found a
    plan or their completion found none, the search runs in the time left and its plan is the start, as
    without the blocks (on the plain relaxation either way: :class:`PlainRelaxation`). Returns the start's
    objective and values (None, None without one) and the bound."""
    variables = model.builder.variables
    plain = PlainRelaxation.of(relaxation)  # the search's, before the rows join the relaxation
    lower, priced = relaxed, True
    if config.campaign_fit_bound and not config.campaign_fit_cuts:
        lower, priced = _fit_bound(model, relaxation, relaxed, _rows_seconds(time_left()), log)
    if config.campaign_week_rows and priced:
        lower, priced = _week_bound(model, relaxation, lower, _rows_seconds(time_left()), log)
    best, values, start, rounded = None, None, sequenced, None
    if priced:
        began, cpu = time.perf_counter(), time.process_time()
        blocks = time_blocks(model.network, model.frames, block_columns(model.frames))
        seconds = TIME_BLOCK_SHARE * time_left()
        ints = schedule_integers(model.frames, integer_mask(variables))  # the blocks' batches continuous
        whole = block_specs(relaxation, blocks, integer_mask(variables))  # a stalled block's second try
        run = TimeBlocksRun(block_specs(relaxation, blocks, ints), seconds, config.solve_workers, whole)
        log.append(f"blocks with time: {len(blocks)} priced and queued on {run.workers} threads for {seconds:.1f} s"
                   + _took(began, cpu))
        if len(blocks) < run.workers and config.campaign_search:  # a core the blocks leave free
            start, rounded = _search(model, config, plain, setup, sequenced, time_left(), log)
        bound = _suites_round(model, relaxation, lower, relaxed, time_left(), log)
        solved, note = run.result()
        timed = bound_of(lower, solved)
        log.append(f"lagrangian bound, blocks with time: {_bound_note(timed, relaxed, 'blocks')} ({note})")
        lower = max(bound.bound, timed.bound)
        if any(b.planned for b in timed.blocks):  # the suites' own schedules lost as a start (stop 23)
            start = _priced_fixing(timed, sequenced)
            began, cpu = time.perf_counter(), time.process_time()
            best = _complete_schedule(model, config, start, max(time_left(), MIN_MIP_SECONDS))
            log.append("priced start: " + ("none" if best is None else f"{best:,.0f}") + _took(began, cpu))
            if (best is not None and rounded is None and config.campaign_search and time_left() > MIN_MIP_SECONDS
                    and not _within_gap(best, lower, config)):
                # the time the blocks left: the search's moves from their schedule, its plan kept where better
                # (the demo at 60 s: 5,114.8 -> 5,088.3 M, gap 1.76% -> 1.24%; stop 29), and completed (stop 31)
                priced = start
                start, rounded = _search(model, config, plain, setup, sequenced, time_left(), log,
                                         {"priced": start})
                rounded = _search_completed(model, config, priced, best, start, rounded, time_left(), log)
    if rounded is not None and (best is None or improves(rounded[1], best)):  # the search's plan beside them
        best = _planned(model, config, start, rounded, 0.0, log)
    elif best is None:  # no plan from the blocks: the search, their schedule (if any) its first candidate
        if config.campaign_search:
            first = {"priced": start} if start is not sequenced else {}
            start, rounded = _search(model, config, plain, setup, sequenced, time_left(), log, first)
        best = _planned(model, config, start, rounded, time_left() * START_SHARE, log)
    if best is not None:
        values = np.array([v.varValue or 0.0 for v in variables])
    return best, values, lower


def _complete_schedule(model: Model, config: PlanConfig, fixing: pl.DataFrame, seconds: float,
                       start: np.ndarray | None = None) -> float | None:
    """A schedule's completion on the blocks path: :func:`_complete` to :data:`COMPLETION_GAP_SHARE` of
    ``mip_gap`` with :data:`COMPLETION_OPTIONS`."""
    tighter = config.model_copy(update={"mip_gap": config.mip_gap * COMPLETION_GAP_SHARE})
    return _complete(model, tighter, fixing, seconds, start=start, options=COMPLETION_OPTIONS)


def _search_completed(model: Model, config: PlanConfig, priced: pl.DataFrame, best: float, searched: pl.DataFrame,
                      rounded: tuple | None, seconds: float, log: list[str]) -> tuple | None:
    """The search's plan (``rounded``: values, objective; its setups ``searched``) made better where it can be:
    its schedule completed as the priced start's is (setups fixed, the batches a MIP: :func:`_complete_schedule`,
    from its rounded plan, so never worse) within ``seconds`` (at least :data:`MIN_MIP_SECONDS`). The
    search judges a schedule by rounding its batches, which on the demo prices the blocks' own schedule 1.1%
    above its completion (5,382.0 against 5,325.7 M; stop 31): its best schedule's rounding leaves that much on
    the table. Not done when the search kept the ``priced`` schedule (its completion is the start already) or
    found no plan. The variables keep the priced start (objective ``best``) they hold: the caller takes the
    plan returned where it beats that. Returns the plan (values, objective), the completion's where better than
    the rounding; its line logged, ``(kept)`` where it beats the priced start too."""
    if rounded is None or _same_schedule(priced, searched):
        return rounded
    variables = model.builder.variables
    held = [v.varValue for v in variables]  # the priced start's plan
    began, cpu = time.perf_counter(), time.process_time()
    done = _complete_schedule(model, config, searched, max(seconds, MIN_MIP_SECONDS), start=rounded[0])
    better = done is not None and improves(done, rounded[1])
    if better:
        rounded = np.array([v.varValue or 0.0 for v in variables]), done
    for v, x in zip(variables, held):
        v.varValue = x
    log.append("search's schedule completed: " + ("none" if done is None else f"{done:,.0f}")
               + (" (kept)" if better and improves(done, best) else "") + _took(began, cpu))
    return rounded


def _same_schedule(a: pl.DataFrame, b: pl.DataFrame) -> bool:
    """Whether the setups ``a`` and ``b`` (``col, start``, every setup column) set up the same weeks (a block's
    schedule may hold 0.9999999 where the search's holds 1)."""
    pair = a.join(b, on="col", how="full", validate="1:1", coalesce=True).select(
        same=((pl.col("start") > 0.5) == (pl.col("start_right") > 0.5)).fill_null(False).all())
    return bool(pair["same"].item())


def _rows_seconds(left: float) -> float:
    """Seconds a bound's re-solve with new rows (``campaign_fit``, ``campaign_weeks``) may take of ``left``, the
    campaign time left: :data:`LAGRANGIAN_SHARE` of it, at most :data:`LAGRANGIAN_SECONDS`, at least
    :data:`MIN_MIP_SECONDS`."""
    return max(min(LAGRANGIAN_SECONDS, LAGRANGIAN_SHARE * left), MIN_MIP_SECONDS)


def _complete(model: Model, config: PlanConfig, fixing: pl.DataFrame, seconds: float,
              start: np.ndarray | None = None, options: dict[str, bool | int | float | str] | None = None,
              ) -> float | None:
    """The plan with the setups ``fixing`` (``col, start``) fixed, the rest (whole batches, flows) solved as a
    MIP within ``seconds`` (from ``start``, every column's value, when given; ``options``: more HiGHS options):
    its objective (the variables hold it), or None when none was found."""
    prob, variables = model.builder.prob, model.builder.variables
    fixed = [variables[i] for i in fixing["col"].to_list()]
    saved = [(v.lowBound, v.upBound) for v in fixed]
    for v, x in zip(fixed, fixing["start"].to_list()):
        v.lowBound = v.upBound = x
    short = config.model_copy(update={"time_limit_seconds": min(seconds, config.time_limit_seconds)})
    try:
        given = None if start is None else (np.arange(len(variables), dtype=np.int32), start)
        status = prob.solve(make_solver("highs", short, mip=True, variables=variables, start=given, options=options))
        ok = status == pulp.LpStatusOptimal  # optimal, or stopped with an incumbent
    except Exception:
        ok = False
    finally:
        for v, (lo, up) in zip(fixed, saved):
            v.lowBound, v.upBound = lo, up
    return objective_of(prob) if ok else None


def _rounded_complete(model: Model, config: PlanConfig, fixing: pl.DataFrame) -> float | None:
    """The plan with the setups ``fixing`` (``col, start``) fixed and the rest completed without a MIP, as
    the blocks path's start does: the LP, its batches rounded down and every integer fixed
    (:func:`~optimization.campaign_start.rounded_integers`), the LP again. Always a plan where the LP has
    one (rounding down only frees hours; backlog takes up the rest), in two LPs' time: what the start falls
    back to when :func:`_complete` finds nothing in its share. Returns its objective (the variables hold
    it), or None when an LP fails. Bounds are put back."""
    prob, variables = model.builder.prob, model.builder.variables
    ints = np.flatnonzero(integer_mask(variables)).astype(np.int32)
    saved = [(v.lowBound, v.upBound) for v in variables]
    for i, x in zip(fixing["col"].to_list(), fixing["start"].to_list()):
        variables[i].lowBound = variables[i].upBound = x
    try:
        if not _lp_solved(prob, config, variables):
            return None
        x = np.array([v.varValue or 0.0 for v in variables])
        value, zero = rounded_integers(model.frames, ints, x)
        for i, v in zip(ints.tolist(), value.tolist()):
            variables[i].lowBound = variables[i].upBound = v
        for i in zero.tolist():
            variables[i].lowBound = variables[i].upBound = 0.0
        ok = _lp_solved(prob, config, variables)
    finally:
        for v, (lo, up) in zip(variables, saved):
            v.lowBound, v.upBound = lo, up
    return objective_of(prob) if ok else None


def _lp_solved(prob: pulp.LpProblem, config: PlanConfig, variables: list) -> bool:
    """``prob`` solved as an LP by HiGHS to optimality. A solver that fails (raises) is no plan, False; only
    the solve is guarded, so a defect in the code around it still raises (stop 24: a rename inside the
    fallback's rounding was swallowed by a guard around the whole step, and the fallback silently gave none)."""
    try:
        return prob.solve(make_solver("highs", config, mip=False, variables=variables)) == pulp.LpStatusOptimal
    except Exception:  # noqa: BLE001 - HiGHS's or PuLP's failure to solve
        return False
