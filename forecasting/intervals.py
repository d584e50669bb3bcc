"""Forecast quantiles: calibrated on pooled backtest errors, a lognormal band where none exist, and the
invariants every forecast row keeps (quantiles ≥ 0, non-decreasing in the level, the mean inside the
80% band).

Pooled quantiles (:func:`pooled_quantiles`, the forecaster's method): errors of backtest forecasts that
did not choose the model (the set's default combination, or every candidate where the set has no
default) are pooled across the series of a class, by horizon step, scale-free: ``(y − ŷ) / scale`` with
``scale`` the series' mean |error| on its other backtest windows, each taken relative to the series' level
at that window's cutoff and put back at this window's (:func:`forecasting.intervals_history.series_levels`;
blended with how much the series moved in the season before the cutoff,
:func:`forecasting.intervals_history.recent_changes`), or ``y / ŷ`` for
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

What the calibration reads from each series' history at a cutoff (its level, recent changes, season, length)
is :mod:`forecasting.intervals_history`'s.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import polars as pl

from data_contracts import schema

__all__ = ["conformal_quantiles", "pooled_quantiles", "empirical_quantiles", "lognormal_quantiles",
           "tidy_quantiles"]


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
