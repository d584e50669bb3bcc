"""Far weeks in longer buckets: a smaller LP for the weeks a plan only needs roughly, the tables still weekly.

With ``PlanConfig.bucket_after_weeks`` set, the first weeks stay weekly — at least the frozen weeks and the
longest release + transit lag, so every decision new supply can still change in time is exact — and the
weeks after them are grouped ``bucket_weeks`` at a time. In the bucketed model
(:class:`~optimization.timegrid.TimeGrid`, :func:`~optimization.network.on_grid`):

* a bucket's hours, lane capacity and demand are its weeks' sums; its safety-stock target their mean;
* what a bucket starts or ships is spread evenly over its weeks and each week's share is released or
  arrives its own lag later, in the bucket holding that week (:func:`~optimization.network_cohorts.releases`);
  a unit is usable in every bucket whose middle week its shelf life reaches;
* a level closing a bucket (stock, backlog, safety shortfall) is charged for the weeks the weekly plan
  below holds it (:meth:`~optimization.timegrid.TimeGrid.level_weeks`).

Inside a bucket the order of its weeks is not seen (it pools their hours and demand): the approximation,
measured against the exact model by ``bench/plan_stage.py --kinds buckets``.

The plan is expanded back to weeks (:func:`expand_tables`): production and hours split over a bucket's weeks
by each resource's weekly hours (``release_week`` each week's own lag later); shipments, the stock table's
flows, write-offs and demand spread evenly (``arrival_week`` each week's own lead time later); stock and
backlog levels move in equal steps from the previous bucket's close to the bucket's. So every weekly
balance holds, no level is negative and no week uses more hours than it has; the stock table's ``released``
is the bucket's output spread evenly, not the weekly production's own release weeks.
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
    rest are grouped ``bucket_weeks`` at a time (the last bucket may be shorter). A MIP or a network with
    campaign resources keeps weekly buckets (campaign lengths count weeks).
    """
    if config.bucket_after_weeks is None or config.mip or net.has_campaigns:
        return WEEKLY
    lag = int(net.replenishment_weeks["weeks"].max() or 0) if net.replenishment_weeks.height else 0
    cutoff = min(max(config.bucket_after_weeks, config.frozen_weeks, lag), net.horizon)
    starts = [*range(cutoff), *range(cutoff, net.horizon, config.bucket_weeks)]
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


def _by_hours(frame: pl.DataFrame, weeks: pl.DataFrame, hours: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """Each bucket row of a resource as one row per week, ``cols`` split by the resource's weekly hours
    (evenly where the bucket has none), so no week uses more hours than it has."""
    weekly = hours.select("resource_id", "week", _h="hours_available")
    total = (
        weekly.join(weeks.select("week", "bucket_week"), on="week", validate="m:1")
        .group_by("resource_id", "bucket_week")
        .agg(pl.col("_h").sum().alias("_hb"))
    )
    share = pl.when(pl.col("_hb") > 0).then(pl.col("_h") / pl.col("_hb")).otherwise(1.0 / pl.col("length"))
    return (
        _spread(frame, weeks, [])
        .join(weekly, on=["resource_id", "week"], how="left", validate="m:1")
        .join(total, on=["resource_id", "bucket_week"], how="left", validate="m:1")
        .with_columns(pl.col(cols) * share)
    )


def expand_tables(
    tables: dict[str, pl.DataFrame], grid: TimeGrid, start: date, safety: pl.DataFrame, hours: pl.DataFrame
) -> dict[str, pl.DataFrame]:
    """The bucketed plan's tables (``week`` = a bucket's first Monday) as weekly tables (see the module).

    Args:
        tables: :func:`~optimization.results.plan_tables` of the bucketed model.
        grid: its time axis.
        start: Monday of week 0.
        safety: ``product_id, site_id, week, safety_stock``: the weekly targets, shown per week (the
            shortfall column is then the week's target above its closing stock).
        hours: ``resource_id, week, hours_available`` per week: production and hours used are split over a
            bucket's weeks by each resource's hours (a shutdown week gets none).
    """
    if not grid.bucketed:
        return tables
    weeks = _weeks(grid, start)
    out = dict(tables)
    prod = _by_hours(tables[schema.PLAN_PRODUCTION.name], weeks, hours,
                     ["quantity", "released_quantity", "batches", "hours", "cost"])
    out[schema.PLAN_PRODUCTION.name] = _later(prod, "release_week")
    ship = _spread(tables[schema.PLAN_SHIPMENTS.name], weeks, ["quantity", "cost"])
    out[schema.PLAN_SHIPMENTS.name] = _later(ship, "arrival_week")
    out[schema.PLAN_EXPIRY.name] = _spread(tables[schema.PLAN_EXPIRY.name], weeks, ["quantity", "cost"])
    out[schema.PLAN_CAPACITY.name] = (
        _by_hours(tables[schema.PLAN_CAPACITY.name], weeks, hours, ["hours_used"])
        .with_columns(hours_available=pl.col("_h"))
        .with_columns(
            utilisation=pl.when(pl.col("hours_available") > 0).then(
                pl.col("hours_used") / pl.col("hours_available")
            )
        )
    )
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
