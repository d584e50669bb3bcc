"""Running statsforecast over chunks of series: backtest (cross-validation) and final forecast.

Series are cut into tasks that share their models and a number of backtest windows (statsforecast
backtests a whole frame with one horizon and window count). Tasks are ordered by expected cost, largest
first, and run in order (no pool) or on a process pool (more tasks than workers so that the cheap ones
fill the gaps the expensive ones leave: longest-processing-time-first scheduling) or on a Dask cluster
the caller connected to (an executor with the same ``map``).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from multiprocessing import get_context

import polars as pl
from statsforecast import StatsForecast

from forecasting.models import add_combinations, base_models

__all__ = ["Task", "run_task", "run_tasks", "worker_pool"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


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
    forecast: bool  # whether to also fit on the whole history and forecast
    fallback: str  # model replacing a candidate whose fit fails on a series
    cost: float  # expected CPU cost, only for ordering
    forecast_horizon: int | None = None  # weeks forecast when ``forecast``; None = ``horizon``


def _long(frame: pl.DataFrame, names: tuple[str, ...], index: list[str]) -> pl.DataFrame:
    return add_combinations(frame, names).unpivot(
        index=index, on=list(names), variable_name="model", value_name="yhat"
    )


def run_task(task: Task) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Backtest and/or forecast one chunk.

    A model whose fit fails on a series is replaced there by the task's fallback model under its own name
    (statsforecast's ``fallback_model``); every candidate set holds its fallback too, so such a model can at
    best tie with it, and ties go to the simpler one.

    Returns:
        ``(cv, forecast)``: cv long ``unique_id, ds, cutoff, y, model, yhat`` (None without backtest),
        forecast long ``unique_id, ds, model, yhat`` (None unless ``task.forecast``).
    """
    sf = StatsForecast(
        models=base_models(task.names, task.season_length),
        freq=task.freq,
        n_jobs=1,
        fallback_model=base_models((task.fallback,), task.season_length)[0],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(h=task.forecast_horizon or task.horizon, df=task.df) if task.forecast else None
        cv = (
            sf.cross_validation(h=task.horizon, df=task.df, n_windows=task.windows, step_size=task.step)
            if task.windows > 0
            else None
        )
    fc_long = None if fc is None else _long(fc, task.names, ["unique_id", "ds"])
    cv_long = None if cv is None else _long(cv, task.names, ["unique_id", "ds", "cutoff", "y"])
    return cv_long, fc_long


def worker_pool(n_jobs: int) -> AbstractContextManager[ProcessPoolExecutor | None]:
    """A process pool of ``n_jobs`` workers to pass to :func:`run_tasks` (None, run in-process, for 1)."""
    if n_jobs <= 1:
        return nullcontext(None)
    # spawn, not fork: a forked child may inherit a polars thread-pool lock held by another thread.
    return ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn"),
                               initializer=_die_with_parent, initargs=(os.getpid(),))


def _die_with_parent(parent: int) -> None:
    """In a worker: have the kernel kill it when the process that started it dies (Linux), even on
    ``kill -9`` of the parent, instead of living on as an orphan holding memory."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def run_tasks(
    tasks: list[Task], pool: Executor | None = None
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Run every task (largest expected cost first) in-process or on ``pool``; concatenate the outputs.

    ``pool`` is a process pool from :func:`worker_pool`, or anything whose ``map`` returns the results in
    the tasks' order (the pipeline's Dask cluster: ``flows/cluster.py``); the outputs are the same.
    """
    ordered = sorted(tasks, key=lambda t: -t.cost)
    if pool is None or len(ordered) <= 1:
        results = [run_task(t) for t in ordered]
    else:
        results = list(pool.map(run_task, ordered, chunksize=1))
    cvs = [cv for cv, _ in results if cv is not None]
    fcs = [fc for _, fc in results if fc is not None]
    return (
        pl.concat(cvs, how="vertical_relaxed") if cvs else None,
        pl.concat(fcs, how="vertical_relaxed") if fcs else None,
    )
