"""Demand classification of series: new, inactive, short, then smooth / erratic / intermittent / lumpy.

The last four follow Syntetos, Boylan & Croston (2005): ADI (average weeks between non-zero demands,
``n_weeks / nonzero_weeks``) against 1.32 and CV² of the non-zero sizes (sample variance over squared
mean) against 0.49. Precedence, first match wins:

1. ``new``: fewer than ``new_weeks`` weeks of life (too little to fit or backtest anything).
2. ``inactive``: no demand in the last ``inactive_weeks`` weeks (forecast zero).

(Both count weeks of time, turned into periods of ``config.freq``: 13 weeks = 3 months = 1 quarter;
``n_weeks`` in the output counts periods.)
3. ``short``: fewer than ``short_seasons × season_length`` weeks of life (no seasonal models: a season
   cannot be told from noise with less than two of them).
4. ``smooth`` (ADI < 1.32, CV² < 0.49), ``erratic`` (ADI < 1.32, CV² ≥ 0.49), ``intermittent``
   (ADI ≥ 1.32, CV² < 0.49), ``lumpy`` (ADI ≥ 1.32, CV² ≥ 0.49). CV² is null with fewer than two
   non-zero weeks and then counts as 0.

An ``intermittent``, ``lumpy`` or ``inactive`` series whose periods with demand recur in the same periods of
every season (a vaccine sold in its season only) is ``seasonal_only`` instead (:mod:`forecasting.profile`,
``config.season_only_kappa``).
"""

from __future__ import annotations

import polars as pl

from forecasting.config import ForecastConfig
from forecasting.profile import seasonal_only

__all__ = ["classify_series", "BACKTESTED_CLASSES", "CLASSES"]

CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "short", "new", "inactive", "seasonal_only")
#: the classes whose series are backtested where their history allows (the others: a rule, zero, a profile;
#: forecasting.forecast's ``_SETS`` gives each its candidate set)
BACKTESTED_CLASSES = ("smooth", "erratic", "intermittent", "lumpy", "short")
#: the classes a series sold only in season would otherwise take
_SEASON_ONLY_FROM = ("intermittent", "lumpy", "inactive")


def classify_series(
    series: pl.DataFrame,
    config: ForecastConfig = ForecastConfig(),
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pl.DataFrame:
    """Class of every series and the statistics behind it.

    Args:
        series: long frame ``unique_id, ds, y`` (zero-filled inside each series' life).
        config: thresholds (``adi_threshold``, ``cv2_threshold``, ``new_weeks``, ``inactive_weeks``,
            ``short_seasons``, ``season_length``).

    Returns:
        One row per series: ``unique_id, series_class, n_weeks, adi, cv2, nonzero_weeks``.
    """
    y = pl.col(target_col)
    nz = y.filter(y > 0)
    stats = (
        series.sort(id_col, time_col)
        .group_by(id_col, maintain_order=True)
        .agg(
            n_weeks=pl.len().cast(pl.Int64),
            nonzero_weeks=(y > 0).sum().cast(pl.Int64),
            recent=y.tail(config.periods(config.inactive_weeks)).sum(),
            size_mean=nz.mean(),
            size_var=nz.var(ddof=1),
        )
        .with_columns(
            adi=pl.when(pl.col("nonzero_weeks") > 0).then(pl.col("n_weeks") / pl.col("nonzero_weeks")),
            cv2=pl.col("size_var") / pl.col("size_mean") ** 2,
        )
    )
    intermittent = pl.col("adi").fill_null(float("inf")) >= config.adi_threshold
    erratic = pl.col("cv2").fill_null(0.0) >= config.cv2_threshold
    short_weeks = config.short_seasons * config.season_length
    series_class = (
        pl.when(pl.col("n_weeks") < config.periods(config.new_weeks)).then(pl.lit("new"))
        .when(pl.col("recent") <= 0).then(pl.lit("inactive"))
        .when(pl.col("n_weeks") < short_weeks).then(pl.lit("short"))
        .when(~intermittent & ~erratic).then(pl.lit("smooth"))
        .when(~intermittent & erratic).then(pl.lit("erratic"))
        .when(intermittent & ~erratic).then(pl.lit("intermittent"))
        .otherwise(pl.lit("lumpy"))
    )
    out = stats.select(id_col, series_class.alias("series_class"), "n_weeks", "adi", "cv2", "nonzero_weeks")
    if config.season_only_kappa is None:
        return out
    maybe = out.filter(pl.col("series_class").is_in(_SEASON_ONLY_FROM)).get_column(id_col)
    if not maybe.len():
        return out
    frame = series.select(pl.col(id_col).alias("unique_id"), pl.col(time_col).alias("ds"),
                          pl.col(target_col).alias("y"))
    found = seasonal_only(frame, maybe, config).get_column("unique_id")
    return out.with_columns(series_class=pl.when(pl.col(id_col).is_in(found.implode()))
                            .then(pl.lit("seasonal_only")).otherwise(pl.col("series_class")))
