"""Solve a built model with HiGHS (CBC as the fallback) and report the outcome as data.

The solver's status is returned, never raised: ``Optimal``, ``Feasible`` (a MIP stopped by its time
limit or gap with an incumbent), ``Infeasible``, ``Unbounded`` or ``Not Solved``. A solver that raises
or ends without an answer is retried with the other one when ``config.fallback`` is set.

For a MIP, duals are taken from the LP with every integer variable fixed at its solution value, so
shadow prices mean "one more hour, same batches"; rows that are in the model for the bound only (valid
inequalities, :data:`~optimization.solve_duals.BOUND_FAMILIES`) are taken out before it.

The steps live below this module: ``solver`` (the solver made, its result read), ``solve_start`` (the
campaign MIP's start, over ``solve_search`` and ``solve_bounds``) and ``solve_duals`` (the LP with the
integers fixed, an hour's price range).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
import polars as pl
import pulp

from optimization.campaign_blocks import (
    BlockResult,
    Budget,
    block_frame,
    free_implied_links,
    relative_gap,
    solve_campaign_block,
)
from optimization.campaign_start import idle_setup_hours, improves
from optimization.config import PlanConfig
from optimization.decompose import MipBlock, WarmStart, solve_blocks
from optimization.highs_direct import ArrayBuilder
from optimization.model import Model
from optimization.solve_duals import (
    _drop_bound_rows, _drop_implied_link_rows, _duals_with_integers_fixed, link_caps,
)
from optimization.solve_start import MIN_MIP_SECONDS, START_SHARE, _campaign_start
from optimization.solver import _took, _within_gap, make_solver, mip_gap_of, objective_of

__all__ = ["SolveOutcome", "solve_model"]


@dataclass(frozen=True)
class SolveOutcome:
    """What the solver did."""

    solver: str
    status: str
    problem_type: str
    objective: float | None
    mip_gap: float | None
    seconds: float
    has_solution: bool
    has_duals: bool
    attempts: tuple[str, ...] = ()
    relaxation_objective: float | None = None


def solve_model(model: Model, config: PlanConfig, warm_start: WarmStart | None = None) -> SolveOutcome:
    """Solve ``model`` (first ``config.solver``, then the other if it fails) and set variable values/duals.

    A model built as arrays (:class:`~optimization.highs_direct.ArrayBuilder`, the ``blocks`` path) is
    solved by HiGHS block by block (:func:`~optimization.decompose.solve_blocks`), each block offered to
    ``warm_start`` first (a stored basis of the same block).
    """
    if isinstance(model.builder, ArrayBuilder):
        return _solve_blocks(model, config, warm_start)
    prob = model.builder.prob
    mip = model.is_mip
    order = [config.solver]
    if config.fallback:
        order.append("cbc" if config.solver == "highs" else "highs")
    attempts: list[str] = []
    used, text, has_solution, seconds = order[0], "Not Solved", False, 0.0
    warm, relaxed, lower = None, None, None
    deadline, plan_config = None, config
    if "setup_for" in model.frames:  # campaigns: relaxation, start and MIP share one, shorter limit
        limit = min(config.time_limit_seconds, config.campaign_time_limit_seconds)
        deadline = time.perf_counter() + limit
        config = config.model_copy(update={"time_limit_seconds": limit})
    if mip and "setup_for" in model.frames and config.campaign_warm_start and order[0] == "highs":
        start = time.perf_counter()
        warm, relaxed, lower = _campaign_start(model, plan_config, deadline, attempts)
        if warm is not None and config.campaign_improve and not config.campaign_search:  # MIPs on the clock
            warm = _improve_by_resource(model, config, warm, deadline, attempts)
        seconds += time.perf_counter() - start
    skip = _mip_skipped(model, config, warm, lower, deadline)
    if skip:
        attempts.append(f"MIP skipped: {skip}")
    for name in [] if skip else order:
        used = name
        start, cpu = time.perf_counter(), time.process_time()
        left = config if deadline is None else config.model_copy(
            update={"time_limit_seconds": max(deadline - start, MIN_MIP_SECONDS)})
        try:
            solver = make_solver(
                name, left, mip=mip, variables=model.builder.variables,
                start=warm if name == "highs" else None,
            )
            status = prob.solve(solver)
        except Exception as err:
            text, has_solution = "Not Solved", False
            attempts.append(f"{name}: {type(err).__name__}: {err}")
        else:
            text, has_solution = _status_text(status, prob.sol_status, mip)
            attempts.append(f"{name}: {text}" + (_took(start, cpu) if deadline is not None else ""))
        seconds += time.perf_counter() - start
        if has_solution or text in ("Infeasible", "Unbounded"):
            break
    gap: float | None = 0.0 if not mip else None
    if mip and used == "highs" and has_solution:
        obj = objective_of(prob)
        info = prob.solverModel.getInfo()
        # HiGHS's bound (none when stopped before its root), or the relaxation's, whichever is better
        bound = float(info.mip_dual_bound) + float(prob.objective.constant)  # HiGHS has no objective constant
        gap = mip_gap_of(obj, bound, lower)
        attempts.append(f"highs bound: {bound:,.0f}")
    if mip and not has_solution and warm is not None and model.start_objective is not None:
        # the MIP ended without a plan (its limit, or numerical trouble): keep the start, a feasible plan,
        # with its gap against the relaxation's bound
        for v, x in zip(model.builder.variables, warm[1]):
            v.varValue = float(x)
        has_solution, text, used = True, "Feasible", "highs"
        attempts.append("highs: MIP start kept")
        gap = mip_gap_of(model.start_objective, None, lower)
        if skip and _within_gap(model.start_objective, lower, config):  # proved, as HiGHS's own stop at that gap
            text = "Optimal"
    if mip and has_solution and deadline is not None and model.start_objective is not None:
        # the start's steps end on work, not the clock: only a MIP better than the start is the clock's plan
        better = improves(objective_of(prob), model.start_objective)
        attempts.append("plan: " + ("the MIP's, better than its start (found within the clock's limit)" if better
                                    else "the start (no MIP)" if skip
                                    else "the start (the MIP found none better)"))
    has_duals = has_solution and not mip
    if has_solution and mip:
        start, cpu = time.perf_counter(), time.process_time()
        _drop_bound_rows(model)
        _drop_implied_link_rows(model)
        has_duals = _duals_with_integers_fixed(model, config, used)
        seconds += time.perf_counter() - start
        if deadline is not None:
            attempts.append(f"fixed-integer LP (duals): {'Optimal' if has_duals else 'Not Solved'}" + _took(start, cpu))
    objective = float(pulp.value(prob.objective)) if has_solution else None
    return SolveOutcome(
        solver=used,
        status=text,
        problem_type="MIP" if mip else "LP",
        objective=objective,
        mip_gap=gap,
        seconds=seconds,
        has_solution=has_solution,
        has_duals=has_duals,
        attempts=tuple(attempts),
        relaxation_objective=relaxed,
    )


def _mip_skipped(model: Model, config: PlanConfig, warm: tuple | None, lower: float | None,
                 deadline: float | None) -> str | None:
    """Why the campaign MIP after a start from the blocks with time (``campaign_time_blocks``) is not run, or
    None when it is: the start is within ``mip_gap`` of the bound ``lower`` (the gap :func:`mip_gap_of`
    reports; the MIP would stop at once on its own rule), or less than :data:`MIN_MIP_SECONDS` is left before
    ``deadline`` (elsewhere the MIP keeps that floor to report the start against its root bound, but the blocks'
    bound is far above HiGHS's: on the demo 5,029.7 M against 3,455.4 M after 103 CPU-s of MIP from their
    start, which found no better plan; docs/campaign-solver.md, stop 27). Only on that path: elsewhere the MIP
    keeps its time (a hand-solved network's optimum may lie below a start within 1%)."""
    if warm is None or not config.campaign_time_blocks or model.start_objective is None:
        return None
    if _within_gap(model.start_objective, lower, config):
        return f"the start is within mip_gap ({config.mip_gap:.2%}) of the bound"
    if deadline is not None and deadline - time.perf_counter() < MIN_MIP_SECONDS:
        return f"under {MIN_MIP_SECONDS:.0f} s left of the campaign limit, the blocks' bound kept"
    return None


def _improve_by_resource(
    model: Model, config: PlanConfig, warm: tuple[np.ndarray, np.ndarray], deadline: float,
    log: list[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fix-and-optimize over campaign resources: for each in turn (most idle set-up hours first,
    :func:`idle_setup_hours`), its setups free and every other resource's fixed at the incumbent, solve
    that smaller MIP from the incumbent with an even share of the
    time left before ``deadline`` (a share is kept for the full MIP after); keep what is better. Passes
    shorter than :data:`MIN_MIP_SECONDS` are skipped. Returns the (possibly) improved start."""
    prob, variables = model.builder.prob, model.builder.variables
    idx, values = warm
    groups = idle_setup_hours(model.frames["setup_for"], model.frames["switch"], values)
    cols = groups["col"].to_list()
    best = model.start_objective if model.start_objective is not None else np.inf
    log = [] if log is None else log
    names = groups["resource_id"].to_list()
    for i, own in enumerate(cols):
        share = (deadline - time.perf_counter()) / (len(cols) - i + 1)
        if share < MIN_MIP_SECONDS:
            log.append(f"fix-and-optimize: {len(cols) - i} of {len(cols)} passes skipped ({share:.1f} s each left)")
            break
        began, cpu = time.perf_counter(), time.process_time()
        others = [c for j, group in enumerate(cols) if j != i for c in group]
        fixed = [variables[c] for c in others]
        saved = [(v.lowBound, v.upBound) for v in fixed]
        for v, c in zip(fixed, others):
            v.lowBound = v.upBound = round(float(values[c]))
        short = config.model_copy(update={"time_limit_seconds": share})
        try:
            solver = make_solver("highs", short, mip=True, variables=variables, start=(idx, values))
            status = prob.solve(solver)
            objective = objective_of(prob) if status == pulp.LpStatusOptimal else None
        except Exception:
            objective = None
        finally:
            for v, (lo, up) in zip(fixed, saved):
                v.lowBound, v.upBound = lo, up
        if objective is not None and improves(objective, best):
            values, best = np.array([v.varValue or 0.0 for v in variables]), objective
        log.append(f"fix-and-optimize {names[i]}: {best:,.0f}" + _took(began, cpu))
    if np.isfinite(best):
        model.start_objective = float(best)
    return idx, values


def _solve_blocks(model: Model, config: PlanConfig, warm_start: WarmStart | None) -> SolveOutcome:
    builder = model.builder
    start = time.perf_counter()
    # a named switch's pair[i,j,r,t] belongs to its product j (its rows join i and j on one resource anyway)
    groups = pl.concat([
        f.select("col", product_id="product_id" if "product_id" in f.columns else "to_product_id")
        for f in model.frames.values()
    ]).sort("col")
    if groups.height != builder.n_cols or groups["col"].n_unique() != builder.n_cols:
        raise ValueError("blocks path: every variable must belong to exactly one product")
    codes = (groups["product_id"].rank("dense") - 1).to_numpy().astype(np.int64)
    names = groups["product_id"].unique().sort().to_list()
    steps: list[str] = []  # each campaign block's steps, for the solve's attempts
    links = link_caps(model) if model.is_mip else None  # freed where implied before each fixed-integer LP
    solve_mip = _campaign_blocks(model, config, steps, links) if links is not None else None
    free_links = None if links is None else (lambda h, x: free_implied_links(h, links, x))
    status, state = solve_blocks(builder, codes, config, names, warm_start, solve_mip, free_links)

    builder.blocks = state
    seconds = time.perf_counter() - start
    ok = status in ("Optimal", "Feasible")
    ipm = state.methods.count("ipm")
    detail = f"{len(state.block_sizes)} blocks" + (f", {state.warm} warm-started" if state.warm else "") + (
        f", {ipm} by interior point" if ipm else "") + (
        ", lanes bind: whole model re-solved" if state.whole else "")
    gap, relaxed = (0.0, None) if ok else (None, None)
    if ok and state.mip_blocks:
        gap, worst, relaxed = block_gaps(state.objectives, state.bounds, state.mip_blocks)
        detail += f", {len(state.mip_blocks)} with campaigns (MIP), worst block's gap {worst:.2%}"
    return SolveOutcome(
        solver="highs",
        status=status,
        problem_type="MIP" if model.is_mip else "LP",
        objective=builder.objective_value if ok else None,
        mip_gap=gap,
        seconds=seconds,
        has_solution=ok,
        has_duals=ok and state.duals,
        attempts=(f"highs: {status} ({detail})", *sorted(steps)),
        relaxation_objective=None if relaxed is None else relaxed + builder.constant,
    )


def block_gaps(objectives: list[float], bounds: list[float], mip_blocks: list[int]) -> tuple[float, float, float]:
    """The plan's overall gap, the worst campaign block's gap and the sum of the bounds.

    The overall gap is (Σ incumbent − Σ bound) / Σ incumbent over every block (an LP block's bound is its
    objective); a block's gap is its own (incumbent − bound) / incumbent.
    """
    inc, low = float(np.nansum(objectives)), float(np.nansum(bounds))
    worst = max((relative_gap(objectives[b], bounds[b]) for b in mip_blocks if b < len(objectives)), default=0.0)
    return relative_gap(inc, low), worst, low


def _campaign_blocks(model: Model, config: PlanConfig, log: list[str], links: pl.DataFrame) -> MipBlock:
    """The solver of one campaign block (:func:`optimization.campaign_blocks.solve_campaign_block`), each
    block given its share of the campaign time limit when it starts
    (:class:`~optimization.campaign_blocks.Budget`); each block's steps (result, CPU and wall seconds) go
    to ``log``."""
    limit = min(config.time_limit_seconds, config.campaign_time_limit_seconds)
    families = {k: model.frames[k] for k in ("setup_for", "switch", "batches", "setup") if k in model.frames}
    families["links"] = links  # the link rows' caps (:func:`link_caps`), block-local like the rest
    budget = Budget(limit, config.solve_workers)

    def solve(b: int, h: highspy.Highs, cols: np.ndarray, ints: np.ndarray, sizes: dict[int, int]) -> BlockResult:
        frames = {k: block_frame(f, cols) for k, f in families.items()}
        result = solve_campaign_block(h, ints, frames, config, budget.take(b, sizes),
                                      start_share=START_SHARE, min_seconds=MIN_MIP_SECONDS)
        log.append(f"block {b}: {result.note}")
        return result

    return solve


def _status_text(status: int, sol_status: int, mip: bool) -> tuple[str, bool]:
    """Status name and whether the point is a plan: a MIP stopped with an incumbent is ``Feasible``; an LP
    stopped early is ``Not Solved`` (its point may break constraints)."""
    if status == pulp.LpStatusOptimal and sol_status == pulp.LpSolutionIntegerFeasible:
        return ("Feasible", True) if mip else ("Not Solved", False)
    return pulp.LpStatus[status], status == pulp.LpStatusOptimal
