"""Each block's HiGHS run: its method, its options, the order the workers take the blocks, its status read.

:func:`block_method` picks interior point or the simplex by a block's size and start, :func:`solve_order`
hands the blocks to the workers largest first, :func:`_configure` sets a block's (or the whole model's)
options and :func:`_status` reads its model status as the plan's. Run by
:func:`optimization.decompose.solve_blocks`.
"""

from __future__ import annotations

import highspy

from optimization.config import PlanConfig

__all__ = ["block_method", "solve_order"]

_OK = highspy.HighsModelStatus.kOptimal
#: HiGHS's simplex_dual_edge_weight_strategy per PlanConfig.simplex_edge_weights
_EDGE_WEIGHTS = {"choose": -1, "devex": 1, "steepest": 2}


def _status(h: highspy.Highs) -> str:
    s = h.getModelStatus()
    if s == _OK:
        return "Optimal"
    if s == highspy.HighsModelStatus.kInfeasible:
        return "Infeasible"
    if s in (highspy.HighsModelStatus.kUnbounded, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        return "Unbounded"
    return "Not Solved"


def block_method(cols: int, rows: int, warm: bool, config: PlanConfig) -> str:
    """HiGHS's ``solver`` option for one block of ``cols`` columns and ``rows`` rows.

    ``lp_method: auto`` takes interior point with crossover (``ipm``; crossover ends at an optimal vertex, so
    the duals, the basis filed for a replan and the worth-of-an-hour re-solves are as the simplex's) for a
    cold block of at least ``ipm_min_block_size`` columns + rows, and HiGHS's own choice (``choose``: dual
    simplex here) below it and for a block that starts from a stored basis (interior point cannot use one).
    Any other ``lp_method`` is taken for every block as it is.
    """
    if config.lp_method != "auto":
        return config.lp_method
    return "ipm" if not warm and cols + rows >= config.ipm_min_block_size else "choose"


def solve_order(sizes: list[tuple[int, int]]) -> list[int]:
    """Blocks in the order they are handed to the workers: largest (columns + rows) first, ties by number.

    The workers take the next block as one finishes, so the largest block starts at once and the smaller ones
    fill the other worker around it, instead of the largest starting last with one worker idle.
    """
    return sorted(range(len(sizes)), key=lambda b: (-(sizes[b][0] + sizes[b][1]), b))


def _configure(h: highspy.Highs, config: PlanConfig, threads: int | None, method: str | None = None) -> None:
    h.setOptionValue("time_limit", float(config.time_limit_seconds))
    method = method or ("choose" if config.lp_method == "auto" else config.lp_method)
    h.setOptionValue("solver", method)
    if method == "ipm":
        h.setOptionValue("run_crossover", "on")  # a vertex: exact duals and a basis to file
    # the pricing of every dual simplex run on the model: the solve, a crossover's clean-up, the re-solves
    h.setOptionValue("simplex_dual_edge_weight_strategy", _EDGE_WEIGHTS[config.simplex_edge_weights])
    if threads is not None:
        h.setOptionValue("threads", int(threads))
