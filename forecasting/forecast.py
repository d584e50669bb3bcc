"""Automatic forecasting: classify, backtest candidates, choose a champion per series, forecast, quantiles.

Per series, by class (:mod:`forecasting.classify`):

- ``smooth`` / ``erratic``: ``config.seasonal_models``; ``short``: ``config.short_models``;
  ``intermittent`` / ``lumpy``: ``config.intermittent_models``. Each candidate is backtested over up to
  ``backtest_windows`` rolling origins ``backtest_step`` periods apart (as many as the history allows with
  ``min_train_weeks`` of time — a full season for seasonal candidates — before the oldest origin). A set
  with a default model (``seasonal_default``, ``short_default``: robust combinations) keeps it, selection
  ``default``, unless a candidate beats it in every window by ``champion_margin`` on average
  (:mod:`forecasting.select`), selection ``backtest`` — or, with ``selection_strategy``, the default
  everywhere or the champion everywhere, ``auto`` choosing per set by nested backtest (each window held
  out, picks made on the others); a set without one takes the champion on MASE,
  WAPE, |bias| and simplicity. A series with no scorable candidate gets its set's default, else its
  fallback (:data:`FALLBACKS`), selection ``fallback``; one too short for any backtest window gets its
  set's default unscored. A ``short`` series with ADI at or above the threshold takes the intermittent
  set. A series whose chosen forecast falls to zero though it sold in every recent period takes its set's
  default, else the best-scored candidate that stays above zero, selection ``guard``
  (:func:`forecasting.choice._guard`).
  Quantiles: held-out backtest errors of the models the strategy picks on the other windows, pooled
  over the series of a candidate set (``calibration_groups``) by horizon step, each divided by its series'
  root-mean-square error scale (``scale_statistic``) and pooled with its mirror image (``symmetric_bands``;
  :func:`forecasting.intervals.pooled_quantiles`). Work runs in two phases on one worker pool: the
  backtest of every candidate, then a fit of each series' model alone on its history for the forecast.
- ``new``, and a series too short for one backtest window in a set without a default:
  :data:`RULE_MODEL` (the mean of its life), selection ``rule``, with a wide lognormal band (``rule_band_cv``).
- ``inactive``: zero, selection ``rule``, model ``Zero``, every quantile zero (with ``inactive_returns``,
  zero where the set's silent series stay silent, else the series' past demand: :mod:`forecasting.silent`).
- ``seasonal_only`` (sold in the same periods of every season): its last season's total over its seasonal
  profile, selection ``rule``, model ``SeasonalProfile``, banded by the class's one-season-ahead ratios
  (:mod:`forecasting.profile`).

A monthly set whose history shows its months moving with the weekdays they hold is fitted
without that effect and forecast at each period's own (``trading_days``, :mod:`forecasting.tradingdays`); one
whose history shows its periods that hold a 29 February apart from their season has those periods' forecast
and quantiles multiplied by the set's factor (``leap_effect``, :mod:`forecasting.leap`). Both are tested on
the set's history and taken only where it shows them (stop 48: on by default).

This module checks the series and runs the steps in order (:func:`forecast_demand`); each step is its own
module: the backtest's plan and work (:mod:`forecasting.backtest`), the model each series takes
(:mod:`forecasting.choice`) and the bands from the errors that did not choose it
(:mod:`forecasting.calibration`).
"""

from __future__ import annotations

from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass

import polars as pl

from data_contracts import schema
from forecasting.backtest import (FALLBACKS, RULE_MODEL, ZERO_MODEL, _backtest, _champion_tasks,
                                  _chosen_backtest, _one_offs_out, _plan, _scored_horizon, _season_source,
                                  _trimmed_backtest)
from forecasting.calibration import _error_bands
from forecasting.choice import _choose, _chosen_default, _guard
from forecasting.classify import classify_series
from forecasting.config import ForecastConfig
from forecasting.engine import run_tasks, worker_pool
from forecasting.intervals import lognormal_quantiles, tidy_quantiles
from forecasting.leap import LeapEffect, leap_effect, leap_scaled
from forecasting.outliers import fill_below_zero, signed_ids
from forecasting.profile import PROFILE_MODEL, profile_forecast
from forecasting.select import trim_worst_member
from forecasting.silent import inactive_quantiles, return_shares
from forecasting.tradingdays import TradingDayEffect, trading_day_effect, trading_day_scaled

__all__ = ["ForecastResult", "dated_by_month_ends", "forecast_demand", "validate_series", "FALLBACKS", "RULE_MODEL",
           "ZERO_MODEL"]


@dataclass(frozen=True)
class ForecastResult:
    """What :func:`forecast_demand` returns; every frame keyed by ``unique_id``."""

    forecast: pl.DataFrame  # unique_id, ds, model, mean, q01..q99
    series: pl.DataFrame  # unique_id, series_class, n_weeks, adi, cv2, model, selection (incl. ``guard``)
    backtest: pl.DataFrame  # unique_id, model, window, mase, wape, bias
    # set, strategy, series, evidence, default, champion: how each set with a default chose
    # (select_strategy.py)
    strategy: pl.DataFrame | None = None
    # unique_id, ds, y, replaced_by: the one-offs and rare periods below zero the models saw at their local
    # level (forecasting.outliers)
    outliers: pl.DataFrame | None = None
    # periods ahead the backtest scored and the bands calibrated on: the asked backtest horizon, or less where
    # no series had the history for one window that long (_scored_horizon); None: no series was backtested
    backtest_horizon: int | None = None
    # the set's leap-period factor, where its history shows one (forecasting.leap): the leap periods' forecast
    # and quantiles multiplied by it
    leap: LeapEffect | None = None
    # the set's trading-day slope, where its history shows one (forecasting.tradingdays): the history fitted
    # without it, each forecast period at its own
    trading_days: TradingDayEffect | None = None


def dated_by_month_ends(series: pl.DataFrame, freq: str) -> bool:
    """Whether a monthly, quarterly or yearly panel dates every period by the last day of its month
    (2014-01-31, 2014-02-28, 2014-03-31: an ERP's or a ledger's month), as pandas' ``ME`` / ``QE`` do.

    Such a panel is regular, but a step of ``freq`` from a day past the 28th does not give the next one
    (2014-02-28 plus a month is 2014-03-28), so :func:`validate_series` refused it as irregular, naming
    its 31 March. :func:`forecast_demand` fits it on its months' first days and dates its forecast back to
    their last days."""
    if not freq.endswith(("mo", "q", "y")) or "ds" not in series.columns or series.is_empty():
        return False
    ds = series.get_column("ds")
    return ds.dtype == pl.Date and ds.null_count() == 0 and bool((ds == ds.dt.month_end()).all())


def validate_series(series: pl.DataFrame, freq: str = "1w") -> None:
    """Raise ``ValueError`` naming the series unless ``unique_id, ds (Date), y`` is a regular panel of ``freq``."""
    missing = {"unique_id", "ds", "y"} - set(series.columns)
    if missing:
        raise ValueError(f"series frame lacks columns {sorted(missing)} (contract: unique_id, ds, y)")
    if series.schema["ds"] != pl.Date:
        raise ValueError(f"series column ds must be a Date, got {series.schema['ds']}")
    nulls = series.filter(pl.any_horizontal(pl.col("unique_id", "ds", "y").is_null()))
    if nulls.height:
        raise ValueError(f"series with missing values (missing is not zero): {nulls.head(5).rows()}")
    if series.schema["y"].is_numeric() and (odd := series.filter(~pl.col("y").is_finite())).height:
        # a NaN is a missing value too; an inf no demand
        raise ValueError(f"series with values that are no finite number (NaN, inf): {odd.head(5).rows()}")
    # a panel dated by its months' last days steps from their first (dated_by_month_ends)
    period = pl.col("ds").dt.month_start() if dated_by_month_ends(series, freq) else pl.col("ds")
    gaps = (
        series.sort("unique_id", "ds")
        .with_columns(expected=period.shift(1).over("unique_id").dt.offset_by(freq))
        .filter(pl.col("expected").is_not_null() & (period != pl.col("expected")))
    )
    if gaps.height:
        raise ValueError(
            f"series must be regular at {freq!r} without gaps or duplicates; first offending (unique_id, ds): "
            f"{gaps.select('unique_id', 'ds').head(5).rows()}"
        )


def _zero_forecast(
    series: pl.DataFrame, ids: list[str], horizon: int, config: ForecastConfig
) -> pl.DataFrame:
    """Zero forecasts of the inactive series ``ids``: every quantile zero, or with ``inactive_returns`` banded
    by the set's chance that a silent series' demand comes back (:mod:`forecasting.silent`, from every
    series' history)."""
    last = series.filter(pl.col("unique_id").is_in(ids)).group_by("unique_id").agg(pl.col("ds").max())
    out = last.with_columns(ds=config.future_dates(pl.col("ds"), horizon)).explode("ds").with_columns(
        model=pl.lit(ZERO_MODEL), mean=pl.lit(0.0))
    shares = (return_shares(series, ids, config.periods(config.inactive_weeks), horizon) if config.inactive_returns
              else pl.DataFrame(schema={"unique_id": pl.String, "share": pl.Float64}))
    return inactive_quantiles(out, series, config.quantiles, shares)


def _quantiles(
    fc: pl.DataFrame | None, cv: pl.DataFrame | None, chosen: pl.DataFrame, picks: pl.DataFrame,
    plan: pl.DataFrame,
    series: pl.DataFrame, horizon: int, config: ForecastConfig, shortened: int | None = None,
) -> pl.DataFrame:
    """The chosen model's forecast per series with its quantiles: a model's forecast banded by errors
    (:func:`_error_bands`), the rule's by the wide lognormal band, ``Zero`` and the seasonal profile by
    their own; ``shortened``: the backtest's horizon where it scored fewer steps than asked
    (:func:`_scored_horizon`)."""
    columns = ["unique_id", "ds", "model", "mean", *(schema.quantile_column(q) for q in config.quantiles)]
    parts = [pl.DataFrame(schema={c: pl.String if c in ("unique_id", "model") else pl.Date if c == "ds"
                                  else pl.Float64 for c in columns})]
    if fc is not None:
        picked = fc.join(chosen, on=["unique_id", "model"], how="inner").rename({"yhat": "mean"})
        scored = picked.filter(pl.col("selection") != "rule")
        if scored.height:
            parts.extend(_error_bands(scored, cv, chosen, picks, plan, series, config, shortened))
        ruled = picked.filter(pl.col("selection") == "rule")
        if ruled.height:
            parts.append(lognormal_quantiles(ruled, config.quantiles, config.rule_band_cv))
    zeros = chosen.filter(pl.col("model") == ZERO_MODEL).get_column("unique_id")
    if zeros.len():
        parts.append(_zero_forecast(series, zeros.to_list(), horizon, config))
    profiles = chosen.filter(pl.col("model") == PROFILE_MODEL).get_column("unique_id")
    if profiles.len():
        parts.append(profile_forecast(series, profiles.to_list(), horizon, config))
    forecast = pl.concat([p.select(columns) for p in parts], how="vertical_relaxed")
    return tidy_quantiles(forecast, config.quantiles).sort("unique_id", "ds")


def forecast_demand(
    series: pl.DataFrame,
    horizon: int,
    config: ForecastConfig = ForecastConfig(),
    executor: Executor | None = None,
    backtest_horizon: int | None = None,
) -> ForecastResult:
    """Forecast every series ``horizon`` weeks ahead with a champion model chosen by backtest.

    Args:
        series: ``unique_id, ds, y``: weekly (Monday) history, zero-filled inside each series' life (or of
            ``config.freq``; monthly, quarterly or yearly periods may be dated by their month's last day, and
            the forecast and one-offs are then dated so too: :func:`dated_by_month_ends`).
        horizon: weeks to forecast (> 0).
        config: model sets, backtest, classification and parallelism settings.
        executor: runs the chunks instead of a local process pool when given (anything with
            ``map(fn, items, chunksize=1)`` returning results in order, e.g. the pipeline's Dask cluster,
            ``flows/cluster.py``); ``config.n_jobs`` should then be its worker count (it sizes the chunks).
        backtest_horizon: weeks ahead the backtest scores and calibrates on (default ``horizon``): the plan's
            horizon when the forecast runs past it (for the plan's terminal condition), so the models chosen
            and the forecast of the horizon's weeks are those of a forecast over the horizon alone.

    Returns:
        :class:`ForecastResult` with the forecast (mean and ``config.quantiles``, ≥ 0 and monotone), the
        per-series class and champion, and every candidate's backtest scores.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 week, got {horizon}")
    validate_series(series, config.freq)
    if month_ends := dated_by_month_ends(series, config.freq):  # fitted on the months' first days
        series = series.with_columns(pl.col("ds").dt.month_start())
    series = series.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).sort("unique_id", "ds")
    leap = leap_effect(series, config, month_ends)  # its periods that hold a 29 February: forecast at it
    # its periods' weekdays (forecasting.tradingdays): fitted without them, the forecast at its periods' own
    if tdays := trading_day_effect(series, config, month_ends):
        series = trading_day_scaled(series, tdays.slope, ["y"], config.freq, month_ends, divide=True)
    asked = min(backtest_horizon or horizon, horizon)
    # a rare period below zero (a return) is no silence: classed with it at its level (forecasting.outliers)
    classes = classify_series(series if config.outlier_factor is None else fill_below_zero(series), config)
    plan = _plan(classes, asked, config)
    if (scored := _scored_horizon(plan, asked)) < asked:  # too short a history for one window at asked
        plan = _plan(classes, scored, config)
    config = config.model_copy(update={"n_jobs": config.workers(plan.height)})  # None → a number from here on
    # the models fit the history without its one-offs; every backtest row is scored on what was ordered
    series, outliers = _one_offs_out(series, plan, config)
    # the models fit the last input_weeks weeks; with season_from_life (True, or "backtest" where the set's
    # backtest takes it: _season_source, after the window's backtest, which it then reruns on the life) the
    # tasks carry the whole life and DARIMA's season comes from it (forecasting.engine); the class saw the
    # whole life; selection and bands see the window
    life = series
    if config.input_weeks is not None:
        series = series.group_by("unique_id", maintain_order=True).tail(config.input_periods())
    windows = series.partition_by("unique_id", as_dict=True)
    lives = life.partition_by("unique_id", as_dict=True) if config.season_from_life else windows
    with worker_pool(config.n_jobs) if executor is None else nullcontext(executor) as pool:
        frames = lives if config.season_from_life is True else windows
        cv, fc_rule, orders = _backtest(frames, plan, scored, config, horizon, pool, outliers)
        config = _season_source(lives, cv, series, plan, scored, config, pool, outliers)
        if config.season_from_life and frames is windows:  # "backtest" took the life: the backtest on it
            frames = lives
            cv, fc_rule, orders = _backtest(frames, plan, scored, config, horizon, pool, outliers)
        config = _chosen_default(cv, series, plan, config)
        # net flows (a value below zero in what the models fit): their members all averaged
        signed = signed_ids(pl.concat(list(frames.values()))) if frames else []
        cv, orders = _chosen_backtest(frames, plan, scored, config, cv, orders, pool, outliers, signed)
        backtest, chosen, strategy, picks = _choose(cv, series, plan, config)
        trimmed = trim_worst_member(chosen, backtest, config.seasonal_default, config.trim_min_members)
        cv = _trimmed_backtest(cv, trimmed.join(chosen, on=["unique_id", "model"], how="anti"),
                               signed)
        chosen = trimmed
        _, fc_champion, _ = run_tasks(_champion_tasks(frames, plan, chosen, horizon, config, orders), pool)
        chosen, fc_champion = _guard(frames, series, plan, chosen, backtest, fc_champion, horizon, config,
                                     pool)
    parts = [f for f in (fc_rule, fc_champion) if f is not None]
    fc = pl.concat(parts, how="vertical_relaxed").sort("unique_id", "ds", maintain_order=True) if parts else None
    summary = plan.join(chosen, on="unique_id", how="left", validate="1:1").select(
        "unique_id", "series_class", "n_weeks", "adi", "cv2", "model", "selection"
    ).sort("unique_id")
    forecast = _quantiles(fc, cv, chosen, picks, plan, series, horizon, config,
                          shortened=scored if scored < asked else None)
    values = ["mean", *(schema.quantile_column(q) for q in config.quantiles)]
    if tdays:  # each period at its weekdays' factor; the one-offs as ordered
        forecast = trading_day_scaled(forecast, tdays.slope, values, config.freq, month_ends)
        outliers = outliers if outliers is None else trading_day_scaled(
            outliers, tdays.slope, ["y", "replaced_by"], config.freq, month_ends)
    if leap:  # the history is fitted as ordered (forecasting/leap.py): the leap periods' forecast moves alone
        forecast = leap_scaled(forecast, leap.factor, values, config.freq, month_ends)
    if month_ends:  # dated as they came: each month by its last day
        forecast = forecast.with_columns(pl.col("ds").dt.month_end())
        outliers = outliers if outliers is None else outliers.with_columns(pl.col("ds").dt.month_end())
    return ForecastResult(forecast=forecast, series=summary, backtest=backtest, strategy=strategy,
                          outliers=outliers, backtest_horizon=scored if backtest.height else None, leap=leap,
                          trading_days=tdays)
