"""The ARIMA orders and ETS forms a fit found, read from the fitted model (:func:`arima_order`,
:func:`ets_form`, :func:`model_order`) and carried to later fits as a fixed-order ARIMA or fixed-form ETS
under the same name (:func:`with_arima_orders`), and the wrappers statsforecast fits: a model fitted once at
a backtest's oldest origin and moved on to the later ones (:class:`_Forwarding`), and a model shown only the
window of a series' life (:class:`_Window`). :mod:`forecasting.engine` runs the tasks that use them.
"""

from __future__ import annotations

import numpy as np
from statsforecast.models import _TS, ARIMA, AutoARIMA, AutoETS

from forecasting.models import NativeSeasonal, SeasonTested
from forecasting.seasonal import Deseasonalized

__all__ = ["arima_order", "ets_form", "model_order", "with_arima_orders"]


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
    if isinstance(model, NativeSeasonal):  # AARIMA: the seasonal AutoARIMA (the plain one on short histories)
        return _auto_arima(model.seasonal) or _auto_arima(model.plain)
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
            seasonal = _arima_of(order, model.season_length, repr(model))
            return SeasonTested(seasonal, model.plain, model.season_length, alias=repr(model))
        return SeasonTested(model.seasonal, _fixed(model.plain, order), model.season_length, alias=repr(model))
    if isinstance(model, NativeSeasonal) and _auto_arima(model) is not None and "," in order:
        # AARIMA: the half the order came from (a seasonal order: the seasonal AutoARIMA's; a non-seasonal
        # one: the plain AutoARIMA's, fitted where the history held under two seasons) fixed, the other
        # searching where the history picks it
        seasonal, plain = model.seasonal, model.plain
        if order.count(",") == 7:
            seasonal = _arima_of(order, model.season_length, repr(model))
        elif order.count(",") == 4:
            plain = _arima_of(order, model.season_length, repr(model))
        return NativeSeasonal(seasonal, plain, model.season_length, alias=repr(model),
                              min_seasons=model.min_seasons)
    if _auto_arima(model) is not None and order.count(",") == 4:
        fixed = _arima_of(order, 1, repr(model))
    elif _auto_ets(model) is not None and "," not in order:
        fixed = AutoETS(model=order.replace("d", ""), damped="d" in order, alias=repr(model))
    else:
        return None
    if isinstance(model, Deseasonalized):
        fixed = model.around(fixed)
    return fixed


def _arima_of(order: str, season_length: int, alias: str) -> ARIMA:
    """The ARIMA an order string (:func:`arima_order`) names: ``p,d,q,mean,drift`` non-seasonal, with
    ``,P,D,Q`` after it a seasonal ARIMA at ``season_length``."""
    p, d, q, mean, drift, *seasonal = (int(v) for v in order.split(","))
    if seasonal:
        return ARIMA(order=(p, d, q), season_length=season_length, seasonal_order=tuple(seasonal),
                     include_mean=bool(mean), include_drift=bool(drift), alias=alias)
    return ARIMA(order=(p, d, q), include_mean=bool(mean), include_drift=bool(drift), alias=alias)


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
