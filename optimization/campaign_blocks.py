"""One block of a campaign network, solved as the campaign MIP straight in HiGHS (the blocks path).

Campaign rows (``one_product``, ``campaign``, ``switch``, lengths, ``campaign_order``) join only the
products routed on one campaign resource, and those products already share that resource's capacity row;
so a campaign network splits into the same independent blocks as its LP (:mod:`optimization.decompose`).
A block holding integer columns is solved here with the steps of the whole-model campaign solve
(:func:`optimization.solve.solve_model`), on the block's own HiGHS model instead of PuLP:

1. the LP relaxation (a lower bound; let finish within ``time_limit_seconds``, as on the PuLP path);
2. the start: its production sequenced into campaigns (:func:`~optimization.campaign_start.sequenced_setups`),
   those setups fixed, the LP solved again from the relaxation's basis, its batches rounded down (a
   minimum batch not reached: nothing started) and fixed, the LP once more (a plan: rounding down only
   frees hours and backlog takes up the rest); where that LP fails, the rest completed as a MIP with a
   share of the block's time, as the whole-model path does;
3. the MIP from that start until the block's time is up;
4. the LP with every integer fixed at the plan's value, for duals (the model kept for price re-solves).

A block whose MIP finds nothing ends with the start's plan. :class:`Budget` hands each block its share of
the campaign time limit when it starts: the time left × workers × its share of the campaign blocks not
yet started (by columns), so blocks solved side by side end near the limit together.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import highspy
import numpy as np
import polars as pl

from optimization.campaign_start import idle_setup_hours, improves, rounded_integers, sequenced_setups
from optimization.config import PlanConfig
from optimization.highs_direct import has_plan

__all__ = [
    "BlockResult", "Budget", "block_frame", "free_implied_links", "relative_gap", "solve_campaign_block",
]

_OK = highspy.HighsModelStatus.kOptimal


@dataclass(frozen=True)
class BlockResult:
    """What one block's solve gave: its plan, duals (zeros without), objective and lower bound."""

    status: str
    x: np.ndarray
    dual: np.ndarray
    objective: float
    bound: float
    has_duals: bool
    note: str = ""


def relative_gap(objective: float, bound: float) -> float:
    """A MIP's gap, (objective − bound) / |objective|, clamped to [0, 1]: 0 when they meet (never below), 1
    when the bound is 0 or below a positive objective (never above)."""
    return min(max(objective - bound, 0.0) / max(abs(objective), 1e-9), 1.0)


class Budget:
    """Seconds each campaign block may use, handed out as blocks start (thread-safe).

    Args:
        seconds: the campaign time limit of the whole plan (wall), counted from now.
        workers: blocks solved at the same time.
    """

    def __init__(self, seconds: float, workers: int) -> None:
        self.deadline = time.perf_counter() + seconds
        self.left: dict[int, int] | None = None
        self.workers = max(1, workers)
        self._lock = threading.Lock()

    def take(self, block: int, sizes: dict[int, int]) -> float:
        """The block's seconds: time left × workers × its share of the columns of the campaign blocks not
        yet started (``sizes``: columns of every campaign block), at most the time left."""
        with self._lock:
            if self.left is None:
                self.left = dict(sizes)
            total = sum(self.left.values())
            size = self.left.pop(block, 0)
            left = max(self.deadline - time.perf_counter(), 0.0)
            return left * min(1.0, self.workers * size / max(total, 1))


def block_frame(frame: pl.DataFrame, cols: np.ndarray) -> pl.DataFrame:
    """The rows of a variable family (``setup_for``, ``switch``, ``batches``, ``setup``) in one block, with
    block-local ``col`` and ``make_col`` (where the family has one).

    Args:
        frame: the model's frame (global ``col`` and ``make_col``).
        cols: the block's global columns in block-local order.
    """
    order = np.argsort(cols)
    ordered = cols[order]
    mine = frame.filter(pl.col("col").is_in(pl.Series(cols).implode()))

    def local(name: str) -> pl.Series:
        g = mine[name].to_numpy()
        return pl.Series(name, order[np.searchsorted(ordered, g)], dtype=pl.Int64)

    return mine.with_columns(*(local(c) for c in ("col", "make_col") if c in mine.columns))


def free_implied_links(h: highspy.Highs, links: pl.DataFrame, x: np.ndarray) -> None:
    """Free, before the LP with the integers fixed at ``x``, the link rows ``make − m × y ≤ 0`` whose integer
    ``y`` is 1 in ``x`` and whose ``m`` is at least the week's capacity, as
    :func:`optimization.solve_duals._drop_implied_link_rows` takes them out on the PuLP path: the capacity row
    already says it, and HiGHS gave such a row a share of the hour's dual in a campaign week without a
    switch (the hour priced 0, or an hour more worth 0 where it is worth the late units it makes).

    Both families of links: a campaign suite's ``setup_for`` and lot sizing's ``setup`` (a minimum batch).
    Used on a campaign block's own model (block-local columns) and on the whole model re-solved with the
    integers fixed when lanes bind (:func:`optimization.decompose.solve_blocks`, global columns).

    Args:
        h: the model, integers already fixed.
        links: ``col`` (the integer), ``make_col`` (the start it bounds) and ``cap`` (the week's hours over
            the routing's hours per unit; null for a routing using none: its ``m`` bounds demand, not
            hours), in ``h``'s column numbering.
        x: the plan the integers were fixed from.

    Found as the rows of two terms, the start (coefficient 1) and the integer (−m); freed, not deleted, so
    the model keeps its rows' order (its duals are read by position).
    """
    on = links.filter(pl.col("cap").is_not_null()) if "cap" in links.columns else links.clear()
    on = on.filter(pl.Series(np.round(x[on["col"].to_numpy()]) == 1.0)) if on.height else on
    if on.height == 0:
        return
    lp = h.getLp()
    row, col, val = _triplets(lp.a_matrix_)
    terms = pl.DataFrame({"row": row, "col": col, "val": val})
    candidates = terms.filter(pl.col("col").is_in(on["col"].implode())).select("row").unique()
    terms = terms.join(candidates, on="row")  # the rows holding a set integer: a whole model's matrix is large
    two = terms.group_by("row").agg(pl.len().alias("n")).filter(pl.col("n") == 2).select("row")
    upper = np.asarray(lp.row_upper_)
    starts = terms.join(two, on="row").filter(pl.col("val") == 1.0).select("row", make_col="col")
    found = (
        terms.join(two, on="row")
        .join(starts, on="row")
        .join(on.select("col", "make_col", "cap"), on=["col", "make_col"])
        .filter(-pl.col("val") >= pl.col("cap") * (1.0 - 1e-9))
    )
    rows = np.asarray(
        [i for i in found["row"].unique().to_list() if upper[i] == 0.0 and not np.isfinite(lp.row_lower_[i])],
        dtype=np.int32)
    if len(rows):
        inf = np.full(len(rows), highspy.kHighsInf)
        h.changeRowsBounds(len(rows), rows, -inf, inf)


def _triplets(a) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nonzeros of a HiGHS matrix (column- or row-wise) as row, column and value arrays."""
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    outer = np.repeat(np.arange(len(start) - 1), np.diff(start))
    if a.format_ == highspy.MatrixFormat.kColwise:
        return index[: len(outer)], outer, value[: len(outer)]
    return outer, index[: len(outer)], value[: len(outer)]


def _rounded_start(
    h: highspy.Highs,
    frames: dict[str, pl.DataFrame],
    ints: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    seconds: float,
) -> tuple[np.ndarray | None, float, highspy.HighsBasis | None]:
    """A start without a MIP: the LP (setups already fixed) from the relaxation's basis, its whole batches
    rounded down, a lot's minimum-batch binary 1 where what is left reaches it (else nothing started), every
    integer fixed, the LP again. Bounds are put back. Returns the plan, its objective and the last LP's
    basis (a start for the fixed-integer LP of a plan near it); None, inf, None when either LP fails."""
    _run(h, seconds)
    if h.getModelStatus() != _OK:
        return None, np.inf, None
    value, z = rounded_integers(frames, ints, np.asarray(h.getSolution().col_value))
    h.changeColsBounds(len(ints), ints, value, value)
    if len(z):
        h.changeColsBounds(len(z), z, np.zeros(len(z)), np.zeros(len(z)))
    _run(h, seconds)
    ok = h.getModelStatus() == _OK
    out = np.asarray(h.getSolution().col_value) if ok else None
    objective = float(h.getInfo().objective_function_value) if ok else np.inf  # before the bounds change
    basis = h.getBasis() if ok else None
    h.changeColsBounds(len(ints), ints, lower[ints], upper[ints])
    if len(z):
        h.changeColsBounds(len(z), z, lower[z], upper[z])
    return out, objective, basis


def _improve(
    h: highspy.Highs,
    frames: dict[str, pl.DataFrame],
    x: np.ndarray,
    objective: float,
    lower: np.ndarray,
    upper: np.ndarray,
    deadline: float,
    min_seconds: float,
    note: list[str],
) -> tuple[np.ndarray, float]:
    """Fix-and-optimize on the kept model (integrality already on): each campaign resource in turn, most
    idle set-up hours first (:func:`~optimization.campaign_start.idle_setup_hours`), gets its setups free
    while every other resource's are fixed at the incumbent, and that smaller MIP runs from the incumbent
    (``setSolution``) with an even share of the time left before ``deadline`` (one share kept for the
    full MIP after); a better plan is kept. Passes under ``min_seconds`` are skipped. Bounds are put back.
    Returns the (possibly) improved plan and its objective."""
    n = h.getNumCol()
    groups = idle_setup_hours(frames["setup_for"], frames["switch"], x)
    cols = [np.asarray(c, dtype=np.int32) for c in groups["col"].to_list()]
    names = groups["resource_id"].to_list()
    every = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
    passes = 0
    for i, own in enumerate(cols):
        share = (deadline - time.perf_counter()) / (len(cols) - i + 1)
        if share < min_seconds or len(cols) < 2:
            break
        others = np.setdiff1d(every, own).astype(np.int32)
        value = np.round(x[others])
        h.changeColsBounds(len(others), others, value, value)
        h.setSolution(n, np.arange(n, dtype=np.int32), x)
        step, cpu = time.perf_counter(), time.thread_time()
        _run(h, share)
        found = float(h.getInfo().objective_function_value)
        if has_plan(h) and improves(found, objective):
            x, objective = np.asarray(h.getSolution().col_value), found
        h.changeColsBounds(len(others), others, lower[others], upper[others])
        passes += 1
        note.append(f"fix-and-optimize {names[i]} {objective:,.0f}" + _took(step, cpu))
    if len(cols) > 1 and passes < len(cols):
        note.append(f"fix-and-optimize: {len(cols) - passes} of {len(cols)} passes skipped")
    return x, objective


def _took(wall: float, cpu: float) -> str:
    """`` (x CPU-s, y s wall)`` since ``time.perf_counter()`` ``wall`` and ``time.thread_time()`` ``cpu`` (the
    block's own thread)."""
    return f" ({time.thread_time() - cpu:.1f} CPU-s, {time.perf_counter() - wall:.1f} s wall)"


def _integral(h: highspy.Highs, ints: np.ndarray, on: bool) -> None:
    """The block's integer columns ``ints`` made integer (``on``) or continuous (the LP relaxation)."""
    kind = highspy.HighsVarType.kInteger if on else highspy.HighsVarType.kContinuous
    h.changeColsIntegrality(len(ints), ints, np.full(len(ints), kind))


def _run(h: highspy.Highs, seconds: float) -> None:
    h.setOptionValue("time_limit", float(max(seconds, 0.0)))
    h.run()


def solve_campaign_block(
    h: highspy.Highs,
    integer: np.ndarray,
    frames: dict[str, pl.DataFrame],
    config: PlanConfig,
    seconds: float,
    *,
    start_share: float,
    min_seconds: float,
) -> BlockResult:
    """Solve one block's campaign MIP in ``h`` (built as its LP, no integrality yet).

    Args:
        h: the block's HiGHS model, columns in block-local order (a stored basis may be loaded).
        integer: block-local indices of the integer columns.
        frames: the block's ``setup_for``, ``batches`` and ``setup`` rows, and its ``links``
            (:func:`free_implied_links`) (:func:`block_frame`: block-local ``col`` and ``make_col``).
        config: ``time_limit_seconds`` (the relaxation's), ``campaign_warm_start``, ``mip_gap``.
        seconds: this block's share of the campaign time limit (start and MIP share it).
        start_share: share of the time left after the relaxation the start may use.
        min_seconds: the least the start and the MIP each get, even past the block's share.

    Returns:
        The plan (``x``; duals of the fixed-integer LP), its objective and the best lower bound known:
        HiGHS's MIP bound or the relaxation, whichever is higher. ``Optimal`` when the MIP closed its gap
        (``mip_gap``), ``Feasible`` with a plan and a gap, ``Not Solved`` without a plan.
    """
    began, cpu = time.perf_counter(), time.thread_time()
    deadline = began + seconds
    n = h.getNumCol()
    m = h.getNumRow()
    note: list[str] = []
    _run(h, config.time_limit_seconds)
    if h.getModelStatus() != _OK:
        return BlockResult("Not Solved", np.zeros(n), np.zeros(m), np.nan, np.nan, False, "relaxation not solved")
    relaxed = float(h.getInfo().objective_function_value)
    relax_x = np.asarray(h.getSolution().col_value)
    relax_basis = h.getBasis()
    relax_seconds = time.perf_counter() - began
    note.append(f"relaxation {relaxed:,.0f}" + _took(began, cpu))
    lp = h.getLp()
    lower, upper = np.asarray(lp.col_lower_), np.asarray(lp.col_upper_)
    ints = integer.astype(np.int32)
    h.setOptionValue("mip_rel_gap", float(config.mip_gap))
    start_x, start_obj, start_basis = None, np.inf, None
    setup = frames.get("setup_for", pl.DataFrame())
    if config.campaign_warm_start and setup.height:
        step, cpu = time.perf_counter(), time.thread_time()
        made = setup.with_columns(make=pl.Series(relax_x[setup["make_col"].to_numpy()]))
        fixed = sequenced_setups(made)
        fc = fixed["col"].to_numpy().astype(np.int32)
        fv = fixed["start"].to_numpy()
        h.changeColsBounds(len(fc), fc, fv, fv)
        # first the cheap way: the LP with those setups, from the relaxation's basis, its batches rounded down
        start_x, start_obj, start_basis = _rounded_start(h, frames, ints, lower, upper,
                                                         config.time_limit_seconds)
        if start_x is None:  # else as the whole-model path does: the rest completed as a MIP
            note.append("rounded start failed: completed as a MIP")
            _integral(h, ints, True)
            left = max(deadline - time.perf_counter(), 0.0)
            _run(h, max(left * start_share, relax_seconds, min_seconds))
            if has_plan(h):
                start_x = np.asarray(h.getSolution().col_value)
                start_obj = float(h.getInfo().objective_function_value)
            else:
                note.append("start not completed")
        elif config.campaign_start_completion:  # the batches as a MIP, setups still fixed, from the rounding
            note.append(f"rounded start {start_obj:,.0f}" + _took(step, cpu))
            _integral(h, ints, True)
            h.setSolution(n, np.arange(n, dtype=np.int32), start_x)
            left = max(deadline - time.perf_counter(), 0.0)
            _run(h, max(left * start_share, min_seconds))
            if has_plan(h) and h.getInfo().objective_function_value < start_obj:
                start_x = np.asarray(h.getSolution().col_value)
                start_obj = float(h.getInfo().objective_function_value)
        h.changeColsBounds(len(fc), fc, lower[fc], upper[fc])
        note.append(f"start {start_obj:,.0f}" + _took(step, cpu))
    _integral(h, ints, True)
    for option, value in config.campaign_mip_options.items():
        if h.setOptionValue(option, value) != highspy.HighsStatus.kOk:
            raise ValueError(f"campaign_mip_options: HiGHS refused {option} = {value!r}")
    if start_x is not None and config.campaign_improve and "switch" in frames:
        start_x, start_obj = _improve(h, frames, start_x, start_obj, lower, upper, deadline, min_seconds,
                                      note)
    if start_x is not None:
        h.setSolution(n, np.arange(n, dtype=np.int32), start_x)
    step, cpu = time.perf_counter(), time.thread_time()
    _run(h, max(deadline - time.perf_counter(), min_seconds))
    note.append(f"MIP {h.getInfo().objective_function_value:,.0f}, bound {h.getInfo().mip_dual_bound:,.0f}"
                + _took(step, cpu))
    best_x, best_obj, bound = start_x, start_obj, relaxed
    if has_plan(h) and h.getInfo().objective_function_value < best_obj:
        best_x, best_obj = np.asarray(h.getSolution().col_value), float(h.getInfo().objective_function_value)
    status = "Optimal" if h.getModelStatus() == _OK else "Feasible"
    mip_bound = float(h.getInfo().mip_dual_bound)
    if np.isfinite(mip_bound):
        bound = max(bound, mip_bound)
    if best_x is None:
        return BlockResult("Not Solved", np.zeros(n), np.zeros(m), np.nan, relaxed, False, "; ".join(note + ["no plan"]))
    if best_x is start_x:
        note.append("MIP start kept")
    # the LP with the integers fixed: duals that mean "one more hour, same batches"
    vals = np.round(best_x[ints])
    _integral(h, ints, False)
    h.changeColsBounds(len(ints), ints, vals, vals)
    free_implied_links(h, frames.get("links", pl.DataFrame()), best_x)
    # from the start's last LP (every integer fixed near these values; the plan often is the start) where
    # there is one, else from the relaxation's
    h.setBasis(relax_basis if start_basis is None else start_basis)
    step, cpu = time.perf_counter(), time.thread_time()
    _run(h, config.time_limit_seconds)
    note.append("fixed-integer LP" + _took(step, cpu))
    if h.getModelStatus() == _OK:
        sol = h.getSolution()
        objective = float(h.getInfo().objective_function_value)
        return BlockResult(status, np.asarray(sol.col_value), np.asarray(sol.row_dual), objective,
                           min(bound, objective), True, "; ".join(note))
    note.append("fixed-integer LP not solved: no duals")
    return BlockResult(status, best_x, np.zeros(m), best_obj, min(bound, best_obj), False, "; ".join(note))

