"""The local search over the suites' schedules that a campaign MIP's start may take, the LP its judge.

The search judges a schedule (:class:`SuiteGrid`: each suite's product week by week) by a whole-batch plan
made in LP time: the LP with its setups fixed, its batches rounded down and up where the hours hold one
more (:func:`filled_integers`), the LP again with every integer fixed; it tries the candidates, then each
suite's from any candidate, then :func:`schedule_moves` suite by suite while they improve, until a budget of
schedules judged is spent (so that the same input gives the same plan; the clock is only a safety limit).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import polars as pl

from optimization.campaign_schedule import SuiteGrid, _rpk, schedule_moves
from optimization.campaign_start import filled_integers, improves, rounded_integers
from optimization.highs_direct import new_highs

__all__ = ["HOT_START_SHARE", "SetupSearch"]

#: share of the relaxation's simplex iterations the search's first LP (every setup fixed) may take from the
#: relaxation's basis before it is solved cold with presolve instead: hot it took 0.6 CPU-s on the demo
#: (relaxation 4.8, cold 3.6), but 4.2 on a network of mixed suites (relaxation 2.5, cold 0.9). Counted in
#: iterations, not seconds, so that the same input takes the same path on any machine and load
HOT_START_SHARE = 0.25
_NO_ITERATION_LIMIT = 2**31 - 1  # HiGHS's default simplex_iteration_limit (kHighsIInf)


@dataclass
class SetupSearch:
    """A local search over the suites' schedules with the LP as the judge: a schedule's value is the LP
    with those setups fixed, re-solved in ``h`` from the last basis; with ``ints`` given, that LP's batches
    made whole (rounded down, :func:`rounded_integers`, then up where its capacity rows leave the hours,
    :func:`filled_integers`) and the LP solved again with every integer fixed: a whole-batch plan, so the
    search does not chase fractions of batches that no plan can make.

    Args:
        h: a HiGHS LP of the whole model (the relaxation's, copied), columns as the setups' ``col``.
        grid: the suites.
        frames: the model's ``batches``, ``setup`` and ``make`` frames (for the rounding).
        ints: the integer columns (the setups among them).
        capacity: ``resource_id, t, row``: each capacity row of ``h``.
        hot_iterations: the first LP's simplex iterations from ``h``'s basis before it is solved cold.

    What it judges depends only on its input and on how many schedules it may judge (``evaluations``, a
    budget of :meth:`best_of` and :meth:`improve`): every LP is HiGHS's deterministic dual simplex from the
    last basis. Their ``deadline`` (``time.perf_counter()``) is a safety limit only; ``clock_cut`` says
    whether it ended the search (then the plan depends on the machine's speed and load).
    """

    h: highspy.Highs
    grid: SuiteGrid
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    ints: np.ndarray | None = None
    capacity: pl.DataFrame | None = None
    hot_iterations: int = _NO_ITERATION_LIMIT
    evaluations: int = 0
    work: int = 0  # simplex iterations of every LP judged
    clock_cut: bool = False
    ordered: bool = False  # moves (and suites) in the order of their gain priced by the best plan's duals
    duals: np.ndarray | None = None  # the best plan's reduced costs (every column)
    log: list[str] = field(default_factory=list)
    best: float = np.inf  # the best plan judged: its objective and every column's value
    plan: np.ndarray | None = None
    basis: bool | None = None

    def __post_init__(self) -> None:
        lp = self.h.getLp()
        self._lower, self._upper = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
        self._row_upper = np.asarray(lp.row_upper_)
        self._zero = np.zeros(0, dtype=np.int32)
        self._whole = None
        if self.ints is not None and len(self.ints):  # the whole-batch LPs on a copy of their own
            self._whole = new_highs()
            self._whole.passModel(lp)

    def fix(self, chosen: np.ndarray, suites: list[int] | None = None) -> None:
        """The setups of ``chosen`` as both bounds in ``h`` (only the ``suites`` given; None: all)."""
        frame = self.grid.frame if suites is None else self.grid.frame.filter(pl.col("r").is_in(suites))
        r, p, k = _rpk(frame)
        cols = frame["col"].to_numpy().astype(np.int32)
        on = (chosen[r, k] == p).astype(float)
        self.h.changeColsBounds(len(cols), cols, on, on)

    def value(self, chosen: np.ndarray, suites: list[int] | None = None, beat: float = np.inf) -> float:
        """The plan with the setups of ``chosen`` fixed (only the ``suites`` given are changed in ``h``; None:
        all): its objective, or inf when an LP has no optimum. The LP with the setups fixed is a lower bound
        on every whole-batch plan with them, so where it does not ``beat`` that value it is returned as it is
        (no whole-batch plan is made: the schedule cannot win)."""
        self.fix(chosen, suites)
        if self.evaluations == 0:  # from the relaxation's basis, unless that takes long: then presolved, cold
            limit = int(min(self.hot_iterations, _NO_ITERATION_LIMIT))
            self.h.setOptionValue("simplex_iteration_limit", limit)
            self.h.run()
            self.h.setOptionValue("simplex_iteration_limit", _NO_ITERATION_LIMIT)
            self.work += self.h.getInfo().simplex_iteration_count
            if self.h.getModelStatus() == highspy.HighsModelStatus.kIterationLimit:
                self.h.clearSolver()
                self.h.run()
        else:
            self.h.run()
        self.work += self.h.getInfo().simplex_iteration_count
        self.evaluations += 1
        if self.h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return np.inf
        if self._whole is None:
            return self._judged(self.h)
        if self.h.getInfo().objective_function_value >= beat:
            return float(self.h.getInfo().objective_function_value)
        solution = self.h.getSolution()
        x = np.asarray(solution.col_value)
        ints = self.ints.astype(np.int32)
        whole, zero = rounded_integers(self.frames, ints, x)
        if self.capacity is not None and self.capacity.height:
            rows = self.capacity["row"].to_numpy()
            slack = self.capacity.select("resource_id", "t", slack=pl.Series(
                self._row_upper[rows] - np.asarray(solution.row_value)[rows]))
            whole = filled_integers(self.frames, ints, x, whole, zero, slack)
        w = self._whole
        if self.basis is None:  # its first LP from the setups' LP's basis (only the batches' bounds differ)
            self.basis = True
            w.setBasis(self.h.getBasis())
        if len(self._zero):  # the lots not started last time: free again
            w.changeColsBounds(len(self._zero), self._zero, self._lower[self._zero], self._upper[self._zero])
        w.changeColsBounds(len(ints), ints, whole, whole)
        self._zero = zero.astype(np.int32)
        if len(zero):
            w.changeColsBounds(len(zero), self._zero, np.zeros(len(zero)), np.zeros(len(zero)))
        w.run()
        self.work += w.getInfo().simplex_iteration_count
        return self._judged(w) if w.getModelStatus() == highspy.HighsModelStatus.kOptimal else np.inf

    def priced(self, r: int, row: np.ndarray, moves: list[np.ndarray]) -> np.ndarray:
        """Each of suite ``r``'s ``moves`` priced by the best plan's reduced costs: the sum over the setups it
        changes of the reduced cost times the change (a first-order estimate of its objective change; <0 hints
        at a gain)."""
        if not moves:
            return np.zeros(0)
        part = self.grid.frame.filter(pl.col("r") == r)
        _, p, k = _rpk(part)
        rc = self.duals[part["col"].to_numpy()]
        new = np.stack(moves)[:, k] == p
        return (new.astype(float) - (row[k] == p)) @ rc

    def _judged(self, h: highspy.Highs) -> float:
        """``h``'s objective, its plan kept when it is the best so far (the LP's vertex, and so the rounding,
        can differ when the same schedule is judged again: the plan judged is the one returned)."""
        objective = float(h.getInfo().objective_function_value)
        if objective < self.best:
            solution = h.getSolution()
            self.best, self.plan = objective, np.asarray(solution.col_value)
            self.duals = np.asarray(solution.col_dual) if solution.dual_valid else None
        return objective

    def stops(self, deadline: float, evaluations: float) -> bool:
        """Whether the search must stop: ``evaluations`` schedules judged (its budget), or, as a safety limit,
        ``deadline`` (``time.perf_counter()``) passed, which sets :attr:`clock_cut`."""
        if self.evaluations >= evaluations:
            return True
        self.clock_cut = self.clock_cut or time.perf_counter() > deadline
        return self.clock_cut

    def best_of(self, candidates: dict[str, np.ndarray], deadline: float,
                evaluations: float = np.inf) -> tuple[str, np.ndarray, float]:
        """The candidate schedules (all suites) judged whole, then each suite's from any candidate with the
        others at the best, within ``evaluations`` schedules judged (the first always is) and ``deadline``:
        the best schedule found, its name and value."""
        name, best, value = "", None, np.inf
        for label, chosen in candidates.items():
            if best is not None and self.stops(deadline, evaluations):
                break
            v = self.value(chosen)
            self.log.append(f"{label} {v:,.0f}")
            if v < value:
                name, best, value = label, chosen.copy(), v
        if best is None:  # no candidate has a plan: the first, unjudged
            name, best = next(iter(candidates.items()))
            return name, best.copy(), value
        for r in range(best.shape[0]):
            for label, chosen in candidates.items():
                if self.stops(deadline, evaluations):
                    break
                if np.array_equal(chosen[r], best[r]):
                    continue
                trial = best.copy()
                trial[r] = chosen[r]
                v = self.value(trial, [r], beat=value)
                if improves(v, value):
                    best, value = trial, v
                    name = f"{name}, {self.grid.names[r]} as {label}"
            self.fix(best, [r])
        return name, best, value

    def improve(self, chosen: np.ndarray, value: float, deadline: float, max_evaluations: int) -> tuple[np.ndarray, float]:
        """First-improvement over :func:`schedule_moves`, suite by suite, until a round over every suite
        improves nothing, ``max_evaluations`` schedules are judged or (a safety limit) ``deadline``
        (``time.perf_counter()``) passes."""
        chosen, improved = chosen.copy(), True
        while improved:
            improved = False
            moves = [schedule_moves(chosen[r], np.flatnonzero(self.grid.exists[r]), int(self.grid.lo[r]))
                     for r in range(chosen.shape[0])]
            suites = list(range(chosen.shape[0]))
            if self.ordered and self.duals is not None:
                priced = [self.priced(r, chosen[r], m) for r, m in enumerate(moves)]
                moves = [[m[i] for i in np.argsort(g, kind="stable")] for m, g in zip(moves, priced)]
                suites = sorted(suites, key=lambda r: (priced[r].min() if len(priced[r]) else 0.0, r))
            for r in suites:
                for row in moves[r]:
                    if self.stops(deadline, max_evaluations):
                        self.fix(chosen, [r])
                        return chosen, value
                    if not self.grid.valid(r, row):
                        continue
                    trial = chosen.copy()
                    trial[r] = row
                    v = self.value(trial, [r], beat=value)
                    if improves(v, value):
                        chosen, value, improved = trial, v, True
                        break
                self.fix(chosen, [r])
        return chosen, value
