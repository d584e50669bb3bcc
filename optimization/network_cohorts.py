"""The cohort rules: the cohort a unit carries, and where starts' output and shipments land in time.

A unit released fresh in week ``t`` carries the cohort ``t + L - 1`` (:func:`cohort_of`; :data:`NEVER` when it
cannot expire within the horizon), its life counted from its start or its release (:func:`life_start`); a
start's good output is released (:func:`releases`) and a shipment arrives (:func:`arrivals`) spread over the
buckets of a :class:`~optimization.timegrid.TimeGrid`; :func:`arrive_by` is the last week a cohort may arrive
at a site. Read by the network (:mod:`optimization.network`), its inputs and reach, the variables and the
twin.
"""

from __future__ import annotations

import polars as pl

from optimization.timegrid import NEVER, TimeGrid

__all__ = ["arrive_by", "arrivals", "cohort_of", "life_start", "releases"]


def cohort_of(t: pl.Expr) -> pl.Expr:
    """Cohort of units released fresh in week ``t`` (needs ``shelf_life_weeks`` and ``cohort_cap``)."""
    u = t + pl.col("shelf_life_weeks") - 1
    return (
        pl.when(pl.col("shelf_life_weeks").is_null() | (u >= pl.col("cohort_cap"))).then(NEVER).otherwise(u)
    )


def life_start(start: pl.Expr, release: pl.Expr) -> pl.Expr:
    """Week a unit's shelf life counts from: its start (manufacture) or its release, by ``shelf_life_from``."""
    return pl.when(pl.col("shelf_life_from") == "release").then(release).otherwise(start)


def _weeks_of(frame: pl.DataFrame, grid: TimeGrid) -> pl.DataFrame:
    """Each row once per week ``_w`` of its bucket ``t``, with ``share`` = 1 / the bucket's weeks."""
    if not grid.bucketed:
        return frame.with_columns(_w=pl.col("t"), share=pl.lit(1.0))
    return (
        frame.with_columns(_j=pl.int_ranges(0, grid.length(pl.col("t")), dtype=pl.Int64))
        .explode("_j")
        .with_columns(_w=grid.first(pl.col("t")) + pl.col("_j"), share=1.0 / grid.length(pl.col("t")))
        .drop("_j")
    )


def releases(frame: pl.DataFrame, grid: TimeGrid, horizon: int, keep: list[str]) -> pl.DataFrame:
    """Where the good output of starts lands: per start, release bucket and cohort, the ``share`` landing there.

    A start in bucket ``t`` is spread evenly over the bucket's weeks; each week's output is released
    ``release_weeks`` later, in the bucket holding that week, and is usable through the last bucket whose
    middle week its life reaches (:class:`TimeGrid`). On the weekly grid: one row, share 1.

    Args:
        frame: ``t, release_weeks, shelf_life_weeks, cohort_cap, shelf_life_from`` and the ``keep`` columns.
        keep: columns identifying the start (kept, grouped by).

    Returns:
        ``keep, release_t, cohort, pipeline, share``: ``cohort`` null when released after the horizon or
        expired before its release; ``pipeline`` for output released after the horizon still usable then.
    """
    week = pl.col("_w")
    release = week + pl.col("release_weeks")
    pieces = _weeks_of(frame, grid).with_columns(
        release_t=grid.containing(release),
        _u=grid.usable_through(cohort_of(life_start(week, release))),
    )
    return (
        pieces.with_columns(
            cohort=pl.when((pl.col("release_t") < horizon) & (pl.col("_u") >= pl.col("release_t"))).then("_u"),
            pipeline=(pl.col("release_t") >= horizon) & (pl.col("_u") >= pl.col("release_t")),
        )
        .group_by(*keep, "release_t", "cohort", "pipeline", maintain_order=True)
        .agg(pl.col("share").sum())
    )


def arrivals(frame: pl.DataFrame, grid: TimeGrid, keep: list[str]) -> pl.DataFrame:
    """Where shipments leaving in bucket ``t`` arrive: ``keep, arrival, share`` (spread like :func:`releases`).

    Args:
        frame: ``t, lead_time_weeks`` and the ``keep`` columns.
    """
    return (
        _weeks_of(frame, grid)
        .with_columns(arrival=grid.containing(pl.col("_w") + pl.col("lead_time_weeks")))
        .group_by(*keep, "arrival", maintain_order=True)
        .agg(pl.col("share").sum())
    )


def arrive_by(share: float, horizon: int) -> pl.Expr:
    """Last week a unit of ``cohort`` may arrive at ``site_type``'s site by lane.

    It must still be usable (``t <= cohort``) and, at a DC, keep at least ``share`` of its shelf life:
    ``cohort - t + 1 >= share * shelf_life_weeks``. Needs ``cohort, site_type, shelf_life_weeks``.
    """
    usable = pl.min_horizontal(pl.col("cohort"), pl.lit(horizon - 1))
    dc_rule = (pl.col("cohort") + 1 - share * pl.col("shelf_life_weeks")).floor().cast(pl.Int64)
    needs_rule = (
        (pl.col("site_type") == "dc") & pl.col("shelf_life_weeks").is_not_null() & (pl.col("cohort") < NEVER)
    )
    return pl.when(needs_rule).then(pl.min_horizontal(usable, dc_rule)).otherwise(usable)
