"""The planning model's time axis: weekly buckets, or the first weeks weekly and longer buckets after them.

A :class:`TimeGrid` turns week offsets (weeks from the start week) into bucket indices ``t`` and back, as
polars expressions, so the variable and constraint families write ``t + lag`` the same way on both axes.
On the weekly grid (:data:`WEEKLY`) every expression is the identity: the model is the exact weekly one.

On a bucketed grid (:func:`optimization.buckets.bucket_grid`) the model spreads what a bucket starts or ships
evenly over its weeks (:func:`optimization.network_cohorts.releases`,
:func:`~optimization.network_cohorts.arrivals`): each week's share lands in the bucket holding that week plus
the lag (:meth:`TimeGrid.containing`), so a lag is neither rounded up nor down; a unit last usable in week
``u`` is usable in every bucket whose middle week is at most ``u`` (:meth:`TimeGrid.usable_through`). All of
it is exact on weekly buckets, so the weeks before the first long bucket keep every lag and shelf life.

Week offsets past the horizon map to ``buckets + (offset − horizon weeks)``, so "released after the
horizon" stays ``>= horizon`` on both axes; negative offsets stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["NEVER", "WEEKLY", "TimeGrid"]

#: Cohort of stock that does not expire within the horizon (also in :mod:`optimization.network`).
NEVER = 1_000_000


@dataclass(frozen=True)
class TimeGrid:
    """Buckets over the horizon's weeks; ``starts`` None = one bucket per week.

    Attributes:
        starts: week offset of each bucket's first week, ascending from 0 (None: weekly).
        weeks: weeks in the horizon (the sum of the buckets' lengths).
    """

    starts: tuple[int, ...] | None = None
    weeks: int = 0

    @property
    def bucketed(self) -> bool:
        """Whether any bucket is longer than a week."""
        return self.starts is not None

    @property
    def lengths(self) -> tuple[int, ...]:
        """Weeks in each bucket."""
        assert self.starts is not None
        ends = (*self.starts[1:], self.weeks)
        return tuple(e - s for s, e in zip(self.starts, ends, strict=True))

    def frame(self) -> pl.DataFrame:
        """``t, first, length``: each bucket's index, first week offset and weeks."""
        assert self.starts is not None
        return pl.DataFrame(
            {"t": range(len(self.starts)), "first": self.starts, "length": self.lengths},
            schema={"t": pl.Int64, "first": pl.Int64, "length": pl.Int64},
        )

    def week_buckets(self) -> pl.DataFrame:
        """``w, t, j, length``: every week offset of the horizon, its bucket and its place in the bucket."""
        return (
            self.frame()
            .with_columns(w=pl.int_ranges("first", pl.col("first") + pl.col("length"), dtype=pl.Int64))
            .explode("w")
            .select("w", "t", j=pl.col("w") - pl.col("first"), length="length")
        )

    def first(self, t: pl.Expr) -> pl.Expr:
        """Week offset of bucket ``t``'s first week."""
        if self.starts is None:
            return t
        nb = len(self.starts)
        return (
            pl.when(t < 0).then(t)
            .when(t >= nb).then(self.weeks + t - nb)
            .otherwise(pl.lit(pl.Series(self.starts, dtype=pl.Int64)).gather(t.clip(0, nb - 1)))
        )

    def length(self, t: pl.Expr) -> pl.Expr:
        """Weeks in bucket ``t`` (1 on the weekly grid and outside the horizon)."""
        if self.starts is None:
            return pl.lit(1, pl.Int64)
        nb = len(self.starts)
        inside = pl.lit(pl.Series(self.lengths, dtype=pl.Int64)).gather(t.clip(0, nb - 1))
        return pl.when((t >= 0) & (t < nb)).then(inside).otherwise(1)

    def level_weeks(self, t: pl.Expr) -> pl.Expr:
        """Weeks a level closing bucket ``t`` (stock, backlog) is counted for, as the weekly plan holds it.

        The weekly plan's level moves in equal steps from the previous bucket's close to the bucket's
        (:func:`optimization.buckets.expand_tables`), so its weeks sum ``(n+1)/2`` of the close and
        ``(n−1)/2`` of the previous close (``n`` the bucket's weeks): a close counts ``(n_t+1)/2 +
        (n_{t+1}−1)/2`` weeks, 1 on the weekly grid — a level's cost is then the weekly plan's.
        """
        if self.starts is None:
            return pl.lit(1.0)
        return (self.length(t) + 1) / 2 + (self.length(t + 1) - 1) / 2

    def _map(self, weeks: pl.Expr, table: list[int]) -> pl.Expr:
        nb = len(self.starts or ())
        return (
            pl.when(weeks < 0).then(weeks)
            .when(weeks >= self.weeks).then(nb + weeks - self.weeks)
            .otherwise(pl.lit(pl.Series(table, dtype=pl.Int64)).gather(weeks.clip(0, self.weeks - 1)))
        )

    def containing(self, weeks: pl.Expr) -> pl.Expr:
        """Bucket holding week offset ``weeks``."""
        if self.starts is None:
            return weeks
        return self._map(weeks, [t for t, n in enumerate(self.lengths) for _ in range(n)])

    def usable_through(self, last_week: pl.Expr) -> pl.Expr:
        """Last bucket whose middle week is at most week offset ``last_week`` (:data:`NEVER` stays)."""
        if self.starts is None:
            return last_week
        middles = [s + (n - 1) // 2 for s, n in zip(self.starts, self.lengths, strict=True)]
        table = [sum(m <= w for m in middles) - 1 for w in range(self.weeks)]
        return pl.when(last_week >= NEVER).then(NEVER).otherwise(self._map(last_week, table))


#: One bucket per week: the exact weekly model.
WEEKLY = TimeGrid()
