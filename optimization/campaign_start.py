"""A MIP start for campaigns: the LP relaxation's production sequenced into campaigns, and a search over
the suites' schedules (:class:`~optimization.campaign_search.SetupSearch`) from it and from each suite's
rotation (:func:`~optimization.campaign_schedule.rotation_setups`).

The LP relaxation spreads a suite's hours over several products a week. The start follows it with one
product a week: week by week (all suites at once), a suite stays on its product until the campaign has
made what the relaxation makes of it up to ``LOOKAHEAD`` weeks ahead, or reaches its maximum length; it
never leaves a campaign before its minimum length; then it switches to the product furthest behind the
relaxation's schedule; with nothing behind it builds ahead of what the relaxation makes later (on its
product if it has any left, else on the one with most left); it stays set up, idle, only with no work left
or in a week too short for a changeover (a shutdown). The solver fixes these setups,
completes the rest (batches, flows) as a MIP of its own, and starts the full MIP from that plan.
:func:`rounded_integers` completes it without a MIP instead: the LP's batches rounded down.
:func:`idle_setup_hours` orders the fix-and-optimize passes that may improve that plan first.

The schedules are arrays of :mod:`optimization.campaign_schedule` (:class:`SuiteGrid`, its rotations and
moves); the search over them is :mod:`optimization.campaign_search`'s.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from optimization.campaign_schedule import SuiteGrid

__all__ = [
    "LOOKAHEAD", "filled_integers", "idle_setup_hours", "improves", "rounded_integers", "sequenced_setups",
]

#: weeks of the relaxation's production a campaign makes ahead (what building ahead may cover)
LOOKAHEAD = 2


def improves(objective: float, best: float) -> bool:
    """Whether a plan of ``objective`` is better than ``best`` by more than rounding (1e-9 of its size)."""
    return objective < best - 1e-9 * max(abs(best), 1.0)


def sequenced_setups(setup: pl.DataFrame) -> pl.DataFrame:
    """``col, start`` (0 or 1) for every setup binary.

    Args:
        setup: the ``setup_for`` frame with ``make`` (the relaxation's units started of its routing-week),
            ``hours_per_unit``, ``hours_available``, ``min_campaign_weeks`` and ``max_campaign_weeks``.
    """
    grid = SuiteGrid.of(setup)
    lp, exists, cap, lo, hi, can_switch = grid.hours, grid.exists, grid.cap, grid.lo, grid.hi, grid.can_switch
    n_r, n_p, n_t = lp.shape
    due = np.cumsum(lp, axis=2)  # relaxation's hours of each product made by the end of each week
    made = np.zeros((n_r, n_p))
    cur = np.full(n_r, -1)
    run = np.zeros(n_r, dtype=np.int64)
    chosen = np.full((n_r, n_t), -1)
    rows = np.arange(n_r)
    for t in range(n_t):
        ahead = due[:, :, min(t + LOOKAHEAD, n_t - 1)]
        behind = np.where(exists, ahead - made, -np.inf)
        own = np.where(cur >= 0, behind[rows, np.maximum(cur, 0)], -np.inf)
        stay = (cur >= 0) & (run < hi) & ((run < lo) | (own > 1e-6))
        tired = (cur >= 0) & (run >= hi)  # at its maximum: the campaign must end
        behind[rows[tired], cur[tired]] = -np.inf
        best = np.argmax(behind, axis=1)
        switch = ~stay & (behind[rows, best] > 1e-6) & can_switch[:, t]
        # nothing behind soon: build ahead of what the relaxation makes later, on the current product if
        # it has any left, else on the one with most left (never idle while there is work)
        left = np.where(exists, due[:, :, -1] - made, -np.inf)
        if tired.any():
            left[rows[tired], cur[tired]] = -np.inf
        own_left = np.where(cur >= 0, left[rows, np.maximum(cur, 0)], -np.inf)
        later = np.argmax(left, axis=1)
        keep = ~stay & ~switch & (cur >= 0) & (run < hi) & (own_left > 1e-6)
        ahead_switch = ~stay & ~switch & ~keep & (left[rows, later] > 1e-6) & can_switch[:, t]
        idle = ~stay & ~switch & ~keep & ~ahead_switch & (cur >= 0) & (run < hi)  # stay set up, idle
        nxt = np.where(stay | keep | idle, cur, np.where(switch, best, np.where(ahead_switch, later, -1)))
        run = np.where((nxt == cur) & (nxt >= 0), run + 1, np.where(nxt >= 0, 1, 0))
        cur = nxt
        chosen[:, t] = cur
        on = cur >= 0
        made[rows[on], cur[on]] += cap[on, t]
    return grid.setups(chosen)


def idle_setup_hours(setup: pl.DataFrame, switch: pl.DataFrame, values: np.ndarray) -> pl.DataFrame:
    """``resource_id, col, idle``: each campaign resource's setup columns and the hours of its set-up weeks
    that the plan ``values`` (every column) uses neither for production nor for a (default) changeover,
    most idle first (ties by id): the order of the fix-and-optimize passes, so that the suite wasting
    most hours gets its pass while time is left."""
    used = pl.concat(
        [
            setup.select("resource_id", idle=pl.Series(values[setup["col"].to_numpy()]) * pl.col("hours_available")
                         - pl.Series(values[setup["make_col"].to_numpy()])
                         * pl.col("hours_per_unit").fill_null(0.0)),  # a routing using no hours
            switch.select("resource_id",
                          idle=-pl.Series(values[switch["col"].to_numpy()]) * pl.col("changeover_hours")),
        ]
    ).group_by("resource_id").agg(pl.col("idle").sum())
    return (
        setup.group_by("resource_id")
        .agg(pl.col("col"))
        .join(used, on="resource_id", validate="1:1")
        .sort([pl.col("idle"), pl.col("resource_id")], descending=[True, False])
    )


def rounded_integers(
    frames: dict[str, pl.DataFrame], ints: np.ndarray, x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The integer columns ``ints`` fixed from an LP solution ``x`` (every column) so that the LP with them
    fixed is a plan: whole batches rounded down (rounding down only frees hours; backlog takes up the rest),
    a lot's minimum-batch binary 1 where what is left reaches its minimum, else nothing started, every other
    integer (the setups, already fixed) rounded. Returns the values of ``ints`` and the production columns
    (``make``) that must be 0 because their lot was not started.

    Args:
        frames: the model's ``batches`` (``col, make_col, batch_size``) and ``setup`` (``col, make_col,
            min_batch``) frames, where present; ``col`` and ``make_col`` index ``x``.
    """
    value = np.round(x[ints])
    at = {int(c): i for i, c in enumerate(ints.tolist())}
    made = x.copy()
    zero: list[int] = []
    batches = frames.get("batches")
    if batches is not None and batches.height:
        bc, mc = batches["col"].to_numpy(), batches["make_col"].to_numpy()
        whole = np.floor(x[bc] + 1e-6)
        value[[at[c] for c in bc.tolist()]] = whole
        made[mc] = whole * batches["batch_size"].to_numpy()
    lots = frames.get("setup")
    if lots is not None and lots.height:
        sc, mc = lots["col"].to_numpy(), lots["make_col"].to_numpy()
        on = made[mc] >= lots["min_batch"].to_numpy() - 1e-6
        value[[at[c] for c in sc.tolist()]] = on.astype(float)
        zero = mc[~on].tolist()
        if batches is not None and batches.height:  # a lot below its minimum: no batch either
            b_of = dict(zip(batches["make_col"].to_list(), batches["col"].to_list()))
            for c in zero:
                if c in b_of:
                    value[at[b_of[c]]] = 0.0
    return value, np.asarray(zero, dtype=np.int32)


def filled_integers(
    frames: dict[str, pl.DataFrame], ints: np.ndarray, x: np.ndarray, value: np.ndarray, zero: np.ndarray,
    slack: pl.DataFrame,
) -> np.ndarray:
    """The integers ``value`` of :func:`rounded_integers` (batches rounded down from the LP's ``x``) with
    batches rounded *up* where their resource-week holds one more: the hours ``x`` leaves free (``slack``:
    ``resource_id, t, slack``) plus those the rounding down freed, the largest fractions first (on a full
    suite or train rounding down leaves a batch's hours idle in most weeks). A lot not started (``zero``)
    stays so. ``frames`` needs ``batches`` (``col, make_col, batch_size, resource_id, t``) and ``make``
    (``col, hours_per_unit``). Returns the new values of ``ints``."""
    value = value.copy()
    batches, make = frames.get("batches"), frames.get("make")
    if batches is None or make is None or not batches.height:
        return value
    at = pl.DataFrame({"col": ints.astype(np.int64), "i": np.arange(len(ints), dtype=np.int64)})
    rt = ["resource_id", "t"]
    lots = (
        batches.select(pl.col("col").cast(pl.Int64), pl.col("make_col").cast(pl.Int64), "batch_size", *rt)
        .join(at, on="col", validate="1:1")
        .join(make.select(pl.col("col").cast(pl.Int64).alias("make_col"), "hours_per_unit"), on="make_col",
              validate="1:1")
    )
    lots = lots.with_columns(frac=pl.Series(x[lots["col"].to_numpy()] - value[lots["i"].to_numpy()]),
                             one=pl.col("batch_size") * pl.col("hours_per_unit").fill_null(0.0))
    free = lots.group_by(rt).agg((pl.col("frac") * pl.col("one")).sum().alias("freed")).join(
        slack, on=rt, validate="1:1").select(*rt, free=pl.col("slack") + pl.col("freed"))
    up = (
        lots.filter((pl.col("frac") > 1e-6) & ~pl.col("make_col").is_in(pl.Series(zero.astype(np.int64)).implode()))
        .join(free, on=rt, validate="m:1")
        .sort("frac", descending=True)
        .filter(pl.col("one").cum_sum().over(rt) <= pl.col("free") + 1e-6)
    )
    value[up["i"].to_numpy()] += 1.0
    return value
