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
did not). ``Task.arima_orders`` also takes ETS forms (:func:`with_arima_orders`).

With ``season_from_life`` (:class:`~forecasting.config.ForecastConfig`) a task's frame holds each series'
whole life, and ``Task.skips`` names the periods before the window the models
see (the pipeline's ``input_weeks``), so that every model fits the window (:class:`_Window`) except
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

import numpy as np
import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import _TS, ARIMA, AutoARIMA, AutoETS

from forecasting import gradients
from forecasting.models import NativeSeasonal, SeasonTested, add_combinations, base_models, with_decomposition
from forecasting.seasonal import Deseasonalized

__all__ = ["Task", "run_task", "run_tasks", "worker_pool", "arima_order", "ets_form", "model_order",
           "with_arima_orders"]

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
    # (model name, order from :func:`model_order`): these AutoARIMA- or AutoETS-based models fit that
    # ARIMA order or ETS form only
    arima_orders: tuple[tuple[str, str], ...] = ()
    # (unique_id, periods of its life before the window the models see) of the series longer than it
    skips: tuple[tuple[str, int], ...] = ()
    # ForecastConfig.zero_seasons_multiplicative: a short season multiplicative on series with zeros
    zero_seasons: bool = False
    # ForecastConfig.season_shrinkage: a long season's indices shrunk by their noise
    shrink_seasons: bool = False


class _Window(_TS):
    """``model`` fitted on ``y[skip:]``: the window of a series' life the models see."""

    def __init__(self, model: _TS, skip: int):
        self.model, self.skip, self.alias = model, skip, repr(model)

    def fit(self, y, X=None):  # noqa: D102 - statsforecast's model contract
        self.fitted_model_ = self.model.new().fit(y=y[self.skip:])
        return self

    def predict(self, h, X=None, level=None):  # noqa: D102
        return {"mean": self.fitted_model_.predict(h=h)["mean"]}

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        return {"mean": self.model.new().forecast(y=y[self.skip:], h=h)["mean"]}

    def forward(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        return {"mean": self.fitted_model_.forward(y=y[self.skip:], h=h)["mean"]}


def _shown(model: _TS, skip: int) -> _TS:
    """``model`` seeing a life of which the first ``skip`` periods lie before its window: a ``life``
    Deseasonalized takes its season from all of it, any other model fits the window alone."""
    if skip == 0:
        return model
    if isinstance(model, Deseasonalized) and model.life:
        return model.around(model.model, skip)
    return _Window(model, skip)


def _has_forward(model: object) -> bool:
    """Whether ``model`` (seen through :class:`_Window`) can move on to a later origin without a refit."""
    return hasattr(model.model if isinstance(model, _Window) else model, "forward")


def _inner(model: object) -> object:
    """The model inside :class:`_Window` and Deseasonalized."""
    while isinstance(model, (_Window, Deseasonalized)):
        model = model.model
    return model


def _auto_arima(model: object) -> AutoARIMA | None:
    """The AutoARIMA behind a model name's statsforecast model (itself or inside Deseasonalized; for
    ``TARIMA``, :class:`~forecasting.models.SeasonTested`, its deseasonalised half's: both halves search)."""
    if isinstance(model, _Window):
        return _auto_arima(model.model)
    if isinstance(model, SeasonTested):
        return _auto_arima(model.plain)
    inner = _inner(model)
    return inner if isinstance(inner, AutoARIMA) else None


def _auto_ets(model: object) -> AutoETS | None:
    """The AutoETS behind a model (itself or inside Deseasonalized) when it searches its form (a ``Z`` in
    its model string or its damping left open); None otherwise."""
    inner = _inner(model)
    searches = isinstance(inner, AutoETS) and ("Z" in inner.model or inner.damped is None)
    return inner if searches else None


def _searching(model: object, refit: str = "forms") -> bool:
    """Whether ``model`` searches a structure that ``refit`` finds once at the oldest origin."""
    return _auto_arima(model) is not None or (refit == "forms" and _auto_ets(model) is not None)


def _fitted_inner(fitted: object) -> object:
    """The fitted model inside a fitted wrapper: Deseasonalized's, and for ``TARIMA`` the half its test
    picked (a Deseasonalized, or a NativeSeasonal holding the seasonal or the plain AutoARIMA)."""
    inner = fitted
    while isinstance(inner, (_Window, Deseasonalized, NativeSeasonal)) and hasattr(inner, "fitted_model_"):
        inner = inner.fitted_model_
    return inner


def arima_order(fitted: object) -> str | None:
    """``"p,d,q,mean,drift"`` of a fitted AutoARIMA (or Deseasonalized AutoARIMA), with ``",P,D,Q"``
    after it where the AutoARIMA is seasonal (``TARIMA``'s seasonal half: that half is the one
    :func:`_fixed` fixes); None for other models."""
    inner = _fitted_inner(fitted)
    model = getattr(inner, "model_", None)
    if not isinstance(inner, AutoARIMA) or model is None:
        return None
    p, q, sp, sq, _, d, sd = model["arma"]
    coef = model["coef"]
    seasonal = f",{sp},{sd},{sq}" if inner.season_length > 1 else ""
    return f"{p},{d},{q},{int('intercept' in coef)},{int('drift' in coef)}{seasonal}"


def ets_form(fitted: object) -> str | None:
    """The form a fitted AutoETS (or Deseasonalized AutoETS) chose, written as statsforecast's model string
    with ``d`` after a damped trend (``"ANN"``, ``"MAdN"``); None for other models."""
    inner = _fitted_inner(fitted)
    model = getattr(inner, "model_", None)
    if not isinstance(inner, AutoETS) or model is None:
        return None
    error, trend, season, damped = model["components"][:4]
    return f"{error}{trend}{'d' if damped != 'N' else ''}{season}"


def model_order(fitted: object) -> str | None:
    """:func:`arima_order` or :func:`ets_form` of a fitted model, whichever applies; None for others."""
    return arima_order(fitted) or ets_form(fitted)


def _fixed(model: _TS, order: str) -> _TS | None:
    """The model of ``order`` (:func:`model_order`) under ``model``'s name, in place of ``model``'s search.

    ``TARIMA`` (:class:`~forecasting.models.SeasonTested`) fixes the half the order came from (a seasonal
    order: its seasonal ARIMA; a non-seasonal one: its deseasonalised ARIMA) and keeps the test on each
    fit's history, as DARIMA keeps its decomposition's: where the test picks the other half, that half
    searches. A :class:`_Window`'s model is fixed inside the same window."""
    if isinstance(model, _Window):
        fixed = _fixed(model.model, order)
        return None if fixed is None else _Window(fixed, model.skip)
    if isinstance(model, SeasonTested) and "," in order:
        if order.count(",") == 7:
            p, d, q, mean, drift, sp, sd, sq = (int(v) for v in order.split(","))
            seasonal = ARIMA(order=(p, d, q), season_length=model.season_length, seasonal_order=(sp, sd, sq),
                             include_mean=bool(mean), include_drift=bool(drift), alias=repr(model))
            return SeasonTested(seasonal, model.plain, model.season_length, alias=repr(model))
        return SeasonTested(model.seasonal, _fixed(model.plain, order), model.season_length, alias=repr(model))
    if _auto_arima(model) is not None and order.count(",") == 4:
        p, d, q, mean, drift = (int(v) for v in order.split(","))
        fixed = ARIMA(order=(p, d, q), include_mean=bool(mean), include_drift=bool(drift), alias=repr(model))
    elif _auto_ets(model) is not None and "," not in order:
        fixed = AutoETS(model=order.replace("d", ""), damped="d" in order, alias=repr(model))
    else:
        return None
    if isinstance(model, Deseasonalized):
        fixed = model.around(fixed)
    return fixed


class _OrderFirst(_TS):
    """A fixed-order ARIMA or fixed-form ETS (``fixed``) that searches (``search``) where its own fit fails."""

    def __init__(self, fixed: _TS, search: _TS):
        self.fixed, self.search, self.alias = fixed, search, repr(search)

    def fit(self, y, X=None):  # noqa: D102 - statsforecast's model contract
        try:
            self.fitted_ = self.fixed.new().fit(y=y)
            ok = np.all(np.isfinite(self.fitted_.predict(h=1)["mean"]))
        except Exception:  # noqa: BLE001 - e.g. too few values left after differencing
            ok = False
        if not ok:
            self.fitted_ = self.search.new().fit(y=y)
        return self

    def predict(self, h, X=None, level=None):  # noqa: D102
        return {"mean": self.fitted_.predict(h=h)["mean"]}

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        return self.new().fit(y=y).predict(h=h)


def with_arima_orders(models: list[_TS], orders: tuple[tuple[str, str], ...]) -> list[_TS]:
    """``models`` with each AutoARIMA- or AutoETS-based one named in ``orders`` replaced by a fixed-order
    ARIMA (fixed-form ETS) of that order (form) under the same name (on the same data it forecasts exactly
    what the search found); where that fixed fit fails, the model searches as before."""
    by_name = dict(orders)
    out = []
    for model in models:
        order = by_name.get(repr(model))
        fixed = None if order is None else _fixed(model, order)
        out.append(model if fixed is None else _OrderFirst(fixed, model))
    return out


class _Forwarding(_TS):
    """A model fitted at the oldest origin of a cross-validation (statsforecast's ``refit=False``) and
    moved on to the later origins: by its own ``forward`` (``move="state"``), or, for an AutoARIMA or
    AutoETS, by fitting the order or form found there on the longer history (``move="order"``).

    At the oldest origin it forecasts what its fit predicts. statsforecast calls ``forward`` with no
    fallback; this one fits the model on the new history (as a refit would) where the fitted model's
    ``forward`` raises or gives a non-finite forecast.
    """

    def __init__(self, model: _TS, move: str = "state"):
        self.model = model
        self.move = move
        self.alias = repr(model)
        self.orders: list[str | None] = []  # model_order of each fit, in the order of the series

    def fit(self, y, X=None):  # noqa: D102 - statsforecast's model contract
        self.orders.append(None)  # a failed fit (the fallback takes over) keeps its place
        self.n_fit_ = len(y)
        self.fitted_ = self.model.new().fit(y=y, X=X)
        self.orders[-1] = model_order(self.fitted_)
        return self

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        return self.model.new().forecast(y=y, h=h, X=X, X_future=X_future)

    def forward(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        if len(y) == self.n_fit_:  # the origin it was fitted at
            return {"mean": self.fitted_.predict(h=h)["mean"]}
        if self.move == "order":
            order = self.orders[-1]
            if order is None or not _searching(self.model):
                return self.forecast(y=y, h=h, X=X, X_future=X_future)
            return with_arima_orders([self.model], ((self.alias, order),))[0].forecast(y=y, h=h)
        try:
            out = self.fitted_.forward(y=y, h=h, X=X, X_future=X_future)
        except Exception:  # noqa: BLE001 - any failure of the shortcut means: fit anew
            out = None
        if out is None or not np.all(np.isfinite(out["mean"])):
            return self.forecast(y=y, h=h, X=X, X_future=X_future)
        return {"mean": out["mean"]}


def _long(frame: pl.DataFrame, names: tuple[str, ...], index: list[str]) -> pl.DataFrame:
    return add_combinations(frame, names).unpivot(
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
    fc_long = None if fc is None else _long(fc, task.names, ["unique_id", "ds"])
    cv_long = None if cv is None else _long(cv, task.names, ["unique_id", "ds", "cutoff", "y"])
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
