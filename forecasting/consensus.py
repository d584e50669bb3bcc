"""Consensus demand that keeps the forecast's uncertainty.

A planner's consensus quantity (``--demand``) replaces the statistical mean; its quantiles are the
forecast's error distribution applied to it. The spread is taken as relative to the level (errors of
demand grow with it): ``q' = consensus × q / mean``. Where the statistical mean is zero (nothing
forecast, a ratio cannot carry over) the absolute offsets are kept: ``q' = q + (consensus − mean)``.
Product × site × weeks without a consensus quantity keep the statistical forecast.

Booked orders consume the forecast (:func:`consume_forecast`): a week's demand is the larger of the forecast
and the orders already booked for it. Where the orders add units, every quantile moves up by those units
(``q' = q + booked − mean``): the forecast's spread in units, not scaled with the level. Firm orders are not
forecast error: scaled, a firm order ten times the forecast made the week's safety stock ten times the
forecast's, and left the lower quantiles (a mostly-zero series' median) below the orders themselves. A week
without booked orders keeps the forecast; a series with booked orders and no forecast gets them as its
demand, with no spread (firm orders, no forecast error to carry). ``forecast.booked_band`` records the rule
a row was raised by (``shifted``; ``scaled``, the level's ratio, in runs stored before), so that
:func:`forecast_part` and the ``forecast_vs_actual`` view take each row's orders out exactly.

A what-if that changes demand changes the forecast, not the booked orders (:func:`forecast_part` takes the
orders out again, the change applies to what is left, and they consume the changed forecast): firm orders
are firm, so +20% raises a week to max(1.2 × forecast, booked), never to 1.2 × booked.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["rebase_forecast", "consume_forecast", "forecast_part", "BOOKED_MODEL", "SHIFTED", "SCALED"]

BOOKED_MODEL = schema.BOOKED_MODEL
#: ``forecast.booked_band``: the quantiles of a week the orders raised moved up by the units added, or (runs
#: stored before the shift, the migration's backfill) scaled by the raised mean over the forecaster's
SHIFTED, SCALED = schema.BOOKED_SHIFTED, schema.BOOKED_SCALED


def rebase_forecast(
    forecast: pl.DataFrame,
    consensus: pl.DataFrame,
    quantiles: tuple[float, ...] = schema.QUANTILES,
    keys: tuple[str, ...] = ("product_id", "site_id", "week"),
    value_col: str = "quantity",
) -> pl.DataFrame:
    """The forecast with ``mean`` set to the consensus and its quantiles moved with it.

    Args:
        forecast: ``keys``, ``mean`` and the quantile columns (+ any, kept).
        consensus: ``keys`` and ``value_col``, one row per key (a duplicate raises).
        quantiles: levels whose columns are moved.

    Returns:
        ``forecast``'s rows and columns; rows with a consensus carry it as ``mean``.
    """
    keys = list(keys)
    joined = forecast.join(consensus.select(*keys, pl.col(value_col).cast(pl.Float64).alias("_c")),
                           on=keys, how="left", validate="1:1")
    has, mean, c = pl.col("_c").is_not_null(), pl.col("mean"), pl.col("_c")
    moved = [
        pl.when(~has).then(pl.col(col))
        .when(mean > 0).then(pl.col(col) * c / mean)
        .otherwise(pl.col(col) + c - mean)
        .clip(lower_bound=0.0)
        .alias(col)
        for col in (schema.quantile_column(q) for q in quantiles)
    ]
    return joined.with_columns(*moved, mean=pl.when(has).then(c).otherwise(mean)).drop("_c")


def consume_forecast(
    forecast: pl.DataFrame,
    booked: pl.DataFrame,
    quantiles: tuple[float, ...] = schema.QUANTILES,
    keys: tuple[str, ...] = ("product_id", "site_id", "week"),
    value_col: str = "mean",
) -> pl.DataFrame:
    """Booked orders consume the forecast: ``value_col`` becomes max(forecast, booked) per key.

    Where the booked orders exceed the forecast every quantile moves up by the units they add (the spread
    stays the forecast's, in units: firm orders add no uncertainty); elsewhere the row is unchanged. A key of
    ``booked`` the forecast lacks is added with the booked quantity as its value and every quantile (model
    ``BOOKED_MODEL`` when the frame has a ``model`` column). Applied again it moves nothing.

    Args:
        forecast: ``keys``, ``value_col``, the quantile columns of ``quantiles`` (+ any, kept).
        booked: ``keys`` and ``quantity``, one row per key (a duplicate raises).
        quantiles: levels whose columns are moved (``()`` for a frame of points only).

    Returns:
        ``forecast``'s columns with ``booked`` (the key's booked orders; null where none), ``booked_added``
        (the units the orders added above ``value_col``; 0 where it covers them, null where none) and, for a
        forecast (``value_col`` ``mean``), ``booked_band`` (:data:`SHIFTED` where units were added, the
        frame's own value where it had one, else null).
    """
    keys = list(keys)
    orders = booked.select(*keys, pl.col("quantity").cast(pl.Float64).alias("booked"))
    own = forecast.drop("booked", "booked_added", strict=False)
    joined = own.join(orders, on=keys, how="left", validate="1:1")
    added = (pl.col("booked") - pl.col(value_col)).clip(lower_bound=0.0)
    joined = joined.with_columns(booked_added=added)
    raise_ = pl.col("booked_added") > 0
    qcols = [schema.quantile_column(q) for q in quantiles]
    raised = joined.with_columns(
        *(pl.when(raise_).then(pl.col(c) + pl.col("booked_added")).otherwise(pl.col(c)).alias(c) for c in qcols),
        pl.when(raise_).then(pl.col("booked")).otherwise(pl.col(value_col)).alias(value_col))
    band: list[str] = []
    if value_col == "mean":  # a forecast: say how its raised rows' quantiles moved
        before = pl.col("booked_band") if "booked_band" in own.columns else pl.lit(None, pl.String)
        raised = raised.with_columns(booked_band=pl.when(raise_).then(pl.lit(SHIFTED)).otherwise(before))
        band = ["booked_band"]
    new = orders.join(own.select(keys), on=keys, how="anti").with_columns(
        *(pl.col("booked").alias(c) for c in (value_col, *qcols)), booked_added=pl.col("booked"),
        **({"model": pl.lit(BOOKED_MODEL)} if "model" in own.columns else {}),
        **({"booked_band": pl.lit(None, pl.String)} if band else {}),
    )
    columns = [*(c for c in own.columns if c != "booked_band"), "booked", "booked_added", *band]
    return pl.concat([raised.select(columns), new], how="diagonal_relaxed").select(columns)


def forecast_part(
    forecast: pl.DataFrame,
    quantiles: tuple[float, ...] = schema.QUANTILES,
    keys: tuple[str, ...] = ("product_id", "site_id", "week"),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Undo :func:`consume_forecast`: the forecaster's own rows, and the booked orders they were raised to.

    Where the orders added units the mean goes back down by ``booked_added`` and the quantiles with it, by the
    rule the row was raised by (``booked_band``: down by the units for :data:`SHIFTED` or a frame without the
    column, by the level's ratio for :data:`SCALED`, the rows of runs stored before the shift); a row of model
    ``BOOKED_MODEL`` (no forecast, orders only) is left out. ``consume_forecast(*forecast_part(f))`` gives
    ``f`` again, its rows raised by today's rule.

    Args:
        forecast: a frame :func:`consume_forecast` returned (``booked``, ``booked_added`` columns; a frame
            without them is returned whole, with no orders).

    Returns:
        The forecast without ``booked``/``booked_added``/``booked_band``, and ``keys`` + ``quantity`` of its
        booked orders.
    """
    keys = list(keys)
    if "booked" not in forecast.columns:
        return forecast, pl.DataFrame(schema={**{k: forecast.schema[k] for k in keys}, "quantity": pl.Float64})
    booked = forecast.filter(pl.col("booked").is_not_null()).select(*keys, pl.col("booked").alias("quantity"))
    own = forecast.filter(pl.col("model") != BOOKED_MODEL) if "model" in forecast.columns else forecast
    added, mean = pl.col("booked_added").fill_null(0.0), pl.col("mean")
    before = mean - added
    scaled = (pl.col("booked_band") == SCALED) if "booked_band" in forecast.columns else pl.lit(False)
    lowered = [
        pl.when(added <= 0).then(pl.col(col))
        .when(scaled & (before > 0)).then(pl.col(col) * before / mean)
        .otherwise(pl.col(col) - added)
        .clip(lower_bound=0.0)
        .alias(col)
        for col in (schema.quantile_column(q) for q in quantiles)
    ]
    own = own.with_columns(*lowered, mean=before)
    return own.drop("booked", "booked_added", "booked_band", strict=False), booked
