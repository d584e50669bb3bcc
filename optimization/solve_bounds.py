"""The campaign MIP's lower bound lifted after its start, each step on the relaxation's HiGHS model.

The ``campaign_fit`` rows (:func:`_fit_bound`) and the setup-week cover rows (:func:`_week_bound`) join the
relaxation, re-solved from its basis; the one-round Lagrangian bound over the suites' blocks
(:func:`_suites_round`) and the Dantzig-Wolfe master (:func:`_master_bound`) price blocks at its duals. Each
step's line goes to the solve's log. Run by :mod:`optimization.solve_start`.
"""

from __future__ import annotations

import time

import highspy
import numpy as np

from optimization.campaign_bound import LagrangianBound, block_columns, lagrangian_bound, relaxation_with_rows
from optimization.campaign_master import dantzig_wolfe_bound, price_and_branch
from optimization.campaign_weeks import add_rows as add_week_rows, separate as separate_weeks, week_cuts
from optimization.campaign_links import campaign_fit
from optimization.config import PlanConfig
from optimization.model import Model
from optimization.pulp_highs import integer_mask
from optimization.solver import _took


#: seconds all suites' block MIPs of the Lagrangian bound may take together, and at most this share of the
#: campaign time left after the start
LAGRANGIAN_SECONDS = 10.0
LAGRANGIAN_SHARE = 0.2
#: share of the master's seconds its price-and-branch plan takes (``campaign_price_and_branch``)
PRICE_AND_BRANCH_SHARE = 0.25
#: separation rounds of the setup-week cover rows (``campaign_week_rows``), each re-solving the relaxation
WEEK_ROUNDS = 5


def _suites_round(model: Model, relaxation: highspy.Highs, lower: float, relaxed: float, seconds: float,
                  log: list[str]) -> LagrangianBound:
    """The one-round Lagrangian bound over the suites' own blocks at ``relaxation``'s duals (``lower`` its
    objective) within :data:`LAGRANGIAN_SECONDS` and :data:`LAGRANGIAN_SHARE` of ``seconds``, logged."""
    began, cpu = time.perf_counter(), time.process_time()
    bound = lagrangian_bound(relaxation, block_columns(model.frames), integer_mask(model.builder.variables), lower,
                             seconds=min(LAGRANGIAN_SECONDS, LAGRANGIAN_SHARE * seconds))
    log.append(f"lagrangian bound: {_bound_note(bound, relaxed, 'suites')}" + _took(began, cpu))
    return bound


def _bound_note(bound: LagrangianBound, relaxed: float, blocks: str) -> str:
    """A Lagrangian bound for the log: its value, its lift over the relaxation and how many ``blocks`` were
    solved exactly."""
    return (f"{bound.bound:,.0f} (relaxation + {bound.bound - relaxed:,.0f}, "
            f"{sum(b.optimal for b in bound.blocks)} of {len(bound.blocks)} {blocks} exact)")


def _fit_rows(model: Model) -> list:
    """The ``campaign_fit`` rows (:func:`optimization.campaign_links.campaign_fit`) added to the PuLP model:
    its constraints, for the relaxation's HiGHS model."""
    f = model.frames
    names = campaign_fit(model.builder, model.network, f["setup_for"], f["pair"], model.config.frozen_weeks,
                         model.config.campaign_fill_rows)["name"]
    return [model.builder.prob.constraints[n] for n in names.to_list()]


def _fit_bound(model: Model, relaxation: highspy.Highs, relaxed: float, seconds: float,
               log: list[str]) -> tuple[float, bool]:
    """``campaign_fit`` rows (:func:`optimization.campaign_links.campaign_fit`) added to the model after its
    start (so the relaxation the start and search were sequenced from is the plain one) and to the
    relaxation's HiGHS model, re-solved from its basis: the lifted relaxation, a lower bound (``relaxed`` when
    it does not solve in ``seconds``: the rows then leave the HiGHS model and its optimum is restored; in the
    PuLP model, for the MIP, they stay: valid for every integer plan), and whether the HiGHS model holds an
    optimum (else its duals price nothing)."""
    began, cpu = time.perf_counter(), time.process_time()
    rows, prob = _fit_rows(model), model.builder.prob
    lifted, priced = relaxation_with_rows(relaxation, rows, model.builder.variables, float(prob.objective.constant),
                                          seconds)
    log.append(f"fit rows: {len(rows)}, relaxation " + ("not re-solved in its time" if lifted is None else
               f"{lifted:,.0f} (+{lifted - relaxed:,.0f})") + _took(began, cpu))
    return (relaxed if lifted is None else max(lifted, relaxed)), priced


def _week_bound(model: Model, relaxation: highspy.Highs, lower: float, seconds: float,
                log: list[str]) -> tuple[float, bool]:
    """Setup-week cover rows (:mod:`optimization.campaign_weeks`) separated on the relaxation's HiGHS model
    (after the ``campaign_fit`` rows, when on) for up to :data:`WEEK_ROUNDS` rounds within ``seconds``: each
    round's rows join the model (the MIP has them: valid for every integer plan) and the HiGHS model, which is
    re-solved from its basis. Returns the best lower bound (``lower`` or the lifted relaxation) and whether
    the HiGHS model holds an optimum (see :func:`_fit_bound`)."""
    began, cpu = time.perf_counter(), time.process_time()
    f, prob = model.frames, model.builder.prob
    cuts = week_cuts(model.network, f, model.demand, model.safety, model.releases, model.arrivals,
                     model.config.frozen_weeks)
    best, priced, added, rounds = lower, True, 0, 0
    while cuts is not None and rounds < WEEK_ROUNDS and time.perf_counter() - began < seconds:
        chosen = separate_weeks(cuts, np.asarray(relaxation.getSolution().col_value))
        if chosen.height == 0:
            break
        names = add_week_rows(model.builder, cuts, chosen, rounds)["name"].to_list()
        rounds, added = rounds + 1, added + len(names)
        lifted, priced = relaxation_with_rows(relaxation, [prob.constraints[n] for n in names], model.builder.variables,
                                              float(prob.objective.constant), seconds - (time.perf_counter() - began))
        if lifted is None:
            break
        best = max(best, lifted)
    log.append(f"week rows: {added} in {rounds} rounds, bound {best:,.0f} (+{best - lower:,.0f})" + _took(began, cpu))
    return best, priced


def _master_bound(
    model: Model, config: PlanConfig, relaxation: highspy.Highs, relaxed: float, start: np.ndarray,
    seconds: float, log: list[str],
) -> tuple[float, tuple[float, np.ndarray] | None]:
    """The Dantzig-Wolfe bound (:mod:`optimization.campaign_master`) from the relaxation's HiGHS model and the
    start's schedules, within ``seconds`` (with ``campaign_price_and_branch`` a quarter of them for its plan):
    the bound and the price-and-branch plan ``(objective, every column)`` (None when off or none found)."""
    t0 = began = time.perf_counter()
    cpu = time.process_time()
    own = seconds * (1.0 - PRICE_AND_BRANCH_SHARE) if config.campaign_price_and_branch else seconds
    variables = model.builder.variables
    dw = dantzig_wolfe_bound(relaxation, block_columns(model.frames), integer_mask(variables), relaxed, own,
                             start=start)
    log.append(f"master bound: {dw.bound:,.0f} (relaxation + {dw.bound - relaxed:,.0f}; first round "
               f"{dw.rounds[0].lagrangian:,.0f}; {len(dw.rounds)} rounds, {len(dw.columns or [])} schedules, "
               f"{'converged' if dw.converged else 'stopped'})" + _took(began, cpu))
    if not config.campaign_price_and_branch:
        return dw.bound, None
    if not dw.solved:  # its MIP would spend its time on the master's first LP
        log.append("price-and-branch plan: skipped (the master's LP not solved in its time)")
        return dw.bound, None
    began, cpu = time.perf_counter(), time.process_time()
    value, x = price_and_branch(dw, len(variables), max(seconds - (began - t0), 1.0))
    log.append("price-and-branch plan: " + ("none" if value is None else f"{value:,.0f}") + _took(began, cpu))
    return dw.bound, None if value is None else (value, x)
