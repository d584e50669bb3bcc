"""Typed configuration of the forecasting stage: one frozen pydantic model, unknown keys are an error."""

from __future__ import annotations

import math
import os
import re

from collections.abc import Mapping
from typing import Any, Literal

import polars as pl

from pydantic import BaseModel, Field, model_validator

from data_contracts import schema

__all__ = ["ForecastConfig", "NATIVE_SEASONAL_MODELS", "NATIVE_SEASONAL_DEFAULT", "NATIVE_SEASONAL_ALTERNATIVES",
           "DECOMPOSED_SEASONAL_MODELS", "DECOMPOSED_SEASONAL_DEFAULT", "infer_freq", "season_of"]

#: smooth/erratic candidates and default for a short season (m ≤ ``native_season_max``: monthly, quarterly):
#: native seasonal ETS beside DOT and the deseasonalised ARIMA, their mean the default. The seasonal
#: AutoARIMA (``SARIMA``) in its place won on M1 monthly but lost 13% sMAPE on PBS at 6× the CPU
#: (docs/forecast-history.md, "Where it stands against the issue's goals"), so it is an option, not a default
#: candidate
NATIVE_SEASONAL_MODELS = ("Naive", "SeasonalNaive", "SETS", "DOT", "DARIMA", "Mean(SETS,DOT,DARIMA)")
NATIVE_SEASONAL_DEFAULT = "Mean(SETS,DOT,DARIMA)"
#: a short season's alternative default (``seasonal_alternatives``): backtested beside the default and taken
#: by the whole set where its mean backtest MASE over the set's series is lower. ``TARIMA`` is SARIMA where
#: the M4 seasonality test finds no season, DARIMA where it finds one, carrying its order across the backtest
#: origins as DARIMA does (stop 24). The default for periods of a month or longer (monthly, quarterly) where
#: the default is chosen by the season: it won or tied on M1 monthly, quarterly and PBS, both samples each, at
#: 1.2–2.1× their CPU; daily data keeps none (SARIMA(7) on 1,092-day fits: ~5× the daily CPU)
#: (docs/forecast-accuracy.md, stops 23 and 24)
NATIVE_SEASONAL_ALTERNATIVES = ("Mean(SETS,DOT,TARIMA)",)
#: the same for a long season (weekly 52): non-seasonal ETS and ARIMA on the classically deseasonalised series,
#: DOT, and ``MSTL_AAdN``: an STL season, which may change over the years where the classical decomposition
#: averages one, with a damped additive trend; their mean the default. The STL member took M4 Weekly's OWA
#: from 0.840 / 0.790 to ≈ 0.73 / 0.70 on two 100-series samples, at ≈ 1.4× the weekly forecast's CPU
#: (docs/forecast-accuracy.md)
DECOMPOSED_SEASONAL_MODELS = ("Naive", "SeasonalNaive", "DETS", "DOT", "DARIMA", "MSTL_AAdN",
                              "Mean(DETS,DOT,DARIMA,MSTL_AAdN)")
DECOMPOSED_SEASONAL_DEFAULT = "Mean(DETS,DOT,DARIMA,MSTL_AAdN)"


_FREQ = re.compile(r"(\d+)(d|w|mo|q|y)")
_CLUSTER = re.compile(r"local|(tcp|tls|ucx|inproc|ws|wss)://\S+")


def _freq_parts(freq: str) -> tuple[int, str]:
    """``freq``'s step count and unit (``'3mo'`` → 3, ``'mo'``); ``ValueError`` where it is not a polars duration
    of days, weeks, months, quarters or years."""
    match = _FREQ.fullmatch(freq)
    if match is None:
        raise ValueError(f"freq must be a polars duration of days, weeks, months, quarters or years "
                         f"('1d', '1w', '1mo', '1q', '1y'), got {freq!r}")
    return int(match.group(1)), match.group(2)


#: the steps :func:`infer_freq` knows, in days between two consecutive dates: a month is 28–31 days, a
#: quarter 89–92, a year 365–366 (a panel dated by its months' first or last days)
_STEPS = {"1d": (1, 1), "1w": (7, 7), "1mo": (28, 31), "1q": (89, 92), "1y": (365, 366)}


def infer_freq(series: pl.DataFrame) -> str:
    """The frequency a panel (``unique_id, ds`` as dates) steps by, as a polars duration: ``'1d'``, ``'1w'``,
    ``'1mo'``, ``'1q'`` or ``'1y'``, from the most common step between a series' consecutive dates.

    Only the step is read here: a gap, a duplicate or a date off the grid is then named by
    :func:`forecasting.validate_series` at the inferred frequency. ``ValueError`` where no series has two
    dates or the common step is none of those (give the frequency then)."""
    steps = (series.sort("unique_id", "ds")
             .select(days=pl.col("ds").diff().over("unique_id").dt.total_days()).drop_nulls())
    steps = steps.filter(pl.col("days") > 0)  # a duplicate date is no step: validate_series names it
    if steps.is_empty():
        raise ValueError("no series has two dates, so the frequency cannot be read from them: give it")
    common = steps.get_column("days").mode().min()
    for freq, (low, high) in _STEPS.items():
        if low <= common <= high:
            return freq
    raise ValueError(f"the dates step by {common} days most often, which is not a day, week, month, quarter "
                     "or year: give the frequency")


def season_of(freq: str) -> int:
    """Periods in a season of ``freq`` (a polars duration): a year of weeks, months, quarters or years where the
    step divides it (``'1w'`` 52, ``'2w'`` 26, ``'1mo'`` 12, ``'3mo'`` 4, ``'1q'`` 4, ``'1y'`` 1), a week of days
    for ``'1d'`` (7); 1 (no season) for any other step. ``freq`` not a duration: ``ValueError``."""
    count, unit = _freq_parts(freq)
    per = {"d": 7, "w": 52, "mo": 12, "q": 4, "y": 1}[unit]  # a daily series' season is its week
    return per // count if count and per % count == 0 else 1


class ForecastConfig(BaseModel, frozen=True, extra="forbid"):
    """Knobs of :func:`forecasting.forecast_demand`; every default is the plan-of-record setting."""

    season_length: int | None = Field(
        None, ge=1, description="Observations per season. None: a year of `freq`'s periods (52 weekly, 12 "
        "monthly, 4 quarterly, 1 yearly; a multiple such as '2w' 26 where it divides the year) and a week of "
        "daily data (7); another daily step or a step that does not divide the year: 1, no season.")
    freq: str = Field(
        "1w", description="Series frequency as a polars duration ('1w' weekly Mondays, '1mo', '1q', '1d'). "
        "`new_weeks`, `inactive_weeks` and `min_train_weeks` count weeks of time, turned into periods of "
        "it (26 weeks = 6 months = 2 quarters); `input_weeks` counts weeks of time too, but never fewer "
        "periods than its number (see `input_periods`).")
    backtest_windows: int = Field(3, ge=1, description="Rolling-origin backtest windows (most per series).")
    backtest_step: int | None = Field(
        None, ge=1, description="Weeks between backtest origins; None = the horizon (non-overlapping)."
    )
    backtest_refit: Literal["every", "arima_order", "forms", "once"] = Field(
        "forms", description="How the backtest fits its candidates at the later origins: `every` "
        "refits every candidate at every origin; `arima_order` the same, except that an AutoARIMA "
        "(ARIMA, DARIMA) searches its order at the oldest origin only and re-estimates that order's "
        "parameters at the later ones; `forms` as `arima_order`, and an AutoETS (ETS, DETS) likewise "
        "searches its form (error, trend, damping) at the oldest origin only and re-estimates that "
        "form's parameters at the later ones; `once` fits each candidate that can move on once, at the "
        "oldest origin, and applies its parameters to the later ones (statsforecast's `refit=False`: the "
        "state follows the longer history, nothing is re-estimated). The final forecast re-estimates "
        "every parameter on the whole history, searching the ETS form again (see "
        "`arima_order_from_backtest` for its ARIMA order).",
    )
    fit_once_min_train: int = Field(
        60, ge=1, description="With `backtest_refit` other than `every`: a series whose oldest backtest "
        "origin has fewer periods of history than this refits every origin (an order or parameters found "
        "on so few are too noisy to carry to the later origins: short monthly and quarterly series).",
    )
    arima_order_from_backtest: bool = Field(
        True, description="With `backtest_refit` other than `every`: the final fit of a series' AutoARIMA "
        "(ARIMA, DARIMA) estimates the order the search found at its oldest backtest origin on the whole "
        "history, instead of searching the orders again (a fixed-order fit costs a fifth of the search). "
        "An AutoETS searches its form again in the final fit (the form of the oldest origin carried "
        "into it cost M4 Weekly 1.5% sMAPE; docs/forecast-history.md, \"The next cut: ARIMA's optimiser "
        "without scipy's overhead\").",
    )
    quantiles: tuple[float, ...] = Field(schema.QUANTILES, description="Quantile levels in (0, 1) forecast.")
    n_jobs: int | None = Field(
        None, ge=1, description="Worker processes; >1 spreads chunks of series over a pool. None = one per "
        "usable core when there are at least `parallel_min_series` series, else 1.",
    )
    parallel_min_series: int = Field(
        1000, ge=1, description="With n_jobs None, fewest series worth starting worker processes for (a "
        "pool costs a few seconds to start; the demo's 179 series take under 10 s in one process).",
    )
    chunk_size: int = Field(
        250, ge=1, description="Most series per work chunk (a chunk is one statsforecast call in one worker)."
    )
    chunks_per_job: int = Field(
        4, ge=1, description="With n_jobs > 1, aim at this many chunks of equal expected cost per worker."
    )
    cluster: str | None = Field(
        None, description="Dask scheduler address ('tcp://host:8786') whose workers run the chunks, or "
        "'local' for a local cluster of n_jobs worker processes; None = this machine's process pool. "
        "The pipeline connects at its edge (flows/cluster.py) and sizes the chunks by the cluster's "
        "worker threads; the forecasts are identical either way.",
    )
    cluster_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for the cluster's scheduler and a first worker before the "
        "forecast stage fails naming `forecast.cluster`.",
    )
    input_weeks: int | None = Field(
        156, ge=2, description="Models see at most this many last weeks of time of a series (None = all), "
        "and never fewer than this many periods (`input_periods`: 156 weeks are 1,092 days of daily "
        "data, 156 months of monthly data); classification uses the whole life. Long fits cost much and "
        "old weeks rarely help.",
    )
    season_from_life: bool | Literal["backtest"] = Field(
        "backtest", description="DARIMA tests and estimates its classical season on a series' whole life "
        "where it is longer than `input_weeks` (its ARIMA and every other model still fit the window). "
        "`backtest` (the default): where the seasonal set's DARIMA, backtested both ways on those series, "
        "scores a mean MASE lower by `strategy_margin` with the whole life's season than with the window's "
        "(one choice per set and run). It takes the life on the pharmacy weekly (origin 0 sMAPE / MASE "
        "26.125 / 0.758 -> 25.503 / 0.721) and keeps the window on PBS, M4 Weekly and the pharmacy daily "
        "(unchanged). It costs one more DARIMA backtest of each long series where the window stays, and "
        "the backtest again on the life where the life is taken; nothing where no series is longer than "
        "the window. True: always (PBS 27.848 / 1.008 -> 28.288 / 1.012: the "
        "whole life's season makes DARIMA worse on 216 of 289 series); False: never "
        "(docs/forecast-accuracy.md, stops 27 and 28).",
    )
    # --- classification -------------------------------------------------------------------------
    adi_threshold: float = Field(1.32, gt=0, description="ADI at or above which demand is intermittent.")
    cv2_threshold: float = Field(0.49, ge=0, description="CV² of sizes at or above which demand is erratic.")
    new_weeks: int = Field(13, ge=1, description="A series with fewer weeks of life than this is `new`.")
    inactive_weeks: int = Field(
        13, ge=1, description="No demand in this many last weeks → `inactive`, forecast zero."
    )
    season_only_kappa: float | None = Field(
        0.5, ge=0, le=1, description="A series that would be intermittent, lumpy or inactive is `seasonal_only` "
        "(sold in the same periods of every season, silent in the others: a flu vaccine) where Cohen's kappa of "
        "its periods' demand / no demand between consecutive complete seasons is at least this (random zeros: "
        "about 0); it is forecast by its last season's total spread over its seasonal profile "
        "(forecasting.profile). None: never (such a series is forecast zero in its off-season).",
    )
    short_seasons: float = Field(
        2.0, gt=0, description="Fewer than this many seasons of life → `short` (no seasonal models)."
    )
    outlier_factor: float | None = Field(
        2.5, gt=1, description="A period of a smooth, erratic or short series at least this many times its "
        "local level and both sides' levels, 4 robust standard deviations and 4 Poisson ones (√level) above "
        "it, in a run of at most two, not recurring at its place in other seasons and not among the last "
        "three periods, is a one-off (a tender, a stockpile, a typo; never a dip): the models fit the history "
        "with it replaced by its level, the backtest still scores against it (forecasting.outliers). None: "
        "the history is fitted as ordered.",
    )
    leap_effect: bool = Field(
        True, description="Monthly and quarterly sets: where the set's history shows its periods that hold "
        "a 29 February apart from their season (a flow counted over one day more; the median of its series' "
        "effects, robust t at least `leap_min_t`, at least `leap_min_series` series: forecasting/leap.py), "
        "each such period's forecast and quantiles are multiplied by that factor (the history is fitted as "
        "ordered, less its trading days where `trading_days` finds them). Weekly and daily periods never. "
        "Alone an option (stop 47: PBS at h 24 took an 80% band past +3); with `trading_days` the default "
        "(stop 48: every PBS cell's MASE 1.5-9.9% better; docs/forecast-history.md).",
    )
    leap_min_t: float = Field(3.0, gt=0, description="Smallest robust t of a set's leap-period effect taken.")
    leap_min_series: int = Field(
        20, ge=2, description="Fewest series with a leap period (and the same season a year away) a set's "
        "leap-period effect is measured on.",
    )
    trading_days: bool = Field(
        True, description="Monthly sets: where the set's history shows its months moving with the weekdays "
        "they hold (X-13's td1coef, weekdays less 5/2 of the weekend days; the median of its series' slopes, "
        "robust t at least `trading_days_min_t`, at least `trading_days_min_series` series: "
        "forecasting/tradingdays.py), the history is fitted with each month divided by its factor and the "
        "forecast's mean and quantiles multiplied by theirs. Quarters, weeks and days never (quarters "
        "measured: PBS summed to quarters lost 0.6% of MASE). The default with `leap_effect` (stop 48; alone "
        "it lost PBS 0.4% of sMAPE).",
    )
    trading_days_min_t: float = Field(
        3.0, gt=0, description="Smallest robust t of a set's trading-day slope taken.")
    trading_days_min_series: int = Field(
        20, ge=2, description="Fewest series with three seasons of filtered periods a set's trading-day "
        "slope is measured on.",
    )
    # --- backtest and selection -----------------------------------------------------------------
    min_train_weeks: int = Field(
        26, ge=2, description="Fewest training weeks before the oldest backtest origin of a series."
    )
    mase_season: int = Field(
        1, ge=1, description="Lag of the in-sample naive forecast scaling MASE (1 = M4 weekly convention)."
    )
    score_decimals: int = Field(
        3, ge=0, description="Scores are compared rounded to this many decimals; ties go to the simpler "
        "model."
    )
    zero_seasons_multiplicative: bool = Field(
        True, description="Decompose a season of at most 24 periods (monthly, quarterly, daily) "
        "multiplicatively also on a series with zeros (none negative), as M4's benchmarks do, instead of "
        "additively; a position without demand in every season seen (a shutdown month) is forecast at zero. "
        "On since stop 30: whole PBS gains at three origins (sMAPE / MASE at origin 0 27.384 / 1.002 -> "
        "26.848 / 0.980), the pharmacy daily pooled over four origins ties (64.892 / 0.7184 -> 64.897 / "
        "0.7185); weekly seasons are unchanged either way (docs/forecast-accuracy.md, stop 30).",
    )
    season_shrinkage: bool = Field(
        False, description="Shrink a weekly season's indices (seasons longer than 24 periods) toward no "
        "season by their estimation noise, a James-Stein factor on their logs, keeping a season whole whose "
        "factor is at least 0.9. Off: M4 Weekly OWA 0.723 -> 0.720 and the demo's vaccine packs closer to "
        "their truth, but the demo with campaigns then ends 1.11% in 63.8 s on a quiet machine, past issue "
        "17's 1% in 60 s (docs/forecast-accuracy.md, stop 30).",
    )
    native_season_max: int = Field(
        24, ge=1, description="Seasons up to this length (monthly 12, quarterly 4) give smooth and erratic "
        "series a native seasonal ETS by default (`NATIVE_SEASONAL_MODELS`: seasonal AutoETS beside DOT "
        "and DARIMA, their mean the default); longer ones (weekly 52) the decomposition-based "
        "`DECOMPOSED_SEASONAL_MODELS`, where AutoETS(52) and AutoARIMA(52) cost ~0.12 s and ~5 s a fit. "
        "Applies only where `seasonal_models` / `seasonal_default` are not given.",
    )
    seasonal_models: tuple[str, ...] = Field(
        DECOMPOSED_SEASONAL_MODELS,
        description="Candidates for smooth and erratic series with at least `short_seasons` seasons; by "
        "default chosen by the season length (see `native_season_max`).",
    )
    seasonal_default: str | None = Field(
        DECOMPOSED_SEASONAL_DEFAULT, description="Model of a smooth or erratic series unless a candidate's "
        "backtest evidence is strong and stable (see `champion_margin`); None = the backtest champion. By "
        "default chosen by the season length (see `native_season_max`).",
    )
    seasonal_alternatives: tuple[str, ...] = Field(
        (), description="Other defaults of the smooth/erratic set, backtested beside `seasonal_default` on "
        "every series of the set; the set takes the one whose mean backtest MASE over its series and windows "
        "is the lowest (strictly below the default's, with at least `strategy_min_series` series scored, "
        "else they are not fitted; forecasting/select_strategy.py `choose_default`) as its default and "
        "candidate in place of `seasonal_default`. One choice for the set, not per series: a per-series pick "
        "from a few windows is noise. By default `NATIVE_SEASONAL_ALTERNATIVES` for a season of at most "
        "`native_season_max` periods of a month or longer (monthly, quarterly) where `seasonal_default` is "
        "not given, else none (docs/forecast-accuracy.md, stops 23 and 24).",
    )
    alternative_sample: int | None = Field(
        None, ge=1, description="Make the set's choice between `seasonal_default` and `seasonal_alternatives` on "
        "the backtest of this many of its series (an even spread of them in id order; None = all): only they "
        "backtest the alternatives, the rest backtest the one chosen only where it is not the default, so a "
        "set that keeps its default pays the alternatives' backtest on the sample alone. An option for large "
        "sets: on 100 series the two defaults' pooled backtest MASE differ by about one standard error on M1 "
        "monthly and quarterly, and a 100-series sample of PBS kept the default its 301 series replace "
        "(docs/forecast-accuracy.md, stop 25).",
    )
    short_models: tuple[str, ...] = Field(
        ("Naive", "HistoricAverage", "SES", "ETS", "Theta", "ARIMA", "Mean(ETS,Theta,ARIMA)"),
        description="Candidates for `short` series with ADI below the threshold (no seasonal model).",
    )
    short_default: str | None = Field(
        "Mean(ETS,Theta,ARIMA)", description="Model of a `short` series unless a candidate's evidence is "
        "strong and stable; None = the backtest champion.",
    )
    champion_margin: float = Field(
        0.1, ge=0, description="A candidate replaces its set's default model only if its backtest MASE is "
        "lower in every window and lower by this share on average.",
    )
    trim_min_members: int | None = Field(
        None, ge=2, description="A series that keeps its set's default, a mean of at least this many members "
        "(4: the weekly `Mean(DETS,DOT,DARIMA,MSTL_AAdN)`), takes the mean of its members less the one with the "
        "worst mean backtest MASE on the series (forecasting/select.py `trim_worst_member`); None = never. An "
        "option: with 4 it took M4 Weekly's OWA from 0.742 to 0.728 (two origins), tied the pharmacy's weekly "
        "set over four origins, and its bands fail the seeded coverage tests (sized on the trimmed mean's own "
        "backtest the seasonal panel, on the four's the smooth + trend one); not for three members, where a "
        "drop leaves two (M1 monthly −5.6% sMAPE) (docs/forecast-accuracy.md, stops 25 and 26).",
    )
    champion_min_windows: int = Field(
        3, ge=1, description="Fewest backtest windows behind a champion that replaces the default model (the "
        "held-out picks that size the bands and choose the strategy take one window fewer, at least 2). 3 since "
        "stop 32: at h 24 two 24-month windows chose 45 of M1 monthly's champions, MASE 1.200 → 1.188; every "
        "set at its own horizon unchanged (docs/forecast-accuracy.md, stops 31–32).",
    )
    season_shift_check: bool = Field(
        True, description="A SeasonalNaive champion replaces the default only where its own assumption holds at "
        "the forecast origin: the mean of the last half season's season-on-season log changes within 2 "
        "standard errors of zero (forecasting/select_guard.py `season_shifted`). Its windows end a horizon "
        "before the history, so a level that broke inside the last season is never in them. On since stop "
        "32: PBS h 24 29.103 / 1.155 -> 28.803 / 1.141, M1 monthly origin 2 13.299 / 1.217 -> 13.077 / "
        "1.203, no visible row worse by 0.3%; for seasons of at most `native_season_max` periods only: a "
        "weekly season's 26 changes are autocorrelated, so their standard error is too small and the check "
        "flagged 269 of M4 Weekly's 359 series; the weekly demo and the big network are unchanged "
        "(docs/forecast-accuracy.md, stop 32).",
    )
    selection_strategy: Literal["auto", "evidence", "default", "champion"] = Field(
        "auto", description="How a set with a default model picks each series' model: `evidence` keeps the "
        "default unless a champion wins (see `champion_margin`), `champion` takes the backtest champion, "
        "`default` the default everywhere; `auto` (the default since stop 27) keeps `evidence` or takes one "
        "of `strategy_choices` per set and run by nested backtest (each window held out in turn, the "
        "strategy scoring the lowest mean MASE on it across the panel; forecasting/select_strategy.py).",
    )
    strategy_choices: tuple[Literal["default", "champion"], ...] = Field(
        ("default",), min_length=1, description="With `auto`, the strategies a set may take in place of "
        "`evidence`. `champion` is left out by default: every generated weekly panel measured (the tests', the "
        "demo's, the big network's) takes it and changes its plan, and its bands were calibrated under the "
        "evidence rule; no public set took it (docs/forecast-accuracy.md, stop 27).",
    )
    strategy_min_series: int = Field(
        30, ge=1, description="With `auto`, fewest series with two or more backtest windows a set needs "
        "before its strategy may differ from `evidence`.",
    )
    strategy_margin: float = Field(
        0.02, ge=0, lt=1, description="With `auto`, share by which another strategy's held-out MASE must "
        "beat the evidence rule's before a set takes it.",
    )
    intermittent_default: str | None = Field(
        None, description="Model of intermittent and lumpy series unless a candidate's evidence is strong; "
        "None = the backtest champion.",
    )
    intermittent_models: tuple[str, ...] = Field(
        ("HistoricAverage", "CrostonSBA", "TSB", "ADIDA", "IMAPA"),
        description="Candidates for intermittent and lumpy series (and short ones with ADI ≥ threshold). "
        "Keep Naive out: MAE-type scores reward the all-zero forecast it makes after a zero week.",
    )
    # --- quantiles -----------------------------------------------------------------------------------
    calibration_min_errors: int = Field(
        100, ge=1, description="Fewest pooled backtest errors a (group, horizon step) needs to calibrate "
        "its own quantiles (see `calibration_groups`); fewer → the group over all steps, then every group.",
    )
    calibration_step_span: int = Field(
        1, ge=0, description="Each horizon step's quantiles also pool the errors of the steps up to this "
        "many before and after it (0: its own step only; a `calibration_seasonal_split` pool never does). "
        "1 smooths a calendar month's shock in the backtest windows of series that share a calendar (PBS). "
        "The default since stop 28, with `calibration_seasonal_split` (docs/forecast-intervals.md, stop 28).",
    )
    level_periods: int | None = Field(
        None, ge=1, description="Periods of history averaged for a series' level, to which backtest errors "
        "are taken relative so that an old window's errors size today's band at today's level; None = "
        "two seasons (2 × `season_length`: steadier than one season's mean; docs/forecast-history.md, "
        "\"Bands relative to the series' level\").",
    )
    level_exponent: float = Field(
        1.0, ge=0, le=1, description="Errors are taken relative to the series' level to this power: 1 sizes "
        "the band in proportion to the level a series grew (or shrank) to, 0 keeps absolute errors.",
    )
    history_scale_weight: float = Field(
        0.35, ge=0, le=1, description="Weight w of the series' own history in its band's unit: the backtest "
        "error scale to the power 1 − w times, to the power w, the mean |change| of its last season (lag 1 "
        "or lag one season, the smaller: `forecasting.intervals_history.recent_changes`), at the end of the "
        "history and at every backtest cutoff alike. A series' backtest is a few windows, each about one "
        "draw; its history's changes are many. 0 = the backtest errors alone (before stop 25).",
    )
    length_slope: bool = Field(
        False, description="Bring each backtest window's errors to the history the forecast saw: a group's "
        "slope of log |error| on log history length (each series against its own mean, shrunk toward zero "
        "by its standard error over the series) divides a window's errors by length^slope and multiplies "
        "the band by the final length^slope. A trend fitted on more periods misses less, so windows fitted "
        "on less history size its band too wide. Measured in docs/forecast-intervals.md, stop 27: M1 monthly's "
        "80% band comes inside (83.5 -> 82.8) but PBS's leave (78.0 / 92.9 -> 75.4 / 91.9: windows that "
        "differ by calendar); with calibration_step_span 1 every set is inside but the tests' seasonal panel "
        "is not (76.0 at its seed), so it is not the default.",
    )
    calibration_seasonal_split: bool = Field(
        True, description="Split each calibration group's (group, horizon step) pool by whether the series' "
        "last season looks seasonal at the window's cutoff (and at the end of the history for the forecast: "
        "`forecasting.intervals_history.seasonal_histories`), used where the split pool holds "
        "`calibration_min_errors` errors at its own step (else the group's pool, as without). Seasonal "
        "series' standardised errors are larger than smooth ones', and a shared pool gives each kind's band "
        "the other's. With `calibration_step_span` 1, the default since stop 28: every 80% and 95% band of "
        "the six development sets inside ±3 points (M1 monthly 83.1 -> 82.4), summed MSIS 65.97 -> 65.74 "
        "(M4 Weekly +1.2%), the tests' smooth + trend panel 85.5 -> 81.8 over seeds 5-11 "
        "(docs/forecast-intervals.md, stop 28).",
    )
    scale_windows: Literal["recent", "all"] = Field(
        "recent", description="Backtest windows measuring a series' error scale for its band: `recent` its "
        "most recent n − 1 of n ≥ 2 windows, as many as the scale of each calibration window (its other "
        "windows), so that both are equally noisy; `all` every window (steadier than the calibration's "
        "scales, which makes the band too wide).",
    )
    calibration_windows: int | None = Field(
        None, ge=1, description="Each series' newest held-out backtest windows that calibrate the bands "
        "(None = every window): the newest window's errors, divided by the scale of its older windows, are "
        "what the final forecast's are (fitted on the most history, its scale from older windows); older "
        "windows, fitted on less history, miss more where errors fall as the history grows. An option: "
        "on the development sets the newest window alone predicts the held-out errors worse.",
    )
    calibration_groups: Literal["set", "class"] = Field(
        "class", description="Series whose scale-free backtest errors are pooled for the bands: `class` "
        "those of one class, candidate set and selection (`smooth/seasonal/default`); `set` those of one "
        "candidate set (seasonal, short, intermittent): more errors a horizon step, and no group defined "
        "by how the model was chosen, which looked at the very windows that calibrate it.",
    )
    scale_statistic: Literal["rms", "mean"] = Field(
        "mean", description="A series' error scale (its band's unit) from its backtest |error| / level: "
        "their root mean square (`rms`: a window with a large miss widens the band more) or their mean.",
    )
    calibration_error_cap: float | None = Field(
        100.0, gt=1, description="Scale-free backtest errors beyond this many times their calibration group's "
        "median |error| are pooled at that bound (None: as they are): a last bound on what one error can do "
        "to its group's outer quantiles where `calibration_scale_floor` does not reach (a one-off order 100 "
        "times a steady series' level). No visible set's error reaches it; at 25 it bound the generated demo's "
        "flu errors and its 99% quantile missed 2.3% of weeks in place of 1.6% (docs/forecast-intervals.md, "
        "stop 33).",
    )
    calibration_scale_floor: float | None = Field(
        0.1, gt=0, le=1, description="Each series' band unit (its backtest error scale, at every window and "
        "at the forecast) is at least this share of its calibration group's median unit, both taken relative "
        "to the forecast (None: as measured). A series whose errors were a fraction of a unit (a standing "
        "order with rounding noise) has a unit near zero: its own band claims a certainty a few backtest "
        "windows cannot show, and its errors when it steps are thousands of units, which set the outer "
        "quantiles of every series in its group (docs/forecast-intervals.md, stop 33).",
    )
    symmetric_bands: bool = Field(
        True, description="Pool each backtest error with its mirror image, so that bands are symmetric "
        "about the mean (the sign the backtest windows' errors leaned to is not carried forward); "
        "intermittent ratio bands are never mirrored.",
    )
    # --- bands where no backtest errors exist -----------------------------------------------------
    rule_band_cv: float = Field(
        1.0, gt=0, description="Coefficient of variation of the lognormal band of new / unscored series."
    )
    inactive_returns: bool = Field(
        False, description="Band an inactive series' zero forecast by the chance that its demand comes back: "
        "zero with the share of periods without demand after the set's silences at least as long as its own, "
        "else its past non-zero demand (forecasting.silent). False: every quantile zero. An option: on PBS "
        "its 95% band covers the inactive series' held-out months 54-65% -> 91-100% and the set's MSIS falls "
        "4.7% and 5.9% at origins 0 and 2 (0.0% at 1), but PBS's 95% band at origin 2 stays outside +-3 "
        "(91.02 -> 91.89), and it gives silent products safety stock: on the demo one inactive series takes the "
        "plan cost +0.79% and the service penalties +7.4% at the same fill rate (docs/forecast-intervals.md, "
        "stop 31).",
    )

    def workers(self, n_series: int) -> int:
        """Worker processes for ``n_series`` series: ``n_jobs``, or by default every usable core for a
        large set and 1 for a small one."""
        if self.n_jobs is not None:
            return self.n_jobs
        if n_series < self.parallel_min_series:
            return 1
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return max(1, cores or 1)

    @model_validator(mode="after")
    def _season_from_freq(self) -> ForecastConfig:
        """``season_length`` from ``freq`` where it is not given (:func:`season_of`); it stays out of
        ``model_fields_set``, so a copy with another ``freq`` takes that frequency's season. Before, the season
        was 52 whatever the frequency: ``plantwin forecast --freq 1mo`` without ``--season-length`` classed a
        70-month series ``short`` (under two 52-month seasons) and forecast it without its season."""
        if self.season_length is None:  # frozen: set once, here, while validating, before the season is read
            object.__setattr__(self, "season_length", season_of(self.freq))
        return self

    @model_validator(mode="after")
    def _candidates_by_season(self) -> ForecastConfig:
        """Smooth/erratic candidates and default by the season length, where they are not given: native
        seasonal models for a season of at most `native_season_max` periods, decomposition-based above.
        Chosen after validation so that ``model_fields_set`` still tells a given set from a chosen one."""
        native = self.season_length <= self.native_season_max
        if "seasonal_models" not in self.model_fields_set:  # frozen: set once, here, while validating
            object.__setattr__(self, "seasonal_models",
                               NATIVE_SEASONAL_MODELS if native else DECOMPOSED_SEASONAL_MODELS)
        if "seasonal_default" not in self.model_fields_set:
            object.__setattr__(self, "seasonal_default",
                               NATIVE_SEASONAL_DEFAULT if native else DECOMPOSED_SEASONAL_DEFAULT)
            # an alternative to the chosen default only: periods of a month or longer (a daily fit sees
            # 1,092 periods, where the seasonal ARIMA's search costs ~5× the set's CPU)
            if "seasonal_alternatives" not in self.model_fields_set and native and self.periods(52) <= 12:
                object.__setattr__(self, "seasonal_alternatives", NATIVE_SEASONAL_ALTERNATIVES)
        return self

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> ForecastConfig:
        """A copy with ``update`` applied, validated as a new config (pydantic's own copy skips the
        validators): a changed ``season_length`` re-picks the candidates that were chosen by the season,
        not given, and a bad value is an error."""
        if not update:
            return super().model_copy(deep=deep)
        given = {name: getattr(self, name) for name in self.model_fields_set}
        return type(self).model_validate(given | dict(update))

    @model_validator(mode="after")
    def _check(self) -> ForecastConfig:
        if not self.quantiles or any(not 0 < q < 1 for q in self.quantiles):
            raise ValueError(f"quantiles must be a non-empty tuple of levels in (0, 1), got {self.quantiles}")
        _freq_parts(self.freq)  # a duration, or the error naming it
        if self.input_weeks is not None and self.input_periods() < self.short_seasons * self.season_length:
            raise ValueError(
                f"input_weeks {self.input_weeks} hides the seasons: it must be at least short_seasons × "
                f"season_length = {self.short_seasons * self.season_length:g} (or None)"
            )
        if self.cluster is not None and not _CLUSTER.fullmatch(self.cluster):
            raise ValueError(f"cluster must be a Dask scheduler address ('tcp://host:8786', 'tls://…') or "
                             f"'local', got {self.cluster!r}")
        return self

    def offset(self, periods: int) -> str:
        """The polars duration of ``periods`` steps of ``freq`` (``'1w'``, 3 → ``'3w'``)."""
        count, unit = _freq_parts(self.freq)
        return f"{count * periods}{unit}"

    def future_dates(self, last: pl.Expr, horizon: int) -> pl.Expr:
        """The list of the ``horizon`` dates of ``freq`` after the date ``last`` (a forecast's periods)."""
        return pl.date_ranges(last.dt.offset_by(self.freq), last.dt.offset_by(self.offset(horizon)), self.freq)

    def periods(self, weeks: float) -> int:
        """Periods of ``freq`` spanning ``weeks`` weeks of time, at least 1 (26 → 26 weekly, 6 monthly,
        2 quarterly)."""
        count, unit = _freq_parts(self.freq)
        days = count * {"d": 1, "w": 7, "mo": 365.25 / 12, "q": 365.25 / 4, "y": 365.25}[unit]
        return max(1, math.ceil(weeks * 7 / days - 1e-9))

    def input_periods(self) -> int | None:
        """Most periods the models see: ``input_weeks`` of time, and at least ``input_weeks`` periods (a
        daily series shows its models 1,092 days, so that ``min_train_weeks`` of time before the oldest
        backtest origin fit in it; a monthly or quarterly one keeps 156 periods, its whole usual life, as
        the cap is there for the cost of long weekly and daily fits). None = all."""
        if self.input_weeks is None:
            return None
        return max(self.periods(self.input_weeks), self.input_weeks)

    def step(self, horizon: int) -> int:
        """Weeks between backtest origins for ``horizon``."""
        return self.backtest_step or horizon
