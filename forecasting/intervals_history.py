"""What a band's calibration reads from each series' history at a backtest cutoff: its level
(:func:`series_levels`), how much it moved recently (:func:`recent_changes`), whether it looks seasonal
(:func:`seasonal_histories`), the periods a fit saw (:func:`history_lengths`) and how a group's errors
change with them (:func:`length_slopes`). The quantiles these scale are :mod:`forecasting.intervals`'s.
"""

from __future__ import annotations

import polars as pl

__all__ = ["series_levels", "recent_changes", "seasonal_histories", "history_lengths", "length_slopes"]


def series_levels(
    series: pl.DataFrame,
    cutoffs: pl.DataFrame,
    span: int,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    exponent: float = 1.0,
) -> pl.DataFrame:
    """Level of each series at each cutoff: the mean |y| of its last ``span`` periods up to the cutoff,
    raised to ``exponent`` (``ForecastConfig.level_exponent``; 1: errors in proportion to the level).

    Errors are measured relative to it (``|y − ŷ| / level``), so that the errors of an old backtest window
    size a band at today's level: a series that grew (or shrank) since has proportionally larger (smaller)
    errors now. A series whose level is zero or unknown at any of its cutoffs gets level 1 at all of them
    (its errors stay absolute), so that relative and absolute errors never mix within a series.

    Args:
        series: ``unique_id, ds, y`` history.
        cutoffs: ``unique_id, cutoff`` pairs (each cutoff a ``ds`` of the series).
        span: periods averaged (the forecaster uses two seasons: two years of weekly, monthly or quarterly data).

    Returns:
        ``unique_id, cutoff, level`` for every row of ``cutoffs`` (``level`` > 0).
    """
    running = series.sort(id_col, time_col).select(
        id_col, pl.col(time_col).alias("cutoff"),
        level=pl.col(target_col).abs().rolling_mean(window_size=span, min_samples=1).over(id_col),
    )
    joined = cutoffs.join(running, on=[id_col, "cutoff"], how="left", validate="m:1")
    usable = ((pl.col("level") > 0) & pl.col("level").is_finite()).fill_null(False).all().over(id_col)
    return joined.with_columns(level=pl.when(usable).then(pl.col("level").pow(exponent)).otherwise(1.0))


def recent_changes(
    series: pl.DataFrame,
    cutoffs: pl.DataFrame,
    periods: int,
    season: int,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pl.DataFrame:
    """How much each series moved in its last ``periods`` periods up to each cutoff: the mean |change| from
    one period to the next, or from the same period a season before where that is smaller (the in-sample
    error of the better of the naive and seasonal naive forecasts over those periods).

    A band's unit from the series' own history (``ForecastConfig.history_scale_weight``): many changes,
    where a series' backtest has a few windows, each about one draw; over recent periods only, so that a
    series whose noise changed is measured as it is now. A mean needs a quarter of ``periods`` changes
    (at least two, or ``periods`` if fewer); a series with fewer, or that never changed, gets null.

    Args:
        series: ``unique_id, ds, y`` history (regular: one row a period).
        cutoffs: ``unique_id, cutoff`` pairs (each cutoff a ``ds`` of the series).
        periods: periods averaged (the forecaster uses one season).
        season: lag of the seasonal change (1: the lag-1 change alone).

    Returns:
        ``unique_id, cutoff, changes`` for every row of ``cutoffs`` (``changes`` > 0 or null).
    """
    y = pl.col(target_col)
    least = min(periods, max(2, periods // 4))

    def moved(lag: int) -> pl.Expr:
        change = (y - y.shift(lag).over(id_col)).abs()
        mean = change.rolling_mean(window_size=periods, min_samples=least).over(id_col)
        return pl.when(mean > 0).then(mean)

    running = series.sort(id_col, time_col).select(
        id_col, pl.col(time_col).alias("cutoff"), _lag1=moved(1), _season=moved(season))
    return cutoffs.join(running, on=[id_col, "cutoff"], how="left", validate="m:1").select(
        id_col, "cutoff", changes=pl.min_horizontal("_lag1", "_season"))


def seasonal_histories(
    series: pl.DataFrame,
    cutoffs: pl.DataFrame,
    season: int,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pl.DataFrame:
    """Whether each series' history up to each cutoff looks seasonal: over its last season, the mean
    |y − y one season before| (the seasonal naive's in-sample error) is below the mean |y − that season's
    mean| (the flat mean's). A series without a season shows the opposite (its seasonal changes hold two
    draws of noise, or a season's trend); a seasonal one's swing around its mean is larger than its
    change from a season before.

    Splits the calibration pools (``ForecastConfig.calibration_seasonal_split``): a seasonal series' errors
    relative to its scale are larger than a smooth one's (its models miss the season's shape together),
    and pooled together each kind's band takes the other's.

    Args:
        series: ``unique_id, ds, y`` history (regular: one row a period).
        cutoffs: ``unique_id, cutoff`` pairs (each cutoff a ``ds`` of the series).
        season: periods in a season (> 1).

    Returns:
        ``unique_id, cutoff, seasonal`` for every row of ``cutoffs``; ``seasonal`` null with less than two
        seasons of history before the cutoff, or a flat last season.
    """
    y = pl.col(target_col)
    running = series.sort(id_col, time_col).with_columns(
        _i=pl.int_range(pl.len()).over(id_col),
        _seasonal=(y - y.shift(season).over(id_col)).abs().rolling_mean(
            window_size=season, min_samples=season).over(id_col),
        _mean=y.rolling_mean(window_size=season, min_samples=season).over(id_col))
    ends = running.join(cutoffs, left_on=[id_col, time_col], right_on=[id_col, "cutoff"], how="inner").select(
        id_col, cutoff=pl.col(time_col), _end=pl.col("_i"), _seasonal=pl.col("_seasonal"), _mean=pl.col("_mean"))
    # the flat mean's error over the same season: each cutoff's last ``season`` periods about their mean
    flat = (
        ends.join(running.select(id_col, "_i", target_col), on=id_col, how="inner")
        .filter((pl.col("_i") <= pl.col("_end")) & (pl.col("_i") > pl.col("_end") - season))
        .group_by(id_col, "cutoff")
        .agg(_flat=(y - pl.col("_mean")).abs().mean(), _seasonal=pl.col("_seasonal").first())
    )
    return cutoffs.join(flat, on=[id_col, "cutoff"], how="left", validate="1:1").select(
        id_col, "cutoff", seasonal=pl.when(pl.col("_flat") > 0).then(pl.col("_seasonal") < pl.col("_flat")))


def history_lengths(
    series: pl.DataFrame, cutoffs: pl.DataFrame, id_col: str = "unique_id", time_col: str = "ds"
) -> pl.DataFrame:
    """Periods of each series' history up to and including each cutoff (what a fit at that cutoff saw).

    Args:
        series: ``unique_id, ds`` history (regular: one row a period), as the models saw it.
        cutoffs: ``unique_id, cutoff`` pairs (each cutoff a ``ds`` of the series).

    Returns:
        ``unique_id, cutoff, length`` for every row of ``cutoffs``.
    """
    running = series.sort(id_col, time_col).select(
        id_col, pl.col(time_col).alias("cutoff"), length=pl.int_range(1, pl.len() + 1).over(id_col))
    return cutoffs.join(running, on=[id_col, "cutoff"], how="left", validate="m:1")


def length_slopes(
    windows: pl.DataFrame, min_series: int = 10, id_col: str = "unique_id", group_col: str = "group",
) -> pl.DataFrame:
    """How a group's errors change with the history a fit saw: the slope of log |error| on log history
    length over the group's backtest windows, each series against its own means (its error level does
    not count), shrunk toward zero by how uncertain it is.

    A backtest window is fitted on less history than the final forecast. Where a model's errors fall as
    its history grows, the windows' errors overstate the forecast's; where they do not, the slope is about
    zero. Shrinkage: the slope ``b`` times ``b² / (b² + se²)``, ``se`` the larger of two standard errors:
    over the series (each series' own slope a draw, weighted by the spread of its log lengths: series that
    disagree) and over the windows' ages (the group's mean point at each age off the line: windows that
    differ by their calendar, not their length, as every series of a set shares its windows' dates). A
    group of fewer than ``min_series`` series gets 0 (the pharmacy's sets: 1-7 series a group, slopes of
    ±10).

    Args:
        windows: ``unique_id, group, cutoff, length, error``: one row a series' backtest window, ``error``
            its mean |error| (relative to the level), ``length`` the periods its fit saw.

    Returns:
        ``group, slope, slope_raw, se, series`` for every group with a series of two or more lengths.
    """
    x, y = pl.col("length").log(), pl.col("error").log()
    rows = (windows.filter(pl.col("error") > 0).sort(id_col, "cutoff")
            .with_columns(x=x - x.mean().over(id_col), y=y - y.mean().over(id_col),
                          age=pl.col("cutoff").rank("dense", descending=True).over(id_col)))
    per_series = (
        rows.group_by(group_col, id_col).agg(sxx=(pl.col("x") ** 2).sum(), sxy=(pl.col("x") * pl.col("y")).sum())
        .filter(pl.col("sxx") > 1e-12)
        .sort(group_col, id_col)  # float sums depend on the order: the same slope however rows arrive
        .with_columns(b=pl.col("sxy") / pl.col("sxx"),
                      slope_raw=(pl.col("sxy").sum() / pl.col("sxx").sum()).over(group_col))
    )
    n, b = pl.len(), pl.col("slope_raw")
    by_series = per_series.group_by(group_col).agg(
        b.first(), series=n,
        var_series=(pl.col("sxx") ** 2 * (pl.col("b") - b) ** 2).sum() / pl.col("sxx").sum() ** 2 * n / (n - 1))
    by_age = rows.join(per_series.select(group_col, id_col, "slope_raw"), on=[group_col, id_col]).group_by(
        group_col, "age").agg(mx=pl.col("x").mean(), my=pl.col("y").mean(), slope_raw=b.first()).sort(
        group_col, "age").group_by(
        group_col).agg(var_age=((pl.col("my") - b * pl.col("mx")) ** 2).sum() / (n - 1).clip(1)
                       / (pl.col("mx") ** 2).sum())
    se = pl.max_horizontal("var_series", "var_age").fill_nan(None).sqrt().fill_null(float("inf"))
    out = by_series.join(by_age, on=group_col, how="left", validate="1:1").with_columns(se=se)
    shrunk = (b * b ** 2 / (b ** 2 + pl.col("se") ** 2)).fill_nan(0.0)
    return out.select(group_col, slope=pl.when(pl.col("series") >= min_series).then(shrunk).otherwise(0.0),
                      slope_raw=b, se="se", series="series").sort(group_col)
