"""Forecast accuracy tracking: how past runs' forecasts did against what then happened, by lag.

Lag k of a forecast is the number of weeks from the last history week of the run that made it (its
``cutoff``) to the week forecast: the first week a run forecasts is lag 1. For each lag asked, and at the
level of each series, each family and the total:

- ``wape`` = Σ|y − ŷ| / Σ|y| and ``bias`` = Σ(ŷ − y) / Σ|y| over every (run, week) compared (series
  errors pooled; a family's WAPE is that of its series' forecasts, not of a family total);
- ``wape_naive``: the same for seasonal naive from the same cutoff (ŷ = actual of the week one season
  earlier, which lies in the run's history for lags up to a season), over the weeks where that actual
  exists; ``value_added`` = ``wape_naive`` − the forecast's WAPE over those same weeks (> 0: the forecast
  beat seasonal naive);
- ``n_weeks``: (run, week) pairs compared. A forecast week without an actual yet is not compared; the
  ratios are null when the actuals compared are all zero.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["forecast_accuracy"]

_OUT = [c for c in schema.FORECAST_ACCURACY.column_names if c != "run_id"]


def forecast_accuracy(
    past_forecasts: pl.DataFrame,
    actuals: pl.DataFrame,
    lags: tuple[int, ...] = (1, 4, 13),
    families: pl.DataFrame | None = None,
    season_length: int = 52,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    pred_col: str = "mean",
    cutoff_col: str = "cutoff",
) -> pl.DataFrame:
    """Lag-k WAPE, bias and value added over seasonal naive, per series, family and in total.

    Args:
        past_forecasts: ``unique_id, cutoff, ds, mean``: forecasts of past runs, ``cutoff`` = the last
            history week of the run that made the row (several runs may forecast the same week).
        actuals: ``unique_id, ds, y``: the demand history known now.
        lags: lags (weeks) to report, each in 1 … ``season_length``.
        families: ``unique_id, family``; without it the family level is left out. A series missing from
            it raises.
        season_length: season of the seasonal naive reference.

    Returns:
        ``schema.FORECAST_ACCURACY`` columns without ``run_id``: ``level, key, lag, wape, bias,
        wape_naive, value_added, n_weeks``, sorted by level, key and lag.
    """
    bad = [k for k in lags if not 1 <= k <= season_length]
    if bad:
        raise ValueError(f"lags must be within 1..{season_length} (seasonal naive reference), got {bad}")
    lag = ((pl.col(time_col) - pl.col(cutoff_col)).dt.total_days() // 7).cast(pl.Int64)
    truth = actuals.select(id_col, time_col, pl.col(target_col).cast(pl.Float64).alias("y"))
    naive = truth.select(
        id_col,
        (pl.col(time_col) + pl.duration(weeks=season_length)).alias(time_col),
        pl.col("y").alias("naive"),
    )
    rows = (
        past_forecasts.select(id_col, cutoff_col, time_col, pl.col(pred_col).alias("yhat"), lag=lag)
        .filter(pl.col("lag").is_in(list(lags)))
        .join(truth, on=[id_col, time_col], how="inner", validate="m:1")
        .join(naive, on=[id_col, time_col], how="left", validate="m:1")
        .with_columns(level=pl.lit("series"), key=pl.col(id_col))
    )
    levels = [rows, rows.with_columns(level=pl.lit("total"), key=pl.lit("all"))]
    if families is not None:
        fam = rows.join(families.select(id_col, "family"), on=id_col, how="left", validate="m:1")
        unmatched = fam.filter(pl.col("family").is_null()).get_column(id_col).unique()
        if unmatched.len():
            raise ValueError(f"series without a family: {unmatched.head(5).to_list()}")
        levels.append(fam.with_columns(level=pl.lit("family"), key=pl.col("family")).drop("family"))

    y, yhat, nv = pl.col("y"), pl.col("yhat"), pl.col("naive")
    has_naive = nv.is_not_null()
    actual = y.abs().sum()
    actual_n = y.filter(has_naive).abs().sum()
    return (
        pl.concat(levels)
        .group_by("level", "key", "lag")
        .agg(
            wape=pl.when(actual > 0).then((y - yhat).abs().sum() / actual),
            bias=pl.when(actual > 0).then((yhat - y).sum() / actual),
            wape_naive=pl.when(actual_n > 0).then((y - nv).abs().filter(has_naive).sum() / actual_n),
            wape_common=pl.when(actual_n > 0).then((y - yhat).abs().filter(has_naive).sum() / actual_n),
            n_weeks=pl.len().cast(pl.Int64),
        )
        .with_columns(value_added=pl.col("wape_naive") - pl.col("wape_common"))
        .select(_OUT)
        .sort("level", "key", "lag")
    )
