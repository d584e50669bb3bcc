"""A Lagrangian bound and a price-and-fix start for campaign MIPs, from the LP relaxation's duals.

Each campaign resource's own part of the model — its setups, switches, named pairs, the units it starts and
their whole batches (its columns), and the rows that hold nothing else (``one_product``, ``campaign``,
``switch``, the lengths, ``batch_multiple`` and its ``capacity`` row with the changeover hours) — is a small
block: the campaign structure of one suite over the weeks. Every other row (flows, stock, demand, other
resources) is *linking*. With the relaxation's row duals ``y`` on the linking rows (each at the bound it is
active at), the Lagrangian

    L(y) = min { c'x − Σ_linking y_i (a_i x − r_i) : x in each block's integer set, other columns in their bounds }

is a lower bound on the MIP (for a feasible ``x`` each dualized term is ≥ 0 by the duals' signs), and at the
relaxation's optimal duals it splits into the relaxation plus, per block, what integrality costs at those
prices:

    L(y) = z_relaxation + Σ_blocks (MIP_b − LP_b),

``MIP_b`` / ``LP_b`` the block's own problem, costs the reduced costs ``d_j = c_j − Σ_linking a_ij y_i``,
solved with and without integrality (each ≥ the other: the bound is never below the relaxation). A block
MIP stopped by its time limit contributes its own dual bound (still a lower bound). This is the pricing step
of column generation (a campaign pattern per suite at the relaxation's prices) in its cheapest form: one
pricing round, no master re-solve. The block's MIP solution is also each suite's best schedule at those
prices: :func:`priced_setups` gives them as a start to fix (price-and-fix), beside the rounded one.

Pure logic on an in-memory HiGHS model (no I/O).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import polars as pl
from scipy import sparse

from optimization.highs_direct import mip_outcome, new_highs, rerun_lp

__all__ = ["BlockBound", "BlockSpec", "LagrangianBound", "RowArrays", "block_columns", "block_problem", "block_specs",
           "bound_of", "lagrangian_bound", "lp_matrix", "own_rows", "priced_setups", "relaxation_with_row_arrays",
           "relaxation_with_rows", "solve_specs"]


@dataclass(frozen=True)
class BlockBound:
    """One campaign resource's block at the relaxation's prices: its MIP and LP values (reduced costs), whether
    the MIP was solved to optimality, its MIP solution (block columns → values) and whether it has one (a MIP
    stopped by its time before its first plan leaves zeros, which are no schedule)."""

    resource_id: str
    mip: float
    lp: float
    optimal: bool
    cols: np.ndarray
    values: np.ndarray
    planned: bool = True


@dataclass(frozen=True)
class LagrangianBound:
    """``bound`` = ``relaxation`` + Σ the blocks' (MIP − LP), never below the relaxation."""

    relaxation: float
    bound: float
    blocks: tuple[BlockBound, ...] = field(default_factory=tuple)


def block_columns(frames: dict[str, pl.DataFrame]) -> dict[str, np.ndarray]:
    """Each campaign resource's columns: its ``setup_for``, ``switch``, ``pair``, ``batches`` and ``setup``
    columns and every ``make`` column of a routing on it (sorted, unique)."""
    parts = []
    for name in ("setup_for", "switch", "pair", "batches", "setup"):
        if name in frames and frames[name].height:
            parts.append(frames[name].select("resource_id", "col"))
    if not parts:
        return {}
    own = pl.concat(parts)
    suites = own["resource_id"].unique().implode()
    make = frames["make"].filter(pl.col("resource_id").is_in(suites)).select("resource_id", "col")
    out = (
        pl.concat([own.with_columns(pl.col("col").cast(pl.Int64)), make.with_columns(pl.col("col").cast(pl.Int64))])
        .unique()
        .group_by("resource_id")
        .agg(pl.col("col").sort())
        .sort("resource_id")
    )
    return {r: np.asarray(c, dtype=np.int64) for r, c in out.iter_rows()}


def lp_matrix(lp: highspy.HighsLp) -> sparse.csr_matrix:
    """A HiGHS LP's constraint matrix as a scipy CSR matrix."""
    a = lp.a_matrix_
    shape = (lp.num_row_, lp.num_col_)
    data = (np.asarray(a.value_), np.asarray(a.index_), np.asarray(a.start_))
    if a.format_ == highspy.MatrixFormat.kRowwise:
        return sparse.csr_matrix(data, shape=shape)
    return sparse.csc_matrix(data, shape=shape).tocsr()


def own_rows(a: sparse.csr_matrix, blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Each block's own rows: those holding only that block's columns (every other row is linking)."""
    nnz_row = np.diff(a.indptr)
    out = []
    for cols in blocks:
        nnz_in = np.diff(a[:, cols].tocsr().indptr)
        out.append(np.flatnonzero((nnz_in > 0) & (nnz_in == nnz_row)))
    return out


@dataclass(frozen=True)
class BlockSpec:
    """One block's own problem, plain arrays only (a thread solves it without the model,
    :class:`~optimization.campaign_worker.TimeBlocksRun`): its own rows × columns (``sub``), its columns' bounds, reduced costs against the linking rows and
    integrality, its rows' bounds."""

    name: str
    cols: np.ndarray
    sub: sparse.csc_matrix
    lower: np.ndarray
    upper: np.ndarray
    cost: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    ints: np.ndarray


def block_specs(h: highspy.Highs, blocks: dict[str, np.ndarray], ints: np.ndarray) -> list[BlockSpec]:
    """Each block's problem at the relaxation's duals held by ``h`` (its solved LP relaxation; module
    docstring): the costs are the reduced costs against the linking rows only (the own rows' share added back)."""
    lp = h.getLp()
    sol = h.getSolution()
    a = lp_matrix(lp)
    y = np.asarray(sol.row_dual)
    reduced = np.asarray(sol.col_dual)  # c − A'y over every row
    col_lower, col_upper = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
    row_lower, row_upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
    specs = []
    for (name, cols), rows in zip(blocks.items(), own_rows(a, list(blocks.values())), strict=True):
        own = a[rows][:, cols]
        sub = own.tocsc()
        sub.sort_indices()
        specs.append(BlockSpec(name, cols, sub, col_lower[cols], col_upper[cols], reduced[cols] + own.T @ y[rows],
                               row_lower[rows], row_upper[rows], ints[cols]))
    return specs


def _solve_block(spec: BlockSpec, mip: bool, seconds: float) -> tuple[float, bool, np.ndarray | None]:
    """The block's problem as a MIP or LP: value (a lower bound when the MIP stops early), whether optimal, the
    solution (None when none)."""
    n = len(spec.cols)
    h = new_highs()
    h.setOptionValue("time_limit", max(float(seconds), 0.5))
    h.setOptionValue("mip_rel_gap", 0.0)
    h.passModel(block_problem(spec.sub, spec.lower, spec.upper, spec.cost, spec.row_lower, spec.row_upper,
                              spec.ints if mip else np.zeros(n, dtype=bool)))
    h.run()
    if mip:  # anything but optimal or stopped by a limit (infeasible, numerical trouble) adds nothing
        return mip_outcome(h)
    optimal = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    value = float(h.getInfo().objective_function_value) if optimal else -np.inf
    return value, optimal, np.asarray(h.getSolution().col_value) if optimal else None


def block_problem(sub: sparse.csc_matrix, lower: np.ndarray, upper: np.ndarray, cost: np.ndarray,
                  row_lower: np.ndarray, row_upper: np.ndarray, ints: np.ndarray) -> highspy.HighsLp:
    """A block's own problem (rows × columns ``sub``, its bounds, costs and integrality) as a HiGHS LP."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = sub.shape[1], sub.shape[0]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lower, upper
    lp.row_lower_, lp.row_upper_ = row_lower, row_upper
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = sub.indptr.astype(np.int32)
    lp.a_matrix_.index_ = sub.indices.astype(np.int32)
    lp.a_matrix_.value_ = sub.data.astype(np.float64)
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous for i in ints]
    return lp


def solve_specs(specs: list[BlockSpec], seconds: float) -> list[BlockBound]:
    """Each block's LP and MIP, one after the other within ``seconds`` of wall (each block an even share of
    what is left; a block stopped early gives its MIP's dual bound); blocks whose LP or MIP fails are left out
    (they add nothing). Given one spec, its LP and then its MIP until ``seconds`` are up
    (:class:`~optimization.campaign_worker.TimeBlocksRun`)."""
    out: list[BlockBound] = []
    deadline = time.perf_counter() + seconds

    def share(k: int) -> float:  # of what is left, block k's even part; its MIP gets what its LP left
        return max((deadline - time.perf_counter()) / (len(specs) - k), 0.5)

    for k, spec in enumerate(specs):
        lp_value, _, _ = _solve_block(spec, False, share(k))
        mip_value, optimal, x = _solve_block(spec, True, share(k))
        if np.isfinite(lp_value) and np.isfinite(mip_value):
            out.append(BlockBound(spec.name, mip_value, lp_value, optimal, spec.cols,
                                  np.zeros(len(spec.cols)) if x is None else x, planned=x is not None))
    return out


def bound_of(relaxation: float, blocks: list[BlockBound]) -> LagrangianBound:
    """The relaxation plus each block's (MIP − LP), never below the relaxation (module docstring)."""
    gain = sum(max(b.mip - b.lp, 0.0) for b in blocks)
    return LagrangianBound(relaxation=relaxation, bound=relaxation + gain, blocks=tuple(blocks))


def lagrangian_bound(h: highspy.Highs, blocks: dict[str, np.ndarray], ints: np.ndarray, relaxation: float,
                     seconds: float = 10.0) -> LagrangianBound:
    """The Lagrangian bound at the relaxation's duals (module docstring).

    Args:
        h: the HiGHS model holding the solved LP relaxation (minimisation; its solution and duals).
        blocks: each campaign resource's columns (:func:`block_columns`).
        ints: per column, whether the MIP has it integer.
        relaxation: the relaxation's objective as reported (with the objective's constant HiGHS never sees).
        seconds: time for all blocks' MIPs together (each block an even share; a block stopped early gives
            its MIP's dual bound).
    """
    return bound_of(relaxation, solve_specs(block_specs(h, blocks, ints), seconds))


def priced_setups(bound: LagrangianBound, setup_cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blocks' MIP schedules as setups to fix: ``(cols, values)`` of the ``setup_for`` columns
    ``setup_cols`` that some block's MIP found a plan for (rounded to 0/1); a block stopped before its first
    plan fixes nothing (its zeros would be a suite that never runs)."""
    cols, values = [], []
    wanted = set(int(c) for c in setup_cols)
    for b in bound.blocks:
        if not b.planned:
            continue
        for c, x in zip(b.cols.tolist(), b.values.tolist(), strict=True):
            if c in wanted:
                cols.append(c)
                values.append(float(round(x)))
    return np.asarray(cols, dtype=np.int64), np.asarray(values)


@dataclass(frozen=True)
class RowArrays:
    """Rows to add to a HiGHS model, as plain arrays: each row's bounds and its coefficients in compressed-row form over the model's columns."""

    lower: np.ndarray
    upper: np.ndarray
    starts: np.ndarray
    index: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, constraints: list, variables: list) -> RowArrays:
        """PuLP constraints over ``variables`` (the model's columns in HiGHS's order) as arrays."""
        position = {id(v): i for i, v in enumerate(variables)}
        starts, index, value, lower, upper = [], [], [], [], []
        for con in constraints:
            starts.append(len(index))
            for v, a in con.items():
                index.append(position[id(v)])
                value.append(a)
            rhs = -float(con.constant)
            lower.append(rhs if con.sense >= 0 else -highspy.kHighsInf)
            upper.append(rhs if con.sense <= 0 else highspy.kHighsInf)
        return cls(np.array(lower, dtype=np.float64), np.array(upper, dtype=np.float64),
                   np.array(starts, dtype=np.int32), np.array(index, dtype=np.int32), np.array(value, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.lower)


def relaxation_with_rows(h: highspy.Highs, constraints: list, variables: list, constant: float,
                         seconds: float) -> tuple[float | None, bool]:
    """Add PuLP constraints (valid inequalities added to the model after its relaxation was solved) to the
    relaxation's HiGHS model ``h`` and re-solve it from its basis within ``seconds``
    (:func:`relaxation_with_row_arrays`). ``variables``: the model's columns in HiGHS's order."""
    return relaxation_with_row_arrays(h, RowArrays.of(constraints, variables), constant, seconds)


def relaxation_with_row_arrays(h: highspy.Highs, rows: RowArrays, constant: float,
                               seconds: float) -> tuple[float | None, bool]:
    """Add ``rows`` to the relaxation's HiGHS model ``h`` and re-solve it from its basis within ``seconds``: the
    new relaxation's objective (with the objective's ``constant``), or None when it did not end optimal — the
    rows are then taken out again and the old optimum restored from its basis —, and whether ``h`` holds an
    optimal solution (with its duals) at the end."""
    if not len(rows):
        return None, True
    old, first = h.getBasis(), h.getNumRow()
    h.addRows(len(rows), rows.lower, rows.upper, len(rows.index), rows.starts, rows.index, rows.value)
    optimal = highspy.HighsModelStatus.kOptimal
    rerun_lp(h, max(float(seconds), 0.1))
    if h.getModelStatus() == optimal:
        return float(h.getInfo().objective_function_value) + constant, True
    h.deleteRows(len(rows), np.arange(first, first + len(rows), dtype=np.int32))
    h.setBasis(old)
    rerun_lp(h, max(float(seconds), 0.1))  # from the old optimal basis: no iteration
    return None, h.getModelStatus() == optimal
