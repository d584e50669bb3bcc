"""A Dantzig–Wolfe bound for campaign MIPs: column generation over each suite's schedules.

The blocks are :mod:`optimization.campaign_bound`'s: each campaign resource's own columns (setups, switches,
pairs, batches, min-batch setups, the ``make`` of its routings) and the rows that hold nothing else. Every
other row is *linking*; every other column (flows, stock, backlog, other resources) stays in the master as
it is. The **restricted master** replaces each block's columns by a convex combination of whole block
solutions (schedules) found so far:

    min  c₀'x₀ + Σ_k Σ_j (c_k'x_k^j) λ_kj
    s.t. linking rows on  A₀x₀ + Σ_k Σ_j (A_k x_k^j) λ_kj,
         Σ_j λ_kj = 1 (each block k),   λ ≥ 0,   x₀ in its bounds.

Its row duals ``y`` price the next round: each block's MIP at the reduced costs ``c_k − A_k'y`` (its own
rows, integrality, gap 0) gives a schedule, added as a column when it prices out. At any ``y`` of the right
signs (≥ 0 on a row held at its lower bound, ≤ 0 at its upper) the Lagrangian

    L(y) = Σ_linking (y⁺ r_lower − y⁻ r_upper) + min_{x₀ in bounds} (c₀ − A₀'y)x₀
           + Σ_k min_{x_k ∈ X_k} (c_k − A_k'y)x_k

is a lower bound on the MIP (and on the master's optimum, the Dantzig–Wolfe bound, which it reaches at the
master's optimal duals when no column prices out). It is computed directly from its three parts at every
round, so it never depends on the master being solved well: only on each block's MIP being solved to
optimality (a block stopped early contributes its MIP's dual bound, still a lower bound). At the relaxation's
own duals it is stop 23's one-round bound (:func:`~optimization.campaign_bound.lagrangian_bound`).

Plain Kelley iterations (price at the master's duals) zig-zag; the duals priced are smoothed towards the best
so far (Wentges): ``y = α y_best + (1 − α) y_master``; a round whose smoothed prices give no column that
prices out at the master's own duals (a mis-price) sets α to 0 for the next round.

The master with its weights integer (price-and-branch: one schedule per suite from those generated, the rest
of the plan free) is also a plan, every block column an integer block solution: :func:`price_and_branch`.

Pure logic on in-memory HiGHS models (no I/O).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np

from optimization.campaign_bound import block_problem, lp_matrix, own_rows
from optimization.highs_direct import has_plan, mip_outcome, new_highs, rerun_lp

__all__ = ["MasterRound", "MasterResult", "dantzig_wolfe_bound", "price_and_branch"]

#: a reduced cost under this (relative to the column's cost) prices a column in
PRICE_TOL = 1e-7
#: reduced costs of master columns this close to zero count as zero in L(y) (the master's dual tolerance)
DUAL_TOL = 1e-7


@dataclass(frozen=True)
class MasterRound:
    """One round: the restricted master's value, the Lagrangian bound at the prices of the round, how many
    columns it added, whether every block's pricing MIP was exact, and its wall seconds (of them the
    master's LP)."""

    master: float
    lagrangian: float
    added: int
    exact: bool
    seconds: float
    master_seconds: float = 0.0


@dataclass
class MasterResult:
    """The best Lagrangian bound found (with the objective's constant), the rounds, and the master (kept for
    :func:`price_and_branch`)."""

    relaxation: float
    bound: float
    rounds: list[MasterRound]
    converged: bool
    master: highspy.Highs | None = None
    columns: list[tuple[int, np.ndarray]] | None = None  # per master λ column: (block, its values)
    nonblock: np.ndarray | None = None
    blocks: list[np.ndarray] | None = None
    offset: float = 0.0
    ints: np.ndarray | None = None
    start: np.ndarray | None = None  # the master's values at the start plan (a MIP start for price-and-branch)

    @property
    def solved(self) -> bool:
        """Whether some round solved the restricted master (its LP) to optimality."""
        return any(np.isfinite(r.master) for r in self.rounds)


def _signed(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """``y`` with the sign each row allows: ≥ 0 where the row has no upper bound, ≤ 0 where no lower."""
    y = np.where(np.isinf(upper), np.maximum(y, 0.0), y)
    return np.where(np.isinf(lower), np.minimum(y, 0.0), y)


def _row_part(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Σ y⁺ r_lower − y⁻ r_upper over the linking rows (``y`` signed)."""
    lo = np.where(y > 0, y * np.where(np.isinf(lower), 0.0, lower), 0.0)
    up = np.where(y < 0, y * np.where(np.isinf(upper), 0.0, upper), 0.0)
    return float(lo.sum() + up.sum())


def _box_part(d: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """min of ``d'x`` over ``lower ≤ x ≤ upper`` (−inf where unbounded beyond the dual tolerance)."""
    scale = np.maximum(1.0, np.abs(d))
    d = np.where(np.abs(d) <= DUAL_TOL * scale, 0.0, d)
    at = np.where(d > 0, lower, np.where(d < 0, upper, 0.0))
    if np.any(np.isinf(at) & (d != 0)):
        return -np.inf
    return float((d * np.where(np.isinf(at), 0.0, at)).sum())


class _Blocks:
    """The model cut into linking rows, non-block columns and each block's pricing MIP."""

    def __init__(self, h: highspy.Highs, blocks: dict[str, np.ndarray], ints: np.ndarray):
        lp = h.getLp()
        self.a = lp_matrix(lp)
        self.cost = np.asarray(lp.col_cost_)
        self.col_lower, self.col_upper = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
        row_lower, row_upper = np.asarray(lp.row_lower_), np.asarray(lp.row_upper_)
        self.names = list(blocks)
        self.cols = [np.asarray(c, dtype=np.int64) for c in blocks.values()]
        own = own_rows(self.a, self.cols)
        is_own = np.zeros(lp.num_row_, dtype=bool)
        for rows in own:
            is_own[rows] = True
        self.linking = np.flatnonzero(~is_own)
        in_block = np.zeros(lp.num_col_, dtype=bool)
        for cols in self.cols:
            in_block[cols] = True
        self.nonblock = np.flatnonzero(~in_block)
        self.ints = ints
        self.lower, self.upper = row_lower[self.linking], row_upper[self.linking]
        link = self.a[self.linking].tocsc()
        self.link0 = link[:, self.nonblock]
        self.link = [link[:, cols] for cols in self.cols]
        self.pricing = []
        for cols, rows in zip(self.cols, own, strict=True):
            p = new_highs()
            p.setOptionValue("mip_rel_gap", 0.0)
            sub = self.a[rows][:, cols].tocsc()
            sub.sort_indices()
            p.passModel(block_problem(sub, self.col_lower[cols], self.col_upper[cols], self.cost[cols],
                                      row_lower[rows], row_upper[rows], ints[cols]))
            self.pricing.append(p)

    def price(self, k: int, y: np.ndarray, seconds: float) -> tuple[float, bool, np.ndarray | None]:
        """Block ``k``'s MIP at the prices ``y`` (linking rows): its value (the MIP's dual bound when stopped
        early; −inf when it failed), whether optimal, and its solution (None when it has none)."""
        p = self.pricing[k]
        d = self.cost[self.cols[k]] - self.link[k].T @ y
        p.changeColsCost(len(d), np.arange(len(d), dtype=np.int32), d.astype(np.float64))
        p.setOptionValue("time_limit", max(float(seconds), 0.5))
        p.run()
        return mip_outcome(p)

    def outside(self, y: np.ndarray) -> float:
        """The rows' and the non-block columns' part of L(y)."""
        d0 = self.cost[self.nonblock] - self.link0.T @ y
        return _row_part(y, self.lower, self.upper) + _box_part(
            d0, self.col_lower[self.nonblock], self.col_upper[self.nonblock])

    def column(self, k: int, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Block ``k``'s schedule ``x`` as a master column: cost, linking-row indices and values."""
        coef = self.link[k] @ x
        nz = np.flatnonzero(np.abs(coef) > 1e-12)
        return float(self.cost[self.cols[k]] @ x), nz, coef[nz]


def _master(parts: _Blocks, artificial: float | None) -> highspy.Highs:
    """The restricted master with no block column yet: the linking rows over the non-block columns, one
    empty convexity row per block, and (``artificial`` not None) a slack pair per linking row at that cost."""
    m = new_highs()
    link0 = parts.link0.tocsc()
    link0.sort_indices()
    n_link, k = len(parts.linking), len(parts.cols)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = link0.shape[1], n_link + k
    lp.col_cost_ = parts.cost[parts.nonblock].astype(np.float64)
    lp.col_lower_ = parts.col_lower[parts.nonblock].astype(np.float64)
    lp.col_upper_ = parts.col_upper[parts.nonblock].astype(np.float64)
    lp.row_lower_ = np.concatenate([parts.lower, np.ones(k)]).astype(np.float64)
    lp.row_upper_ = np.concatenate([parts.upper, np.ones(k)]).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = link0.indptr.astype(np.int32)
    lp.a_matrix_.index_ = link0.indices.astype(np.int32)
    lp.a_matrix_.value_ = link0.data.astype(np.float64)
    m.passModel(lp)
    if artificial is not None and n_link:
        rows = np.arange(n_link, dtype=np.int32)
        for sign in (1.0, -1.0):
            m.addCols(n_link, np.full(n_link, artificial), np.zeros(n_link),
                      np.full(n_link, highspy.kHighsInf), n_link, rows, rows, np.full(n_link, sign))
    return m


def dantzig_wolfe_bound(
    h: highspy.Highs,
    blocks: dict[str, np.ndarray],
    ints: np.ndarray,
    relaxation: float,
    seconds: float,
    start: np.ndarray | None = None,
    smoothing: float = 0.5,
    max_rounds: int = 1000,
) -> MasterResult:
    """Column generation over the blocks' schedules (module docstring) until the master is proven optimal,
    ``max_rounds`` or ``seconds`` (wall) are up.

    Args:
        h: the HiGHS model holding the solved LP relaxation (minimisation; its duals price the first round).
        blocks: each campaign resource's columns (:func:`~optimization.campaign_bound.block_columns`).
        ints: per column, whether the MIP has it integer.
        relaxation: the relaxation's objective as reported (with the objective's constant HiGHS never sees).
        seconds: wall seconds for everything (each round's blocks share what is left evenly).
        start: a feasible plan (every column): its schedules are the master's first columns, so the master
            is feasible from the start; without one, each linking row gets slack columns at a high cost.
        smoothing: Wentges' α (0 = plain Kelley).
        max_rounds: rounds at most.

    Returns:
        The best bound (never below what the relaxation's duals give, never above the MIP's optimum when each
        pricing MIP was exact or gave its dual bound) and the rounds.
    """
    began = time.perf_counter()
    deadline = began + seconds
    offset = relaxation - float(h.getInfo().objective_function_value)
    parts = _Blocks(h, blocks, ints)
    y_relax = np.asarray(h.getSolution().row_dual)[parts.linking]
    scale = max(1.0, float(np.abs(y_relax).max(initial=0.0)), float(np.abs(parts.cost).max(initial=0.0)))
    master = _master(parts, None if start is not None else 1e3 * scale)
    columns: list[tuple[int, np.ndarray]] = []
    seen: set[tuple[int, bytes]] = set()

    def add(k: int, x: np.ndarray) -> bool:
        x = np.where(parts.ints[parts.cols[k]], np.round(x), x)
        key = (k, np.round(x, 6).tobytes())
        if key in seen:
            return False
        seen.add(key)
        cost, rows, values = parts.column(k, x)
        idx = np.concatenate([rows, [len(parts.linking) + k]]).astype(np.int32)
        master.addCols(1, np.array([cost]), np.array([0.0]), np.array([highspy.kHighsInf]), len(idx),
                       np.array([0], dtype=np.int32), idx, np.concatenate([values, [1.0]]))
        columns.append((k, x))
        return True

    if start is not None:
        for k, cols in enumerate(parts.cols):
            add(k, start[cols])

    def lagrangian(y: np.ndarray) -> tuple[float, bool, list[np.ndarray | None]]:
        """L(y) (with the objective's constant), whether every block was exact, each block's schedule."""
        total, exact, xs = parts.outside(y), True, []
        for k in range(len(parts.cols)):
            share = max((deadline - time.perf_counter()) / (len(parts.cols) - k), 0.0)
            value, optimal, x = parts.price(k, y, share)
            total += value
            exact &= optimal
            xs.append(x)
        return total + offset, exact, xs

    # round 0: the relaxation's own duals (stop 23's bound)
    y0 = _signed(y_relax, parts.lower, parts.upper)
    t = time.perf_counter()
    best, exact, xs = lagrangian(y0)
    center = y0
    for k, x in enumerate(xs):
        if x is not None:
            add(k, x)
    rounds = [MasterRound(master=np.nan, lagrangian=best, added=len(columns), exact=exact,
                          seconds=time.perf_counter() - t)]
    best = max(best, relaxation) if np.isfinite(best) else relaxation
    alpha, converged = smoothing, False
    while len(rounds) < max_rounds and time.perf_counter() < deadline:
        t = time.perf_counter()
        rerun_lp(master, max(deadline - t, 0.5))  # its LP, re-solved every round
        if master.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break
        z = float(master.getInfo().objective_function_value) + offset
        lp_seconds = time.perf_counter() - t
        dual = np.asarray(master.getSolution().row_dual)
        y_master = _signed(dual[: len(parts.linking)], parts.lower, parts.upper)
        mu = dual[len(parts.linking):]
        if z - best <= 1e-9 * max(1.0, abs(z)):
            converged = True
            rounds.append(MasterRound(master=z, lagrangian=best, added=0, exact=True,
                                      seconds=time.perf_counter() - t, master_seconds=lp_seconds))
            break
        y = alpha * center + (1.0 - alpha) * y_master
        value, exact, xs = lagrangian(y)
        if value > best:  # a valid bound whether or not each block was exact (a stopped one gave its dual bound)
            best, center = value, y
        added = 0
        for k, x in enumerate(xs):
            if x is None:
                continue
            cost, rows, values = parts.column(k, np.where(parts.ints[parts.cols[k]], np.round(x), x))
            reduced = cost - float(values @ y_master[rows]) - mu[k]
            if reduced < -PRICE_TOL * max(1.0, abs(cost)):
                added += add(k, x)
        rounds.append(MasterRound(master=z, lagrangian=value, added=added, exact=exact,
                                  seconds=time.perf_counter() - t, master_seconds=lp_seconds))
        if added == 0:
            if alpha == 0.0:  # nothing prices out at the master's own duals: its value is the bound
                converged = exact
                break
            alpha = 0.0  # a mis-price: the next round prices at the master's duals
        else:
            alpha = smoothing
    at_start = None
    if start is not None:  # the start's own columns are the first block columns, one per block, in order
        n_master = master.getLp().num_col_
        at_start = np.zeros(n_master)
        at_start[: len(parts.nonblock)] = start[parts.nonblock]
        at_start[n_master - len(columns): n_master - len(columns) + len(parts.cols)] = 1.0
    return MasterResult(relaxation=relaxation, bound=best, rounds=rounds, converged=converged, master=master,
                        columns=columns, nonblock=parts.nonblock, blocks=parts.cols, offset=offset, ints=ints,
                        start=at_start)


def price_and_branch(result: MasterResult, n_cols: int,
                     seconds: float) -> tuple[float | None, np.ndarray | None]:
    """The restricted master with every weight binary (one generated schedule per suite) and the non-block
    integer columns integer, solved as a MIP within ``seconds`` (from the start's schedules when the master
    began from a start, so never worse than it): a plan (every column of the model) and its objective (with
    the objective's constant), or ``(None, None)`` when none was found. The master is left a MIP."""
    m = result.master
    if m is None or not result.columns:
        return None, None
    n0 = len(result.nonblock)
    lp = m.getLp()
    kinds = np.zeros(lp.num_col_, dtype=bool)
    kinds[:n0] = result.ints[result.nonblock]
    kinds[lp.num_col_ - len(result.columns):] = True
    m.changeColsIntegrality(lp.num_col_, np.arange(lp.num_col_, dtype=np.int32),
                            np.where(kinds, highspy.HighsVarType.kInteger, highspy.HighsVarType.kContinuous))
    m.setOptionValue("time_limit", max(float(seconds), 0.5))
    m.setOptionValue("mip_rel_gap", 1e-4)
    if result.start is not None:
        m.setSolution(len(result.start), np.arange(len(result.start), dtype=np.int32), result.start)
    m.run()
    if not has_plan(m):
        return None, None
    v = np.asarray(m.getSolution().col_value)
    x = np.zeros(n_cols)
    x[result.nonblock] = v[:n0]
    weights = v[lp.num_col_ - len(result.columns):]
    for (k, values), w in zip(result.columns, weights, strict=True):
        x[result.blocks[k]] += w * values
    return float(m.getInfo().objective_function_value) + result.offset, x
