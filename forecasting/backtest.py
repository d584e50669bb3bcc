"""The backtest's plan and its work: which candidates each series' set tries over how many windows
(:func:`_plan`), the work cut into chunks of even cost (:func:`_tasks`), phase 1's backtest of every candidate
(:func:`_backtest`; a seasonal set's alternative default, :func:`_chosen_backtest`, and DARIMA's season,
:func:`_season_source`, settled by the set's own backtest) and phase 2's fit of each series' model alone
(:func:`_champion_tasks`).

:mod:`forecasting.forecast` runs them in that order; the model each series takes is
:mod:`forecasting.choice`'s, its bands :mod:`forecasting.calibration`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from functools import partial

import polars as pl

from forecasting.classify import BACKTESTED_CLASSES
from forecasting.config import ForecastConfig
from forecasting.engine import Task, run_tasks
from forecasting.metrics import score_backtest
from forecasting.models import add_combinations, combination_members
from forecasting.outliers import clean_history
from forecasting.select_strategy import alternative_sample

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


_CV_ORDER = ["unique_id", "model", "cutoff", "ds"]


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
    series and every series' rare periods below zero replaced by their local level
    (:func:`forecasting.outliers.clean_history`; none with ``outlier_factor`` None), and the periods replaced
    (``unique_id, ds, y, replaced_by``)."""
    ids = plan.filter(pl.col("set").is_in(_CLEANED_SETS)).get_column("unique_id")
    if config.outlier_factor is None:
        ids = ids.clear()
    return clean_history(series, ids, config.season_length, config.outlier_factor or 0.0,
                         below=config.outlier_factor is not None)


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
    orders: pl.DataFrame | None, pool: Executor | None, outliers: pl.DataFrame, signed: list[str],
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
        rows = _combined_rows(rows, default, signed)
    cv = pl.concat([cv, rows.select(cv.columns)], how="vertical_relaxed").sort(_CV_ORDER, maintain_order=True)
    if found is not None and found.height:
        orders = found if orders is None else pl.concat([orders, found], how="vertical_relaxed")
    return cv, orders


def _combined_rows(rows: pl.DataFrame, name: str, signed: list[str]) -> pl.DataFrame:
    """Backtest rows (``unique_id, ds, cutoff, y, model, yhat``) of the combination ``name`` formed from its
    members' rows in ``rows``, as the engine forms it (:func:`forecasting.models.add_combinations`;
    ``signed``: the ids whose history holds a value below zero)."""
    keys = ["unique_id", "ds", "cutoff", "y"]
    wide = add_combinations(rows.pivot(on="model", index=keys, values="yhat"), (name,), signed)
    return wide.unpivot(index=keys, on=[name], variable_name="model", value_name="yhat")


def _trimmed_backtest(cv: pl.DataFrame | None, trimmed: pl.DataFrame,
                      signed: list[str]) -> pl.DataFrame | None:
    """``cv`` with the backtest rows of each ``trimmed`` series' model (``unique_id, model``: a default less
    its worst member, :func:`forecasting.select.trim_worst_member`) formed from its members' rows, so that
    its band is sized on the chosen model's own backtest errors."""
    if cv is None or not trimmed.height:
        return cv
    parts = [cv]
    for (name,), ids in trimmed.group_by("model", maintain_order=True):
        members = combination_members(name)[1]
        rows = cv.join(ids.select("unique_id"), on="unique_id", how="semi").filter(pl.col("model").is_in(members))
        parts.append(_combined_rows(rows, name, signed).select(cv.columns))
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
