"""Weekly demand from clean orders, and the series frame contract (``unique_id, ds, y``).

Demand history is the quantity customers requested per product × DC × ISO week (Monday), cancelled lines
left out, for the weeks strictly before the run's week; booked orders for the run's week onwards are
future demand, kept apart.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from data_contracts import schema

__all__ = ["weekly_demand", "future_orders", "to_series", "from_series", "run_week", "SEP"]

#: Separator of product and site in a series id (``"P1|DC1"``).
SEP = "|"
_CANCELLED = "cancelled"


def run_week(run_date: date) -> date:
    """Monday of ``run_date``'s ISO week: the first week that is not history."""
    return run_date - timedelta(days=run_date.weekday())


def _booked(orders: pl.DataFrame) -> pl.LazyFrame:
    """Non-cancelled order lines with their week normalised to its Monday (absent status = open)."""
    return (
        orders.lazy()
        .filter(pl.col("status").fill_null("open") != _CANCELLED)
        .with_columns(week=pl.col("requested_week").dt.truncate("1w"))
    )


def _by_week(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by("product_id", "site_id", "week").agg(pl.col("quantity").sum())


def weekly_demand(orders: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Weekly demand history per product × DC from clean orders.

    Args:
        orders: clean orders (``schema.ORDERS`` columns, one row per order_id: its latest version).
        run_date: date the run plans from; history is every week strictly before its ISO week's Monday.

    Returns:
        ``product_id, site_id, week, quantity`` (``schema.DEMAND_HISTORY`` minus ``run_id``), one row per
        series and week from the series' first week with demand to the last history week, sorted.
    """
    last = run_week(run_date) - timedelta(weeks=1)
    booked = _by_week(_booked(orders).filter(pl.col("week") <= last)).collect()
    starts = (
        booked.filter(pl.col("quantity") > 0)
        .group_by("product_id", "site_id")
        .agg(start=pl.col("week").min())
    )
    # Zero-fill only inside a series' life: a week with no orders between the first demand and the last
    # history week really had zero demand. Weeks before the first demand are not zeros: the product was
    # not sold there yet, and zeros would drag the level and fake intermittency.
    grid = starts.with_columns(
        week=pl.date_ranges(pl.col("start"), pl.lit(last), interval="1w")
    ).explode("week").drop("start")
    out = (
        grid.join(booked, on=["product_id", "site_id", "week"], how="left", validate="1:1")
        .with_columns(pl.col("quantity").fill_null(0.0).cast(pl.Float64))
        .sort("product_id", "site_id", "week")
    )
    return out.select(c for c in schema.DEMAND_HISTORY.column_names if c != "run_id")


def future_orders(orders: pl.DataFrame, run_date: date) -> pl.DataFrame:
    """Booked demand for the run's week and later (same columns as :func:`weekly_demand`, no zero-fill).

    A week absent from the result has no booked orders yet: that is not a forecast of zero.
    """
    first = run_week(run_date)
    return (
        _by_week(_booked(orders).filter(pl.col("week") >= first))
        .with_columns(pl.col("quantity").cast(pl.Float64))
        .sort("product_id", "site_id", "week")
        .select("product_id", "site_id", "week", "quantity")
        .collect()
    )


def to_series(
    demand: pl.DataFrame,
    product_col: str = "product_id",
    site_col: str = "site_id",
    week_col: str = "week",
    value_col: str = "quantity",
) -> pl.DataFrame:
    """Demand (product, site, week, quantity) → series frame ``unique_id ("product|site"), ds, y``."""
    bad = demand.filter(
        pl.col(product_col).str.contains(SEP, literal=True) | pl.col(site_col).str.contains(SEP, literal=True)
    )
    if bad.height:
        keys = bad.select(product_col, site_col).unique().head(5).rows()
        raise ValueError(f"ids may not contain {SEP!r} (it separates product and site): {keys}")
    return demand.select(
        unique_id=pl.concat_str(pl.col(product_col), pl.col(site_col), separator=SEP),
        ds=pl.col(week_col),
        y=pl.col(value_col).cast(pl.Float64),
    ).sort("unique_id", "ds")


def from_series(
    frame: pl.DataFrame,
    id_col: str = "unique_id",
    product_col: str = "product_id",
    site_col: str = "site_id",
) -> pl.DataFrame:
    """Split ``unique_id`` ("product|site") back into product and site columns, placed first."""
    parts = pl.col(id_col).str.split_exact(SEP, 1)
    rest = [c for c in frame.columns if c != id_col]
    return frame.select(
        parts.struct.field("field_0").alias(product_col),
        parts.struct.field("field_1").alias(site_col),
        *rest,
    )
