"""Running statsforecast over chunks of series: backtest (cross-validation) and final forecast.

Series are cut into tasks that share a candidate set and a number of backtest windows (statsforecast
backtests a whole frame with one horizon and window count). Tasks are ordered by expected cost, largest
first, and run in order (``n_jobs == 1``) or on a process pool (``n_jobs > 1``, more tasks than workers so
that the cheap ones fill the gaps the expensive ones leave: longest-processing-time-first scheduling).
"""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import polars as pl
from statsforecast import StatsForecast

from forecasting.models import add_combinations, base_models

__all__ = ["Task", "run_task", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """One statsforecast call: a chunk of series, the models to fit, and how to backtest them."""

    df: pl.DataFrame  # unique_id, ds, y
    names: tuple[str, ...]  # candidate names (base models and combinations) reported
    season_length: int
    freq: str
    horizon: int
    windows: int  # 0 = no backtest
    step: int
    fallback: str  # model replacing a candidate whose fit fails on a series
    cost: float  # expected CPU cost, only for ordering


def _long(frame: pl.DataFrame, names: tuple[str, ...], index: list[str]) -> pl.DataFrame:
    return add_combinations(frame, names).unpivot(
        index=index, on=list(names), variable_name="model", value_name="yhat"
    )


def run_task(task: Task) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Backtest and forecast one chunk.

    A model whose fit fails on a series is replaced there by the task's fallback model under its own name
    (statsforecast's ``fallback_model``); every candidate set holds its fallback too, so such a model can at
    best tie with it, and ties go to the simpler one.

    Returns:
        ``(cv, forecast)``: cv long ``unique_id, ds, cutoff, y, model, yhat`` (None without backtest),
        forecast long ``unique_id, ds, model, yhat``.
    """
    sf = StatsForecast(
        models=base_models(task.names, task.season_length),
        freq=task.freq,
        n_jobs=1,
        fallback_model=base_models((task.fallback,), task.season_length)[0],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(h=task.horizon, df=task.df)
        cv = (
            sf.cross_validation(h=task.horizon, df=task.df, n_windows=task.windows, step_size=task.step)
            if task.windows > 0
            else None
        )
    fc_long = _long(fc, task.names, ["unique_id", "ds"])
    cv_long = None if cv is None else _long(cv, task.names, ["unique_id", "ds", "cutoff", "y"])
    return cv_long, fc_long


def run_tasks(tasks: list[Task], n_jobs: int = 1) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """Run every task (largest expected cost first) and concatenate their outputs."""
    ordered = sorted(tasks, key=lambda t: -t.cost)
    if n_jobs <= 1 or len(ordered) <= 1:
        results = [run_task(t) for t in ordered]
    else:
        # spawn, not fork: a forked child may inherit a polars thread-pool lock held by another thread.
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
            results = list(pool.map(run_task, ordered, chunksize=1))
    cvs = [cv for cv, _ in results if cv is not None]
    cv_all = pl.concat(cvs, how="vertical_relaxed") if cvs else None
    fc_all = pl.concat([fc for _, fc in results], how="vertical_relaxed")
    return cv_all, fc_all
