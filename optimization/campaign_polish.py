"""A MIP polish of the campaign start around its campaigns' boundaries, on the core the search leaves free
(issue 17, stop 31).

After the blocks with time (:func:`optimization.solve._blocks_first`) the start is their schedules completed
(every setup fixed, the batches a MIP). Where it is not within ``mip_gap`` of their bound, the search's moves
(:class:`~optimization.campaign_start.SetupSearch`) run on one thread, one schedule at a time, judged by an LP and
a rounding, and the second core idles. The polish uses it: the whole model as a MIP from the start, with every
setup fixed at the start's except in the weeks next to a change of product on its suite (a campaign's first
and last weeks, :func:`boundary_setups`), so HiGHS may move each boundary, on every suite at once, and chooses
the batches with them. The neighbourhood is small (on the demo ≈ 1/6 of the setups), so its MIP starts from
a plan and looks only where the search's single moves look, but jointly.

The polish never makes the plan worse: the start is a plan of its neighbourhood (HiGHS is handed it), and the
caller keeps the better. Threads, not a process: HiGHS releases the GIL while it runs (as
:mod:`optimization.campaign_worker`). Pure logic on in-memory HiGHS models (no I/O).
"""

from __future__ import annotations

import threading
import time

import highspy
import numpy as np
import polars as pl

from optimization.highs_direct import new_highs

__all__ = ["BOUNDARY_WEEKS", "PolishRun", "boundary_setups"]

#: weeks on each side of a change of product on a suite whose setups the polish frees: the week a campaign
#: starts and the one before it with 1 (a boundary moved by one week either way, or a week's campaign of
#: another product put there)
BOUNDARY_WEEKS = 1


def boundary_setups(setup: pl.DataFrame, values: np.ndarray, weeks: int = BOUNDARY_WEEKS) -> np.ndarray:
    """Per row of ``setup`` (``resource_id, product_id, t, col``: the ``setup_for`` frame), whether the polish
    frees it: its suite's week lies within ``weeks`` of a change of that suite's product in the plan
    ``values`` (every column's value; a week set up for nothing counts as a product of its own), i.e. in
    ``t - weeks ... t + weeks - 1`` for a change between weeks ``t - 1`` and ``t``."""
    on = setup.select("resource_id", "t", "product_id", x=pl.Series(values[setup["col"].to_numpy()])).filter(
        pl.col("x") > 0.5)
    weeks_of = setup.select("resource_id", "t").unique().join(
        on.select("resource_id", "t", "product_id"), on=["resource_id", "t"], how="left", validate="1:1"
    ).sort("resource_id", "t")
    changes = weeks_of.filter(
        pl.col("product_id").ne_missing(pl.col("product_id").shift(1).over("resource_id"))
        & (pl.col("t") > pl.col("t").min().over("resource_id"))
    ).select("resource_id", "t")
    free = pl.concat([changes.with_columns(pl.col("t") + d) for d in range(-weeks, weeks)]).unique()
    marked = setup.select("resource_id", "t").join(free.with_columns(free=pl.lit(True)), on=["resource_id", "t"],
                                                   how="left", validate="m:1")
    return marked["free"].fill_null(False).to_numpy()  # a week next to no change: fixed


class PolishRun:
    """The polish's MIP solved on its own thread from now, within ``seconds`` of wall and to ``gap``.

    Args:
        lp: the whole model as a MIP (its integrality set), every column at its own bounds but the setups.
        setup_cols: the setup columns (``setup_for``'s ``col``).
        lower, upper: their own bounds.
        free: per setup column, whether it is free (:func:`boundary_setups`); the others are fixed at ``values``.
        values: the start, every column's value.
        constant: the objective's constant (HiGHS has none).
    """

    def __init__(self, lp: highspy.HighsLp, setup_cols: np.ndarray, lower: np.ndarray, upper: np.ndarray,
                 free: np.ndarray, values: np.ndarray, constant: float, seconds: float, gap: float) -> None:
        self.constant, self.free = constant, int(free.sum())
        self.began, self.cpu = time.perf_counter(), time.thread_time()
        h = new_highs()
        h.passModel(lp)
        fixed = np.round(values[setup_cols])
        cols = setup_cols.astype(np.int32)
        h.changeColsBounds(len(cols), cols, np.where(free, lower, fixed), np.where(free, upper, fixed))
        h.setSolution(len(values), np.arange(len(values), dtype=np.int32), np.asarray(values, dtype=float))
        h.setOptionValue("time_limit", max(float(seconds), 0.0))
        h.setOptionValue("mip_rel_gap", float(gap))
        self.h = h
        self.thread = threading.Thread(target=h.run, name="campaign-polish")
        self.thread.start()

    def result(self) -> tuple[float | None, np.ndarray | None, str]:
        """Waits for the MIP (it stops itself at its limit): its plan's objective and every column's value (None,
        None without one) and a note for the log."""
        self.thread.join()
        info, status = self.h.getInfo(), self.h.getModelStatus()
        planned = info.primal_solution_status == 2  # kSolutionStatusFeasible
        objective = float(info.objective_function_value) + self.constant if planned else None
        values = np.asarray(self.h.getSolution().col_value) if planned else None
        note = (f"{self.free:,} setups free next to the campaigns' boundaries, "
                f"{self.h.modelStatusToString(status)}, {int(info.mip_node_count):,} nodes "
                f"({time.perf_counter() - self.began:.1f} s wall)")
        return objective, values, note
