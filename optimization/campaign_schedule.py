"""The suites' schedules as arrays: the campaign resources' weeks, a planner's rotation, a schedule's moves.

:class:`SuiteGrid` holds which product each campaign suite is set up for, week by week, and what a schedule
must respect (the relaxation's hours, the campaign lengths, the weeks with room for a changeover); it turns
setups into a schedule and back and checks one suite's weeks. :func:`rotation_setups` is a planner's rotation
and :func:`schedule_moves` one suite's neighbours. The start (:mod:`optimization.campaign_start`) and the
search (:mod:`optimization.campaign_search`) read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["SuiteGrid", "rotation_setups", "schedule_moves"]


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
        :func:`~optimization.campaign_start.sequenced_setups` takes it."""
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
