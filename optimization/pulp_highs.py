"""PuLP's ``HiGHS`` solver class with a bulk model transfer.

PuLP 3.3's ``HiGHS.buildSolverModel`` calls ``Highs.addCol``/``addRow`` once per variable and row, and
``actualSolve`` sorts every variable by name twice; on a plan with a million variables that costs more
than the model build. :class:`BulkHiGHS` keeps the PuLP model (variables, named constraints, ``pi``,
``slack``, ``varValue``, ``dj`` exactly as PuLP sets them) but hands HiGHS one ``addVars``, one
``addRows`` and one integrality call, with columns in the builder's creation order.
"""

from __future__ import annotations

import time
from operator import attrgetter

import highspy
import numpy as np
import pulp

__all__ = ["BulkHiGHS", "integer_mask"]

_INF = highspy.kHighsInf


def integer_mask(variables: list[pulp.LpVariable]) -> np.ndarray:
    """True where a variable is integer (PuLP's ``LpInteger``), one entry per variable, in their order."""
    return np.fromiter((v.cat == pulp.LpInteger for v in variables), dtype=bool, count=len(variables))


class BulkHiGHS(pulp.HiGHS):
    """``pulp.HiGHS`` (highspy API) with array transfer; ``timings`` holds transfer/run/readback seconds."""

    name = "HiGHS"

    def __init__(
        self,
        *args,
        variables: list[pulp.LpVariable] | None = None,
        start: tuple[np.ndarray, np.ndarray] | None = None,
        **kwargs,
    ):
        """Args beyond PuLP's: ``variables`` in column order; ``start``: a (partial) MIP start as column
        indices and values, handed to ``Highs.setSolution`` (HiGHS completes a partial one itself)."""
        super().__init__(*args, **kwargs)
        self._vars = variables
        self._start = start
        self.timings: dict[str, float] = {}

    def _variables(self, lp: pulp.LpProblem) -> list[pulp.LpVariable]:
        return self._vars if self._vars is not None else lp.variables()

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:
        h = lp.solverModel
        variables = self._variables(lp)
        for i, v in enumerate(variables):
            v.index = i
        n = len(variables)
        sign = -1.0 if lp.sense == pulp.LpMaximize else 1.0
        obj = lp.objective
        cost = np.fromiter((obj.get(v, 0.0) for v in variables), dtype=float, count=n) * sign
        lb = np.fromiter(
            (-_INF if v.lowBound is None else v.lowBound for v in variables), dtype=float, count=n
        )
        ub = np.fromiter((_INF if v.upBound is None else v.upBound for v in variables), dtype=float, count=n)
        h.addVars(n, lb, ub)
        h.changeColsCost(n, np.arange(n, dtype=np.int32), cost)
        if self.mip:
            ints = np.flatnonzero(integer_mask(variables))
            if len(ints):
                h.changeColsIntegrality(
                    len(ints), ints.astype(np.int32), np.full(len(ints), highspy.HighsVarType.kInteger)
                )
        constraints = list(lp._constraints.values())
        index = attrgetter("index")
        starts = np.empty(len(constraints), dtype=np.int32)
        cols: list[int] = []
        vals: list[float] = []
        lower = np.empty(len(constraints))
        upper = np.empty(len(constraints))
        for i, c in enumerate(constraints):
            c.index = i
            starts[i] = len(cols)
            expr = c.expr
            cols.extend(map(index, expr.keys()))
            vals.extend(expr.values())
            lo, up = c.getLb(), c.getUb()
            lower[i] = -_INF if lo is None else lo
            upper[i] = _INF if up is None else up
        h.addRows(
            len(constraints),
            lower,
            upper,
            len(cols),
            starts,
            np.asarray(cols, dtype=np.int32),
            np.asarray(vals, dtype=float),
        )

    def findSolutionValues(self, lp: pulp.LpProblem):
        h = lp.solverModel
        solution = h.getSolution()
        variables = self._variables(lp)
        for v, x, d in zip(variables, solution.col_value, solution.col_dual):
            v.varValue, v.dj = x, d
        for c, r, d in zip(lp._constraints.values(), solution.row_value, solution.row_dual):
            slack = c.constant + r
            c.slack = -slack if c.sense == pulp.LpConstraintLE else slack
            c.pi = d
        return self._status(lp)

    def _status(self, lp: pulp.LpProblem):
        h = lp.solverModel
        status = h.getModelStatus()
        s = highspy.HighsModelStatus
        if status == s.kOptimal:
            return pulp.LpStatusOptimal, pulp.LpSolutionOptimal
        if status in (s.kInfeasible, s.kUnboundedOrInfeasible):
            return pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible
        if status == s.kUnbounded:
            return pulp.LpStatusUnbounded, pulp.LpSolutionUnbounded
        has_incumbent = int(h.getInfo().primal_solution_status) == int(
            highspy.SolutionStatus.kSolutionStatusFeasible
        )
        if (
            status in (s.kTimeLimit, s.kIterationLimit, s.kInterrupt, s.kObjectiveBound, s.kObjectiveTarget)
            and has_incumbent
        ):
            return pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible
        return pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound

    def actualSolve(self, lp: pulp.LpProblem, **kwargs):
        t0 = time.perf_counter()
        self.createAndConfigureSolver(lp)
        self.buildSolverModel(lp)
        if self._start is not None and self.mip and len(self._start[0]):
            idx, vals = self._start
            lp.solverModel.setSolution(len(idx), np.asarray(idx, dtype=np.int32), np.asarray(vals, dtype=float))
        t1 = time.perf_counter()
        self.callSolver(lp)
        t2 = time.perf_counter()
        status, sol_status = self.findSolutionValues(lp)
        t3 = time.perf_counter()
        self.timings = {"transfer": t1 - t0, "run": t2 - t1, "readback": t3 - t2}
        lp.assignStatus(status, sol_status)
        return status
