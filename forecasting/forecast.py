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
  default, else the best-scored candidate that stays above zero, selection ``guard`` (:func:`_guard`).
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
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial

import polars as pl

from data_contracts import schema
from forecasting.classify import BACKTESTED_CLASSES, classify_series
from forecasting.config import ForecastConfig
from forecasting.engine import Task, run_tasks, worker_pool
from forecasting.intervals import (
    empirical_quantiles,
    history_lengths,
    length_slopes,
    lognormal_quantiles,
    pooled_quantiles,
    recent_changes,
    seasonal_histories,
    series_levels,
    tidy_quantiles,
)
from forecasting.metrics import naive_scale, score_backtest
from forecasting.models import add_combinations, combination_members
from forecasting.outliers import clean_history
from forecasting.profile import PROFILE_MODEL, profile_forecast
from forecasting.select import (alternative_sample, choose_default, choose_strategy, falls_through_zero,
                                guard_picks, held_out_picks, keep_default_where_shifted, season_shifted,
                                select_champions, trim_worst_member)
from forecasting.silent import inactive_quantiles, return_shares

__all__ = ["ForecastResult", "dated_by_month_ends", "forecast_demand", "validate_series", "FALLBACKS", "RULE_MODEL",
           "ZERO_MODEL"]

#: fallback per candidate set: where nothing could be scored, and for a candidate whose fit fails
FALLBACKS = {
    "seasonal": "Naive", "short": "Naive", "intermittent": "HistoricAverage", "rule": "HistoricAverage",
}
RULE_MODEL = "HistoricAverage"
ZERO_MODEL = "Zero"
#: a backtested class's candidate set (forecasting.classify.BACKTESTED_CLASSES); any other class: the rule
_SETS = {"smooth": "seasonal", "erratic": "seasonal", "short": "short", "intermittent": "intermittent",
         "lumpy": "intermittent"}
# rough CPU cost of a set's candidates per series and fit, relative; only orders the tasks
_SET_COST = {"seasonal": 30.0, "short": 10.0, "intermittent": 1.0, "rule": 0.1}
# the sets whose history is cleaned of one-offs: a spike in intermittent demand is its nature
_CLEANED_SETS = ("seasonal", "short")
_BACKTEST_SCHEMA = {"unique_id": pl.String, "model": pl.String, "window": pl.Int64, "mase": pl.Float64,
                    "wape": pl.Float64, "bias": pl.Float64}


@dataclass(frozen=True)
class ForecastResult:
    """What :func:`forecast_demand` returns; every frame keyed by ``unique_id``."""

    forecast: pl.DataFrame  # unique_id, ds, model, mean, q01..q99
    series: pl.DataFrame  # unique_id, series_class, n_weeks, adi, cv2, model, selection (incl. ``guard``)
    backtest: pl.DataFrame  # unique_id, model, window, mase, wape, bias
    # set, strategy, series, evidence, default, champion: how each set with a default chose (select.py)
    strategy: pl.DataFrame | None = None
    # unique_id, ds, y, replaced_by: the one-offs the models saw at their local level (forecasting.outliers)
    outliers: pl.DataFrame | None = None
    # periods ahead the backtest scored and the bands calibrated on: the asked backtest horizon, or less where
    # no series had the history for one window that long (_scored_horizon); None: no series was backtested
    backtest_horizon: int | None = None


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


def _plan(classes: pl.DataFrame, horizon: int, config: ForecastConfig) -> pl.DataFrame:
    """Per series: candidate set (or ``rule`` / ``inactive``) and number of backtest windows."""
    step = config.step(horizon)
    min_periods = config.periods(config.min_train_weeks)  # weeks of time, in periods of the frequency
    min_train = (
        pl.when(pl.col("set") == "seasonal")
        .then(max(min_periods, config.season_length))
        .otherwise(min_periods)
    )
    fit_weeks = pl.col("n_weeks").clip(upper_bound=config.input_periods())
    room = pl.col("fit_weeks") - min_train  # the longest horizon one backtest window of the series can score
    windows = ((room - horizon) // step + 1).clip(0, config.backtest_windows)
    short_intermittent = (pl.col("series_class") == "short") & (
        pl.col("adi").fill_null(float("inf")) >= config.adi_threshold
    )
    planned = classes.with_columns(
        fit_weeks=fit_weeks,
        set=pl.when(short_intermittent)
        .then(pl.lit("intermittent"))
        .otherwise(pl.col("series_class").replace_strict(_SETS, default=pl.lit("rule"))),
    ).with_columns(windows=pl.when(pl.col("set") == "rule").then(0).otherwise(windows).cast(pl.Int64),
                   room=room)
    # too short for one backtest window: the set's default model where it has one (a robust
    # combination needs no backtest to be chosen), else the rule
    has_default = pl.col("set").replace_strict(
        {k: v is not None for k, v in _defaults(config).items()}, default=False, return_dtype=pl.Boolean
    )
    return planned.with_columns(
        set=pl.when(pl.col("series_class") == "inactive")
        .then(pl.lit("inactive"))
        .when(pl.col("series_class") == "seasonal_only")
        .then(pl.lit("profile"))
        .when((pl.col("windows") == 0) & ~has_default)
        .then(pl.lit("rule"))
        .otherwise(pl.col("set"))
    )


def _scored_horizon(plan: pl.DataFrame, asked: int) -> int:
    """The backtest's horizon: ``asked``; or, where no series has the history for one window that long (a
    network with under a year of history at a 26-week horizon), the longest horizon one window of at least
    half the backtestable series can score (the lower median of ``room``: a few older series alone would
    make a thin pool), so that the bands calibrate on errors instead of the wide lognormal band. Its steps
    past that horizon take its last step's errors, their scale grown as its errors grew with the step
    (:func:`_step_growth`). ``asked`` also where that is not even one period."""
    if plan.filter(pl.col("windows") > 0).height:
        return asked
    room = plan.filter(pl.col("series_class").is_in(BACKTESTED_CLASSES)).get_column("room").quantile(0.5, "lower")
    return asked if room is None or room < 1 else min(int(room), asked)


def _defaults(config: ForecastConfig) -> dict[str, str | None]:
    return {"seasonal": config.seasonal_default, "short": config.short_default,
            "intermittent": config.intermittent_default}


def _set_names(config: ForecastConfig) -> dict[str, tuple[str, ...]]:
    """Candidates of each set, its fallback and its default model included."""
    sets = {"seasonal": config.seasonal_models, "short": config.short_models,
            "intermittent": config.intermittent_models}
    out = {}
    for key, names in sets.items():
        extra = [m for m in (FALLBACKS[key], _defaults(config)[key]) if m is not None and m not in names]
        out[key] = (*names, *extra)
    return out | {"rule": (RULE_MODEL,)}


def _tasks(
    series: dict, work: pl.DataFrame, keys: list[str], make: Callable[..., Task], config: ForecastConfig
) -> list[Task]:
    """Chunks of the series in ``work`` sharing ``keys``, of roughly equal expected ``cost``.

    With ``n_jobs > 1`` a chunk closes at the phase's total cost / (n_jobs × chunks_per_job), so that there
    are more chunks than workers and they balance; a chunk never exceeds ``chunk_size`` series.
    """
    target = float("inf")
    if config.n_jobs > 1:
        target = work.get_column("cost").sum() / (config.n_jobs * config.chunks_per_job)
    tasks = []
    for key, group in work.sort("cost", descending=True).group_by(keys, maintain_order=True):
        chunk: list[str] = []
        cost = 0.0
        rows = group.select("unique_id", "cost").rows()
        for i, (uid, c) in enumerate(rows):
            chunk.append(uid)
            cost += c
            if cost >= target or len(chunk) >= config.chunk_size or i == len(rows) - 1:
                task = make(*key, df=pl.concat([series[(u,)] for u in chunk]), cost=cost)
                tasks.append(replace(task, skips=_skips(series, chunk, config)))
                chunk, cost = [], 0.0
    return tasks


def _skips(series: dict, ids: list[str], config: ForecastConfig) -> tuple[tuple[str, int], ...]:
    """``(unique_id, periods of its life before the window the models see)`` of the ``ids`` longer than
    ``input_periods`` with ``season_from_life`` (:mod:`forecasting.engine`: DARIMA takes its season from
    the whole life); none without it: the window alone is fitted."""
    window = config.input_periods()
    if window is None or config.season_from_life is not True:
        return ()
    return tuple((u, series[(u,)].height - window) for u in ids if series[(u,)].height > window)


def _season_source(
    lives: dict, cv: pl.DataFrame | None, series: pl.DataFrame, plan: pl.DataFrame, horizon: int,
    config: ForecastConfig, pool: Executor | None, outliers: pl.DataFrame,
) -> ForecastConfig:
    """``config`` with ``season_from_life="backtest"`` settled for this set and run: True where the seasonal
    set's DARIMA, backtested on its series longer than the window with its season from their whole life
    (``lives``), scores a mean MASE lower by ``strategy_margin`` than the window's DARIMA rows of the main
    backtest ``cv`` (over the windows both scored; else the window stays, as before). Only the life's side
    is fitted here. The whole life's season won the pharmacy's weekly backtest and held-out weeks and lost
    PBS's on most series (a safety-net season that moved over 16 years), so the set's own backtest decides,
    not a rule on season length (docs/forecast-accuracy.md, stop 28)."""
    if config.season_from_life != "backtest":
        return config
    window = config.input_periods()
    longer = [u for (u,), frame in lives.items() if window is not None and frame.height > window]
    seasonal = plan.filter((pl.col("set") == "seasonal") & pl.col("unique_id").is_in(longer))
    if cv is None or "DARIMA" not in _set_names(config)["seasonal"] or not seasonal.height:
        return config.model_copy(update={"season_from_life": False})
    each = config.model_copy(update={"season_from_life": True})
    make = partial(_task, each, horizon, ("DARIMA",))  # called with the set, windows, refit, df, cost
    life, _, _ = run_tasks(_tasks(lives, _backtest_work(seasonal, horizon, each), ["set", "windows", "refit"],
                                  make, each), pool)
    life = _as_ordered(life, outliers)
    window_rows = cv.filter(pl.col("model") == "DARIMA").join(seasonal, on="unique_id", how="semi")
    if life is None or not window_rows.height:
        return config.model_copy(update={"season_from_life": False})
    scores = [score_backtest(rows, series, season=config.mase_season).select("unique_id", "window", "mase")
              for rows in (life, window_rows)]
    both = scores[0].join(scores[1], on=["unique_id", "window"], suffix="_window").filter(
        pl.col("mase").is_finite() & pl.col("mase_window").is_finite()).sort("unique_id", "window")
    margin = 1 - config.strategy_margin  # as a set's strategy choice: a clear win, not noise
    means = both.select(pl.col("mase").mean(), pl.col("mase_window").mean()).row(0) if both.height else None
    taken = means is not None and means[0] < margin * means[1]
    return config.model_copy(update={"season_from_life": taken})


def _backtest(
    frames: dict, plan: pl.DataFrame, horizon: int, config: ForecastConfig, forecast_horizon: int,
    pool: Executor | None, outliers: pl.DataFrame,
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    """Phase 1 run: ``cv`` (sorted: the same rows in the same order however the series were chunked, for
    pooled sums; scored on what was ordered, ``outliers`` put back), the rule series' forecasts and the
    ARIMA orders found."""
    cv, fc_rule, orders = run_tasks(_backtest_tasks(frames, plan, horizon, config, forecast_horizon), pool)
    cv = None if cv is None else _as_ordered(cv.sort(_CV_ORDER, maintain_order=True), outliers)
    return cv, fc_rule, orders


def _one_offs_out(series: pl.DataFrame, plan: pl.DataFrame, config: ForecastConfig
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(series, outliers)``: the history the models fit, the one-offs of its smooth, erratic and short
    series replaced by their local level (:func:`forecasting.outliers.clean_history`; none with
    ``outlier_factor`` None), and the periods replaced (``unique_id, ds, y, replaced_by``)."""
    ids = plan.filter(pl.col("set").is_in(_CLEANED_SETS)).get_column("unique_id")
    if config.outlier_factor is None:
        ids = ids.clear()
    return clean_history(series, ids, config.season_length, config.outlier_factor or 0.0)


def _as_ordered(cv: pl.DataFrame | None, outliers: pl.DataFrame) -> pl.DataFrame | None:
    """``cv`` with the actual ``y`` of every replaced one-off put back: the backtest's fits saw the cleaned
    history, its errors are against what was ordered, so the bands keep the spikes that happened."""
    if cv is None or not outliers.height:
        return cv
    return cv.join(outliers.select("unique_id", "ds", ordered="y"), on=["unique_id", "ds"], how="left",
                   maintain_order="left").with_columns(y=pl.coalesce("ordered", "y")).drop("ordered")


def _cost(fits: pl.Expr) -> pl.Expr:
    """Expected cost of a series: its set's relative cost × fits × (weeks / 156)^1.5 (fits of the
    smoothing and theta models grow faster than linearly with length)."""
    return pl.col("set").replace_strict(_SET_COST, return_dtype=pl.Float64) * fits * (
        pl.col("fit_weeks") / 156
    ) ** 1.5


def _backtest_work(plan: pl.DataFrame, horizon: int, config: ForecastConfig) -> pl.DataFrame:
    """The backtested (and rule) series of ``plan`` with their expected ``cost`` and ``refit``."""
    # periods the oldest origin's fit sees: fitting once there and moving on needs enough of them
    oldest = pl.col("fit_weeks") - horizon - (pl.col("windows") - 1) * config.step(horizon)
    return plan.filter(
        (pl.col("set") == "rule") | ((pl.col("set") != "inactive") & (pl.col("windows") > 0))
    ).with_columns(cost=_cost(pl.col("windows").clip(1)),
                   refit=pl.when(oldest < config.fit_once_min_train).then(pl.lit("every"))
                   .otherwise(pl.lit(config.backtest_refit)))


def _task_fields(config: ForecastConfig, horizon: int, set_name: str) -> dict:
    """The :class:`Task` fields every task of ``set_name`` at ``horizon`` takes from the config: the season,
    the frequency, the backtest step, the set's fallback and the classical decomposition's options."""
    return {"season_length": config.season_length, "freq": config.freq, "horizon": horizon,
            "step": config.step(horizon), "fallback": FALLBACKS[set_name],
            "zero_seasons": config.zero_seasons_multiplicative, "shrink_seasons": config.season_shrinkage}


def _task(config: ForecastConfig, horizon: int, names: tuple[str, ...], set_name: str, windows: int, refit: str,
          df: pl.DataFrame, cost: float, forecast_horizon: int | None = None) -> Task:
    """One backtest task of ``set_name``'s series in ``df`` fitting ``names``; the rule set's also forecasts."""
    return Task(df=df, names=names, windows=windows, forecast=set_name == "rule", cost=cost,
                forecast_horizon=forecast_horizon, refit=refit, **_task_fields(config, horizon, set_name))


def _backtest_tasks(
    series: dict, plan: pl.DataFrame, horizon: int, config: ForecastConfig, forecast_horizon: int | None = None
) -> list[Task]:
    """Phase 1: backtest every candidate of the backtested series (and, on the seasonal set's sample
    ``alternative_sample``, its alternative defaults); forecast the rule series."""
    names = _set_names(config)
    tried = names | {"seasonal": (*names["seasonal"], *config.seasonal_alternatives)}
    scored = plan.filter((pl.col("set") == "seasonal") & (pl.col("windows") > 0)).get_column("unique_id")
    # fewer than strategy_min_series: the default stays (choose_default), so no fits for the alternatives
    sample = (alternative_sample(scored, config.alternative_sample)
              if config.seasonal_alternatives and scored.len() >= config.strategy_min_series else scored.clear())
    work = _backtest_work(plan, horizon, config).with_columns(alt=pl.col("unique_id").is_in(sample.implode()))

    def make(set_name: str, windows: int, refit: str, alt: bool, df: pl.DataFrame, cost: float) -> Task:
        return _task(config, horizon, (tried if alt else names)[set_name], set_name, windows, refit, df, cost,
                     forecast_horizon)

    return _tasks(series, work, ["set", "windows", "refit", "alt"], make, config)


def _chosen_backtest(
    series: dict, plan: pl.DataFrame, horizon: int, config: ForecastConfig, cv: pl.DataFrame | None,
    orders: pl.DataFrame | None, pool: Executor | None, outliers: pl.DataFrame,
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Phase 1b: where the seasonal set took an alternative as its default (:func:`_chosen_default`) on the
    sample that backtested it, backtest it on the set's other series too: only its members that the
    candidates did not already backtest are fitted, and the combination is formed from every member's rows
    as the engine forms it (:func:`forecasting.models.add_combinations`). ``cv`` (sorted, scored on what was
    ordered) and ``orders`` with those rows added, scored on what was ordered too (``outliers`` put back
    before the members' rows meet: a combination's rows pair on ``y``)."""
    default = config.seasonal_default
    if cv is None or default is None:
        return cv, orders
    seasonal = plan.filter((pl.col("set") == "seasonal") & (pl.col("windows") > 0))
    missing = seasonal.join(cv.filter(pl.col("model") == default).select("unique_id").unique(), on="unique_id",
                            how="anti")
    if not missing.height:
        return cv, orders
    members = (combination_members(default) or (None, (default,)))[1]
    present = set(cv.join(missing.select("unique_id"), on="unique_id", how="semi").get_column("model").unique())
    need = tuple(m for m in members if m not in present)
    work = _backtest_work(missing, horizon, config)

    def make(set_name: str, windows: int, refit: str, df: pl.DataFrame, cost: float) -> Task:
        return _task(config, horizon, need, set_name, windows, refit, df, cost)

    added, _, found = run_tasks(_tasks(series, work, ["set", "windows", "refit"], make, config), pool) \
        if need else (None, None, None)
    added = _as_ordered(added, outliers)
    rows = pl.concat([f for f in (cv.join(missing.select("unique_id"), on="unique_id", how="semi")
                                  .filter(pl.col("model").is_in(members)), added) if f is not None],
                     how="vertical_relaxed")
    if default not in need:  # a combination: its members' mean (or median), as the engine forms it
        rows = _combined_rows(rows, default)
    cv = pl.concat([cv, rows.select(cv.columns)], how="vertical_relaxed").sort(_CV_ORDER, maintain_order=True)
    if found is not None and found.height:
        orders = found if orders is None else pl.concat([orders, found], how="vertical_relaxed")
    return cv, orders


def _combined_rows(rows: pl.DataFrame, name: str) -> pl.DataFrame:
    """Backtest rows (``unique_id, ds, cutoff, y, model, yhat``) of the combination ``name`` formed from its
    members' rows in ``rows``, as the engine forms it (:func:`forecasting.models.add_combinations`)."""
    keys = ["unique_id", "ds", "cutoff", "y"]
    wide = add_combinations(rows.pivot(on="model", index=keys, values="yhat"), (name,))
    return wide.unpivot(index=keys, on=[name], variable_name="model", value_name="yhat")


def _trimmed_backtest(cv: pl.DataFrame | None, trimmed: pl.DataFrame) -> pl.DataFrame | None:
    """``cv`` with the backtest rows of each ``trimmed`` series' model (``unique_id, model``: a default less
    its worst member, :func:`forecasting.select.trim_worst_member`) formed from its members' rows, so that
    its band is sized on the chosen model's own backtest errors."""
    if cv is None or not trimmed.height:
        return cv
    parts = [cv]
    for (name,), ids in trimmed.group_by("model", maintain_order=True):
        members = combination_members(name)[1]
        rows = cv.join(ids.select("unique_id"), on="unique_id", how="semi").filter(pl.col("model").is_in(members))
        parts.append(_combined_rows(rows, name).select(cv.columns))
    return pl.concat(parts, how="vertical_relaxed").sort(_CV_ORDER, maintain_order=True)


def _members(model: pl.Expr, names: list[str]) -> pl.Expr:
    """The base models of each name in ``model`` (itself, or a combination's members)."""
    return model.replace_strict(
        {n: list((combination_members(n) or (None, (n,)))[1]) for n in names}, return_dtype=pl.List(pl.String)
    )


def _champion_tasks(
    series: dict, plan: pl.DataFrame, chosen: pl.DataFrame, horizon: int, config: ForecastConfig,
    orders: pl.DataFrame | None = None,
) -> list[Task]:
    """Phase 2: fit each backtested series' champion alone on its whole history and forecast.

    ``orders`` (``unique_id, model, order``: the AutoARIMA orders found at the oldest backtest origin,
    :mod:`forecasting.engine`) fix the order of the champion's AutoARIMA members where
    ``config.arima_order_from_backtest``: the series are then chunked by model and order.
    """
    work = plan.join(chosen.filter(pl.col("selection") != "rule"), on="unique_id", how="inner",
                     validate="1:1").with_columns(cost=_cost(pl.lit(0.3)))
    spec = pl.lit(None, dtype=pl.String)
    if orders is not None and orders.height and config.arima_order_from_backtest:
        used = (
            work.select("unique_id", members=_members(pl.col("model"), work.get_column("model").unique().to_list()))
            .explode("members")
            .join(orders.rename({"model": "members"}), on=["unique_id", "members"], how="inner", validate="1:1")
            .sort("unique_id", "members")
            .group_by("unique_id", maintain_order=True)
            .agg(spec=pl.concat_str("members", pl.lit("="), "order").str.join(";"))
        )
        work = work.join(used, on="unique_id", how="left", validate="1:1")
        spec = pl.col("spec")
    work = work.with_columns(spec=spec.fill_null(""))

    def make(set_name: str, model: str, spec: str, df: pl.DataFrame, cost: float) -> Task:
        fixed = tuple(tuple(part.split("=", 1)) for part in spec.split(";") if part)
        return Task(df=df, names=(model,), windows=0, forecast=True, cost=cost, arima_orders=fixed,
                    **_task_fields(config, horizon, set_name))

    return _tasks(series, work, ["set", "model", "spec"], make, config)


def _guard(
    frames: dict, series: pl.DataFrame, plan: pl.DataFrame, chosen: pl.DataFrame, backtest: pl.DataFrame,
    fc: pl.DataFrame | None, horizon: int, config: ForecastConfig, pool: Executor | None,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """``chosen`` and the forecasts ``fc`` with every series whose chosen forecast falls to zero, though it
    sold in each of its last periods (a season or the horizon, whichever is longer), on the replacement
    :func:`forecasting.select.guard_picks` takes, selection ``guard``. Only those series fit their set's
    candidates again (the forecast alone, their ARIMA orders searched anew): on the public sets a handful
    or none (docs/forecast-accuracy.md, stop 29)."""
    if fc is None:
        return chosen, fc
    modelled = chosen.filter(pl.col("selection") != "rule").select("unique_id", "model")
    fallen = falls_through_zero(fc.join(modelled, on=["unique_id", "model"], how="semi"), series,
                                max(config.season_length, horizon))
    if not fallen.height:
        return chosen, fc
    names = _set_names(config)
    work = plan.join(fallen, on="unique_id", how="semi").with_columns(cost=_cost(pl.lit(1.0)))

    def make(set_name: str, df: pl.DataFrame, cost: float) -> Task:
        return Task(df=df, names=names[set_name], windows=0, forecast=True, cost=cost,
                    **_task_fields(config, horizon, set_name))

    _, refits, _ = run_tasks(_tasks(frames, work, ["set"], make, config), pool)
    fell = work.join(chosen, on="unique_id", how="inner", validate="1:1").select(
        "unique_id", "model", default=pl.col("set").replace_strict(_defaults(config), default=None,
                                                                   return_dtype=pl.String))
    picks = guard_picks(fell, refits, backtest).rename({"model": "guard"})
    chosen = chosen.join(picks, on="unique_id", how="left", validate="1:1").select(
        "unique_id", pl.coalesce("guard", "model").alias("model"),
        selection=pl.when(pl.col("guard").is_not_null()).then(pl.lit("guard")).otherwise("selection"))
    kept = fc.join(picks, on="unique_id", how="anti")
    taken = refits.join(picks.rename({"guard": "model"}), on=["unique_id", "model"], how="semi")
    return chosen, pl.concat([kept, taken.select(fc.columns)], how="vertical_relaxed").sort(
        "unique_id", "ds", maintain_order=True)


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


def _chosen_default(
    cv: pl.DataFrame | None, series: pl.DataFrame, plan: pl.DataFrame, config: ForecastConfig
) -> ForecastConfig:
    """``config`` with the seasonal set's default replaced by the one of it and its alternatives that the
    set's backtest scores best (:func:`forecasting.select.choose_default`), in its candidates too."""
    if not config.seasonal_alternatives or config.seasonal_default is None or cv is None:
        return config
    names = (config.seasonal_default, *config.seasonal_alternatives)
    ids = plan.filter(pl.col("set") == "seasonal").select("unique_id")
    rows = cv.filter(pl.col("model").is_in(names)).join(ids, on="unique_id", how="semi")
    best = choose_default(score_backtest(rows, series, season=config.mase_season), names,
                          min_series=config.strategy_min_series)
    models = tuple(dict.fromkeys(best if m == config.seasonal_default else m for m in config.seasonal_models))
    return config.model_copy(update={"seasonal_models": models, "seasonal_default": best})


def _choose(
    cv: pl.DataFrame | None, series: pl.DataFrame, plan: pl.DataFrame, config: ForecastConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Backtest scores of every candidate, and the model and selection of every series."""
    names = _set_names(config)
    candidates = plan.filter(pl.col("set").is_in(["seasonal", "short", "intermittent"])).select(
        "unique_id", "set",
        model=pl.col("set").replace_strict(
            {k: list(v) for k, v in names.items()}, return_dtype=pl.List(pl.String)
        ),
        fallback=pl.col("set").replace_strict(FALLBACKS),
        default=pl.col("set").replace_strict(_defaults(config), return_dtype=pl.String),
    ).explode("model")
    # no backtest at all (every series too short for a window): no scores, so every series takes its
    # set's default, else its fallback
    backtest = (pl.DataFrame(schema=_BACKTEST_SCHEMA) if cv is None
                else score_backtest(cv, series, season=config.mase_season))
    picks = held_out_picks(backtest, candidates, decimals=config.score_decimals, margin=config.champion_margin,
                           min_windows=config.champion_min_windows)
    strategy = _strategy(picks, candidates, config)
    candidates = candidates.join(strategy.select("set", "strategy"), on="set", how="left", validate="m:1")
    used = picks.join(candidates.select("unique_id", "strategy").unique(), on=["unique_id", "strategy"],
                      how="semi").select("unique_id", "window", "model")
    champions = select_champions(
        backtest,
        candidates.with_columns(default=pl.when(pl.col("strategy") != "champion").then(pl.col("default")))
        .drop("set", "strategy"),
        decimals=config.score_decimals, margin=config.champion_margin, min_windows=config.champion_min_windows,
    )
    if config.season_shift_check and config.season_length <= config.native_season_max:  # weekly changes: too autocorrelated
        champions = keep_default_where_shifted(
            champions, candidates.filter(pl.col("strategy") != "champion").select("unique_id", "default").unique(),
            season_shifted(series, config.season_length))
    everywhere = candidates.filter(pl.col("strategy") == "default").select("unique_id", "default").unique()
    champions = champions.join(everywhere, on="unique_id", how="left", validate="1:1").select(
        "unique_id",
        model=pl.coalesce("default", "model"),
        selection=pl.when(pl.col("default").is_not_null()).then(pl.lit("default")).otherwise("selection"),
    )
    by_rule = plan.filter(pl.col("set").is_in(["rule", "inactive", "profile"])).select(
        "unique_id",
        model=pl.when(pl.col("set") == "inactive").then(pl.lit(ZERO_MODEL))
        .when(pl.col("set") == "profile").then(pl.lit(PROFILE_MODEL)).otherwise(pl.lit(RULE_MODEL)),
        selection=pl.lit("rule"),
    )
    return backtest, pl.concat([champions, by_rule]), strategy, used


def _strategy(picks: pl.DataFrame, candidates: pl.DataFrame, config: ForecastConfig) -> pl.DataFrame:
    """``set, strategy, series, evidence, default, champion`` of every set with a default model: each
    strategy's held-out MASE, and the configured strategy or with ``auto`` the one they pick
    (:func:`choose_strategy`)."""
    groups = candidates.filter(pl.col("default").is_not_null()).select("unique_id", "set").unique()
    chosen = choose_strategy(picks, groups, min_series=config.strategy_min_series,
                             margin=config.strategy_margin, choices=config.strategy_choices)
    if config.selection_strategy == "auto":
        return chosen
    return chosen.with_columns(strategy=pl.lit(config.selection_strategy))


def _groups(plan: pl.DataFrame, chosen: pl.DataFrame, by: str = "class") -> pl.DataFrame:
    """Calibration group of every series: with ``by`` ``class`` its class, candidate set and how its model
    was chosen; with ``set`` its candidate set alone (``ForecastConfig.calibration_groups``)."""
    keys = ("series_class", "set", "selection") if by == "class" else ("set",)
    return plan.join(chosen, on="unique_id", how="inner", validate="1:1").select(
        "unique_id", "set", "model",
        group=pl.concat_str(*keys, separator="/"),
        ratio=pl.col("set") == "intermittent",
    )


_CV_ORDER = ["unique_id", "model", "cutoff", "ds"]


def _relative_error(rms: bool = False) -> pl.Expr:
    """A backtest row's |y − ŷ| relative to its series' level and growth at its cutoff (squared with
    ``rms``)."""
    rel = (pl.col("y") - pl.col("yhat")).abs() / pl.col("level") / pl.col("growth")
    return rel.pow(2) if rms else rel


# a backtest row's horizon step: its rank within its series' window
_WINDOW_STEP = pl.col("ds").rank("dense").over("unique_id", "cutoff").cast(pl.Int64)


def _blended(errors: pl.Expr, changes: pl.Expr, weight: float, noise: float = 0.0) -> pl.Expr:
    """A series' band unit from its backtest ``errors`` scale and its history's recent ``changes`` at the
    same cutoff (:func:`forecasting.intervals.recent_changes`): ``errors^(1 − weight) × changes^weight``
    (``ForecastConfig.history_scale_weight``); the backtest scale alone where the changes are null, or at most
    ``noise`` times the errors (float noise: :func:`_only_windows`)."""
    if weight == 0:
        return errors
    return pl.when(changes > noise * errors).then(errors.pow(1 - weight) * changes.pow(weight)).otherwise(errors)


def _growth(cv: pl.DataFrame | None, series: pl.DataFrame, groups: pl.DataFrame, span: int,
            exponent: float = 1.0) -> pl.DataFrame | None:
    """``unique_id, cutoff, growth`` at every backtest cutoff and the end of each history: how large a series'
    errors are expected to be for the history its fit saw there, ``length ^ slope`` with its group's slope of
    log |error| on log history length (:func:`forecasting.intervals.length_slopes`, estimated on the chosen
    models' backtest windows, their errors relative to the level at each cutoff); None without a backtest.
    Where errors fall as the history grows (slope < 0) the windows, fitted on less history, size the band
    too wide; dividing their errors by their growth and multiplying the forecast's scale by its own takes
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
    recent changes over one season (:func:`forecasting.intervals.recent_changes`); None where they are not
    blended in (``history_scale_weight`` 0, or no backtest)."""
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
    step, times its level at the end of the history (:func:`forecasting.intervals.series_levels`, ``span``
    periods); where it has no backtest, its in-sample lag-1 naive MAE. With ``recent``, over its most
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
    strategy picked on the *other* windows (``picks``, :func:`forecasting.select.held_out_picks`), its
    errors in the held-out window divided by its error scale on those other windows, as the final
    forecast is the model picked on every window with its scale from them (a champion's low backtest
    errors are thus not taken for its future ones: the winner's curse). A series of a set without a default
    (intermittent: every window's champion), its chosen model with the scale of its other windows (leave
    one window out); a series with one window brings none. Pooled over the series of a group by step: each
    series brings its error level, the group the shape of the distribution and its growth with the horizon
    (a few windows of one series cannot tell a 2.5% quantile). No backtest at all: no rows (the quantiles
    fall back to the wide band). Scales are relative to the series' level at each window's cutoff (the
    mean |y| of its last ``span`` periods, :func:`forecasting.intervals.series_levels`): the scale of a
    held-out window is its level times the mean |error| / level of the other windows, as the forecast's is
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
    them (:func:`forecasting.intervals.seasonal_histories`; ``ForecastConfig.calibration_seasonal_split``)."""
    seasonal = seasonal_histories(series, _band_cutoffs(cv, series), season)
    last = series.group_by("unique_id").agg(cutoff=pl.col("ds").max())
    now = last.join(seasonal, on=["unique_id", "cutoff"], how="left", validate="1:1").select("unique_id", "seasonal")
    return (scored.join(now, on="unique_id", how="left", validate="m:1"),
            calibration.join(seasonal, on=["unique_id", "cutoff"], how="left", validate="m:1"))


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
    asked = min(backtest_horizon or horizon, horizon)
    classes = classify_series(series, config)
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
        cv, orders = _chosen_backtest(frames, plan, scored, config, cv, orders, pool, outliers)
        backtest, chosen, strategy, picks = _choose(cv, series, plan, config)
        trimmed = trim_worst_member(chosen, backtest, config.seasonal_default, config.trim_min_members)
        cv = _trimmed_backtest(cv, trimmed.join(chosen, on=["unique_id", "model"], how="anti"))
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
    if month_ends:  # dated as they came: each month by its last day
        forecast = forecast.with_columns(pl.col("ds").dt.month_end())
        outliers = outliers if outliers is None else outliers.with_columns(pl.col("ds").dt.month_end())
    return ForecastResult(forecast=forecast, series=summary, backtest=backtest, strategy=strategy,
                          outliers=outliers, backtest_horizon=scored if backtest.height else None)
