"""STL as two matrices (forecasting/stl.py) against statsmodels' STL, and the MSTL member on it against
statsforecast's own MSTL path, on generated series."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsforecast.models import MSTL, AutoETS

from forecasting.models import GuardedMSTL, base_models
from forecasting.stl import MATRIX_MAX_N, stl_decompose, stl_operator

RTOL = 1e-10  # of the series' largest |value|: the products only sum in another order


def _series(n: int, period: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (200 + 60 * np.sin(2 * np.pi * t / period) + rng.normal(0, 1) * t
            + rng.gamma(2.0, 15.0, n) * (rng.random(n) > 0.1))


@pytest.mark.parametrize(("n", "period"), [(156, 52), (130, 52), (105, 52), (104, 52), (183, 52),
                                           (60, 12), (37, 12), (40, 4), (9, 4), (30, 7),
                                           (MATRIX_MAX_N + 1, 7)])
def test_matrices_give_statsmodels_components(n, period):
    for seed in range(3):
        y = _series(n, period, seed)
        fit = sm.tsa.STL(y, period=period, seasonal=11, seasonal_deg=0).fit()
        season, trend = stl_decompose(y, period)
        scale = np.abs(y).max()
        assert np.abs(season - fit.seasonal).max() < RTOL * scale
        assert np.abs(trend - fit.trend).max() < RTOL * scale
    if n <= MATRIX_MAX_N:  # longer: statsmodels itself
        assert stl_operator(n, period)[0].shape == (n, n)


def test_matrices_are_linear_in_the_series_and_not_data_dependent():
    """Without robustness weights STL is linear: a sum of two series decomposes into the sums of their
    components (what makes the matrices exact), checked on statsmodels itself."""
    a, b = _series(156, 52, 1), _series(156, 52, 2)
    fits = [sm.tsa.STL(y, period=52, seasonal=11, seasonal_deg=0).fit() for y in (a, b, a + 2.5 * b)]
    assert np.allclose(fits[2].seasonal, fits[0].seasonal + 2.5 * fits[1].seasonal, rtol=0, atol=1e-9)
    assert np.allclose(fits[2].trend, fits[0].trend + 2.5 * fits[1].trend, rtol=0, atol=1e-9)


class _Statsforecast(GuardedMSTL):
    """The member as it was: statsforecast's MSTL (pandas, statsmodels' STL) behind the same guard."""

    def _fast(self) -> bool:
        return False


def _pair() -> tuple[GuardedMSTL, GuardedMSTL]:
    (fast,) = base_models(("MSTL_AAdN",), 52)
    slow = _Statsforecast(season_length=52, trend_forecaster=AutoETS(model="AAN", damped=True), alias="MSTL_AAdN")
    return fast, slow


@pytest.mark.parametrize("n", [156, 130, 104, 80])
def test_mstl_member_forecasts_as_statsforecast_s_mstl(n):
    fast, slow = _pair()
    for seed in range(4):
        y = _series(n, 52, seed)
        scale = np.abs(y).max()
        a, b = fast.forecast(y, 26)["mean"], slow.forecast(y, 26)["mean"]
        assert np.abs(a - b).max() < 1e-8 * scale
        f, s = fast.new().fit(y), slow.new().fit(y)
        assert np.abs(f.predict(26)["mean"] - s.predict(26)["mean"]).max() < 1e-8 * scale
        if n >= 104:
            inside = f.predict_in_sample()["fitted"] - s.predict_in_sample()["fitted"]
            assert np.abs(inside).max() < 1e-8 * scale
            longer = _series(n + 26, 52, seed)
            moved = f.forward(longer, 13)["mean"] - s.forward(longer, 13)["mean"]
            assert np.abs(moved).max() < 1e-8 * scale
    # statsforecast's own class agrees too (the guard only matters under two seasons)
    y = _series(156, 52, 9)
    plain = MSTL(season_length=52, trend_forecaster=AutoETS(model="AAN", damped=True)).forecast(y, 26)["mean"]
    assert np.abs(fast.forecast(y, 26)["mean"] - plain).max() < 1e-8 * np.abs(y).max()


def test_mstl_with_stl_options_or_two_seasons_keeps_statsforecast_s_path():
    y = _series(160, 52, 3)
    two = GuardedMSTL(season_length=[4, 52], trend_forecaster=AutoETS(model="AAN", damped=True))
    tuned = GuardedMSTL(season_length=52, trend_forecaster=AutoETS(model="AAN", damped=True),
                        stl_kwargs={"robust": True})
    assert not two._fast() and not tuned._fast()
    robust = MSTL(season_length=52, trend_forecaster=AutoETS(model="AAN", damped=True),
                  stl_kwargs={"robust": True}).forecast(y, 13)["mean"]
    assert np.array_equal(tuned.forecast(y, 13)["mean"], robust)
    assert np.all(np.isfinite(two.forecast(y, 13)["mean"]))


def test_the_weekly_forecast_is_the_same_with_the_matrices_as_with_statsforecast_s_mstl(monkeypatch):
    """The whole weekly forecast (backtest, selection, bands) on seasonal, smooth and trending series: the
    same chosen models and selections with the matrices as by statsforecast's MSTL path, values to rounding."""
    from forecasting import ForecastConfig, forecast_demand
    from forecasting.synthetic import synthetic_series

    series = synthetic_series(12, 182, seed=5, kinds=("seasonal", "smooth", "trend"))
    config = ForecastConfig(n_jobs=1)
    fast = forecast_demand(series, 13, config)
    monkeypatch.setattr(GuardedMSTL, "_fast", lambda self: False)
    slow = forecast_demand(series, 13, config)
    keys = ["unique_id", "ds"]
    assert "Mean(DETS,DOT,DARIMA,MSTL_AAdN)" in fast.series.get_column("model").to_list()
    assert fast.series.sort("unique_id").equals(slow.series.sort("unique_id"))
    a, b = fast.forecast.sort(keys), slow.forecast.sort(keys)
    assert a.select(keys, "model").equals(b.select(keys, "model"))
    values = [c for c in a.columns if a.schema[c].is_float()]
    scale = a.get_column("mean").abs().max()
    for column in values:
        assert (a.get_column(column) - b.get_column(column)).abs().max() < 1e-8 * scale, column
    backtest = fast.backtest.join(slow.backtest, on=[c for c in fast.backtest.columns if not
                                                      fast.backtest.schema[c].is_float()], suffix="_slow")
    assert backtest.height == fast.backtest.height == slow.backtest.height
    for column in (c for c in fast.backtest.columns if fast.backtest.schema[c].is_float()):
        assert (backtest.get_column(column) - backtest.get_column(f"{column}_slow")).abs().max() < 1e-6, column
