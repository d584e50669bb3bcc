"""Far weeks in longer buckets: a smaller LP for the weeks a plan only needs roughly, the tables still weekly.

With ``PlanConfig.bucket_after_weeks`` set, the first weeks stay weekly — at least the frozen weeks and the
longest release + transit lag, so every decision new supply can still change in time is exact — and the
weeks after them are grouped into buckets of ``bucket_weeks`` (a week whose hours differ from its bucket's
first week on any resource starts a new bucket, so a bucket's weeks are alike). In the bucketed model
(:class:`~optimization.timegrid.TimeGrid`, :func:`~optimization.network.on_grid`):

* a bucket's hours, lane capacity and demand are its weeks' sums; its safety-stock target their mean;
  holding, backlog and safety-stock penalties count per unit-week, so a bucket's cost its weeks';
* every event of a bucket happens at its first week; a release or transit lag lands at the first bucket
  starting at or after the lag (never early), a unit is usable through the last bucket ending by its last
  usable week (never past its shelf life) — cautious rounding: the bucketed objective is at or above the
  exact one in the usual case, and the comparison is printed by ``bench/plan_stage.py``.

The plan is then expanded back to weeks (:func:`expand_tables`): a bucket's flows (production, hours,
shipments, releases, arrivals, sales, write-offs, demand) are spread evenly over its weeks — the j-th week
of a bucket's start is released or arrives in the j-th week of the bucket the model put it in — and the
stock and backlog levels move in equal steps from the previous bucket's close to the bucket's, so every
weekly balance holds, no level is negative and no week uses more hours than it has.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from data_contracts import schema
from optimization.config import PlanConfig
from optimization.network import Network
from optimization.timegrid import WEEKLY, TimeGrid

__all__ = ["bucket_grid", "expand_tables", "to_buckets"]

PST = ["product_id", "site_id", "t"]


def bucket_grid(net: Network, config: PlanConfig) -> TimeGrid:
    """The time axis ``config`` asks for on ``net`` (:data:`~optimization.timegrid.WEEKLY` if none).

    Weeks before ``max(bucket_after_weeks, frozen_weeks, longest release + transit lag)`` stay weekly; the
    rest are grouped ``bucket_weeks`` at a time, a change of any resource's hours starting a new bucket.
    A MIP or a network with campaign resources keeps weekly buckets (campaign lengths count weeks).
    """
    if config.bucket_after_weeks is None or config.mip or net.has_campaigns:
        return WEEKLY
    lag = int(net.replenishment_weeks["weeks"].max() or 0) if net.replenishment_weeks.height else 0
    cutoff = max(config.bucket_after_weeks, config.frozen_weeks, lag)
    alike = (
        net.hours.sort("t", "resource_id")
        .group_by("t", maintain_order=True)
        .agg(pl.col("hours_available"))
        .sort("t")["hours_available"]
        .to_list()
    )
    starts, t = list(range(min(cutoff, net.horizon))), min(cutoff, net.horizon)
    while t < net.horizon:  # the grid has at most `horizon` weeks: a loop over weeks, not rows
        starts.append(t)
        n = 1
        while n < config.bucket_weeks and t + n < net.horizon and alike[t + n] == alike[t]:
            n += 1
        t += n
    if len(starts) == net.horizon:
        return WEEKLY
    return TimeGrid(tuple(starts), net.horizon)


def to_buckets(frame: pl.DataFrame, grid: TimeGrid, value: str, how: str = "sum") -> pl.DataFrame:
    """``product_id, site_id, t, value`` by week → by bucket: the weeks' sum (demand) or mean (targets)."""
    if not grid.bucketed:
        return frame
    agg = pl.col(value).sum() if how == "sum" else pl.col(value).mean()
    return (
        frame.with_columns(t=grid.containing(pl.col("t")))
        .group_by(PST)
        .agg(agg)
        .sort(PST)
        .select(frame.columns)
    )


def _weeks(grid: TimeGrid, start: date) -> pl.DataFrame:
    """``bucket_week, week, j, length``: each week's Monday beside its bucket's first Monday."""
    monday = pl.lit(start) + pl.duration(weeks=pl.col("w"))
    return (
        grid.week_buckets()
        .join(grid.frame().select("t", "first"), on="t", validate="m:1")
        .select(
            bucket_week=pl.lit(start) + pl.duration(weeks=pl.col("first")),
            week=monday,
            j="j",
            length="length",
        )
    )


def _spread(frame: pl.DataFrame, weeks: pl.DataFrame, flows: list[str]) -> pl.DataFrame:
    """Each bucket row as one row per week of its bucket, its ``flows`` divided evenly."""
    return (
        frame.rename({"week": "bucket_week"})
        .join(weeks, on="bucket_week", how="inner", validate="m:m")
        .with_columns(pl.col(flows) / pl.col("length"))
    )


def _later(frame: pl.DataFrame, col: str) -> pl.DataFrame:
    """``col`` (the first week's release or arrival) moved by the row's week ``j`` in its bucket."""
    return frame.with_columns(pl.col(col) + pl.duration(weeks=pl.col("j")))


def expand_tables(
    tables: dict[str, pl.DataFrame], grid: TimeGrid, start: date, safety: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The bucketed plan's tables (``week`` = a bucket's first Monday) as weekly tables (see the module).

    Args:
        tables: :func:`~optimization.results.plan_tables` of the bucketed model.
        grid: its time axis.
        start: Monday of week 0.
        safety: ``product_id, site_id, week, safety_stock``: the weekly targets, shown per week (the
            shortfall column is then the week's target above its closing stock).
    """
    if not grid.bucketed:
        return tables
    weeks = _weeks(grid, start)
    out = dict(tables)
    prod = _spread(tables[schema.PLAN_PRODUCTION.name], weeks, ["quantity", "released_quantity", "batches",
                                                               "hours", "cost"])
    out[schema.PLAN_PRODUCTION.name] = _later(prod, "release_week")
    ship = _spread(tables[schema.PLAN_SHIPMENTS.name], weeks, ["quantity", "cost"])
    out[schema.PLAN_SHIPMENTS.name] = _later(ship, "arrival_week")
    out[schema.PLAN_EXPIRY.name] = _spread(tables[schema.PLAN_EXPIRY.name], weeks, ["quantity", "cost"])
    out[schema.PLAN_CAPACITY.name] = _spread(tables[schema.PLAN_CAPACITY.name], weeks,
                                             ["hours_used", "hours_available"])
    out[schema.PLAN_INVENTORY.name] = _inventory(tables[schema.PLAN_INVENTORY.name], weeks, safety)
    out[schema.PLAN_BACKLOG.name] = _backlog(tables[schema.PLAN_BACKLOG.name], weeks)
    for name, frame in out.items():
        if name in tables and frame is not tables[name]:
            key = [c for c in schema.table(name).key if c in frame.columns]
            out[name] = frame.select(tables[name].columns).sort(key)
    return out


def _steps(low: pl.Expr, high: pl.Expr, upto: pl.Expr) -> pl.Expr:
    """A level ``upto`` of the way (in weeks of the bucket) from ``low`` to ``high``."""
    return low + (high - low) * upto / pl.col("length")


def _inventory(frame: pl.DataFrame, weeks: pl.DataFrame, safety: pl.DataFrame) -> pl.DataFrame:
    flows = ["released", "receipts", "arrivals", "departures", "served", "consumed", "expired"]
    wide = _spread(frame, weeks, flows).with_columns(
        opening=_steps(pl.col("opening"), pl.col("closing"), pl.col("j")),
        closing=_steps(pl.col("opening"), pl.col("closing"), pl.col("j") + 1),
    )
    targets = safety.select("product_id", "site_id", "week", pl.col("safety_stock").alias("_ss"))
    return (
        wide.join(targets, on=["product_id", "site_id", "week"], how="left", validate="1:1")
        .with_columns(safety_stock=pl.col("_ss").fill_null(0.0))  # no target that week: none
        .with_columns(
            safety_shortfall=(pl.col("safety_stock") - pl.col("closing")).clip(lower_bound=0.0)
        )
    )


def _backlog(frame: pl.DataFrame, weeks: pl.DataFrame) -> pl.DataFrame:
    before = pl.col("backlog") - pl.col("demand") + pl.col("served") + pl.col("lost")
    return (
        frame.with_columns(_before=before)
        .pipe(_spread, weeks, ["demand", "served", "lost"])
        .with_columns(backlog=_steps(pl.col("_before"), pl.col("backlog"), pl.col("j") + 1))
    )
