"""Solve a large planning LP exactly as independent blocks (sub-networks), in parallel, straight in HiGHS.

Products that share no resource share no constraint except the capacity of a lane: each family of
products on its own filling lines and bioreactors is a sub-network, and the model's matrix is block
diagonal once the *coupling* rows (:data:`COUPLING_FAMILIES`, the weekly lane capacities) are set
aside. :func:`solve_blocks` finds the blocks from the matrix itself (columns are linked through every
non-coupling row they share; so any constraint family added later that links products — a bill of
materials, say — joins their blocks without a change here), solves each block as its own HiGHS LP
(largest first, ``config.solve_workers`` at a time; HiGHS releases the GIL while it runs), and puts the
solutions side by side.

It is exact, not an approximation. Dropping the coupling rows relaxes the problem, so the blocks' optima
add up to a lower bound; when their combined plan also keeps every coupling row (checked), it is feasible
and therefore optimal for the whole model, with zero duals on the coupling rows. When a coupling row is
broken, the whole model is solved, warm-started from the blocks' bases put together (the coupling rows'
slacks basic: a valid basis, dual feasible, so the dual simplex only repairs what the lanes cut).

The blocks are found in the matrix, ordered and keyed by :mod:`optimization.decompose_blocks`; each
block's HiGHS options, method, solve order and status are :mod:`optimization.decompose_highs`'s. The blocks'
HiGHS models stay in memory with their optimal bases (:class:`BlockState`), for the worth of an hour
(:mod:`optimization.decompose_price`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import highspy
import numpy as np

from optimization.config import PlanConfig
from optimization.decompose_blocks import _block_key, block_labels, sort_order
from optimization.decompose_highs import _configure, _status, block_method, solve_order
from optimization.highs_direct import ArrayBuilder, new_highs

__all__ = ["COUPLING_FAMILIES", "BlockState", "FreeLinks", "MipBlock", "WarmStart", "solve_blocks"]

#: Loads a stored basis into a block's HiGHS model before it runs: ``(block key, model) -> loaded``. The
#: key names the block's products and its matrix pattern, so a basis is only offered to the same block of
#: the same shape; the caller does the reading (this package does no I/O).
WarmStart = Callable[[str, highspy.Highs], bool]

#: Solves one block holding integer columns: ``(block, model, its global columns, block-local integer
#: columns, columns of every block holding integers) -> result`` with ``status``, ``x``, ``dual``,
#: ``objective``, ``bound``, ``has_duals`` (:class:`optimization.campaign_blocks.BlockResult`).
MipBlock = Callable[[int, highspy.Highs, np.ndarray, np.ndarray, dict[int, int]], object]

#: Frees, in the whole model with its integers fixed at the plan ``x`` (global columns), the rows those fixed
#: integers make the same as a capacity row: ``(model, x) -> None``
#: (:func:`optimization.campaign_blocks.free_implied_links`, as each campaign block does before its own duals).
FreeLinks = Callable[[highspy.Highs, np.ndarray], None]

#: constraint families whose rows may link otherwise independent sub-networks
COUPLING_FAMILIES = ("lane",)

#: a coupling row counts as kept within this tolerance (relative to its bound, at least absolute)
_FEAS_TOL = 1e-6


@dataclass
class BlockState:
    """The solved blocks of a model: where each row lives, for re-solves after the plan is read.

    Attributes:
        highs: one solved HiGHS model per block (or one, the whole model, after a coupling re-solve).
        row_model: index in ``highs`` of each global row (-1: a coupling row outside every block).
        row_local: the row's index inside its model.
        block_sizes: ``(columns, rows)`` per block.
        whole: True when the coupling rows bound and the whole model was solved.
        seconds: solver wall time per block (and of the whole re-solve, if any).
        keys: per block, a digest of its products and matrix pattern (what a stored basis is filed under).
        warm: number of blocks that started from a stored basis.
        iterations: simplex iterations per block (an interior-point block's crossover iterations included).
        objectives: per block, the objective of its plan (without the model's constant).
        bounds: per block, a lower bound on its optimum (its objective for an LP block; after a coupling
            re-solve of a campaign network, one entry each: the whole plan's and the blocks' sum).
        mip_blocks: the blocks solved as MIPs (campaign blocks).
        duals: whether every MIP block's fixed-integer LP gave duals.
        methods: HiGHS's method per block (``choose``: HiGHS's dual simplex here, ``ipm``: interior point with
            crossover, ``simplex``, ``pdlp``).
        cpu_seconds: CPU seconds of the thread that ran each block (HiGHS's LP solvers run in it).
    """

    highs: list[highspy.Highs]
    row_model: np.ndarray
    row_local: np.ndarray
    block_sizes: list[tuple[int, int]] = field(default_factory=list)
    whole: bool = False
    seconds: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    warm: int = 0
    iterations: list[int] = field(default_factory=list)
    objectives: list[float] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)
    mip_blocks: list[int] = field(default_factory=list)
    duals: bool = True
    methods: list[str] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)


def solve_blocks(
    builder: ArrayBuilder,
    col_group: np.ndarray,
    config: PlanConfig,
    group_names: list[str] | None = None,
    warm_start: WarmStart | None = None,
    solve_mip: MipBlock | None = None,
    free_links: FreeLinks | None = None,
) -> tuple[str, BlockState]:
    """Solve ``builder``'s LP block by block; set its ``col_value``, ``row_dual`` and objective.

    Args:
        builder: the model built as arrays (:class:`~optimization.highs_direct.ArrayBuilder`).
        col_group: group (product) code of every column, ``0 .. G-1``.
        config: time limit, ``lp_method``, ``solve_workers``.
        group_names: name of each group (product id), for the blocks' keys; default the codes.
        warm_start: offered every block's key and model before it runs (a replan's base bases).
        solve_mip: solves a block holding integer columns (a campaign block,
            :func:`optimization.campaign_blocks.solve_campaign_block`); without it integrality is ignored.
        free_links: where lanes bind and a campaign network's whole model is re-solved with the blocks'
            integers fixed, frees the link rows those integers make implied before that LP: its duals are
            the plan's hour prices and its model prices an hour more and less
            (:func:`~optimization.decompose_price.block_price_range`), and a link row left in took the
            capacity row's dual (an hour more in a campaign week worth 0).

    Returns:
        The status (``Optimal``, ``Feasible`` — a MIP block stopped with a plan and a gap —, ``Infeasible``,
        ``Unbounded``, ``Not Solved``) and the :class:`BlockState` (with each block's objective and bound).
    """
    n, m = builder.n_cols, builder.n_rows
    ent = builder.matrix()
    coupling = np.zeros(m, dtype=bool)
    for family in COUPLING_FAMILIES:
        if family in builder.rows:
            coupling[builder.rows[family]["row"].to_numpy()] = True
    label = block_labels(col_group, ent, coupling)
    e_row, e_col, e_val = (ent[c].to_numpy() for c in ("row", "col", "coef"))
    row_block = np.full(m, -1, dtype=np.int64)
    row_block[e_row] = label[e_col]
    row_block[coupling] = -1
    lower, upper = builder.row_bounds()
    col_upper = builder.col_upper()
    n_blocks = int(label.max()) + 1 if n else 0
    # a block's columns and rows in the content-fixed order (family, then key), not the order the frames
    # happened to come in: the same block is the same model, under the same key, in every run
    col_canon, row_canon = builder.canonical()
    cols_of = sort_order(label, col_canon)
    col_counts = np.bincount(label, minlength=n_blocks)
    col_local = np.empty(n, dtype=np.int64)
    row_local = np.full(m, -1, dtype=np.int64)
    inner = row_block >= 0
    rows_of = np.flatnonzero(inner)[sort_order(row_block[inner], row_canon[inner])]
    row_counts = np.bincount(row_block[inner], minlength=n_blocks)
    col_local[cols_of] = np.arange(n) - np.repeat(np.cumsum([0, *col_counts])[:-1], col_counts)
    row_local[rows_of] = np.arange(len(rows_of)) - np.repeat(np.cumsum([0, *row_counts])[:-1], row_counts)
    e_block = row_block[e_row]
    in_block = np.flatnonzero(e_block >= 0)
    # by block, then local row, then local column
    order = in_block[sort_order(e_block[in_block], row_local[e_row[in_block]], col_local[e_col[in_block]])]
    e_counts = np.bincount(e_block[in_block], minlength=n_blocks)
    models: list[highspy.Highs] = []
    sizes: list[tuple[int, int]] = []
    keys: list[str] = []
    methods: list[str] = []
    warm = 0
    c0 = r0 = k0 = 0
    workers = max(1, config.solve_workers)
    for b in range(n_blocks):
        cols = cols_of[c0 : c0 + col_counts[b]]
        rows = rows_of[r0 : r0 + row_counts[b]]
        picked = order[k0 : k0 + e_counts[b]]
        c0, r0, k0 = c0 + col_counts[b], r0 + row_counts[b], k0 + e_counts[b]
        h = new_highs()
        h.addVars(len(cols), np.zeros(len(cols)), col_upper[cols])
        h.changeColsCost(len(cols), np.arange(len(cols), dtype=np.int32), builder.cost[cols])
        local_rows = row_local[e_row[picked]]
        starts = np.searchsorted(local_rows, np.arange(len(rows))).astype(np.int32)
        added = h.addRows(
            len(rows), lower[rows], upper[rows], len(picked), starts,
            col_local[e_col[picked]].astype(np.int32), e_val[picked],
        )
        if added != highspy.HighsStatus.kOk:  # e.g. a column twice in a row: never solve a block without rows
            raise ValueError(
                f"blocks path: HiGHS refused block {b}'s rows ({added}); a constraint family wrote a column "
                "twice into one row"
            )
        key = _block_key(col_group[cols], group_names, local_rows, col_local[e_col[picked]], len(cols), len(rows))
        started = warm_start is not None and warm_start(key, h)
        warm += started
        method = block_method(len(cols), len(rows), started, config)
        # no per-block `threads`: HiGHS's thread pool is global, fixed by the process's first solve; asking a
        # block for another count makes its run fail (its simplex is serial either way)
        _configure(h, config, config.threads, method)
        methods.append(method)
        models.append(h)
        sizes.append((len(cols), len(rows)))
        keys.append(key)
    row_model = row_block.copy()
    state = BlockState(highs=models, row_model=row_model, row_local=row_local, block_sizes=sizes, keys=keys,
                       warm=warm, methods=methods)
    by_size = solve_order(sizes)
    seconds = [0.0] * n_blocks
    spans = np.cumsum([0, *col_counts]), np.cumsum([0, *row_counts])
    is_int = np.concatenate(builder.integer) if builder.integer else np.zeros(n, dtype=bool)
    mip: dict[int, object] = {}
    int_blocks = np.bincount(label[is_int], minlength=n_blocks) if n else np.zeros(0, dtype=np.int64)
    mip_sizes = {int(b): int(col_counts[b]) for b in np.flatnonzero(int_blocks)}
    cpu = [0.0] * n_blocks

    def run(b: int) -> None:
        start, cpu0 = time.perf_counter(), time.thread_time()
        cols = cols_of[spans[0][b] : spans[0][b + 1]]
        ints = np.flatnonzero(is_int[cols])
        if solve_mip is not None and len(ints):
            mip[b] = solve_mip(b, models[b], cols, ints, mip_sizes)
        else:
            models[b].run()
            if methods[b] == "ipm":  # later re-solves (worth of an hour) start from crossover's basis
                models[b].setOptionValue("solver", "simplex")
        seconds[b], cpu[b] = time.perf_counter() - start, time.thread_time() - cpu0

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, by_size))
    state.seconds, state.cpu_seconds = seconds, cpu
    state.iterations = [int(h.getInfo().simplex_iteration_count + h.getInfo().crossover_iteration_count)
                        for h in models]
    statuses = [mip[b].status if b in mip else _status(h) for b, h in enumerate(models)]
    bad = [s for s in statuses if s not in ("Optimal", "Feasible")]
    x, dual = np.zeros(n), np.zeros(m)
    objective = 0.0
    state.objectives, state.bounds = [np.nan] * n_blocks, [np.nan] * n_blocks
    state.mip_blocks, state.duals = sorted(mip), all(r.has_duals for r in mip.values())
    for b, h in enumerate(models):
        if statuses[b] not in ("Optimal", "Feasible"):
            continue
        cols, rows = cols_of[spans[0][b] : spans[0][b + 1]], rows_of[spans[1][b] : spans[1][b + 1]]
        if b in mip:  # the block's plan and the fixed-integer LP's duals, its bound below its objective
            x[cols], dual[rows] = mip[b].x, mip[b].dual
            state.objectives[b], state.bounds[b] = mip[b].objective, mip[b].bound
        else:
            sol = h.getSolution()
            x[cols] = np.asarray(sol.col_value)
            dual[rows] = np.asarray(sol.row_dual)
            state.objectives[b] = state.bounds[b] = h.getInfo().objective_function_value
        objective += state.objectives[b]
    builder.col_value, builder.row_dual = x, dual
    builder.objective_value = objective + builder.constant
    done = "Feasible" if "Feasible" in statuses else "Optimal"
    if bad:
        worst = next(s for s in ("Infeasible", "Unbounded", "Not Solved") if s in bad)
        return worst, state
    if _coupling_kept(e_row, e_col, e_val, coupling, x, lower, upper):
        return done, state
    basis_cols = [highspy.HighsBasisStatus.kLower] * n
    basis_rows = [highspy.HighsBasisStatus.kBasic] * m  # coupling rows: slack basic
    for b, h in enumerate(models):
        basis = h.getBasis()
        if not basis.valid:
            continue
        for i, s in zip(cols_of[spans[0][b] : spans[0][b + 1]].tolist(), basis.col_status):
            basis_cols[i] = s
        for i, s in zip(rows_of[spans[1][b] : spans[1][b + 1]].tolist(), basis.row_status):
            basis_rows[i] = s
    # a lane's capacity binds across sub-networks: the whole model, from the blocks' bases put together
    start = time.perf_counter()
    h = builder.highs_model()
    _configure(h, config, config.threads)
    fixed = np.flatnonzero(is_int) if mip else np.zeros(0, dtype=np.int64)
    if len(fixed):  # campaign blocks: their integers stay as the blocks planned them, the rest re-solved
        h.changeColsBounds(len(fixed), fixed.astype(np.int32), np.round(x[fixed]), np.round(x[fixed]))
        if free_links is not None:
            free_links(h, x)
    basis = highspy.HighsBasis()
    basis.col_status = basis_cols
    basis.row_status = basis_rows
    basis.valid = True
    h.setBasis(basis)
    h.run()
    state.seconds.append(time.perf_counter() - start)
    state.highs, state.whole = [h], True
    state.row_model = np.zeros(m, dtype=np.int64)
    state.row_local = np.arange(m, dtype=np.int64)
    status = _status(h)
    if status == "Optimal" and len(fixed):
        status = "Feasible"
        state.objectives = [h.getInfo().objective_function_value]
        state.bounds = [float(np.nansum(state.bounds))]  # the blocks' bounds still bound the whole model
    if status in ("Optimal", "Feasible"):
        sol = h.getSolution()
        builder.col_value, builder.row_dual = np.asarray(sol.col_value), np.asarray(sol.row_dual)
        builder.objective_value = h.getInfo().objective_function_value + builder.constant
    builder.highs = h
    return status, state


def _coupling_kept(
    e_row: np.ndarray,
    e_col: np.ndarray,
    e_val: np.ndarray,
    coupling: np.ndarray,
    x: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
) -> bool:
    """Whether the blocks' combined solution keeps every coupling row."""
    if not coupling.any():
        return True
    on = coupling[e_row]
    activity = np.bincount(e_row[on], weights=e_val[on] * x[e_col[on]], minlength=len(coupling))[coupling]
    lo, up = lower[coupling], upper[coupling]
    tol_up = _FEAS_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(up), up, 0.0)))
    tol_lo = _FEAS_TOL * np.maximum(1.0, np.abs(np.where(np.isfinite(lo), lo, 0.0)))
    return bool(np.all(activity <= up + tol_up) and np.all(activity >= lo - tol_lo))
