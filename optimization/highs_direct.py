"""The same planning model built straight into HiGHS arrays, without PuLP objects.

:class:`ArrayBuilder` has the interface of :class:`~optimization.lp.ModelBuilder` (``add_variables``,
``add_constraints``, ``set_objective``, ``values``, ``duals``), so :func:`~optimization.model.build_model`
and every constraint-family function build either backend unchanged. It collects the constraint
matrix as ``(row, col, coef)`` arrays and hands them to ``highspy`` in one call. Large plans are built
this way (``PlanConfig.solve_path``) and solved block by block (:mod:`optimization.decompose`); the
benchmark (``bench/lp.py``) also uses it to measure what PuLP's object model costs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import highspy
import numpy as np
import polars as pl

from optimization.lp import check_empty_rows

__all__ = ["ArrayBuilder", "has_plan", "mip_outcome", "new_highs", "rerun_lp"]

_INF = highspy.kHighsInf


def new_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    return h


def rerun_lp(h: highspy.Highs, seconds: float) -> None:
    """Run the LP of an instance that has run before for at most ``seconds`` more. An LP run reads
    ``time_limit`` against the instance's run clock, which adds up every run, through ``passModel`` too
    (ERGO-Code/HiGHS#1477): a plain limit shorter than the earlier runs stops it at once, without an
    iteration. A MIP run reads it from its own start, so a MIP takes the plain limit (both checked on
    1.16)."""
    h.setOptionValue("time_limit", h.getRunTime() + max(float(seconds), 0.0))
    h.run()


def has_plan(h: highspy.Highs) -> bool:
    """Whether ``h``'s last run left a feasible primal solution (an incumbent, optimal or not)."""
    return int(h.getInfo().primal_solution_status) == int(highspy.SolutionStatus.kSolutionStatusFeasible)


def mip_outcome(h: highspy.Highs) -> tuple[float, bool, np.ndarray | None]:
    """A MIP run's outcome as a bound: its objective when optimal, its dual bound when stopped by a limit
    (still a lower bound), −inf otherwise (infeasible, numerical trouble); whether optimal; its solution
    (None when it has none)."""
    status, info = h.getModelStatus(), h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    stopped = status in (highspy.HighsModelStatus.kTimeLimit, highspy.HighsModelStatus.kIterationLimit)
    value = (float(info.objective_function_value) if optimal
             else float(info.mip_dual_bound) if stopped else -np.inf)
    return value, optimal, (np.asarray(h.getSolution().col_value) if has_plan(h) else None)


def _key_rank(frame: pl.DataFrame, key: list[str]) -> np.ndarray:
    """Each row's rank when ``frame`` is sorted by ``key`` (ties keep their order)."""
    n = frame.height
    rank = np.empty(n, dtype=np.int64)
    if n == 0:
        return rank
    order = frame.select(key).with_row_index("_i").sort(key, maintain_order=True, nulls_last=True)["_i"].to_numpy()
    rank[order] = np.arange(n)
    return rank


@dataclass
class ArrayBuilder:
    """An LP collected as arrays; :meth:`solve` runs HiGHS on it."""

    n_cols: int = 0
    upper: list[np.ndarray] = field(default_factory=list)
    integer: list[np.ndarray] = field(default_factory=list)
    cost: np.ndarray | None = None
    constant: float = 0.0
    row_lower: list[np.ndarray] = field(default_factory=list)
    row_upper: list[np.ndarray] = field(default_factory=list)
    entries: list[pl.DataFrame] = field(default_factory=list)
    rows: dict[str, pl.DataFrame] = field(default_factory=dict)
    n_rows: int = 0
    highs: highspy.Highs | None = None
    col_value: np.ndarray | None = None
    row_dual: np.ndarray | None = None
    #: objective of the last solve (with the constant), set by :meth:`solve` or the block solver
    objective_value: float | None = None
    #: the solved blocks (:class:`optimization.decompose.BlockState`), for re-solves after the plan is read
    blocks: object | None = None
    #: each column's / row's place in an order fixed by content alone (family, then its key sorted), whatever
    #: order the frames came in: a block is built in it, so the same block gets the same model and key in
    #: every run (a stored basis fits it)
    col_canon: list[np.ndarray] = field(default_factory=list)
    row_canon: list[np.ndarray] = field(default_factory=list)

    def add_variables(
        self,
        family: str,
        frame: pl.DataFrame,
        key: list[str],
        *,
        integer: bool = False,
        upper: float | None = None,
    ) -> pl.DataFrame:
        """Columns ``>= 0`` for the rows of ``frame``; return the frame with ``col``."""
        start, n = self.n_cols, frame.height
        self.n_cols += n
        self.col_canon.append(start + _key_rank(frame, key))
        self.upper.append(np.full(n, _INF if upper is None else upper))
        self.integer.append(np.full(n, integer))
        return frame.with_columns(col=pl.int_range(start, start + n, dtype=pl.Int64))

    def add_constraints(
        self, family: str, rows: pl.DataFrame, key: list[str], terms: pl.DataFrame, sense: str, rhs: str
    ) -> pl.DataFrame:
        """Rows ``sum(coef * col) <sense> rhs`` for the rows of ``rows`` that have terms."""
        live = terms.filter(pl.col("coef") != 0)
        # a semi or anti join keeps each row of ``rows`` at most once whatever its matches: the terms' keys
        # need no unique() first (it was done twice per family: the big model's build 5.2 -> 4.35 CPU-s)
        present = live.select(key)
        check_empty_rows(family, rows.join(present, on=key, how="anti"), key, sense, rhs)
        used = rows.join(present, on=key, how="semi")
        used = used.with_columns(row=pl.int_range(self.n_rows, self.n_rows + used.height, dtype=pl.Int64))
        self.row_canon.append(self.n_rows + _key_rank(used, key))
        self.n_rows += used.height
        b = used[rhs].to_numpy().astype(float)
        self.row_lower.append(b if sense in ("==", ">=") else np.full(len(b), -_INF))
        self.row_upper.append(b if sense in ("==", "<=") else np.full(len(b), _INF))
        self.entries.append(live.join(used.select(*key, "row"), on=key).select("row", "col", "coef"))
        out = used.select(*key, "row")
        self.rows[family] = out
        return out

    def set_objective(self, costs: pl.DataFrame, constant: float = 0.0) -> None:
        """Objective coefficients from a ``col, coef`` frame."""
        c = np.zeros(self.n_cols)
        np.add.at(c, costs["col"].to_numpy(), costs["coef"].to_numpy())
        self.cost, self.constant = c, constant

    def matrix(self) -> pl.DataFrame:
        """Every non-zero as ``row, col, coef``, sorted by row."""
        if not self.entries:
            return pl.DataFrame(schema={"row": pl.Int64, "col": pl.Int64, "coef": pl.Float64})
        return pl.concat(self.entries).sort("row", maintain_order=True)

    def canonical(self) -> tuple[np.ndarray, np.ndarray]:
        """Every column's and row's place in the content-fixed order (see ``col_canon``)."""
        cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)  # noqa: E731
        return cat(self.col_canon), cat(self.row_canon)

    def row_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bound of every row."""
        if not self.row_lower:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(self.row_lower), np.concatenate(self.row_upper)

    def col_upper(self) -> np.ndarray:
        """Upper bound of every column (lower bounds are 0)."""
        return np.concatenate(self.upper) if self.upper else np.zeros(0)

    def highs_model(self, *, mip: bool = False) -> highspy.Highs:
        """The whole model in a new HiGHS instance (rows in CSR form), not yet run."""
        h = new_highs()
        n = self.n_cols
        h.addVars(n, np.zeros(n), self.col_upper())
        h.changeColsCost(n, np.arange(n, dtype=np.int32), self.cost)
        ent = self.matrix()
        row = ent["row"].to_numpy()
        starts = np.searchsorted(row, np.arange(self.n_rows)).astype(np.int32)
        lower, upper = self.row_bounds()
        h.addRows(
            self.n_rows, lower, upper, len(row), starts, ent["col"].to_numpy().astype(np.int32), ent["coef"].to_numpy()
        )
        ints = np.flatnonzero(np.concatenate(self.integer)) if self.integer else np.zeros(0, dtype=int)
        if mip and len(ints):
            h.changeColsIntegrality(
                len(ints), ints.astype(np.int32), np.full(len(ints), highspy.HighsVarType.kInteger)
            )
        return h

    def solve(
        self, *, time_limit: float | None = None, mip: bool = True, mip_gap: float | None = None
    ) -> str:
        """Pass the arrays to HiGHS (rows in CSR form) and run it; returns the model status name."""
        h = self.highs_model(mip=mip)
        if time_limit is not None:
            h.setOptionValue("time_limit", float(time_limit))
        if mip_gap is not None:
            h.setOptionValue("mip_rel_gap", float(mip_gap))
        h.run()
        sol = h.getSolution()
        self.col_value = np.asarray(sol.col_value)
        self.row_dual = np.asarray(sol.row_dual)
        self.highs = h
        self.objective_value = float(h.getInfo().objective_function_value) + self.constant
        return h.modelStatusToString(h.getModelStatus())

    @property
    def objective(self) -> float:
        """Objective value of the last solve (including the constant)."""
        return float(self.objective_value)

    def values(self, frame: pl.DataFrame, name: str = "value") -> pl.DataFrame:
        """``frame`` with the solution value of its ``col``."""
        return frame.with_columns(pl.Series(name, self.col_value[frame["col"].to_numpy()], dtype=pl.Float64))

    def duals(self, family: str) -> pl.DataFrame:
        """The family's constraint keys with ``pi`` (HiGHS row duals)."""
        rows = self.rows.get(family)
        if rows is None:
            return pl.DataFrame()
        return rows.with_columns(pl.Series("pi", self.row_dual[rows["row"].to_numpy()], dtype=pl.Float64))
