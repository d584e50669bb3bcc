"""Consensus demand that keeps the forecast's uncertainty.

A planner's consensus quantity (``--demand``) replaces the statistical mean; its quantiles are the
forecast's error distribution applied to it. The spread is taken as relative to the level (errors of
demand grow with it): ``q' = consensus × q / mean``. Where the statistical mean is zero (nothing
forecast, a ratio cannot carry over) the absolute offsets are kept: ``q' = q + (consensus − mean)``.
Product × site × weeks without a consensus quantity keep the statistical forecast.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["rebase_forecast"]


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
