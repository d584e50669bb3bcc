"""Candidate models by name: the statsforecast model behind each, its complexity, and combinations.

A candidate is named in :class:`~forecasting.config.ForecastConfig` (``seasonal_models`` …). Base names map
to statsforecast models (all with the season length of the config where they take one); a combination is
written ``Mean(A,B,...)`` or ``Median(A,B,...)`` over base names and is computed from its members' forecasts,
so it costs nothing beyond them. Complexity orders ties: the simpler model wins.

Names starting with ``D`` and a base name (``DETS``, ``DARIMA``) are that non-seasonal model fitted on the
classically deseasonalised series (:class:`forecasting.seasonal.Deseasonalized`): a season of any length
for the price of a non-seasonal fit. ``ARIMA`` / ``DARIMA`` are an approximated AutoARIMA (p, q ≤ 1 with
d chosen by the KPSS test, no seasonal part): ~65 ms a 156-week fit where the full search takes ~220 ms.

``SETS`` and ``SARIMA`` are native seasonal models for short seasons (monthly 12, quarterly 4; the rule
that makes ``SETS`` a default candidate is :class:`forecasting.config.ForecastConfig`'s ``native_season_max``;
``SARIMA`` is an option, measured worse on PBS — docs/forecast-history.md, "Where it stands against the
issue's goals"): statsforecast's
AutoETS over every form with a seasonal component allowed (``ZZZ`` at the season length) and a seasonal
AutoARIMA with limited orders (p, q ≤ 2, P, Q ≤ 1, p+q+P+Q ≤ 4, stepwise, exact likelihood): on 40 M1
monthly series 0.29 CPU-s a fit against 0.45 for the default search, with the same sMAPE (12.19 / 12.18;
the ``approximation`` search cost 0.13 but scored 14.70). At a 52-week season they cost ~0.12 s and ~5 s a
fit, which is why weekly data keeps ``DETS`` / ``DARIMA``. Both fall back to their non-seasonal form on a
history of fewer than two seasons (a backtest origin of a short series), where a season is one noisy
estimate. They are not AutoARIMA instances, so the order reuse (:mod:`forecasting.orders`) leaves SARIMA's
search alone; ``TARIMA`` (:class:`SeasonTested`) is unwrapped there and carries its order as DARIMA does.

``SCES`` / ``DCES`` are complex exponential smoothing at the season and through the decomposition (~3 ms and
~0.6 ms a fit), an option: SCUM's median ``Median(SETS,SCES,DOT,DARIMA)`` won M1 monthly at three origins and
PBS but lost M1 quarterly by 2–3% MASE, and the mean with CES lost PBS's sMAPE by 8.5%, so neither is a default
(docs/forecast-accuracy.md, stop 30).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import polars as pl
from statsforecast.models import (
    _TS,
    ADIDA,
    ARIMA,
    IMAPA,
    MSTL,
    TSB,
    AutoARIMA,
    AutoCES,
    AutoETS,
    CrostonSBA,
    DynamicOptimizedTheta,
    HistoricAverage,
    Naive,
    OptimizedTheta,
    RandomWalkWithDrift,
    SeasonalNaive,
    SeasonalWindowAverage,
    SimpleExponentialSmoothingOptimized,
)

from forecasting.seasonal import Deseasonalized, is_seasonal
from forecasting.stl import stl_decompose

__all__ = ["GuardedMSTL", "NativeSeasonal", "SeasonTested", "base_models", "complexity",
           "combination_members", "add_combinations", "is_known", "MODEL_NAMES",
           "with_decomposition"]


class GuardedMSTL(MSTL):
    """MSTL that needs two full seasons: on a shorter history it is its trend forecaster alone.

    STL with a 52-week period on less than two seasons estimates the season from one noisy year; the
    guard makes such a fit the plain (deseasonalised-free) trend model instead of a wild one.

    With one season and no ``stl_kwargs`` (every registered MSTL) the decomposition is
    :func:`forecasting.stl.stl_decompose`: statsmodels' STL as two cached matrices, the same components to
    rounding (~1e-14 of the series' scale) at ~0.1 instead of ~4.4 ms for 156 weeks, and no pandas frame.
    The trend model, the reseasonalising and the guard are statsforecast's MSTL's.
    """

    def _short(self, y: np.ndarray) -> bool:
        return y.size < 2 * int(np.max(self.season_length))  # MSTL keeps the periods as a list

    def _fast(self) -> bool:
        return len(self.season_length) == 1 and not self.stl_kwargs

    def _decompose(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(season, seasonally adjusted)`` of ``y``, as statsforecast's ``mstl`` computes them."""
        season, trend = stl_decompose(y, self.season_length[0])
        remainder = (y - season) - trend
        return season, trend + remainder

    def _reseasonalize(self, res: dict, season: np.ndarray, h: int) -> dict:
        period = self.season_length[0]
        ahead = np.tile(season[-period:], 1 + (h - 1) // period)[:h]
        return {key: val + (season if "fitted" in key else ahead) for key, val in res.items()}

    def fit(self, y, X=None):  # noqa: D102 - same contract as MSTL.fit
        self.is_short_ = self._short(y)
        if self.is_short_:
            self.trend_forecaster = self.trend_forecaster.new().fit(y=y, X=X)
            return self
        if not self._fast():
            return super().fit(y, X)
        y = np.asarray(y, dtype=float)
        self.season_, x_sa = self._decompose(y)
        self.trend_forecaster = self.trend_forecaster.new().fit(y=x_sa, X=X)
        self._store_cs(y=x_sa, X=X)
        return self

    def predict(self, h, X=None, level=None):  # noqa: D102
        if getattr(self, "is_short_", False):
            return self.trend_forecaster.predict(h=h, X=X, level=level)
        if not hasattr(self, "season_"):
            return super().predict(h, X, level)
        kwargs = {"h": h, "X": X}
        if self.trend_forecaster.prediction_intervals is None:
            kwargs["level"] = level
        res = self._reseasonalize(self.trend_forecaster.predict(**kwargs), self.season_, h)
        if level is not None and self.trend_forecaster.prediction_intervals is not None:
            res = self.trend_forecaster._add_predict_conformal_intervals(res, sorted(level))
        return res

    def predict_in_sample(self, level=None):  # noqa: D102
        if not hasattr(self, "season_"):
            return super().predict_in_sample(level)
        res = self.trend_forecaster.predict_in_sample(level=level)
        return {key: val + self.season_ for key, val in res.items()}

    def _apply(self, method: str, y, h, X, X_future, level, fitted) -> dict:
        """statsforecast's MSTL ``forecast`` / ``forward`` on :meth:`_decompose`'s components."""
        y = np.asarray(y, dtype=float)
        season, x_sa = self._decompose(y)
        kwargs = {"y": x_sa, "h": h, "X": X, "X_future": X_future, "fitted": fitted}
        if fitted or self.trend_forecaster.prediction_intervals is None:
            kwargs["level"] = level
        res = getattr(self.trend_forecaster, method)(**kwargs)
        if level is not None and self.trend_forecaster.prediction_intervals is not None:
            res = self.trend_forecaster._add_conformal_intervals(fcst=res, y=x_sa, X=X, level=sorted(level))
        return self._reseasonalize(res, season, h)

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        if self._short(y):
            return self.trend_forecaster.forecast(
                y=y, h=h, X=X, X_future=X_future, level=level, fitted=fitted
            )
        if not self._fast():
            return super().forecast(y, h, X, X_future, level, fitted)
        return self._apply("forecast", y, h, X, X_future, level, fitted)

    def forward(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        if not self._fast() or getattr(self, "is_short_", False) or self._short(y):
            return super().forward(y, h, X, X_future, level, fitted)
        if not hasattr(self.trend_forecaster, "model_"):
            raise Exception("You have to use the `fit` method first")
        return self._apply("forward", y, h, X, X_future, level, fitted)


class NativeSeasonal(_TS):
    """A seasonal statsforecast model that is its non-seasonal form on fewer than ``min_seasons`` seasons.

    Args:
        seasonal: the model with a seasonal part (``AutoETS(season_length=m)``, ``AutoARIMA(season_length=m)``).
        plain: the same family without one, fitted where the history is too short for a season.
        season_length: periods per season.
        alias: the column name of its forecast.
        min_seasons: seasons of history needed for the seasonal model.
    """

    def __init__(self, seasonal: _TS, plain: _TS, season_length: int, alias: str, min_seasons: int = 2):
        self.seasonal, self.plain = seasonal, plain
        self.season_length, self.alias, self.min_seasons = season_length, alias, min_seasons

    def _pick(self, y: np.ndarray) -> _TS:
        return self.seasonal if y.size >= self.min_seasons * self.season_length else self.plain

    def fit(self, y, X=None):  # noqa: D102 - statsforecast's model contract
        self.fitted_model_ = self._pick(y).new().fit(y=y)
        return self

    def predict(self, h, X=None, level=None):  # noqa: D102
        return {"mean": np.asarray(self.fitted_model_.predict(h=h)["mean"], dtype=float)}

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        return {"mean": np.asarray(self._pick(y).new().forecast(y=y, h=h)["mean"], dtype=float)}

    def forward(self, y, h, X=None, X_future=None, level=None, fitted=False):
        """Forecast ``h`` values after a new history ``y`` with the fitted model's parameters (its own
        ``forward``; raises where it has none, and :mod:`forecasting.orders` then fits anew)."""
        return {"mean": np.asarray(self.fitted_model_.forward(y=y, h=h)["mean"], dtype=float)}


class SeasonTested(NativeSeasonal):
    """``seasonal`` where the M4 seasonality test finds no season in the history, ``plain`` where it finds one.

    ``TARIMA``: where the test finds a season, the classical decomposition removes it and the non-seasonal
    ARIMA on the adjusted series (``DARIMA``) is the better fit; where it finds none on a short monthly
    history (the 90% ACF test has little power on 50–60 months) the decomposition does nothing, and the
    seasonal AutoARIMA's own differencing test still finds the seasons the ACF test missed
    (docs/forecast-accuracy.md, stop 23). The test is made on each fit's own history. Where the backtest
    carries orders, the half picked at the oldest origin keeps its order at the later ones and in the final
    fit (:mod:`forecasting.orders` ``_fixed``; stop 24).

    ``TETS``: the same test on the ETS member (``DETS`` where it finds a season, ``SETS`` where not). It
    searches no order to carry, so it refits at every origin. Not a default: offered as the alternative
    ``Mean(TETS,DOT,TARIMA)``, the pooled backtest of M1 monthly, M1 quarterly and PBS each rejects it
    (docs/forecast-accuracy.md, stop 28).
    """

    def _pick(self, y: np.ndarray) -> _TS:
        return self.plain if is_seasonal(y, self.season_length) else self.seasonal


def _deseasonalized_arima(m: int) -> Deseasonalized:
    """``DARIMA``: the approximated non-seasonal ARIMA on the classically deseasonalised series, its season
    from the series' whole life where that is longer than the window the models see (``life``: measured
    on the pharmacy and M4 Weekly, docs/forecast-accuracy.md stop 27)."""
    return Deseasonalized(_arima("ARIMA"), m, alias="DARIMA", life=True)


def _deseasonalized_ets(m: int) -> Deseasonalized:
    """``DETS``: the non-seasonal AutoETS (its form searched) on the classically deseasonalised series."""
    return Deseasonalized(AutoETS(model="ZZN"), m, alias="DETS")


def _deseasonalized_theta(m: int) -> Deseasonalized:
    """``DOT``: statsforecast's dynamic optimised Theta on the classically deseasonalised series.

    statsforecast's Theta decomposes with the same classical multiplicative (additive where not positive)
    decomposition, but decides with its own copy of the M4 test, which misses a smooth season in 2–3
    seasons of history; wrapped, it asks :func:`forecasting.seasonal.is_seasonal` as DETS and DARIMA do.
    Where both tests agree its forecast is statsforecast's to rounding (~1e-13;
    tests/test_forecasting_season_test.py).
    """
    return Deseasonalized(DynamicOptimizedTheta(season_length=1), m, alias="DOT")


def _seasonal_ets(m: int) -> NativeSeasonal:
    return NativeSeasonal(AutoETS(season_length=m, model="ZZZ"), AutoETS(model="ZZN"), m, alias="SETS")


def _seasonal_ces(m: int) -> NativeSeasonal:
    """``SCES``: statsforecast's AutoCES (complex exponential smoothing, Svetunkov & Kourentzes) at the season
    length, its form chosen by AICc among none, simple, partial and full seasonality; the non-seasonal CES on
    fewer than two seasons, as SETS. The CES member of SCUM (Petropoulos & Svetunkov 2020: the median of ETS,
    CES, ARIMA and DOTM), which models the level and trend as one complex-valued state instead of choosing
    a trend form as ETS does."""
    return NativeSeasonal(AutoCES(season_length=m, model="Z"), AutoCES(model="N"), m, alias="SCES")


def _deseasonalized_ces(m: int) -> Deseasonalized:
    """``DCES``: the non-seasonal CES on the classically deseasonalised series (SCES for a long season,
    as DETS is SETS's)."""
    return Deseasonalized(AutoCES(model="N"), m, alias="DCES")


def _seasonal_arima(m: int) -> NativeSeasonal:
    limited = {"max_p": 2, "max_q": 2, "max_order": 4}
    return NativeSeasonal(AutoARIMA(season_length=m, max_P=1, max_Q=1, **limited),
                          AutoARIMA(season_length=1, **limited), m, alias="SARIMA")


def _arima(alias: str) -> AutoARIMA:
    return AutoARIMA(season_length=1, max_p=1, max_q=1, alias=alias)


def _fixed_arima(alias: str) -> ARIMA:
    return ARIMA(order=(1, 1, 1), include_drift=True, alias=alias)


# name → (factory(season_length), complexity). Complexity: 0 naive, 1 seasonal naive / averages,
# 2 one smoothing parameter, 3 a few parameters, 4 model selection inside, 5 decomposition + model.
_REGISTRY: dict[str, tuple[Callable[[int], object], int]] = {
    "Naive": (lambda m: Naive(alias="Naive"), 0),
    "HistoricAverage": (lambda m: HistoricAverage(alias="HistoricAverage"), 0),
    "SeasonalNaive": (lambda m: SeasonalNaive(season_length=m, alias="SeasonalNaive"), 1),
    "SeasonalWA": (lambda m: SeasonalWindowAverage(season_length=m, window_size=2, alias="SeasonalWA"), 1),
    "Drift": (lambda m: RandomWalkWithDrift(alias="Drift"), 1),
    "SES": (lambda m: SimpleExponentialSmoothingOptimized(alias="SES"), 2),
    "CrostonSBA": (lambda m: CrostonSBA(alias="CrostonSBA"), 2),
    "ADIDA": (lambda m: ADIDA(alias="ADIDA"), 2),
    "TSB": (lambda m: TSB(alpha_d=0.1, alpha_p=0.1, alias="TSB"), 3),
    "IMAPA": (lambda m: IMAPA(alias="IMAPA"), 3),
    "Theta": (lambda m: OptimizedTheta(season_length=m, alias="Theta"), 3),
    "DOT": (_deseasonalized_theta, 3),
    "ETS": (lambda m: AutoETS(model="ZZN", alias="ETS"), 4),
    "ARIMA": (lambda m: _arima("ARIMA"), 4),
    "SETS": (_seasonal_ets, 4),
    "SARIMA": (_seasonal_arima, 4),
    "DETS": (_deseasonalized_ets, 4),
    "DARIMA": (_deseasonalized_arima, 4),
    # the peers' AutoARIMA: statsforecast's default search at the season (non-seasonal under two seasons);
    # ~10x DARIMA's CPU on a monthly series (docs/forecast-history.md, "Stop 44")
    "AARIMA": (lambda m: NativeSeasonal(AutoARIMA(season_length=m), AutoARIMA(season_length=1), m,
                                        alias="AARIMA"), 4),
    # the same search by conditional sums of squares (statsforecast's approximation): ~0.2x AARIMA's CPU
    "QARIMA": (lambda m: NativeSeasonal(AutoARIMA(season_length=m, approximation=True),
                                        AutoARIMA(season_length=1, approximation=True), m,
                                        alias="QARIMA"), 4),
    # the same search without a drift term (allowdrift=False): a once-differenced series gets no constant
    # slope (the search may still difference twice). Stop 46 measured it as a member
    # (docs/forecast-history.md)
    "NARIMA": (lambda m: NativeSeasonal(AutoARIMA(season_length=m, allowdrift=False),
                                        AutoARIMA(season_length=1, allowdrift=False), m, alias="NARIMA"), 4),
    # NARIMA's search by conditional sums of squares (QARIMA's approximation)
    "QNARIMA": (lambda m: NativeSeasonal(AutoARIMA(season_length=m, allowdrift=False, approximation=True),
                                         AutoARIMA(season_length=1, allowdrift=False, approximation=True), m,
                                         alias="QNARIMA"), 4),
    "SCES": (_seasonal_ces, 4),
    "DCES": (_deseasonalized_ces, 4),
    # short seasons: SARIMA where the M4 test finds no season in a fit's history, DARIMA where it finds one
    "TARIMA": (lambda m: SeasonTested(_seasonal_arima(m), _deseasonalized_arima(m), m, alias="TARIMA"), 4),
    # the same test for the ETS member: SETS where it finds no season, DETS where it finds one
    "TETS": (lambda m: SeasonTested(_seasonal_ets(m), _deseasonalized_ets(m), m, alias="TETS"), 4),
    "FARIMA": (lambda m: _fixed_arima("FARIMA"), 3),
    "DFARIMA": (lambda m: Deseasonalized(_fixed_arima("FARIMA"), m, alias="DFARIMA"), 3),
    "MSTL": (lambda m: GuardedMSTL(season_length=m, trend_forecaster=AutoETS(model="ZZN"), alias="MSTL"), 5),
    # the weekly mean's member: MSTL with a fixed damped additive trend (no form search: ~8 ms a 156-week fit
    # against ~13 ms with AutoETS ZZN, the same accuracy in the mean; docs/forecast-accuracy.md)
    "MSTL_AAdN": (lambda m: GuardedMSTL(season_length=m, trend_forecaster=AutoETS(model="AAN", damped=True),
                                        alias="MSTL_AAdN"), 5),
}
MODEL_NAMES = tuple(_REGISTRY)
_COMBO = re.compile(r"^(Mean|Median)\(([^()]+)\)$")


def combination_members(name: str) -> tuple[str, tuple[str, ...]] | None:
    """``("Mean", ("ETS", "Theta"))`` for ``"Mean(ETS,Theta)"``; None for a base model name."""
    match = _COMBO.match(name)
    if match is None:
        return None
    return match.group(1), tuple(part.strip() for part in match.group(2).split(","))


def is_known(name: str) -> bool:
    """Whether ``name`` is a registered base model or a combination of them."""
    combo = combination_members(name)
    if combo is None:
        return name in _REGISTRY
    return all(member in _REGISTRY for member in combo[1])


def complexity(name: str) -> int:
    """Complexity rank of a model; a combination is one more than its most complex member."""
    combo = combination_members(name)
    if combo is None:
        return _REGISTRY[name][1]
    return max(_REGISTRY[member][1] for member in combo[1]) + 1


def base_models(names: tuple[str, ...], season_length: int) -> list[object]:
    """statsforecast models to fit for ``names`` (combinations contribute their members), deduplicated."""
    unknown = [n for n in names if not is_known(n)]
    if unknown:
        known = ", ".join(MODEL_NAMES)
        raise ValueError(f"unknown models {unknown}; known: {known} or Mean(...)/Median(...) of them")
    wanted: list[str] = []
    for name in names:
        combo = combination_members(name)
        for base in combo[1] if combo else (name,):
            if base not in wanted:
                wanted.append(base)
    return [_REGISTRY[base][0](season_length) for base in wanted]


def with_decomposition(model: object, zeros: bool, shrink: bool) -> object:
    """``model`` with its classical decompositions (itself, or the halves of a :class:`SeasonTested`)
    multiplicative on series with zeros and a long season shrunk as asked
    (:func:`forecasting.seasonal.deseasonalize`'s ``zeros`` and ``shrink``;
    ``ForecastConfig.zero_seasons_multiplicative`` and ``season_shrinkage``)."""
    for part in (model, getattr(model, "plain", None), getattr(model, "seasonal", None)):
        if isinstance(part, Deseasonalized):
            part.zeros, part.shrink = zeros, shrink
    return model


def add_combinations(frame: pl.DataFrame, names: tuple[str, ...], signed: Sequence[str] = ()) -> pl.DataFrame:
    """Add a column per combination in ``names`` to a wide forecast frame holding its members' columns.

    A member whose forecast path (a series' ``unique_id``, and its ``cutoff`` in a backtest frame) goes
    below zero at any step is left out of that path's mean or median, unless every member does or the
    series is in ``signed`` (ids whose fitted history holds a value below zero: a net flow, where a
    forecast below zero is a forecast). Demand below zero is no demand: such a member has extrapolated a
    trend through the axis, and averaged in it drags the combination down at every step (PBS's A03 and P01:
    the peers' AutoARIMA at −159 and −470 beside members near 20 and 30). Measured in
    docs/forecast-history.md, "Stop 45".
    """
    path = [c for c in ("unique_id", "cutoff") if c in frame.columns]
    guarded = "unique_id" in frame.columns
    own = ~pl.col("unique_id").is_in(list(signed))
    exprs = []
    for name in names:
        combo = combination_members(name)
        if combo is None:
            continue
        how, members = combo
        expr = _combined(how, [pl.col(m) for m in members])
        if guarded:  # every member below zero somewhere: all of them (expr), as before
            kept = [pl.when(~(own & (pl.col(m) < 0).any().over(path))).then(pl.col(m)) for m in members]
            expr = pl.coalesce(_combined(how, kept), expr)
        exprs.append(expr.alias(name))
    return frame.with_columns(exprs) if exprs else frame


def _combined(how: str, cols: list[pl.Expr]) -> pl.Expr:
    """The members' mean (``how`` ``Mean``) or median of each row, their nulls left out."""
    return pl.mean_horizontal(cols) if how == "Mean" else pl.concat_list(cols).list.median()
