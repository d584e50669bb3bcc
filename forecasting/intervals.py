"""Forecast quantiles: calibrated on pooled backtest errors, a lognormal band where none exist, and the
invariants every forecast row keeps (quantiles ≥ 0, non-decreasing in the level, the mean inside the
80% band).

Pooled quantiles (:func:`pooled_quantiles`, the forecaster's method): errors of backtest forecasts that
did not choose the model (the set's default combination, or every candidate where the set has no
default) are pooled across the series of a class, by horizon step, scale-free: ``(y − ŷ) / scale`` with
``scale`` the series' mean |error| on its other backtest windows, each taken relative to the series' level
at that window's cutoff and put back at this window's (:func:`series_levels`; blended with how much the
series moved in the season before the cutoff, :func:`recent_changes`), or ``y / ŷ`` for
intermittent demand (ratio: a zero forecast keeps every quantile at zero). A (class, step) group with
fewer than ``min_errors`` errors borrows from the class over all steps, then from every class. The
forecaster pools each additive error with its mirror image (``symmetric``: a band centred on the mean). This
avoids the winner's curse of calibrating on the errors that made a champion win, and the too-narrow far
steps of a band pooled over the horizon.

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

__all__ = ["conformal_quantiles", "pooled_quantiles", "empirical_quantiles", "lognormal_quantiles",
           "tidy_quantiles", "series_levels", "recent_changes", "seasonal_histories", "history_lengths",
           "length_slopes"]


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


def pooled_quantiles(
    forecast: pl.DataFrame,
    calibration: pl.DataFrame,
    quantiles: tuple[float, ...],
    min_errors: int = 100,
    group_col: str = "group",
    step_col: str = "step",
    ratio_col: str = "ratio",
    symmetric: bool = False,
    step_span: int = 0,
    split_col: str | None = None,
    cap: float | None = None,
    scale_floor: float | None = None,
) -> pl.DataFrame:
    """Add quantile columns from errors pooled by (group, step), scale-free (module docstring).

    With ``symmetric`` the additive errors are pooled with their mirror images (each ``e`` also counted
    as ``−e``, as statsforecast's conformal intervals take ``|e|``): the band is symmetric about the
    mean, so that a sign the backtest windows' errors happened to lean to (a level that rose through
    them) is not carried into the future. Group sizes count the errors, not their mirrors. Ratio
    errors (intermittent) are never mirrored.

    Args:
        forecast: ``group, step, ratio, mean, scale`` (+ any columns, kept).
        calibration: ``group, step, ratio, y, yhat, scale``: backtest forecasts with the scale of the
            series at their cutoff. Rows with a zero or null scale (additive) or ``yhat <= 0`` (ratio) are
            left out.
        quantiles: levels in (0, 1).
        min_errors: fewest errors a group needs before a narrower one is used.
        step_span: each step's pool also takes the errors of the steps up to this many before and after
            it (they count toward ``min_errors``; 0: its own step only). Where a set's series share one
            calendar (PBS: a step is the same month in every series), one month's shock in a backtest
            window fills that step's pool alone; neighbouring steps smooth it, and the band still grows
            with the horizon (``ForecastConfig.calibration_step_span``).
        split_col: a column of both frames splitting each (group, step) pool (in ``calibration`` its value
            at the window's cutoff, in ``forecast`` at the end of the history): a (group, split, step) pool
            with ``min_errors`` errors is used before its (group, step) pool; null never matches
            (``ForecastConfig.calibration_seasonal_split``). A split pool holds its own step's errors
            only, never ``step_span``'s neighbours: a kind too few to fill a step alone keeps its group's
            pool (with the neighbours). Filled from three steps, the tests' 26 seasonal series took their
            own pool and over-covered it (87.0% at the test's seed; docs/forecast-intervals.md, stop 28).
        cap: additive errors beyond ``cap`` times their group's median |error| (its own errors, every step)
            are pooled at that bound (``ForecastConfig.calibration_error_cap``): unbounded, a few errors of a
            series that stepped (a one-off order many times its level) set every other series' outer
            quantiles in a small group.
        scale_floor: each positive additive scale, in ``calibration`` and in ``forecast`` alike, is at least
            ``scale_floor`` times its group's median scale / |forecast| times its own |forecast|
            (``ForecastConfig.calibration_scale_floor``): a series whose errors were a fraction of a unit
            (a standing order, rounding noise) has a scale near zero, so any step it makes is thousands of
            scale units, and its own band claims a certainty no history of a few windows shows.

    Returns:
        ``forecast`` with ``schema.quantile_column(q)`` columns, null where no group had any error.
    """
    if scale_floor is not None:
        calibration, forecast = _floored_scales(calibration, forecast, scale_floor, [ratio_col, group_col])
    y, yhat, scale, ratio = pl.col("y"), pl.col("yhat"), pl.col("scale"), pl.col(ratio_col)
    err = (
        calibration.with_columns(
            e=pl.when(ratio).then(pl.when(yhat > 0).then(y / yhat)).otherwise(
                pl.when(scale > 0).then((y - yhat) / scale)
            )
        )
        .filter(pl.col("e").is_not_null() & pl.col("e").is_finite())
        .with_columns(_own=pl.lit(True))
    )
    if cap is not None:
        err = _capped(err, cap, [ratio_col, group_col])
    if symmetric:
        err = pl.concat([err, err.filter(~ratio).with_columns(-pl.col("e"), _own=pl.lit(False))])
    names = [f"_e{i}" for i in range(len(quantiles))]

    def table(keys: list[str], tag: str) -> pl.DataFrame:
        pool = err
        if tag == "step" and step_span:  # each error also counted at the neighbouring steps
            shifts = range(-step_span, step_span + 1)
            pool = pl.concat([err.with_columns(pl.col(step_col) + d) for d in shifts])
        return pool.group_by(keys).agg(
            pl.col("_own").sum().alias(f"_n_{tag}"),
            *(pl.col("e").quantile(q, interpolation="linear").alias(f"{n}_{tag}") for n, q in zip(
                names, quantiles, strict=True)),
        )

    levels = [([ratio_col, group_col, step_col], "step"), ([ratio_col, group_col], "group"), ([ratio_col], "all")]
    if split_col is not None:
        levels.insert(0, ([ratio_col, group_col, split_col, step_col], "split"))
    out = _within_calibrated_steps(forecast, err, [ratio_col, group_col], step_col)
    for keys, tag in levels:
        out = out.join(table(keys, tag), on=keys, how="left", validate="m:1")
    picked = []
    for name, q in zip(names, quantiles, strict=True):
        value = pl.lit(None, dtype=pl.Float64)
        for _, tag in reversed(levels):  # the narrowest group with enough errors wins
            value = pl.when(pl.col(f"_n_{tag}") >= min_errors).then(pl.col(f"{name}_{tag}")).otherwise(value)
        value = pl.coalesce(value, pl.col(f"{name}_all"))  # too few everywhere: every error there is
        picked.append(
            pl.when(ratio).then(pl.col("mean") * value)
            .otherwise(pl.col("mean") + pl.col("scale").fill_null(0.0) * value)
            .alias(schema.quantile_column(q))
        )
    helpers = [c for c in out.columns if c.startswith("_e") or c.startswith("_n_")]
    return out.with_columns(picked).drop(helpers).with_columns(pl.col("_step").alias(step_col)).drop("_step")


#: a scale at most this share of its forecast is float noise, not a measured error (:func:`_floored_scales`)
_EXACT = 1e-9


def _floored_scales(calibration: pl.DataFrame, forecast: pl.DataFrame, floor: float,
                    keys: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Both frames with each positive additive ``scale`` raised to ``floor`` × its ``keys`` group's median of
    ``scale / |yhat|`` (over ``calibration``'s rows) × its own |forecast| (``yhat``; ``mean`` in ``forecast``).
    Ratio rows (``keys[0]`` true: their groups get no median), zero scales and groups without a median are left
    alone; so is a scale of float noise, at most :data:`_EXACT` of its |forecast|: a constant history's
    backtest errors are zero, or 1e-14 where a model's arithmetic leaves a residue (MSTL's, on some machines),
    and raised to the floor that residue gave a series of 20 every week a band of 19.66–20.34."""
    rows = ~pl.col(keys[0]) & (pl.col("scale") > _EXACT * pl.col("yhat").abs()) & (pl.col("yhat").abs() > 0)
    medians = calibration.filter(rows).group_by(keys).agg(_med=(pl.col("scale") / pl.col("yhat").abs()).median())

    def floored(frame: pl.DataFrame, point: str) -> pl.DataFrame:
        raised = pl.max_horizontal("scale", floor * pl.col("_med") * pl.col(point).abs())
        measured = pl.col("scale") > _EXACT * pl.col(point).abs()
        return frame.join(medians, on=keys, how="left", maintain_order="left").with_columns(
            scale=pl.when(measured & pl.col("_med").is_not_null()).then(raised).otherwise("scale")
        ).drop("_med")

    return floored(calibration, "yhat"), floored(forecast, "mean")


def _capped(err: pl.DataFrame, cap: float, keys: list[str]) -> pl.DataFrame:
    """``err`` with each additive error ``e`` clipped to ± ``cap`` × the median |e| of its ``keys``
    group; ratio errors (``keys[0]`` true) and a group whose median is 0 are left alone."""
    bound = (cap * pl.col("e").abs().median()).over(keys)
    limit = pl.when(~pl.col(keys[0]) & (bound > 0)).then(bound)
    return err.with_columns(e=pl.when(limit.is_not_null()).then(pl.col("e").clip(-limit, limit)).otherwise("e"))


def _within_calibrated_steps(forecast: pl.DataFrame, errors: pl.DataFrame, keys: list[str],
                             step_col: str) -> pl.DataFrame:
    """``forecast`` with its step (kept in ``_step``) brought down to its group's last step with errors.

    A forecast past the backtest's horizon (the pipeline's weeks after the plan's horizon, for its terminal
    condition: ``forecast_demand(backtest_horizon=…)``) has no errors at its steps. Left alone, those steps
    would take the group's errors pooled over every step, a band narrower than the last step's, though
    errors grow with the horizon; they take the last step's pool instead (a floor: the band stops growing
    there, it never shrinks)."""
    last = errors.group_by(keys).agg(_last=pl.col(step_col).max())
    return forecast.join(last, on=keys, how="left", validate="m:1").with_columns(
        pl.col(step_col).alias("_step"),
        pl.min_horizontal(step_col, pl.col("_last").fill_null(pl.col(step_col))).alias(step_col),
    ).drop("_last")


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


def empirical_quantiles(
    forecast: pl.DataFrame,
    history: pl.DataFrame,
    quantiles: tuple[float, ...],
    id_col: str = "unique_id",
    target_col: str = "y",
) -> pl.DataFrame:
    """Add quantile columns from the series' own demand distribution, rescaled to the forecast's level.

    Quantile ``q`` = ``Q_q(y of the history) × mean / mean(y of the history)``: for intermittent demand the
    share of zero weeks carries over (a quantile below it is zero, whatever the level), and the sizes
    follow the forecast level. Rows of a series whose history is all zero get zero.

    Args:
        forecast: ``unique_id, mean`` (+ any columns, kept).
        history: ``unique_id, y``: the weeks the model saw.
    """
    y = pl.col(target_col)
    names = [f"_h{i}" for i in range(len(quantiles))]
    stats = history.group_by(id_col).agg(
        _level=y.mean(), *(y.quantile(q, interpolation="linear").alias(n) for n, q in zip(
            names, quantiles, strict=True))
    )
    factor = pl.when(pl.col("_level") > 0).then(pl.col("mean") / pl.col("_level")).otherwise(0.0)
    return forecast.join(stats, on=id_col, how="left", validate="m:1").with_columns(
        (pl.col(n) * factor).alias(schema.quantile_column(q)) for n, q in zip(names, quantiles, strict=True)
    ).drop("_level", *names)


def lognormal_quantiles(forecast: pl.DataFrame, quantiles: tuple[float, ...], cv: float) -> pl.DataFrame:
    """Add quantile columns of a lognormal with mean ``mean`` and coefficient of variation ``cv``."""
    sigma = math.sqrt(math.log1p(cv**2))
    factors = {q: math.exp(sigma * NormalDist().inv_cdf(q) - sigma**2 / 2) for q in quantiles}
    return forecast.with_columns(
        (pl.col("mean").clip(lower_bound=0.0) * f).alias(schema.quantile_column(q))
        for q, f in factors.items()
    )


def tidy_quantiles(forecast: pl.DataFrame, quantiles: tuple[float, ...]) -> pl.DataFrame:
    """Clip mean and quantiles at zero (demand is never negative), sort the quantiles of each row, and keep
    the mean inside the 80% band: quantiles at levels ≤ 10% are at most the mean, at ≥ 90% at least it."""
    levels = sorted(quantiles)
    cols = [schema.quantile_column(q) for q in levels]
    mean = pl.col("mean")
    ordered = pl.concat_list(pl.col(c).clip(lower_bound=0.0) for c in cols).list.sort()
    sorted_q = forecast.with_columns(mean.clip(lower_bound=0.0), _q=ordered).with_columns(
        pl.col("_q").list.get(i).alias(c) for i, c in enumerate(cols)
    ).drop("_q")
    return sorted_q.with_columns(
        (pl.min_horizontal(c, mean) if q <= 0.1 else pl.max_horizontal(c, mean) if q >= 0.9 else pl.col(c))
        .alias(c)
        for q, c in zip(levels, cols, strict=True)
    )


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
