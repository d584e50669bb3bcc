"""The season of a series with zeros (``forecasting.seasonal.deseasonalize``'s ``zeros``,
``ForecastConfig.zero_seasons_multiplicative``): multiplicative for a monthly, quarterly or daily season wherever
no value is negative, as M4's own benchmarks decompose; a position without demand in any season (a shutdown
month) is bridged and forecast at zero. Seeded series whose answer is known.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from statsforecast.models import AutoETS

from forecasting import ForecastConfig, forecast_demand
from forecasting.seasonal import Deseasonalized, deseasonalize

#: a monthly season with a shutdown month (August: no demand at all) and a December peak
SEASON = np.array([0.9, 0.95, 1.05, 1.0, 1.1, 1.15, 1.2, 0.0, 1.1, 1.25, 1.3, 1.5])
SHUT = 7  # August's position, counted from the series' first value (January)


def _growing(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A level growing 100 → 100 + 3·(n−1) times ``SEASON`` with 2% noise; and the noise-free level."""
    t = np.arange(n)
    level = 100.0 + 3.0 * t
    return level * SEASON[t % 12] * np.random.default_rng(seed).normal(1.0, 0.02, n), level


def test_a_shutdown_month_is_forecast_at_zero_and_the_others_at_their_grown_level():
    # an additive season (the only one a series with a zero had before) sizes the swings at the history's
    # mean level: August ahead is forecast at about the last level minus the mean level (~+90, not 0), and
    # the open months' swings are a third too small for the level they are forecast at
    n, h = 72, 12
    for seed in range(5):
        y, _ = _growing(n, seed)
        fc = Deseasonalized(AutoETS(model="AAN"), 12, "DETS", zeros=True).fit(y).predict(h)["mean"]
        t = np.arange(n, n + h)
        truth = (100.0 + 3.0 * t) * SEASON[t % 12]
        shut = t % 12 == SHUT
        assert np.all(np.abs(fc[shut]) < 1.0)  # a shutdown month: no demand forecast (its level is ~300)
        assert np.allclose(fc[~shut], truth[~shut], rtol=0.05)


def test_the_shutdown_months_are_bridged_not_divided_by_zero():
    y, level = _growing(72, 0)
    assert not deseasonalize(y, 12)[2]  # the default: additive with a zero
    adjusted, idx, multiplicative = deseasonalize(y, 12, zeros=True)
    assert multiplicative and idx[SHUT] == 0.0
    assert np.all(np.isfinite(adjusted))
    # the adjusted series is the level, through the shutdown months as elsewhere (2% noise, mean-1 indices)
    assert np.allclose(adjusted, level * SEASON.mean(), rtol=0.08)


def test_a_near_empty_month_with_stray_orders_stays_additive():
    # one stray order of 1 in a shutdown August: its index is ~0.001, not 0, and dividing by it would make
    # that order an adjusted value of ~800, five times the level; the season is additive, as without the option
    # (bridged as a zero index is, 4 of PBS's series forecast worse: docs/forecast-accuracy.md, stop 30)
    y, _ = _growing(72, 0)
    y[12 + SHUT] = 1.0
    _, idx, multiplicative = deseasonalize(y, 12, zeros=True)
    assert not multiplicative and idx[SHUT] < 0


def test_a_long_season_with_a_zero_stays_additive():
    # the weekly path (shrunk seasons) was not measured on series with zeros: unchanged
    t = np.arange(156)
    y = 100.0 + 30.0 * np.sin(2 * np.pi * t / 52) + np.random.default_rng(0).normal(0, 3, 156)
    y[::52] = 0.0
    _, _, multiplicative = deseasonalize(y, 52, zeros=True)
    assert not multiplicative


def test_the_option_reaches_the_pipelines_decompositions():
    # forecast_demand with DETS as the seasonal series' only model: the option's shutdown months at ~0
    # against the additive season without it, which forecasts them at ~90 (a third of the grown level)
    months = pl.date_range(date(2015, 1, 1), date(2020, 12, 1), "1mo", eager=True)
    history = pl.concat([pl.DataFrame({"unique_id": f"s{seed}", "ds": months, "y": _growing(72, seed)[0]})
                         for seed in range(3)])
    given = {"freq": "1mo", "season_length": 12, "n_jobs": 1, "champion_margin": 1.0,
             "seasonal_models": ("DETS",), "seasonal_default": "DETS"}
    august = {}
    for zeros in (False, True):
        config = ForecastConfig(**given, zero_seasons_multiplicative=zeros)
        fc = forecast_demand(history, 12, config).forecast
        august[zeros] = fc.filter(pl.col("ds").dt.month() == 8).get_column("mean").to_numpy()
    assert np.all(np.abs(august[True]) < 1.0)
    assert np.all(august[False] > 30.0)
