"""A MIP start for campaigns: the LP relaxation's production sequenced into campaigns, and a search over
the suites' schedules (:class:`SetupSearch`) from it and from each suite's rotation (:func:`rotation_setups`).

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

from optimization.highs_direct import new_highs

__all__ = [
    "HOT_START_SHARE", "LOOKAHEAD", "SetupSearch", "SuiteGrid", "filled_integers", "idle_setup_hours", "improves",
    "rotation_setups", "rounded_integers", "schedule_moves", "sequenced_setups",
]

#: weeks of the relaxation's production a campaign makes ahead (what building ahead may cover)
LOOKAHEAD = 2
#: share of the relaxation's simplex iterations the search's first LP (every setup fixed) may take from the
#: relaxation's basis before it is solved cold with presolve instead: hot it took 0.6 CPU-s on the demo
#: (relaxation 4.8, cold 3.6), but 4.2 on a network of mixed suites (relaxation 2.5, cold 0.9). Counted in
#: iterations, not seconds, so that the same input takes the same path on any machine and load
HOT_START_SHARE = 0.25
_NO_ITERATION_LIMIT = 2**31 - 1  # HiGHS's default simplex_iteration_limit (kHighsIInf)


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


# ------------------------------------------------------------------------------------ rotation and search
@dataclass(frozen=True)
class SuiteGrid:
    """The campaign resources' weeks as arrays: which product each suite is set up for, week by week
    (``chosen[r, k]``: a product index of ``r``, −1 for none), and what a schedule must respect.

    ``hours[r, p, k]`` are the relaxation's hours of ``p`` on ``r`` in week ``k``; ``lo``/``hi`` the
    campaign lengths; ``can_switch[r, k]`` False in a week with fewer hours than a changeover."""

    frame: pl.DataFrame
    hours: np.ndarray
    exists: np.ndarray
    cap: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    can_switch: np.ndarray
    names: list[str]

    @classmethod
    def of(cls, setup: pl.DataFrame) -> SuiteGrid:
        """From the ``setup_for`` frame with ``make`` (the relaxation's units started), as
        :func:`sequenced_setups` takes it."""
        frame = setup.with_columns(
            r=pl.col("resource_id").rank("dense") - 1,
            p=pl.col("product_id").rank("dense").over("resource_id") - 1,
            k=pl.col("t") - pl.col("t").min(),
            h=pl.col("make") * pl.col("hours_per_unit").fill_null(0.0),
        )
        n_r, n_p, n_t = (int(frame[c].max()) + 1 for c in ("r", "p", "k"))
        r, p, k = _rpk(frame)
        hours = np.zeros((n_r, n_p, n_t))
        hours[r, p, k] = frame["h"].to_numpy()
        exists = np.zeros((n_r, n_p), dtype=bool)
        exists[r, p] = True
        cap = np.zeros((n_r, n_t))
        cap[r, k] = frame["hours_available"].to_numpy()
        per_r = frame.group_by("r").agg(
            pl.col("resource_id").first(), pl.col("min_campaign_weeks").first(),
            pl.col("max_campaign_weeks").first(), pl.col("changeover_hours").first(),
        ).sort("r")
        return cls(
            frame=frame, hours=hours, exists=exists, cap=cap,
            lo=per_r["min_campaign_weeks"].to_numpy().astype(np.int64),
            hi=per_r["max_campaign_weeks"].fill_null(n_t + 1).to_numpy().astype(np.int64),
            can_switch=cap >= per_r["changeover_hours"].to_numpy()[:, None] + 1e-6,
            names=per_r["resource_id"].to_list(),
        )

    def setups(self, chosen: np.ndarray) -> pl.DataFrame:
        """``col, start`` (0 or 1) for every setup binary of the schedule ``chosen``."""
        r, p, k = _rpk(self.frame)
        return self.frame.select("col", start=pl.Series(chosen[r, k] == p, dtype=pl.Boolean).cast(pl.Float64))

    def chosen(self, setups: pl.DataFrame) -> np.ndarray:
        """The schedule of ``setups`` (``col, start``), the inverse of :meth:`setups`."""
        on = self.frame.join(setups, on="col", validate="1:1").filter(pl.col("start") > 0.5)
        out = np.full(self.cap.shape, -1)
        out[on["r"].to_numpy(), on["k"].to_numpy()] = on["p"].to_numpy()
        return out

    def valid(self, r: int, row: np.ndarray) -> bool:
        """Whether suite ``r``'s weeks ``row`` keep its campaign lengths (a campaign started by a switch
        at least ``lo`` weeks unless the horizon cuts it, every one at most ``hi``), switch only in weeks
        with room for a changeover, and set up only for products routed on it."""
        starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
        lengths = np.diff(np.r_[starts, len(row)])
        products = row[starts]
        on = products >= 0
        if np.any(lengths[on] > self.hi[r]) or not np.all(self.exists[r, products[on]]):
            return False
        switched = on & (starts > 0)
        if np.any(~self.can_switch[r, starts[switched]]):
            return False
        cut = starts + lengths >= len(row)
        return not np.any(switched & ~cut & (lengths < self.lo[r]))


def _rpk(frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The suite, product and week indices (``r``, ``p``, ``k``) of :class:`SuiteGrid`'s frame (or part of it)."""
    return tuple(frame[c].to_numpy().astype(np.int64) for c in ("r", "p", "k"))


def rotation_setups(grid: SuiteGrid, cycles: int) -> np.ndarray:
    """A planner's rotation: each suite cycles through the products the relaxation makes on it, ``cycles``
    times over the horizon, each product's campaign as long as its share of the relaxation's hours on
    the suite (at least ``lo``, at most ``hi`` weeks), in the order the relaxation first needs them (the
    week its cumulative hours reach a tenth of the product's total; ties by more hours in the first week).
    A switch that falls in a week without room for a changeover waits (the campaign runs on, up to
    ``hi``; past it the suite stands set up for nothing). Returns ``chosen`` (suites × weeks)."""
    n_r, _, n_t = grid.hours.shape
    chosen = np.full((n_r, n_t), -1)
    for r in range(n_r):
        total = grid.hours[r].sum(axis=1)
        products = np.flatnonzero(grid.exists[r] & (total > 1e-6 * max(total.max(), 1e-9)))
        if not len(products):
            continue
        share = total[products] / total[products].sum()
        weeks = np.clip(np.round(share * n_t / cycles), max(grid.lo[r], 1), grid.hi[r]).astype(np.int64)
        reach = np.cumsum(grid.hours[r, products], axis=1) >= 0.1 * total[products, None]
        order = np.lexsort((-grid.hours[r, products, 0], reach.argmax(axis=1)))
        t, i = 0, 0
        while t < n_t:
            j = order[i % len(order)]
            end = min(t + weeks[j], n_t)
            chosen[r, t:end] = products[j]
            t = end
            # wait for a week with room for the changeover: the campaign runs on, then nothing
            run = weeks[j]
            while t < n_t and not grid.can_switch[r, t]:
                chosen[r, t] = products[j] if run < grid.hi[r] else -1
                run, t = run + 1, t + 1
            i += 1
    return chosen


def schedule_moves(row: np.ndarray, products: np.ndarray | None = None, shortest: int = 1) -> list[np.ndarray]:
    """Neighbours of one suite's weeks ``row``, fewest changeovers first: each campaign after the first
    merged into the one before it, each adjacent pair of campaigns swapped (their lengths kept), each
    switch a week earlier and a week later, each campaign a week later (at least ``shortest`` weeks long;
    the week it leaves to the campaign before it, or the first campaign's to the one after it), and a new
    campaign of each other of the suite's ``products`` in the first or the last week (neither held to its
    minimum: the first pays no changeover, the last is cut by the horizon); last, each campaign's product
    exchanged for each other of the suite's ``products`` (its weeks kept). Not checked against the lengths
    (:meth:`SuiteGrid.valid`)."""
    starts = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    ends = np.r_[starts[1:], len(row)]
    merged, swapped, shifted, exchanged = [], [], [], []
    for a, e in zip(starts.tolist(), ends.tolist()):
        if a + 1 < len(row) and (a > 0 or e < len(row)):
            new = row.copy()
            new[a] = row[a - 1] if a > 0 else row[e]
            new[a + 1:min(a + 1 + max(e - a, shortest), len(row))] = row[a]
            shifted.append(new)
    for q in ([] if products is None else products.tolist()):
        for week in (0, len(row) - 1):
            if row[week] != q:
                new = row.copy()
                new[week] = q
                shifted.append(new)
        for a, e in zip(starts.tolist(), ends.tolist()):
            if row[a] != q:
                new = row.copy()
                new[a:e] = q
                exchanged.append(new)
    for i in range(1, len(starts)):
        a, b, c = starts[i - 1], starts[i], ends[i]
        new = row.copy()
        new[b:c] = row[a]
        merged.append(new)
        new = row.copy()
        new[a:a + c - b], new[a + c - b:c] = row[b], row[a]
        swapped.append(new)
        for to in (b - 1, b + 1):
            if starts[i - 1] < to < c:
                new = row.copy()
                new[min(b, to):max(b, to)] = row[b] if to < b else row[a]
                shifted.append(new)
    return merged + swapped + shifted + exchanged


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
