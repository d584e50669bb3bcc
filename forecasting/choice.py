"""Which model each series takes, from its candidates' backtest scores (:func:`_choose`): the seasonal set's
default against its alternatives (:func:`_chosen_default`), each set's strategy (the default everywhere, the
champion everywhere, or the evidence rule: :func:`_strategy`), each series' champion or default (the rules
are :mod:`forecasting.select`'s and :mod:`forecasting.select_strategy`'s), the rule, zero and profile
series; then the guard against a forecast that falls through zero though the series sold in every recent
period (:func:`_guard`, over :mod:`forecasting.select_guard`).
"""

from __future__ import annotations

from concurrent.futures import Executor

import polars as pl

from forecasting.config import ForecastConfig
from forecasting.engine import Task, run_tasks
from forecasting.metrics import score_backtest
from forecasting.backtest import (FALLBACKS, RULE_MODEL, ZERO_MODEL, _cost, _defaults, _set_names,
                                  _task_fields, _tasks)
from forecasting.profile import PROFILE_MODEL
from forecasting.select import select_champions
from forecasting.select_guard import (falls_through_zero, guard_picks, keep_default_where_shifted,
                                      season_shifted)
from forecasting.select_strategy import choose_default, choose_strategy, held_out_picks

_BACKTEST_SCHEMA = {"unique_id": pl.String, "model": pl.String, "window": pl.Int64, "mase": pl.Float64,
                    "wape": pl.Float64, "bias": pl.Float64}


def _guard(
    frames: dict, series: pl.DataFrame, plan: pl.DataFrame, chosen: pl.DataFrame, backtest: pl.DataFrame,
    fc: pl.DataFrame | None, horizon: int, config: ForecastConfig, pool: Executor | None,
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """``chosen`` and the forecasts ``fc`` with every series whose chosen forecast falls to zero, though it
    sold in each of its last periods (a season or the horizon, whichever is longer), on the replacement
    :func:`forecasting.select_guard.guard_picks` takes, selection ``guard``. Only those series fit their set's
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


def _chosen_default(
    cv: pl.DataFrame | None, series: pl.DataFrame, plan: pl.DataFrame, config: ForecastConfig
) -> ForecastConfig:
    """``config`` with the seasonal set's default replaced by the one of it and its alternatives that the
    set's backtest scores best (:func:`forecasting.select_strategy.choose_default`), in its candidates too."""
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
