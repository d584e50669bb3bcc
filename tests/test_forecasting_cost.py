"""Issue 16: the forecast stage's cost cuts — the AutoARIMA order searched at the oldest backtest origin
only (``backtest_refit="arima_order"``), that and the AutoETS form (``"forms"``, the default), or every
model fitted once there and moved on (``"once"``, statsforecast's ``refit=False``), and the final fit
reusing that order; ARIMA fits through scipy's forward differences without its overhead.

The mechanical parts are tested for identity against the obviously correct slow version: a forward on
the data a model was fitted on is its prediction; a fixed-order ARIMA of the order the search found
(a fixed-form ETS of the form it found) forecasts exactly what the search did; a backtest that fits once is, window by window, a fit on the
oldest training part and a forward on each later one, and the models that cannot move on are refitted
exactly as before.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from statsforecast.models import AutoARIMA, AutoETS, HistoricAverage, Naive

from forecasting import ForecastConfig, forecast_demand
from forecasting.engine import Task, run_task
from forecasting.models import base_models
from forecasting.orders import arima_order, ets_form, with_arima_orders
from forecasting.seasonal import Deseasonalized
from forecasting.synthetic import synthetic_series

H = 13


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _panel(n: int = 6, seed: int = 3) -> pl.DataFrame:
    return synthetic_series(n, weeks=130, seed=seed, kinds=("seasonal", "smooth", "trend"))


def test_deseasonalized_forward_on_its_own_history_is_its_prediction():
    y = _panel(1).get_column("y").to_numpy()
    model = Deseasonalized(AutoETS(model="ZZN"), 52, alias="DETS").fit(y)
    assert np.allclose(model.forward(y=y, h=H)["mean"], model.predict(h=H)["mean"])
    longer = np.r_[y, y[-20:]]
    moved = model.forward(y=longer, h=H)["mean"]  # same parameters, the state of the longer history
    assert moved.shape == (H,) and np.all(np.isfinite(moved))
    assert not np.allclose(moved, model.predict(h=H)["mean"])


@pytest.mark.parametrize("name", ["ARIMA", "DARIMA"])
def test_fixed_order_reproduces_the_search_on_the_same_data(name):
    for (uid,), frame in _panel(6).group_by("unique_id", maintain_order=True):
        y = frame.get_column("y").to_numpy()
        searched = base_models((name,), 52)[0].fit(y)
        order = arima_order(searched)
        assert order is not None and len(order.split(",")) == 5
        fixed = with_arima_orders(base_models((name,), 52), ((name, order),))[0]
        inner = fixed.fixed.model if isinstance(fixed.fixed, Deseasonalized) else fixed.fixed
        assert not isinstance(inner, AutoARIMA) and repr(fixed) == name
        assert np.allclose(fixed.fit(y).predict(h=H)["mean"], searched.predict(h=H)["mean"]), uid
    assert arima_order(Naive().fit(np.arange(10.0))) is None
    # models not named keep their search
    assert isinstance(with_arima_orders(base_models(("DARIMA",), 52), ())[0].model, AutoARIMA)


@pytest.mark.parametrize("name", ["ETS", "DETS"])
def test_fixed_form_reproduces_the_ets_search_on_the_same_data(name):
    panel = pl.concat([_panel(6), synthetic_series(4, weeks=130, seed=9, kinds=("trend", "intermittent"))])
    forms = set()
    for (uid,), frame in panel.group_by("unique_id", maintain_order=True):
        y = frame.get_column("y").to_numpy()
        searched = base_models((name,), 52)[0].fit(y)
        form = ets_form(searched)
        forms.add(form)
        assert form is not None and arima_order(searched) is None
        fixed = with_arima_orders(base_models((name,), 52), ((name, form),))[0]
        inner = fixed.fixed.model if isinstance(fixed.fixed, Deseasonalized) else fixed.fixed
        assert inner.model == form.replace("d", "") and inner.damped == ("d" in form) and repr(fixed) == name
        assert np.array_equal(fixed.fit(y).predict(h=H)["mean"], searched.predict(h=H)["mean"]), uid
    assert len(forms) > 1  # more than one form met (additive and multiplicative errors at least)
    # an ARIMA order never fixes an ETS, nor a form an ARIMA
    assert isinstance(with_arima_orders(base_models((name,), 52), ((name, "1,1,0,0,1"),))[0], type(
        base_models((name,), 52)[0]))
    assert isinstance(with_arima_orders(base_models(("DARIMA",), 52), (("DARIMA", "AAN"),))[0].model, AutoARIMA)


def _task(names: tuple[str, ...], refit: str, df: pl.DataFrame) -> Task:
    return Task(df=df, names=names, season_length=52, freq="1w", horizon=H, windows=3, step=H,
                forecast=False, fallback="Naive", cost=1.0, refit=refit)


def test_backtest_fitted_once_is_fit_at_the_oldest_origin_then_forward():
    df = _panel(4)
    names = ("Naive", "HistoricAverage", "DETS", "DARIMA", "Mean(DETS,DARIMA)")
    every, _, no_orders = run_task(_task(names, "every", df))
    once, _, orders = run_task(_task(names, "once", df))
    assert no_orders is None
    key = ["unique_id", "model", "cutoff", "ds"]
    every, once = every.sort(key), once.sort(key)
    assert every.select(key).equals(once.select(key))
    oldest = every.get_column("cutoff").min()
    same = pl.col("model").is_in(["Naive", "HistoricAverage"]) | (pl.col("cutoff") == oldest)
    # the oldest origin is a fit either way, and the models without forward are refitted as before
    assert every.filter(same).get_column("yhat").to_list() == pytest.approx(
        once.filter(same).get_column("yhat").to_list(), rel=1e-9)
    assert not np.allclose(every.filter(~same).get_column("yhat"), once.filter(~same).get_column("yhat"))
    # the slow version, by hand: fit on the oldest training part, forward on each later one
    for (uid,), frame in df.group_by("unique_id", maintain_order=True):
        y = frame.get_column("y").to_numpy()
        first = y.size - 3 * H
        ets = Deseasonalized(AutoETS(model="ZZN"), 52, alias="DETS").fit(y[:first])
        arima = base_models(("DARIMA",), 52)[0].fit(y[:first])
        assert orders.filter(pl.col("unique_id") == uid).get_column("order").to_list() == [arima_order(arima)]
        for k in (1, 2):
            cut = first + k * H
            got = once.filter((pl.col("unique_id") == uid) & (pl.col("cutoff") == frame["ds"][cut - 1]))
            for name, model in (("DETS", ets), ("DARIMA", arima)):
                want = model.forward(y=y[:cut], h=H)["mean"]
                assert got.filter(pl.col("model") == name).sort("ds").get_column("yhat").to_numpy() \
                    == pytest.approx(want, rel=1e-9)


def _assert_same_but_later_origins_of(a: pl.DataFrame, b: pl.DataFrame, model: str):
    """Two backtests have the same rows, and the same forecasts but for ``model``'s (and the combinations
    holding it) at origins after the oldest; returns both sorted by their key."""
    key = ["unique_id", "model", "cutoff", "ds"]
    a, b = a.sort(key), b.sort(key)
    assert a.select(key).equals(b.select(key))
    oldest = a.get_column("cutoff").min()
    same = ~pl.col("model").str.contains(model) | (pl.col("cutoff") == oldest)
    assert a.filter(same).get_column("yhat").to_numpy() == pytest.approx(
        b.filter(same).get_column("yhat").to_numpy(), rel=1e-9)
    return a, b


def test_backtest_searching_the_arima_order_once_refits_everything_else_as_before():
    df = _panel(4)
    names = ("Naive", "HistoricAverage", "DETS", "DOT", "DARIMA", "Mean(DETS,DOT,DARIMA)")
    every, _, _ = run_task(_task(names, "every", df))
    ordered, _, orders = run_task(_task(names, "arima_order", df))
    every, ordered = _assert_same_but_later_origins_of(every, ordered, "DARIMA")
    # later origins: the order found at the oldest, its parameters estimated on the longer history
    for (uid,), frame in df.group_by("unique_id", maintain_order=True):
        y = frame.get_column("y").to_numpy()
        first = y.size - 3 * H
        order = arima_order(base_models(("DARIMA",), 52)[0].fit(y[:first]))
        assert orders.filter(pl.col("unique_id") == uid).get_column("order").to_list() == [order]
        fixed = with_arima_orders(base_models(("DARIMA",), 52), (("DARIMA", order),))[0]
        for k in (1, 2):
            cut = first + k * H
            got = ordered.filter((pl.col("unique_id") == uid) & (pl.col("cutoff") == frame["ds"][cut - 1])
                                 & (pl.col("model") == "DARIMA")).sort("ds").get_column("yhat").to_numpy()
            assert got == pytest.approx(fixed.forecast(y=y[:cut], h=H)["mean"], rel=1e-9)


def test_backtest_searching_the_ets_form_once_refits_everything_else_as_with_the_arima_order():
    df = pl.concat([_panel(4), synthetic_series(2, weeks=130, seed=21, kinds=("trend",))])
    names = ("Naive", "HistoricAverage", "DETS", "DOT", "DARIMA", "Mean(DETS,DOT,DARIMA)")
    ordered, _, arima_orders = run_task(_task(names, "arima_order", df))
    forms, _, orders = run_task(_task(names, "forms", df))
    ordered, forms = _assert_same_but_later_origins_of(ordered, forms, "DETS")
    assert orders.equals(arima_orders)  # only ARIMA orders go on to the final fit
    moved = 0
    for (uid,), frame in df.group_by("unique_id", maintain_order=True):
        y = frame.get_column("y").to_numpy()
        first = y.size - 3 * H
        form = ets_form(base_models(("DETS",), 52)[0].fit(y[:first]))
        fixed = with_arima_orders(base_models(("DETS",), 52), (("DETS", form),))[0]
        for k in (1, 2):
            cut = first + k * H
            window = (pl.col("unique_id") == uid) & (pl.col("cutoff") == frame["ds"][cut - 1])
            got = forms.filter(window & (pl.col("model") == "DETS")).sort("ds").get_column("yhat").to_numpy()
            assert got == pytest.approx(fixed.forecast(y=y[:cut], h=H)["mean"], rel=1e-9)
            searched = ordered.filter(window & (pl.col("model") == "DETS")).sort("ds").get_column("yhat")
            moved += not np.allclose(got, searched.to_numpy())
    assert moved > 0  # some later origin's search chose another form than the oldest's


def test_short_histories_refit_every_origin():
    """A series whose oldest origin sees fewer than ``fit_once_min_train`` periods is backtested exactly
    as with ``every`` (a 22-quarter series fitted once on 6 quarters forecast far off its trend)."""
    series = synthetic_series(8, weeks=90, seed=11, kinds=("seasonal", "trend"))
    config = ForecastConfig(n_jobs=1, backtest_refit="once")
    every = forecast_demand(series, H, config.model_copy(update={"backtest_refit": "every"}))
    gated = forecast_demand(series, H, config.model_copy(update={"fit_once_min_train": 90}))
    assert gated.backtest.equals(every.backtest) and gated.forecast.equals(every.forecast)
    ungated = forecast_demand(series, H, config.model_copy(update={"fit_once_min_train": 10}))
    assert not ungated.backtest.equals(every.backtest)


class _BrokenForward(Naive):
    def forward(self, *args, **kwargs):
        raise RuntimeError("no")


def test_a_forward_that_fails_is_a_fresh_fit(monkeypatch):
    import forecasting.engine as engine

    df = _panel(2)
    monkeypatch.setattr(engine, "base_models", lambda names, m: [
        _BrokenForward(alias="Naive") if n == "Naive" else HistoricAverage(alias=n) for n in names])
    every, _, _ = run_task(_task(("Naive",), "every", df))
    once, _, _ = run_task(_task(("Naive",), "once", df))
    key = ["unique_id", "model", "cutoff", "ds"]
    assert every.sort(key).equals(once.sort(key))


def test_forecast_identical_with_every_refit_whatever_the_order_setting_and_chunking():
    series = synthetic_series(24, seed=5, kinds=("seasonal", "smooth", "trend", "intermittent"))
    base = ForecastConfig(n_jobs=1, backtest_refit="every")
    a = forecast_demand(series, H, base)
    b = forecast_demand(series, H, base.model_copy(update={"arima_order_from_backtest": False}))
    assert a.forecast.equals(b.forecast) and a.series.equals(b.series)
    fast = ForecastConfig(n_jobs=1)
    c = forecast_demand(series, H, fast)
    d = forecast_demand(series, H, fast.model_copy(update={"chunk_size": 5}))
    assert c.forecast.equals(d.forecast) and c.backtest.equals(d.backtest)


def test_final_fit_estimates_the_order_found_at_the_oldest_origin():
    series = synthetic_series(10, seed=7, kinds=("seasonal", "smooth", "trend"))
    config = ForecastConfig(n_jobs=1, seasonal_models=("Naive", "DARIMA"), seasonal_default="DARIMA")
    result = forecast_demand(series, H, config)
    searched = forecast_demand(series, H, config.model_copy(update={"arima_order_from_backtest": False}))
    assert result.series.get_column("model").to_list() == ["DARIMA"] * 10
    assert result.backtest.equals(searched.backtest)  # the backtest is the same; only the final fit differs
    differ = 0
    for (uid,), frame in series.group_by("unique_id", maintain_order=True):
        y = frame.get_column("y").to_numpy()
        windows = 3
        oldest = base_models(("DARIMA",), 52)[0].fit(y[: y.size - windows * H])
        fixed = with_arima_orders(base_models(("DARIMA",), 52), (("DARIMA", arima_order(oldest)),))[0]
        want = fixed.fit(y).predict(h=H)["mean"]
        got = result.forecast.filter(pl.col("unique_id") == uid).sort("ds").get_column("mean").to_numpy()
        assert got == pytest.approx(np.maximum(want, 0.0), rel=1e-9), uid
        full = searched.forecast.filter(pl.col("unique_id") == uid).sort("ds").get_column("mean").to_numpy()
        differ += not np.allclose(got, full)
    assert differ < 10  # most orders found on the oldest part are the whole history's too


# --- forecasting/gradients.py: scipy's forward differences without scipy's overhead ------------------

def _bumpy(x, scale):
    """A smooth objective with a plateau of infinity (as statsforecast's ARIMA objectives return)."""
    if np.any(np.abs(x) > 50):
        return np.inf
    return float(np.sum(scale * (x - 0.3) ** 2) + np.sin(3 * x[0]) + np.prod(np.cos(x)))


@pytest.mark.parametrize("x", [[0.0, 1.0], [-2.5, 3e-9, 0.7], [1e9, -1e9], [5.0], [-0.0, 49.99999999]])
def test_forward_gradient_is_scipys_difference_quotient(x):
    from scipy.optimize._numdiff import approx_derivative

    from forecasting.gradients import _STEP, forward_gradient

    x = np.asarray(x, dtype=float)
    scale = np.arange(1, x.size + 1.0)
    want = approx_derivative(_bumpy, x, method="2-point", abs_step=_STEP, args=(scale,))
    got = forward_gradient(_bumpy, x, _bumpy(x, scale), (scale,))
    assert np.array_equal(got, want, equal_nan=True)


def _rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))


@pytest.mark.parametrize("loop", [True, False])  # scipy 1.17's loop repeated, or scipy's own with the gradient
@pytest.mark.parametrize("fun, x0, tol", [
    (_bumpy, [1.3, -0.8], 1e-8), (_bumpy, [0.0, 0.0, 2.0], None), (_bumpy, [40.0], 1e-8),
    (_bumpy, [49.9, -3.0], 1e-12), (_rosen, [-1.2, 1.0, 0.5], 1e-8), (_rosen, [3.0, -2.0], None),
])
def test_bfgs_is_scipys_bfgs_bit_for_bit(monkeypatch, loop, fun, x0, tol):
    from scipy.optimize import minimize

    import forecasting.gradients as gradients

    monkeypatch.setattr(gradients, "_LOOP_SCIPY", loop and gradients._LOOP_SCIPY)
    args = (np.arange(1, len(x0) + 1.0),) if fun is _bumpy else ()
    for options in ({"maxiter": 100}, {"maxiter": 3}, None):
        kwargs = dict(args=args, method="BFGS", tol=tol, options=options)
        want = minimize(fun, np.array(x0), **kwargs)
        got = gradients.bfgs(fun, np.array(x0), **kwargs)
        assert np.array_equal(got.x, want.x) and got.fun == want.fun and got.status == want.status
        assert got.nit == want.nit and np.array_equal(got.hess_inv, want.hess_inv)
        assert np.array_equal(got.jac, want.jac) and got.message == want.message
        assert got.nfev <= want.nfev  # f(x) is not evaluated again for each gradient
    # anything but an unbounded BFGS without a gradient goes to scipy untouched
    other = gradients.bfgs(fun, np.array(x0), args=args, method="Nelder-Mead")
    assert np.array_equal(other.x, minimize(fun, np.array(x0), args=args, method="Nelder-Mead").x)


def test_bfgs_statuses_met_in_the_tests():
    """The cases above reach convergence, the iteration limit and a failed line search."""
    from scipy.optimize import minimize

    statuses = {minimize(f, np.array(x), args=a, method="BFGS", tol=t, options=o).status
                for f, x, a, t, o in [(_rosen, [-1.2, 1.0, 0.5], (), 1e-8, {"maxiter": 100}),
                                      (_rosen, [-1.2, 1.0, 0.5], (), 1e-8, {"maxiter": 3}),
                                      (_bumpy, [49.9, -3.0], (np.arange(1, 3.0),), 1e-12, {"maxiter": 100})]}
    assert statuses == {0, 1, 2}


def test_arima_fits_and_forecasts_are_bit_for_bit_those_of_scipys_differences(monkeypatch):
    import scipy.optimize
    import statsforecast.arima

    import forecasting.engine as engine
    from forecasting import gradients

    series = synthetic_series(8, weeks=120, seed=13, kinds=("seasonal", "smooth", "trend", "intermittent"))
    config = ForecastConfig(n_jobs=1, short_models=("Naive", "ARIMA"), short_default=None)
    ys = [f.get_column("y").to_numpy() for _, f in series.group_by("unique_id", maintain_order=True)]

    def fits():
        out = []
        for y in ys:
            for name in ("ARIMA", "DARIMA", "FARIMA"):
                model = base_models((name,), 52)[0].fit(y)
                out.append(np.r_[model.predict(h=H)["mean"], [arima_order(model) is not None]])
        return np.array(out)

    with monkeypatch.context() as patch:  # scipy's own differences
        patch.setattr(statsforecast.arima, "minimize", scipy.optimize.minimize)
        patch.setattr(engine.gradients, "install", lambda: None)
        want, want_run = fits(), forecast_demand(series, H, config)
    gradients.install()
    assert statsforecast.arima.minimize is gradients.bfgs
    got, got_run = fits(), forecast_demand(series, H, config)
    assert np.array_equal(got, want)
    assert got_run.forecast.equals(want_run.forecast) and got_run.backtest.equals(want_run.backtest)
    assert got_run.series.equals(want_run.series)


def test_lean_arima_objectives_are_statsforecasts_own_value_for_value(monkeypatch):
    """The objectives statsforecast hands the optimiser (CSS and Gaussian likelihood, with and without a
    mean, seasonal and not) and :mod:`forecasting.gradients`' bound copies give the same value, bit for bit,
    at the start, near it and far off (a non-stationary point), and leave ``mod`` the same."""
    import copy

    import scipy.optimize
    import statsforecast.arima

    from forecasting import gradients

    seen = {}

    def record(fun, x0, args=(), **kwargs):
        arma, ncxreg = (args[4], args[6]) if len(args) == 9 else (args[3], args[4])
        seen.setdefault((fun.__qualname__, tuple(arma), ncxreg), (fun, x0, args))
        return scipy.optimize.minimize(fun, x0, args=args, **kwargs)

    monkeypatch.setattr(statsforecast.arima, "minimize", record)
    ys = [f.get_column("y").to_numpy() for _, f in synthetic_series(
        3, weeks=100, seed=4, kinds=("seasonal", "smooth", "trend")).group_by("unique_id", maintain_order=True)]
    for y in ys:
        for name, m in (("ARIMA", 52), ("DARIMA", 52), ("SARIMA", 12)):
            base_models((name,), m)[0].fit(y)
    names = {key[0] for key in seen}
    assert names == {"arima.<locals>.arma_css_op", "arima.<locals>.armafn"}
    assert {key[2] for key in seen} == {0, 1}  # with a mean (a regressor) and without
    assert any(key[1][4] == 12 and key[1][2] + key[1][3] > 0 for key in seen)  # seasonal (arma: p q P Q m d D)
    rng = np.random.default_rng(0)
    for fun, x0, args in seen.values():
        own_args, lean_args = copy.deepcopy(args), copy.deepcopy(args)  # the likelihood updates its model
        lean, none = gradients._lean_objective(fun, lean_args)
        if not gradients._LEAN_STATSFORECAST:  # another statsforecast (uv.lock pins 2.1): minimised as given
            assert lean is fun
            continue
        assert lean is not fun and none == ()
        for p in [x0, x0 + rng.normal(0, 0.05, x0.size), x0 + 0.5, np.full(x0.size, 3.0), -x0 * 40]:
            want, got = fun(p.copy(), *own_args), lean(p.copy())
            assert (got == want) or (np.isnan(got) and np.isnan(want)), (fun.__qualname__, p)
            if len(args) == 9:
                for key, value in own_args[5].items():
                    assert np.array_equal(lean_args[5][key], value, equal_nan=True), key
    # anything else passes through as given
    assert gradients._lean_objective(_rosen, ())[0] is _rosen


def test_seasonal_arima_fits_are_bit_for_bit_those_of_scipys_own_bfgs(monkeypatch):
    import scipy.optimize
    import statsforecast.arima

    from forecasting import gradients

    ys = [f.get_column("y").to_numpy() for _, f in synthetic_series(
        3, weeks=96, seed=21, kinds=("seasonal", "trend")).group_by("unique_id", maintain_order=True)]

    def fits():
        return np.array([base_models(("SARIMA",), 12)[0].fit(y).predict(h=18)["mean"] for y in ys])

    with monkeypatch.context() as patch:
        patch.setattr(statsforecast.arima, "minimize", scipy.optimize.minimize)
        want = fits()
    gradients.install()
    assert np.array_equal(fits(), want)
