"""Running statsforecast over chunks of series: backtest (cross-validation) and final forecast.

Series are cut into tasks that share their models and a number of backtest windows (statsforecast
backtests a whole frame with one horizon and window count). Tasks are ordered by expected cost, largest
first, and run in order (no pool) or on a process pool (more tasks than workers so that the cheap ones
fill the gaps the expensive ones leave: longest-processing-time-first scheduling) or on a Dask cluster
the caller connected to (an executor with the same ``map``).

A task's backtest (``Task.refit``) refits every model at every origin (``every``); or (``arima_order``)
does the same except that an AutoARIMA searches its order at the oldest origin only and re-estimates
that order's parameters at the later ones; or (``forms``) the same for the AutoARIMA's order and for the
form an AutoETS searches (error, trend and damping: ``"AAdN"``), whose parameters the later origins
re-estimate; or (``once``, statsforecast's ``refit=False``) fits each model
that can move on once, at the oldest origin, and applies those parameters to the longer histories of
the later origins (``forward``: the state is updated, nothing is re-estimated). The models fitted once
run in one statsforecast pass with ``refit=False``, the others in a second pass with every refit over
the same chunk; a ``forward`` that fails or returns a non-finite value is replaced by a fresh fit.

That once-fitted AutoARIMA's order (p, d, q and its constant) is returned per series, so that the final
fit can estimate that order's parameters on the whole history instead of searching the orders again
(``Task.arima_orders``; a fixed-order fit costs a fifth of the search). An AutoETS's form is not returned:
the final fit searches it again (carried into the final fit it made M4 Weekly worse; in the backtest it
did not). ``Task.arima_orders`` also takes ETS forms (:func:`~forecasting.orders.with_arima_orders`).

With ``season_from_life`` (:class:`~forecasting.config.ForecastConfig`) a task's frame holds each series'
whole life, and ``Task.skips`` names the periods before the window the models see (the pipeline's
``input_weeks``), so that every model fits the window (:class:`~forecasting.orders._Window`) except
``DARIMA``, which tests and estimates its classical season on the whole life and fits its ARIMA on the
window's adjusted values (:class:`~forecasting.seasonal.Deseasonalized` ``life``). A series no longer than
its window has no skip: its fits are what they were before.

Every task first routes statsforecast's ARIMA optimisation through :mod:`forecasting.gradients` (the same
fits, bit for bit, without scipy's overhead around its finite differences).
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
from statsforecast.models import _TS

from forecasting import gradients
from forecasting.models import add_combinations, base_models, with_decomposition
from forecasting.outliers import signed_ids
from forecasting.orders import _auto_arima, _Forwarding, _has_forward, _searching, _shown, with_arima_orders

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
    refit: str = "every"  # backtest: "every" origin refitted, "arima_order", "forms", "once" (module docstring)
    # (model name, order from :func:`~forecasting.orders.model_order`): these AutoARIMA- or AutoETS-based
    # models fit that ARIMA order or ETS form only
    arima_orders: tuple[tuple[str, str], ...] = ()
    # (unique_id, periods of its life before the window the models see) of the series longer than it
    skips: tuple[tuple[str, int], ...] = ()
    # ForecastConfig.zero_seasons_multiplicative: a short season multiplicative on series with zeros
    zero_seasons: bool = False
    # ForecastConfig.season_shrinkage: a long season's indices shrunk by their noise
    shrink_seasons: bool = False


def _long(frame: pl.DataFrame, names: tuple[str, ...], index: list[str], signed: list[str]) -> pl.DataFrame:
    """``frame`` (wide) long, with ``names``' combinations formed (``signed``: the ids whose history holds a
    value below zero, :func:`forecasting.models.add_combinations`)."""
    return add_combinations(frame, names, signed).unpivot(
        index=index, on=list(names), variable_name="model", value_name="yhat"
    )


def run_task(task: Task) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    """Backtest and/or forecast one chunk.

    A model whose fit fails on a series is replaced there by the task's fallback model under its own name
    (statsforecast's ``fallback_model``); every candidate set holds its fallback too, so such a model can at
    best tie with it, and ties go to the simpler one.

    Returns:
        ``(cv, forecast, orders)``: cv long ``unique_id, ds, cutoff, y, model, yhat`` (None without
        backtest), forecast long ``unique_id, ds, model, yhat`` (None unless ``task.forecast``), orders
        ``unique_id, model, order`` of the AutoARIMA models fitted once in the backtest (None when
        ``task.refit`` is ``every``; ETS forms are not among them).
    """
    gradients.install()  # the same ARIMA fits for less CPU (forecasting/gradients.py)
    results = [_run_part(task, df, skip) for skip, df in _by_skip(task)]
    parts = [[r[i] for r in results if r[i] is not None] for i in range(3)]
    return tuple(pl.concat(p, how="vertical_relaxed") if p else None for p in parts)


def _by_skip(task: Task) -> list[tuple[int, pl.DataFrame]]:
    """The task's frame cut into the series sharing a skip (statsforecast fits every series of a frame
    with the same models); one part, skip 0, where no series is longer than its window."""
    if not task.skips:
        return [(0, task.df)]
    skips = pl.DataFrame(list(task.skips), schema={"unique_id": pl.String, "skip": pl.Int64}, orient="row")
    df = task.df.join(skips, on="unique_id", how="left").with_columns(pl.col("skip").fill_null(0))
    return [(skip, part.drop("skip")) for (skip,), part in df.group_by("skip", maintain_order=True)]


def _base_models(names: tuple[str, ...], task: Task) -> list[object]:
    """:func:`base_models` of ``names``, their decompositions multiplicative on series with zeros and a long
    season shrunk where the task asks (``Task.zero_seasons``, ``Task.shrink_seasons``)."""
    models = base_models(names, task.season_length)
    return [with_decomposition(model, task.zero_seasons, task.shrink_seasons) for model in models]


def _run_part(task: Task, df: pl.DataFrame, skip: int):
    """:func:`run_task` on the series of ``df``, whose first ``skip`` periods lie before the window."""
    base = [_shown(m, skip) for m in _base_models(task.names, task)]
    models = with_arima_orders(base, task.arima_orders)
    fallback = _shown(_base_models((task.fallback,), task)[0], skip)
    sf = StatsForecast(models=models, freq=task.freq, n_jobs=1, fallback_model=fallback)
    orders = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(h=task.forecast_horizon or task.horizon, df=df) if task.forecast else None
        cv, orders = _cross_validation(task, df, models, fallback) if task.windows > 0 else (None, None)
    signed = signed_ids(df)
    fc_long = None if fc is None else _long(fc, task.names, ["unique_id", "ds"], signed)
    cv_long = None if cv is None else _long(cv, task.names, ["unique_id", "ds", "cutoff", "y"], signed)
    return cv_long, fc_long, orders


def _cross_validation(
    task: Task, df: pl.DataFrame, models: list[_TS], fallback: _TS
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The task's backtest, wide (``unique_id, ds, cutoff, y`` and a column per model): every model
    refitted at every origin, or those ``task.refit`` fits once (module docstring) in one pass and the
    others refitted in a second, their columns put side by side; and the orders of the AutoARIMA models
    fitted once (``unique_id, model, order``, None when every model was refitted)."""
    kwargs = dict(h=task.horizon, df=df, n_windows=task.windows, step_size=task.step)
    if task.refit in ("arima_order", "forms"):
        forwarding = [m for m in models if _searching(m, task.refit)]
    elif task.refit == "once":
        forwarding = [m for m in models if _has_forward(m)]
    else:
        forwarding = []
    if not forwarding or not _has_forward(fallback):
        return StatsForecast(models=models, freq=task.freq, n_jobs=1, fallback_model=fallback) \
            .cross_validation(**kwargs), None
    keys = ["unique_id", "ds", "cutoff", "y"]
    move = "order" if task.refit in ("arima_order", "forms") else "state"
    wrapped = [_Forwarding(m, move) for m in forwarding]
    cv = StatsForecast(models=wrapped, freq=task.freq, n_jobs=1,
                       fallback_model=_Forwarding(fallback, move)).cross_validation(refit=False, **kwargs)
    ids = cv.get_column("unique_id").unique(maintain_order=True)  # the order statsforecast fitted them in
    schema = {"unique_id": pl.String, "model": pl.String, "order": pl.String}
    orders = pl.concat([
        pl.DataFrame({"unique_id": ids, "order": pl.Series(w.orders, dtype=pl.String)})
        .select("unique_id", model=pl.lit(repr(w)), order="order")
        for w in wrapped if _auto_arima(w.model) is not None and len(w.orders) == ids.len()
    ] or [pl.DataFrame(schema=schema)])
    refitting = [m for m in models if all(m is not f for f in forwarding)]
    if refitting:
        rest = StatsForecast(models=refitting, freq=task.freq, n_jobs=1, fallback_model=fallback) \
            .cross_validation(**kwargs)
        if not rest.select(keys).equals(cv.select(keys)):  # both passes cut the same frame the same way
            raise RuntimeError("the two backtest passes of a chunk disagree on their rows")
        cv = cv.hstack(rest.drop(keys))
    return cv.select(*keys, *(repr(m) for m in models)), orders.drop_nulls("order")


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
) -> tuple[pl.DataFrame | None, pl.DataFrame | None, pl.DataFrame | None]:
    """Run every task (largest expected cost first) in-process or on ``pool``; concatenate the outputs
    (``cv, forecast, orders``, each None where no task gave one: :func:`run_task`).

    ``pool`` is a process pool from :func:`worker_pool`, or anything whose ``map`` returns the results in
    the tasks' order (the pipeline's Dask cluster: ``flows/cluster.py``); the outputs are the same.
    """
    ordered = sorted(tasks, key=lambda t: -t.cost)
    if pool is None or len(ordered) <= 1:
        results = [run_task(t) for t in ordered]
    else:
        results = list(pool.map(run_task, ordered, chunksize=1))
    cvs = [cv for cv, _, _ in results if cv is not None]
    fcs = [fc for _, fc, _ in results if fc is not None]
    orders = [o for _, _, o in results if o is not None]
    return (
        pl.concat(cvs, how="vertical_relaxed") if cvs else None,
        pl.concat(fcs, how="vertical_relaxed") if fcs else None,
        pl.concat(orders) if orders else None,
    )
