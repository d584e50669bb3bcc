"""Backtest scores: MASE, WAPE and bias per series, model and window (rolling origin).

- MASE = mean |y − ŷ| over the window / mean |y_t − y_{t−m}| over the training weeks up to the window's
  cutoff (m = ``mase_season``, 1 by default as in M4 weekly). A training part with no change at all (a
  constant series) is scaled by its mean |y| instead, and left null when that is zero too.
- WAPE = Σ|y − ŷ| / Σ|y|; bias = Σ(ŷ − y) / Σ|y|; both null when the window's actuals are all zero.
"""

from __future__ import annotations

import polars as pl

__all__ = ["score_backtest", "naive_scale"]


def naive_scale(
    series: pl.DataFrame,
    cutoffs: pl.DataFrame,
    season: int = 1,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    level_fallback: bool = True,
) -> pl.DataFrame:
    """MASE scale of every (series, cutoff): in-sample lag-``season`` naive MAE on ``ds <= cutoff``.

    Args:
        series: ``unique_id, ds, y`` history.
        cutoffs: ``unique_id, cutoff`` pairs to scale.
        season: lag of the naive forecast.
        level_fallback: scale a series without any change by its mean |y| (else its scale is 0).

    Returns:
        ``unique_id, cutoff, scale`` with the fallback described in the module docstring.
    """
    y = pl.col(target_col)
    diff = (y - y.shift(season).over(id_col)).abs()
    running = series.sort(id_col, time_col).with_columns(
        err_sum=diff.fill_null(0.0).cum_sum().over(id_col),
        err_n=diff.is_not_null().cum_sum().over(id_col),
        abs_sum=y.abs().cum_sum().over(id_col),
        abs_n=pl.int_range(1, pl.len() + 1).over(id_col),
    )
    joined = cutoffs.join(
        running, left_on=[id_col, "cutoff"], right_on=[id_col, time_col], how="left", validate="m:1"
    )
    missing = joined.filter(pl.col("abs_n").is_null())
    if missing.height:
        keys = missing.select(id_col, "cutoff").head(5).rows()
        raise ValueError(f"cutoffs not in the series history: {keys}")
    naive_mae = pl.col("err_sum") / pl.col("err_n")
    level = pl.col("abs_sum") / pl.col("abs_n")
    scale = pl.when(naive_mae > 0).then(naive_mae).when(level > 0).then(level if level_fallback else 0.0)
    return joined.select(id_col, "cutoff", scale.alias("scale"))


def score_backtest(
    cv: pl.DataFrame,
    series: pl.DataFrame,
    season: int = 1,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    model_col: str = "model",
    pred_col: str = "yhat",
) -> pl.DataFrame:
    """Score long cross-validation output per series, model and window.

    Args:
        cv: ``unique_id, cutoff, ds, y, model, yhat`` (one row per forecast week).
        series: the history the backtest ran on (for the MASE scale).
        season: MASE naive lag.

    Returns:
        ``unique_id, model, window, mase, wape, bias`` (window 0 = the oldest cutoff of the series).
    """
    y, yhat = pl.col(target_col), pl.col(pred_col)
    per_window = cv.group_by(id_col, model_col, "cutoff").agg(
        mae=(y - yhat).abs().mean(),
        abs_err=(y - yhat).abs().sum(),
        err=(yhat - y).sum(),
        actual=y.abs().sum(),
    )
    scales = naive_scale(
        series, per_window.select(id_col, "cutoff").unique(), season, id_col, time_col, target_col
    )
    has_actual = pl.col("actual") > 0
    return (
        per_window.join(scales, on=[id_col, "cutoff"], how="left", validate="m:1")
        .select(
            id_col,
            model_col,
            window=(pl.col("cutoff").rank("dense").over(id_col) - 1).cast(pl.Int64),
            mase=pl.col("mae") / pl.col("scale"),
            wape=pl.when(has_actual).then(pl.col("abs_err") / pl.col("actual")),
            bias=pl.when(has_actual).then(pl.col("err") / pl.col("actual")),
        )
        .sort(id_col, model_col, "window")
    )
