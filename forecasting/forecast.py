"""Automatic forecasting: classify, backtest candidates, choose a champion per series, forecast, quantiles.

Per series, by class (:mod:`forecasting.classify`):

- ``smooth`` / ``erratic``: ``config.seasonal_models``; ``short``: ``config.short_models``;
  ``intermittent`` / ``lumpy``: ``config.intermittent_models``. Each candidate is backtested over up to
  ``backtest_windows`` rolling origins ``backtest_step`` weeks apart (as many as the history allows with
  ``min_train_weeks`` — a full season for seasonal candidates — before the oldest origin); the champion
  is chosen on MASE, WAPE, |bias| and simplicity (:mod:`forecasting.select`), selection ``backtest``; a
  series with no scorable candidate gets its set's fallback (:data:`FALLBACKS`), selection ``fallback``.
  A ``short`` series with ADI at or above the threshold takes the intermittent set. Quantiles are
  conformal from the champion's backtest errors.
- ``new`` and any series too short for one backtest window: ``rule_model`` (the mean of its life),
  selection ``rule``, with a wide lognormal band (``rule_band_cv``).
- ``inactive``: zero, selection ``rule``, model ``Zero``, every quantile zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from data_contracts import schema
from forecasting.classify import classify_series
from forecasting.config import ForecastConfig
from forecasting.engine import Task, run_tasks
from forecasting.intervals import conformal_quantiles, lognormal_quantiles, tidy_quantiles
from forecasting.metrics import score_backtest
from forecasting.select import select_champions

__all__ = ["ForecastResult", "forecast_demand", "validate_series", "FALLBACKS", "RULE_MODEL", "ZERO_MODEL"]

#: fallback per candidate set: where nothing could be scored, and for a candidate whose fit fails
FALLBACKS = {"seasonal": "Naive", "short": "Naive", "intermittent": "HistoricAverage", "rule": "HistoricAverage"}
RULE_MODEL = "HistoricAverage"
ZERO_MODEL = "Zero"
_SETS = {"smooth": "seasonal", "erratic": "seasonal", "short": "short", "intermittent": "intermittent",
         "lumpy": "intermittent"}
# rough CPU cost of a set's candidates per series and fit, relative; only orders the tasks
_SET_COST = {"seasonal": 30.0, "short": 10.0, "intermittent": 1.0, "rule": 0.1}


@dataclass(frozen=True)
class ForecastResult:
    """What :func:`forecast_demand` returns; every frame keyed by ``unique_id``."""

    forecast: pl.DataFrame  # unique_id, ds, model, mean, q01..q99
    series: pl.DataFrame  # unique_id, series_class, n_weeks, adi, cv2, model, selection
    backtest: pl.DataFrame  # unique_id, model, window, mase, wape, bias


def validate_series(series: pl.DataFrame) -> None:
    """Raise ``ValueError`` naming the series unless ``unique_id, ds (Date), y`` is a regular weekly panel."""
    missing = {"unique_id", "ds", "y"} - set(series.columns)
    if missing:
        raise ValueError(f"series frame lacks columns {sorted(missing)} (contract: unique_id, ds, y)")
    if series.schema["ds"] != pl.Date:
        raise ValueError(f"series column ds must be a Date (weekly Mondays), got {series.schema['ds']}")
    nulls = series.filter(pl.any_horizontal(pl.col("unique_id", "ds", "y").is_null()))
    if nulls.height:
        raise ValueError(f"series with missing values (missing is not zero): {nulls.head(5).rows()}")
    gaps = (
        series.sort("unique_id", "ds")
        .with_columns(step=pl.col("ds").diff().over("unique_id"))
        .filter(pl.col("step").is_not_null() & (pl.col("step") != pl.duration(weeks=1)))
    )
    if gaps.height:
        raise ValueError(
            "series must be weekly without gaps or duplicates; first offending (unique_id, ds): "
            f"{gaps.select('unique_id', 'ds').head(5).rows()}"
        )


def _plan(classes: pl.DataFrame, horizon: int, config: ForecastConfig) -> pl.DataFrame:
    """Per series: candidate set (or ``rule`` / ``inactive``) and number of backtest windows."""
    step = config.step(horizon)
    min_train = (
        pl.when(pl.col("set") == "seasonal")
        .then(max(config.min_train_weeks, config.season_length))
        .otherwise(config.min_train_weeks)
    )
    windows = ((pl.col("n_weeks") - min_train - horizon) // step + 1).clip(0, config.backtest_windows)
    short_intermittent = (pl.col("series_class") == "short") & (
        pl.col("adi").fill_null(float("inf")) >= config.adi_threshold
    )
    planned = classes.with_columns(
        set=pl.when(short_intermittent)
        .then(pl.lit("intermittent"))
        .otherwise(pl.col("series_class").replace_strict(_SETS, default=pl.lit("rule"))),
    ).with_columns(windows=pl.when(pl.col("set") == "rule").then(0).otherwise(windows).cast(pl.Int64))
    return planned.with_columns(
        set=pl.when(pl.col("series_class") == "inactive")
        .then(pl.lit("inactive"))
        .when(pl.col("windows") == 0)
        .then(pl.lit("rule"))
        .otherwise(pl.col("set"))
    )


def _set_names(config: ForecastConfig) -> dict[str, tuple[str, ...]]:
    sets = {"seasonal": config.seasonal_models, "short": config.short_models,
            "intermittent": config.intermittent_models}
    return {k: v if FALLBACKS[k] in v else (*v, FALLBACKS[k]) for k, v in sets.items()} | {
        "rule": (RULE_MODEL,)
    }


def _tasks(series: pl.DataFrame, plan: pl.DataFrame, horizon: int, config: ForecastConfig) -> list[Task]:
    names = _set_names(config)
    tasks = []
    groups = plan.filter(pl.col("set") != "inactive").group_by("set", "windows").agg("unique_id", "n_weeks")
    for set_name, windows, ids, lengths in groups.sort("set", "windows").iter_rows():
        size = config.chunk_size
        if config.n_jobs > 1:  # more chunks than workers, so that they balance
            size = max(1, min(size, math.ceil(len(ids) / (2 * config.n_jobs))))
        frame = series.filter(pl.col("unique_id").is_in(ids))
        for start in range(0, len(ids), size):
            chunk = ids[start:start + size]
            cost = _SET_COST[set_name] * (windows + 1) * sum(lengths[start:start + size]) / 156
            tasks.append(Task(
                df=frame.filter(pl.col("unique_id").is_in(chunk)).sort("unique_id", "ds"),
                names=names[set_name], season_length=config.season_length, freq=config.freq,
                horizon=horizon, windows=windows, step=config.step(horizon), fallback=FALLBACKS[set_name],
                cost=cost,
            ))
    return tasks


def _zero_forecast(series: pl.DataFrame, ids: list[str], horizon: int, quantiles: tuple[float, ...]) -> pl.DataFrame:
    last = series.filter(pl.col("unique_id").is_in(ids)).group_by("unique_id").agg(pl.col("ds").max())
    out = last.with_columns(
        ds=pl.date_ranges(pl.col("ds") + pl.duration(weeks=1), pl.col("ds") + pl.duration(weeks=horizon), "1w")
    ).explode("ds")
    return out.with_columns(
        model=pl.lit(ZERO_MODEL), mean=pl.lit(0.0), **{schema.quantile_column(q): pl.lit(0.0) for q in quantiles}
    )


def forecast_demand(series: pl.DataFrame, horizon: int, config: ForecastConfig = ForecastConfig()) -> ForecastResult:
    """Forecast every series ``horizon`` weeks ahead with a champion model chosen by backtest.

    Args:
        series: ``unique_id, ds, y``: weekly (Monday) history, zero-filled inside each series' life.
        horizon: weeks to forecast (> 0).
        config: model sets, backtest, classification and parallelism settings.

    Returns:
        :class:`ForecastResult` with the forecast (mean and ``config.quantiles``, ≥ 0 and monotone), the
        per-series class and champion, and every candidate's backtest scores.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1 week, got {horizon}")
    validate_series(series)
    series = series.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).sort("unique_id", "ds")
    qcols = [schema.quantile_column(q) for q in config.quantiles]
    plan = _plan(classify_series(series, config), horizon, config)
    cv, fc = run_tasks(_tasks(series, plan, horizon, config), config.n_jobs) if plan.filter(
        pl.col("set") != "inactive").height else (None, None)

    names = _set_names(config)
    backtested = plan.filter(pl.col("set").is_in(["seasonal", "short", "intermittent"]))
    candidates = backtested.select(
        "unique_id",
        model=pl.col("set").replace_strict({k: list(v) for k, v in names.items()}, return_dtype=pl.List(pl.String)),
        fallback=pl.col("set").replace_strict(FALLBACKS),
    ).explode("model")
    if cv is not None:
        backtest = score_backtest(cv, series, season=config.mase_season)
        champions = select_champions(backtest, candidates, decimals=config.score_decimals)
    else:
        backtest = schema.FORECAST_BACKTEST.empty().drop("run_id", "product_id", "site_id").with_columns(
            unique_id=pl.lit(None, pl.String)).select("unique_id", "model", "window", "mase", "wape", "bias")
        champions = pl.DataFrame(schema={"unique_id": pl.String, "model": pl.String, "selection": pl.String})
    rules = plan.filter(pl.col("set") == "rule").select("unique_id", model=pl.lit(RULE_MODEL),
                                                        selection=pl.lit("rule"))
    zeros = plan.filter(pl.col("set") == "inactive").select("unique_id", model=pl.lit(ZERO_MODEL),
                                                            selection=pl.lit("rule"))
    chosen = pl.concat([champions, rules, zeros])

    parts = []
    if fc is not None:
        picked = fc.join(chosen, on=["unique_id", "model"], how="inner").rename({"yhat": "mean"})
        scored = picked.filter(pl.col("selection") != "rule")
        if scored.height:
            calibration = cv.join(champions, on=["unique_id", "model"], how="inner")
            ratio = plan.select("unique_id", ratio=pl.col("set") == "intermittent")
            scored = scored.join(ratio, on="unique_id", how="left", validate="m:1")
            parts.append(conformal_quantiles(scored, calibration, config.quantiles))
        ruled = picked.filter(pl.col("selection") == "rule")
        if ruled.height:
            parts.append(lognormal_quantiles(ruled, config.quantiles, config.rule_band_cv))
    if zeros.height:
        parts.append(_zero_forecast(series, zeros.get_column("unique_id").to_list(), horizon, config.quantiles))
    columns = ["unique_id", "ds", "model", "mean", *qcols]
    forecast = tidy_quantiles(
        pl.concat([p.select(columns) for p in parts], how="vertical_relaxed"), config.quantiles
    ).sort("unique_id", "ds")
    summary = plan.join(chosen, on="unique_id", how="left", validate="1:1").select(
        "unique_id", "series_class", "n_weeks", "adi", "cv2", "model", "selection"
    ).sort("unique_id")
    return ForecastResult(forecast=forecast, series=summary, backtest=backtest)
