"""Forecast quantiles: conformal from backtest errors, a lognormal band where none exist, and the
invariants every forecast row keeps (quantiles ≥ 0 and non-decreasing in the level).

Conformal quantiles: the champion's backtest errors ``y − ŷ`` of a series (all windows, all horizon
steps pooled) are its calibration set; quantile ``q`` of the forecast is ``ŷ + Q_q(errors)`` (for
intermittent demand ``ŷ × Q_q(y / ŷ)``, which keeps the many zero weeks at zero). This is
statsforecast's ``ConformalIntervals`` idea (errors of rolling-origin refits) reusing the backtest that
chose the model instead of running a second one. Pooled over the horizon, the band is right on average
over the horizon (a little wide near term, a little narrow far out).

Lognormal band (new series, series too short to backtest): the quantiles of a lognormal with the
forecast as its mean and coefficient of variation ``cv``: wide, never negative, zero when the mean is.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

from data_contracts import schema

__all__ = ["conformal_quantiles", "lognormal_quantiles", "tidy_quantiles"]


def conformal_quantiles(
    forecast: pl.DataFrame,
    calibration: pl.DataFrame,
    quantiles: tuple[float, ...],
    id_col: str = "unique_id",
    ratio_col: str = "ratio",
) -> pl.DataFrame:
    """Add quantile columns calibrated on each series' backtest (``y``, ``yhat``) pairs.

    Additive: ``mean + Q_q(y − yhat)``. Ratio (rows where ``forecast[ratio_col]`` is true, meant for
    intermittent demand): ``mean × Q_q(y / yhat)`` over backtest weeks with ``yhat > 0``, so that a zero
    week stays a zero quantile whatever level the final fit has; additive where no such week exists.

    Args:
        forecast: ``unique_id, ds, mean, ratio`` (+ any columns, kept; ``ratio`` optional, default false).
        calibration: ``unique_id, y, yhat``; every series of ``forecast`` present.
        quantiles: levels in (0, 1).
    """
    y, yhat = pl.col("y"), pl.col("yhat")
    offsets = calibration.group_by(id_col).agg(
        *((y - yhat).quantile(q, interpolation="linear").alias(f"_add_{i}") for i, q in enumerate(quantiles)),
        *((y / yhat).filter(yhat > 0).quantile(q, interpolation="linear").alias(f"_mul_{i}")
          for i, q in enumerate(quantiles)),
    )
    if ratio_col not in forecast.columns:
        forecast = forecast.with_columns(pl.lit(False).alias(ratio_col))
    out = forecast.join(offsets, on=id_col, how="left", validate="m:1")
    missing = out.filter(pl.col("_add_0").is_null()).get_column(id_col).unique()
    if missing.len():
        raise ValueError(f"no backtest errors to calibrate series {missing.head(5).to_list()}")
    use_ratio = pl.col(ratio_col) & pl.col("_mul_0").is_not_null()
    return out.with_columns(
        pl.when(use_ratio)
        .then(pl.col("mean") * pl.col(f"_mul_{i}"))
        .otherwise(pl.col("mean") + pl.col(f"_add_{i}"))
        .alias(schema.quantile_column(q))
        for i, q in enumerate(quantiles)
    ).drop(*(f"_add_{i}" for i in range(len(quantiles))), *(f"_mul_{i}" for i in range(len(quantiles))))


def lognormal_quantiles(forecast: pl.DataFrame, quantiles: tuple[float, ...], cv: float) -> pl.DataFrame:
    """Add quantile columns of a lognormal with mean ``mean`` and coefficient of variation ``cv``."""
    sigma = math.sqrt(math.log1p(cv**2))
    factors = {q: math.exp(sigma * NormalDist().inv_cdf(q) - sigma**2 / 2) for q in quantiles}
    return forecast.with_columns(
        (pl.col("mean").clip(lower_bound=0.0) * f).alias(schema.quantile_column(q))
        for q, f in factors.items()
    )


def tidy_quantiles(forecast: pl.DataFrame, quantiles: tuple[float, ...]) -> pl.DataFrame:
    """Clip mean and quantiles at zero (demand is never negative) and sort the quantiles of each row."""
    cols = [schema.quantile_column(q) for q in sorted(quantiles)]
    ordered = pl.concat_list(pl.col(c).clip(lower_bound=0.0) for c in cols).list.sort()
    return forecast.with_columns(pl.col("mean").clip(lower_bound=0.0), _q=ordered).with_columns(
        pl.col("_q").list.get(i).alias(c) for i, c in enumerate(cols)
    ).drop("_q")
