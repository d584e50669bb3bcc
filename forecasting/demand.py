"""Weekly demand from clean orders, and the series frame contract (``unique_id, ds, y``).

Demand history is the quantity customers requested per product × DC × ISO week (Monday), cancelled lines
left out, for the weeks strictly before the run's week; booked orders for the run's week onwards are
future demand, kept apart (:func:`future_orders`): they consume the forecast in the plan's demand
(:func:`forecasting.consensus.consume_forecast`).

Missing is not zero: a week touched by a quarantined order line, and the last history week when the
extract ends inside it (its latest ``order_date`` falls before that week's Sunday), did not have the demand
the clean orders show. Such weeks are imputed, not left as what survived: the mean of the series' last
``IMPUTE_WEEKS`` complete weeks (the mean of all its complete weeks when none precede; the week's own
surviving demand when the series has no complete week at all), so the forecaster neither sees a fake
drop nor stops at a gap.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from data_contracts import schema

__all__ = ["weekly_demand", "missing_weeks", "quarantined_orders", "future_orders", "to_series", "from_series", "run_week", "SEP",
           "IMPUTE_WEEKS"]

#: Separator of product and site in a series id (``"P1|DC1"``).
SEP = "|"
_CANCELLED = "cancelled"
#: Complete weeks before a missing one whose mean imputes it.
IMPUTE_WEEKS = 8


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


def quarantined_orders(quarantine: pl.DataFrame, entity: str = "orders") -> pl.DataFrame:
    """``product_id, site_id, week, quantity`` of the order lines the contracts rejected, from the JSON of
    their values (``schema.QUARANTINE.row_values``); a value that does not parse is null, a decimal comma
    in the quantity is read as a point (the usual reason such a line is rejected)."""
    fields = pl.Struct({"product_id": pl.String, "site_id": pl.String, "requested_week": pl.String,
                        "quantity": pl.String})
    rows = quarantine.filter(pl.col("entity") == entity).select(
        "source_row", pl.col("row_values").str.json_decode(fields).alias("v")
    ).unique("source_row").unnest("v")  # a line breaking two rules is quarantined twice
    return rows.select(
        "product_id", "site_id",
        week=pl.col("requested_week").str.slice(0, 10).str.to_date(strict=False),
        quantity=pl.col("quantity").str.replace(",", ".", literal=True).cast(pl.Float64, strict=False),
    )


def missing_weeks(
    orders: pl.DataFrame, run_date: date, quarantined: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Weeks of history whose demand is not fully known, with the reason.

    Args:
        orders: clean orders (their latest ``order_date`` is where the extract ends).
        run_date: date the run plans from.
        quarantined: ``product_id, site_id, week`` of order lines the contracts rejected (a null key
            or week cannot be placed and is left out).

    Returns:
        ``product_id, site_id, week, reason`` (``quarantined`` / ``partial_week``), one row per key.
    """
    last = run_week(run_date) - timedelta(weeks=1)
    parts = []
    if quarantined is not None and quarantined.height:
        parts.append(
            quarantined.select(
                "product_id", "site_id", pl.col("week").cast(pl.Date).dt.truncate("1w"),
                reason=pl.lit("quarantined"),
            ).drop_nulls().filter(pl.col("week") <= last)
        )
    end = orders.get_column("order_date").max() if orders.height else None
    if end is not None and last <= end < last + timedelta(days=6):  # the extract stops inside the last week
        keys = _booked(orders).select("product_id", "site_id").unique().collect()
        parts.append(keys.with_columns(week=pl.lit(last), reason=pl.lit("partial_week")))
    if not parts:
        return pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                    "reason": pl.String})
    return pl.concat(parts).unique(["product_id", "site_id", "week"], keep="first", maintain_order=True).sort(
        "product_id", "site_id", "week"
    )


def weekly_demand(orders: pl.DataFrame, run_date: date, missing: pl.DataFrame | None = None) -> pl.DataFrame:
    """Weekly demand history per product × DC from clean orders.

    Args:
        orders: clean orders (``schema.ORDERS`` columns, one row per order_id: its latest version).
        run_date: date the run plans from; history is every week strictly before its ISO week's Monday.
        missing: ``product_id, site_id, week`` whose demand is not fully known (:func:`missing_weeks`):
            imputed as the module docstring says, never zero-filled.

    Returns:
        ``product_id, site_id, week, quantity`` (``schema.DEMAND_HISTORY`` minus ``run_id``), one row per
        series and week from the series' first week with demand to the last history week, sorted.
    """
    last = run_week(run_date) - timedelta(weeks=1)
    booked = _by_week(_booked(orders).filter(pl.col("week") <= last)).collect()
    keys = ["product_id", "site_id", "week"]
    gaps = (
        missing.select(keys).unique().with_columns(missing=pl.lit(True))
        if missing is not None and missing.height
        else pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                  "missing": pl.Boolean})
    )
    # a gap belongs to a series the clean orders know: lines of an unknown product or DC (quarantined as
    # such) make no series of their own
    sold = booked.filter(pl.col("quantity") > 0)
    gaps = gaps.join(sold.select("product_id", "site_id").unique(), on=["product_id", "site_id"], how="semi")
    starts = (
        pl.concat([sold.select(keys), gaps.select(keys)])
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
        grid.join(booked, on=keys, how="left", validate="1:1")
        .join(gaps, on=keys, how="left", validate="1:1")
        .with_columns(pl.col("quantity").fill_null(0.0).cast(pl.Float64), pl.col("missing").fill_null(False))
        .sort(keys)
    )
    if gaps.height:
        out = _impute(out)
    return out.select(c for c in schema.DEMAND_HISTORY.column_names if c != "run_id")


def _impute(frame: pl.DataFrame) -> pl.DataFrame:
    """Replace the quantity of ``missing`` weeks (module docstring); complete weeks are kept."""
    series = ["product_id", "site_id"]
    known = pl.when(~pl.col("missing")).then(pl.col("quantity"))
    # mean of the complete weeks among the IMPUTE_WEEKS rows before (missing rows are null and skipped)
    recent = known.rolling_mean(IMPUTE_WEEKS, min_samples=1).shift(1).forward_fill().over(series)
    overall = known.mean().over(series)
    value = pl.coalesce(recent, overall, pl.col("quantity"))
    return frame.with_columns(
        quantity=pl.when(pl.col("missing")).then(value).otherwise(pl.col("quantity"))
    )


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
