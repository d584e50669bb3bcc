"""The bands of a model's forecast, from backtest errors that did not choose it (:func:`_error_bands`).

Each series' error scale relative to its level (:func:`_error_scale`); the held-out errors pooled by
calibration group and horizon step (:func:`_calibration`); each series' one window where no series has two
(:func:`_only_windows`), in naive units where a series has no window or the backtest scored fewer steps than
asked (:func:`_naive_units`, :func:`_step_growth`). How each tier was measured: docs/forecast-intervals.md.
"""

from __future__ import annotations

from functools import partial

import polars as pl

from data_contracts import schema
from forecasting.backtest import _CV_ORDER
from forecasting.config import ForecastConfig
from forecasting.intervals import (
    empirical_quantiles,
    lognormal_quantiles,
    pooled_quantiles,
)
from forecasting.intervals_history import (
    history_lengths,
    length_slopes,
    recent_changes,
    seasonal_histories,
    series_levels,
)
from forecasting.metrics import naive_scale

def _groups(plan: pl.DataFrame, chosen: pl.DataFrame, by: str = "class") -> pl.DataFrame:
    """Calibration group of every series: with ``by`` ``class`` its class, candidate set and how its model
    was chosen; with ``set`` its candidate set alone (``ForecastConfig.calibration_groups``)."""
    keys = ("series_class", "set", "selection") if by == "class" else ("set",)
    return plan.join(chosen, on="unique_id", how="inner", validate="1:1").select(
        "unique_id", "set", "model",
        group=pl.concat_str(*keys, separator="/"),
        ratio=pl.col("set") == "intermittent",
    )


def _relative_error(rms: bool = False) -> pl.Expr:
    """A backtest row's |y − ŷ| relative to its series' level and growth at its cutoff (squared with
    ``rms``)."""
    rel = (pl.col("y") - pl.col("yhat")).abs() / pl.col("level") / pl.col("growth")
    return rel.pow(2) if rms else rel


# a backtest row's horizon step: its rank within its series' window
_WINDOW_STEP = pl.col("ds").rank("dense").over("unique_id", "cutoff").cast(pl.Int64)


def _blended(errors: pl.Expr, changes: pl.Expr, weight: float, noise: float = 0.0) -> pl.Expr:
    """A series' band unit from its backtest ``errors`` scale and its history's recent ``changes`` at the
    same cutoff (:func:`forecasting.intervals_history.recent_changes`): ``errors^(1 − weight) ×
    changes^weight`` (``ForecastConfig.history_scale_weight``); the backtest scale alone where the changes are
    null, or at most ``noise`` times the errors (float noise: :func:`_only_windows`)."""
    if weight == 0:
        return errors
    return pl.when(changes > noise * errors).then(errors.pow(1 - weight) * changes.pow(weight)).otherwise(errors)


def _growth(cv: pl.DataFrame | None, series: pl.DataFrame, groups: pl.DataFrame, span: int,
            exponent: float = 1.0) -> pl.DataFrame | None:
    """``unique_id, cutoff, growth`` at every backtest cutoff and the end of each history: how large a series'
    errors are expected to be for the history its fit saw there, ``length ^ slope`` with its group's slope of
    log |error| on log history length (:func:`forecasting.intervals_history.length_slopes`, estimated on the
    chosen models' backtest windows, their errors relative to the level at each cutoff); None without a
    backtest. Where errors fall as the history grows (slope < 0) the windows, fitted on less history, size the
    band too wide; dividing their errors by their growth and multiplying the forecast's scale by its own takes
    them to the forecast's history (``ForecastConfig.length_slope``)."""
    if cv is None:
        return None
    lengths = history_lengths(series, _band_cutoffs(cv, series))
    rows = cv.join(groups.filter(~pl.col("ratio")), on=["unique_id", "model"], how="inner", validate="m:1")
    levels = series_levels(series, rows.select("unique_id", "cutoff").unique(), span, exponent=exponent)
    windows = rows.join(levels, on=["unique_id", "cutoff"], how="left", validate="m:1").sort(_CV_ORDER).group_by(
        "unique_id", "group", "cutoff").agg(error=((pl.col("y") - pl.col("yhat")).abs() / pl.col("level")).mean())
    windows = windows.join(lengths, on=["unique_id", "cutoff"], how="left", validate="1:1")
    slopes = length_slopes(windows)
    return lengths.join(groups.select("unique_id", "group"), on="unique_id", how="left", validate="m:1").join(
        slopes.select("group", "slope"), on="group", how="left", validate="m:1").select(
        "unique_id", "cutoff", growth=pl.col("length").cast(pl.Float64).pow(pl.col("slope").fill_null(0.0)))


def _with_growth(frame: pl.DataFrame, growth: pl.DataFrame | None) -> pl.DataFrame:
    """``frame`` (``unique_id, cutoff``, …) with each cutoff's ``growth`` (:func:`_growth`; 1 without)."""
    if growth is None:
        return frame.with_columns(growth=pl.lit(1.0))
    return frame.join(growth, on=["unique_id", "cutoff"], how="left", validate="m:1").with_columns(
        pl.col("growth").fill_null(1.0))


def _with_changes(
    frame: pl.DataFrame, changes: pl.DataFrame | None, weight: float, validate: str
) -> pl.DataFrame:
    """``frame`` (``unique_id, cutoff``, …) with the history's recent ``changes`` at its cutoffs
    (:func:`_changes`), null where they are not blended in (no ``changes`` or ``weight`` 0: :func:`_blended`
    then keeps the backtest scale)."""
    if changes is None or not weight:
        return frame.with_columns(changes=pl.lit(None, dtype=pl.Float64))
    return frame.join(changes, on=["unique_id", "cutoff"], how="left", validate=validate)


def _changes(cv: pl.DataFrame | None, series: pl.DataFrame, config: ForecastConfig) -> pl.DataFrame | None:
    """``unique_id, cutoff, changes`` at every backtest cutoff and the end of each history: the history's
    recent changes over one season (:func:`forecasting.intervals_history.recent_changes`); None where they are
    not blended in (``history_scale_weight`` 0, or no backtest)."""
    if not config.history_scale_weight or cv is None:
        return None
    return recent_changes(series, _band_cutoffs(cv, series), config.season_length, config.season_length)


def _band_cutoffs(cv: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, cutoff``: every backtest cutoff and the end of each history (where bands are sized)."""
    return pl.concat([cv.select("unique_id", "cutoff").unique(),
                      series.group_by("unique_id").agg(cutoff=pl.col("ds").max())]).unique()


def _error_scale(
    cv: pl.DataFrame | None, series: pl.DataFrame, groups: pl.DataFrame, span: int, recent: bool = False,
    rms: bool = False, exponent: float = 1.0, changes: pl.DataFrame | None = None,
    history_weight: float = 0.0, growth: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Scale of each series' errors: the mean of its model's |y − ŷ| / level over every backtest window and
    step, times its level at the end of the history (:func:`forecasting.intervals_history.series_levels`,
    ``span`` periods); where it has no backtest, its in-sample lag-1 naive MAE. With ``recent``, over its most
    recent ``n − 1`` of ``n ≥ 2`` windows only: as many as the scale of each calibration window (its other
    windows, :func:`_calibration`), so that the forecast's scale is as noisy as the scales the pooled
    errors were divided by (a scale from more windows is steadier, and the pooled errors' spread, widened
    by the noisier scales, then makes the band too wide). With ``rms`` the root mean square of the
    |y − ŷ| / level instead of their mean (``ForecastConfig.scale_statistic``). Levels are raised to
    ``exponent`` (``ForecastConfig.level_exponent``; 1: errors in proportion to the level). With
    ``history_weight`` > 0 it is blended with the history's recent ``changes`` at the end of the history
    (``unique_id, cutoff, changes``; :func:`_blended`). With ``growth`` (``unique_id, cutoff, growth``,
    :func:`_growth`) each window's errors are divided by the growth at its cutoff and the scale multiplied
    by the growth at the end of the history: the windows' errors brought to the history the forecast saw."""
    last = series.group_by("unique_id").agg(cutoff=pl.col("ds").max())
    naive = naive_scale(series, last, season=1, level_fallback=False).select("unique_id", naive="scale")
    if cv is None:
        return naive.rename({"naive": "scale"})
    if recent:
        windows = pl.col("cutoff").n_unique().over("unique_id")
        newest = pl.col("cutoff").rank("dense", descending=True).over("unique_id")
        cv = cv.filter((windows == 1) | (newest < windows))
    # joins do not keep row order, and float sums depend on it: sort first, so the result does not depend
    # on how the series were chunked or on thread timing
    rows = cv.join(groups, on=["unique_id", "model"], how="semi")
    cutoffs = pl.concat([rows.select("unique_id", "cutoff").unique(), last])
    levels = _with_growth(series_levels(series, cutoffs, span, exponent=exponent).unique(["unique_id", "cutoff"]),
                          growth)
    rel = _relative_error()
    own = rows.join(levels, on=["unique_id", "cutoff"], how="left", validate="m:1").sort(_CV_ORDER).group_by(
        "unique_id").agg(own=rel.pow(2).mean().sqrt() if rms else rel.mean())
    now = last.join(levels, on=["unique_id", "cutoff"], how="left", validate="1:1")
    now = _with_changes(now, changes, history_weight, "1:1").select("unique_id", "level", "growth", "changes")
    blended = _blended(pl.col("own") * pl.col("level") * pl.col("growth"), pl.col("changes"), history_weight)
    return naive.join(own, on="unique_id", how="left", validate="1:1").join(
        now, on="unique_id", how="left", validate="1:1").select(
        "unique_id", scale=pl.coalesce(blended, "naive")
    )


def _calibration(
    cv: pl.DataFrame | None, groups: pl.DataFrame, picks: pl.DataFrame, series: pl.DataFrame, span: int,
    rms: bool = False, exponent: float = 1.0, newest: int | None = None, changes: pl.DataFrame | None = None,
    history_weight: float = 0.0, growth: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Backtest forecasts calibrating each series' band, with its group, horizon step, ratio flag and scale.

    Errors that did not choose the model: for each window of a series with two or more, the model its set's
    strategy picked on the *other* windows (``picks``, :func:`forecasting.select_strategy.held_out_picks`),
    its errors in the held-out window divided by its error scale on those other windows, as the final
    forecast is the model picked on every window with its scale from them (a champion's low backtest
    errors are thus not taken for its future ones: the winner's curse). A series of a set without a default
    (intermittent: every window's champion), its chosen model with the scale of its other windows (leave
    one window out); a series with one window brings none. Pooled over the series of a group by step: each
    series brings its error level, the group the shape of the distribution and its growth with the horizon
    (a few windows of one series cannot tell a 2.5% quantile). No backtest at all: no rows (the quantiles
    fall back to the wide band). Scales are relative to the series' level at each window's cutoff (the
    mean |y| of its last ``span`` periods, :func:`forecasting.intervals_history.series_levels`): the scale of
    a held-out window is its level times the mean |error| / level of the other windows, as the forecast's is
    today's level times that of every window (an old window's errors size today's band at today's level).
    With ``rms`` the scales are root mean squares, and the levels raised to ``exponent``, as
    :func:`_error_scale`'s. With ``newest``, each series' ``newest`` most recent held-out windows only
    (``ForecastConfig.calibration_windows``; their scales still from every other window). With
    ``history_weight`` > 0 each window's scale is blended with the history's recent ``changes`` at its
    cutoff (``unique_id, cutoff, changes``), as the forecast's is at the end of the history
    (:func:`_blended`). With ``growth`` (:func:`_growth`) each window's errors are divided by the growth at
    its cutoff and a held-out window's scale multiplied by its own, as :func:`_error_scale`'s.
    """
    if cv is None:
        return pl.DataFrame(schema={"group": pl.String, "step": pl.Int64, "ratio": pl.Boolean,
                                    "y": pl.Float64, "yhat": pl.Float64, "scale": pl.Float64})
    cv = cv.with_columns(window=(pl.col("cutoff").rank("dense").over("unique_id") - 1).cast(pl.Int64))
    levels = _with_growth(series_levels(series, cv.select("unique_id", "cutoff").unique(), span, exponent=exponent),
                          growth)
    nested = cv.join(picks, on=["unique_id", "window", "model"], how="inner", validate="m:1")
    own = cv.join(picks.select("unique_id").unique(), on="unique_id", how="anti").join(
        groups.select("unique_id", "model"), on=["unique_id", "model"], how="inner", validate="m:1")
    rows = pl.concat([nested, own]).join(groups.drop("model"), on="unique_id", how="inner", validate="m:1")
    rows = rows.sort(_CV_ORDER)
    held_out = rows if newest is None else rows.filter(
        pl.col("window") > pl.col("window").max().over("unique_id") - newest)
    rel_err = _relative_error(rms)
    used = cv.join(rows.select("unique_id", "model").unique(), on=["unique_id", "model"], how="semi").join(
        levels, on=["unique_id", "cutoff"], how="left", validate="m:1")
    window = used.sort(_CV_ORDER).group_by("unique_id", "model", "window").agg(
        w_sum=rel_err.sum(), w_n=pl.len(), w_level=pl.col("level").first() * pl.col("growth").first(),
        cutoff=pl.col("cutoff").first(),
    ).sort("unique_id", "model", "window")
    window = _with_changes(window, changes, history_weight, "m:1")
    others = ((pl.col("w_sum").sum().over("unique_id", "model") - pl.col("w_sum"))
              / (pl.col("w_n").sum().over("unique_id", "model") - pl.col("w_n")))
    loo = window.with_columns(scale=_blended(pl.col("w_level") * (others.sqrt() if rms else others),
                                             pl.col("changes"), history_weight)).filter(
        pl.col("scale").is_finite())
    return held_out.join(loo.select("unique_id", "model", "window", "scale"),
                         on=["unique_id", "model", "window"], how="inner", validate="m:1").with_columns(
        step=_WINDOW_STEP)


def _backtested(cv: pl.DataFrame | None, groups: pl.DataFrame) -> list[str]:
    """The series whose band model has backtest errors of its own (their scale is :func:`_error_scale`'s
    error scale; the others' is their in-sample lag-1 naive MAE)."""
    if cv is None:
        return []
    return cv.join(groups, on=["unique_id", "model"], how="semi").get_column("unique_id").unique().to_list()


def _naive_units(calibration: pl.DataFrame, series: pl.DataFrame) -> pl.DataFrame:
    """``calibration`` with each window's scale its series' in-sample lag-1 naive MAE up to the window's
    cutoff (:func:`forecasting.metrics.naive_scale`): the pool of a series with no backtest window.

    Such a series (a history too short for one window at this horizon: 29 of M1 quarterly's 203 series at
    h 12) has its naive MAE as its band's unit (:func:`_error_scale`); the pooled errors divided by the
    backtested series' error scales (an h-step model error, larger) are in another unit, and its band came
    out too narrow (80% band 64.7%, 95% band 84.8% on those 29). Divided by the same naive MAE, the errors
    are in its unit."""
    cutoffs = calibration.select("unique_id", "cutoff").unique()
    naive = naive_scale(series, cutoffs, season=1, level_fallback=False)
    return calibration.drop("scale").join(naive, on=["unique_id", "cutoff"], how="left", validate="m:1")


def _only_windows(cv: pl.DataFrame, groups: pl.DataFrame, chosen: pl.DataFrame, series: pl.DataFrame,
                  span: int, rms: bool = False, exponent: float = 1.0, changes: pl.DataFrame | None = None,
                  history_weight: float = 0.0, growth: pl.DataFrame | None = None) -> pl.DataFrame:
    """The served default's errors in each series' backtest window, each step's scale from the window's
    other steps: the pool of a run where no series has two windows, so that no error was held out from a pick
    (:func:`_calibration` has none, and the bands took the wide lognormal band).

    A default is served whatever its one window scored (a champion needs ``champion_min_windows``), so these
    errors did not choose the model. A step's scale is :func:`_calibration`'s with the window's other steps in
    place of the other windows (its mean |error| / level there, times the level at the cutoff, blended with
    the history's changes), as the forecast's is its window's every step (:func:`_error_scale`): an error
    scaled by a mean it is part of cannot be far from it, and the 95% band came out too narrow (M1 monthly cut
    to 36 months: 88.8%). Such a run (every monthly series 30–47 months long at h 18, every weekly one 2–3
    years long planned 52 weeks ahead) covered 97–99% of its 80% band before, its band 1.8 times the mean
    (docs/forecast-intervals.md, "Stop 36: one backtest window each").

    Changes of float noise before a cutoff (at most 1e-9 of the errors: a history periodic to the last bit,
    or a season without any change, whose rolling mean keeps a running sum's residue of ±1e-17) are not
    blended in: their 1e-16 made a window's scale a ten-thousandth of its errors, and one series
    whose level stepped ×100 inside its window set every band of a 10-series panel at up to 759,084 times
    its mean (``test_odd_but_valid_series_get_finite_ordered_bands``, monthly at 36 periods). Where series
    have two windows the guard is not applied: on that test's quarterly panel it lifts the stepped series'
    own q99 from 1.4 to 161 times its history's largest value (its level-relative errors of the window
    with the step, brought to the new level), which the noise's tiny scale had capped."""
    served = chosen.filter(pl.col("selection") == "default").select("unique_id", "model")
    rows = (cv.join(served, on=["unique_id", "model"], how="semi")
            .join(groups.drop("model"), on="unique_id", how="inner", validate="m:1"))
    levels = _with_growth(series_levels(series, rows.select("unique_id", "cutoff").unique(), span,
                                        exponent=exponent), growth)
    rows = rows.join(levels, on=["unique_id", "cutoff"], how="left", validate="m:1").sort(_CV_ORDER)
    rows = _with_changes(rows, changes, history_weight, "m:1")
    rel = _relative_error(rms)
    others = (rel.sum().over("unique_id", "cutoff") - rel) / (pl.len().over("unique_id", "cutoff") - 1)
    return rows.with_columns(
        scale=_blended(pl.col("level") * pl.col("growth") * (others.sqrt() if rms else others),
                       pl.col("changes"), history_weight, noise=1e-9),
        step=_WINDOW_STEP,
    ).filter(pl.col("scale").is_finite())


def _step_growth(pool: pl.DataFrame) -> float:
    """How a backtest's errors grow with the horizon step: ``b`` of mean |y − ŷ| / scale ∝ step^b over the
    ``pool``'s steps (least squares on the logs), within [0, 1] (0: noise, the same at every step; 0.5: a
    random walk; 1: a missed trend); 0 with fewer than two steps. A shortened backtest's steps past its
    horizon take its last step's errors with their scale grown by (step / last)^b
    (:func:`_scored_horizon`): left at the last step's band, M4 Weekly's 80% band covered 60.8% of weeks 5-13
    after a 4-week backtest (grown, 75.5%; docs/forecast-intervals.md, "Stop 37")."""
    steps = (pool.filter(pl.col("scale") > 0)
             .group_by("step").agg(m=((pl.col("y") - pl.col("yhat")) / pl.col("scale")).abs().mean())
             .filter((pl.col("m") > 0) & pl.col("m").is_finite()))
    if steps.height < 2:
        return 0.0
    x, y = steps.get_column("step").cast(pl.Float64).log(), steps.get_column("m").log()
    slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
    return min(max(float(slope), 0.0), 1.0)


def _with_seasonal(scored: pl.DataFrame, calibration: pl.DataFrame, cv: pl.DataFrame, series: pl.DataFrame,
                   season: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``scored`` and ``calibration`` with ``seasonal``: whether the series' history looked seasonal at the
    end of the history (the forecast) and at each window's cutoff (its errors), as the band's pools split
    them (:func:`forecasting.intervals_history.seasonal_histories`;
    ``ForecastConfig.calibration_seasonal_split``)."""
    seasonal = seasonal_histories(series, _band_cutoffs(cv, series), season)
    last = series.group_by("unique_id").agg(cutoff=pl.col("ds").max())
    now = last.join(seasonal, on=["unique_id", "cutoff"], how="left", validate="1:1").select("unique_id", "seasonal")
    return (scored.join(now, on="unique_id", how="left", validate="m:1"),
            calibration.join(seasonal, on=["unique_id", "cutoff"], how="left", validate="m:1"))


def _error_bands(
    scored: pl.DataFrame, cv: pl.DataFrame | None, chosen: pl.DataFrame, picks: pl.DataFrame,
    plan: pl.DataFrame, series: pl.DataFrame, config: ForecastConfig, shortened: int | None,
) -> list[pl.DataFrame]:
    """The quantiles of the ``scored`` series (a model's forecast, not the rule's), from the first of:

    1. the backtest errors that did not pick the model, pooled by class × candidate set × selection and by
       horizon step (:func:`_calibration`, :func:`forecasting.intervals.pooled_quantiles`); an intermittent
       or lumpy series' own demand distribution (:func:`forecasting.intervals.empirical_quantiles`);
    2. where no series has two windows, so nothing was held out from a pick: the served default's errors in
       each series' one window (:func:`_only_windows`), in naive units where the series has no window or
       the backtest scored fewer steps than asked (``shortened``);
    3. where there is no error at all: the wide lognormal band (``rule_band_cv``).
    """
    parts = []
    groups = _groups(plan, chosen, config.calibration_groups)
    span = config.level_periods or 2 * config.season_length
    rms = config.scale_statistic == "rms"
    exponent = config.level_exponent
    weight, changes = config.history_scale_weight, _changes(cv, series, config)
    growth = _growth(cv, series, groups, span, exponent) if config.length_slope else None
    scale = _error_scale(cv, series, groups, span, recent=config.scale_windows == "recent", rms=rms,
                         exponent=exponent, changes=changes, history_weight=weight, growth=growth)
    scored = (
        scored.join(groups.drop("model"), on="unique_id", how="left", validate="m:1")
        .join(scale, on="unique_id", how="left", validate="m:1")
        .with_columns(step=pl.col("ds").rank("dense").over("unique_id").cast(pl.Int64))
    )
    calibration = _calibration(cv, groups, picks, series, span, rms, exponent,
                               config.calibration_windows, changes, weight, growth)
    split = None
    if config.calibration_seasonal_split and cv is not None:
        split = "seasonal"
        scored, calibration = _with_seasonal(scored, calibration, cv, series, config.season_length)
    intermittent = pl.col("ratio")
    backtested = pl.col("unique_id").is_in(_backtested(cv, groups))
    pooled = partial(pooled_quantiles, quantiles=config.quantiles, min_errors=config.calibration_min_errors,
                     symmetric=config.symmetric_bands, step_span=config.calibration_step_span,
                     split_col=split, cap=config.calibration_error_cap,
                     scale_floor=config.calibration_scale_floor)
    unbacktested = scored.filter(~intermittent & ~backtested)  # most runs: none, and no naive units
    banded = pl.concat([
        pooled(scored.filter(~intermittent & backtested), calibration),
        pooled(unbacktested, calibration if cv is None or unbacktested.is_empty()
               else _naive_units(calibration, series)),
        empirical_quantiles(scored.filter(intermittent), series, config.quantiles),
    ], how="diagonal_relaxed")
    no_errors = pl.col(schema.quantile_column(config.quantiles[0])).is_null()
    parts.append(banded.filter(~no_errors))
    bands = [schema.quantile_column(q) for q in config.quantiles]
    unbanded = banded.filter(no_errors).drop(bands)
    if unbanded.height and cv is not None:  # no series has two windows: their one window's errors
        alone = _only_windows(cv, groups, chosen, series, span, rms, exponent, changes, weight, growth)
        if split:  # each window's split at its cutoff, as _with_seasonal gives the calibration's
            cutoffs = alone.select("unique_id", "cutoff").unique()
            alone = alone.join(seasonal_histories(series, cutoffs, config.season_length),
                               on=["unique_id", "cutoff"], how="left", validate="m:1")
        # in naive units: a series with no window at all (as above), and every series where the
        # backtest scored fewer steps than the forecast's horizon (_scored_horizon): its one window
        # is a few steps after the least training the rule allows, too few and too alike for each
        # step's scale to come from the others (docs/forecast-intervals.md, "Stop 37")
        in_naive = ~backtested | pl.lit(shortened is not None)
        naive = _error_scale(None, series, groups, span)  # the in-sample lag-1 naive MAE at the end
        short = (unbanded.filter(in_naive).drop("scale")
                 .join(naive, on="unique_id", how="left", validate="m:1"))
        pool = alone if short.is_empty() else _naive_units(alone, series)
        if shortened is not None:  # the steps past the backtest's grow as its errors grew
            past = (pl.col("step") / shortened).clip(lower_bound=1.0)
            short = short.with_columns(pl.col("scale") * past.pow(_step_growth(pool)))
        unbanded = pl.concat([pooled(unbanded.filter(~in_naive), alone), pooled(short, pool)],
                             how="diagonal_relaxed")
        parts.append(unbanded.filter(~no_errors))
        unbanded = unbanded.filter(no_errors).drop(bands)
    if unbanded.height:  # no error anywhere to calibrate on: the wide band
        parts.append(lognormal_quantiles(unbanded, config.quantiles, config.rule_band_cv))
    return parts
