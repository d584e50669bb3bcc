"""Consensus demand that keeps the forecast's uncertainty.

A planner's consensus quantity (``--demand``) replaces the statistical mean; its quantiles are the
forecast's error distribution applied to it. The spread is taken as relative to the level (errors of
demand grow with it): ``q' = consensus × q / mean``. Where the statistical mean is zero (nothing
forecast, a ratio cannot carry over) the absolute offsets are kept: ``q' = q + (consensus − mean)``.
Product × site × weeks without a consensus quantity keep the statistical forecast.

Booked orders consume the forecast (:func:`consume_forecast`): a week's demand is the larger of the forecast
and the orders already booked for it, with the same rule for the uncertainty (the mean moves up, the
spread stays the forecast's, relative to the level). A week without booked orders keeps the forecast; a
series with booked orders and no forecast gets them as its demand, with no spread (firm orders, no
forecast error to carry).

A what-if that changes demand changes the forecast, not the booked orders (:func:`forecast_part` takes the
orders out again, the change applies to what is left, and they consume the changed forecast): firm orders
are firm, so +20% raises a week to max(1.2 × forecast, booked), never to 1.2 × booked.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["rebase_forecast", "consume_forecast", "forecast_part", "BOOKED_MODEL"]

BOOKED_MODEL = schema.BOOKED_MODEL


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

    Where the booked orders exceed the forecast its quantiles move with the mean (:func:`rebase_forecast`:
    the uncertainty stays the forecast's); elsewhere the row is unchanged. A key of ``booked`` the forecast
    lacks is added with the booked quantity as its value and every quantile (model ``BOOKED_MODEL`` when the
    frame has a ``model`` column). Applied again it moves nothing.

    Args:
        forecast: ``keys``, ``value_col``, the quantile columns of ``quantiles`` (+ any, kept).
        booked: ``keys`` and ``quantity``, one row per key (a duplicate raises).
        quantiles: levels whose columns are moved (``()`` for a frame of points only).

    Returns:
        ``forecast``'s columns with ``booked`` (the key's booked orders; null where none) and ``booked_added``
        (the units the orders added above ``value_col``; 0 where it covers them, null where none).
    """
    keys = list(keys)
    orders = booked.select(*keys, pl.col("quantity").cast(pl.Float64).alias("booked"))
    own = forecast.drop("booked", "booked_added", strict=False)
    joined = own.join(orders, on=keys, how="left", validate="1:1")
    added = (pl.col("booked") - pl.col(value_col)).clip(lower_bound=0.0)
    joined = joined.with_columns(booked_added=added)
    above = joined.filter(pl.col("booked_added") > 0).select(*keys, pl.col("booked").alias("quantity"))
    if value_col == "mean":
        raised = rebase_forecast(joined, above, quantiles, tuple(keys))
    else:  # a frame of points: the value alone moves
        raised = joined.with_columns(
            pl.max_horizontal(value_col, pl.col("booked").fill_null(0.0)).alias(value_col))
    qcols = [schema.quantile_column(q) for q in quantiles]
    new = orders.join(own.select(keys), on=keys, how="anti").with_columns(
        *(pl.col("booked").alias(c) for c in (value_col, *qcols)), booked_added=pl.col("booked"),
        **({"model": pl.lit(BOOKED_MODEL)} if "model" in own.columns else {}),
    )
    columns = [*own.columns, "booked", "booked_added"]
    return pl.concat([raised.select(columns), new], how="diagonal_relaxed").select(columns)


def forecast_part(
    forecast: pl.DataFrame,
    quantiles: tuple[float, ...] = schema.QUANTILES,
    keys: tuple[str, ...] = ("product_id", "site_id", "week"),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Undo :func:`consume_forecast`: the forecaster's own rows, and the booked orders they were raised to.

    Where the orders added units the mean goes back down by ``booked_added`` and the quantiles with it (the
    inverse of :func:`rebase_forecast`); a row of model ``BOOKED_MODEL`` (no forecast, orders only) is left
    out. ``consume_forecast(*forecast_part(f))`` gives ``f`` again.

    Args:
        forecast: a frame :func:`consume_forecast` returned (``booked``, ``booked_added`` columns; a frame
            without them is returned whole, with no orders).

    Returns:
        The forecast without ``booked``/``booked_added``, and ``keys`` + ``quantity`` of its booked orders.
    """
    keys = list(keys)
    if "booked" not in forecast.columns:
        return forecast, pl.DataFrame(schema={**{k: forecast.schema[k] for k in keys}, "quantity": pl.Float64})
    booked = forecast.filter(pl.col("booked").is_not_null()).select(*keys, pl.col("booked").alias("quantity"))
    own = forecast.filter(pl.col("model") != BOOKED_MODEL) if "model" in forecast.columns else forecast
    added, mean = pl.col("booked_added").fill_null(0.0), pl.col("mean")
    before = mean - added
    lowered = [
        pl.when(added <= 0).then(pl.col(col))
        .when(before > 0).then(pl.col(col) * before / mean)
        .otherwise(pl.col(col) - added)
        .clip(lower_bound=0.0)
        .alias(col)
        for col in (schema.quantile_column(q) for q in quantiles)
    ]
    return own.with_columns(*lowered, mean=before).drop("booked", "booked_added"), booked
