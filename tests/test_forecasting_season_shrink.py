"""Weekly seasonal indices shrunk toward no season by their estimation noise (forecasting.seasonal, stop 30): on
seeded series whose season is known, the indices the models divide by are closer to the truth where the noise
is large, and a strong clean season, or a large one such as a flu peak, is kept whole."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from forecasting import ForecastConfig, forecast_demand
from forecasting.seasonal import KEEP_WHOLE, deseasonalize, season_shrinkage, seasonal_indices, shrunk_indices

M = 52


def _season(kind: str, positions: np.ndarray, phase: float) -> np.ndarray:
    """The true multiplicative season (mean 1 over a period) at ``positions``."""
    angle = 2 * np.pi * positions / M + phase
    if kind == "flu":  # a short winter peak, as the demo's flu vaccines
        peak = 0.04 + np.exp(4 * (np.cos(angle) - 1))
        return peak / (0.04 + np.exp(4 * (np.cos(2 * np.pi * np.arange(M) / M) - 1))).mean()
    return 1 + float(kind[4:]) * np.cos(angle)  # "sine0.25": amplitude 0.25 × level


def _series(kind: str, cv: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(y, true indices)``: level 50–500 times the season, gamma noise of coefficient of variation ``cv``
    (the demo's erratic vaccines have cv ≥ 0.6 and a ±25% travel season, its smooth ones ≤ 0.3 and ±15%)."""
    level, phase = rng.uniform(50, 500), rng.uniform(0, 2 * np.pi)
    mean = level * _season(kind, np.arange(n), phase)
    y = rng.gamma(1 / cv**2, mean * cv**2)
    truth = _season(kind, np.arange(M), phase)
    return y, truth / truth.mean()


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.mark.parametrize("kind, cv", [("sine0.25", 0.3), ("sine0.25", 0.6), ("sine0.15", 0.3)])
def test_a_noisy_weekly_season_is_estimated_closer_to_the_truth(kind: str, cv: float) -> None:
    rng = np.random.default_rng(30)
    raw_err, used_err = [], []
    while len(used_err) < 40:
        y, truth = _series(kind, cv, 156, rng)
        _, idx, multiplicative = deseasonalize(y, M, shrink=True)
        if idx.size == 1:  # no season found: nothing estimated
            continue
        assert multiplicative
        raw_err.append(_rmse(seasonal_indices(y, M), truth))
        used_err.append(_rmse(idx, truth))
    # without shrinkage the indices deseasonalize divides by are seasonal_indices' (the ratio is 1.0)
    assert np.mean(used_err) < 0.8 * np.mean(raw_err)
    assert np.mean(np.array(used_err) <= np.array(raw_err) + 1e-12) >= 0.9


@pytest.mark.parametrize("kind, cv", [("sine0.3", 0.05), ("sine0.15", 0.03), ("flu", 0.05), ("flu", 0.3)])
def test_a_strong_clean_or_large_season_is_kept_whole(kind: str, cv: float) -> None:
    rng = np.random.default_rng(31)
    for _ in range(20):
        y, truth = _series(kind, cv, 156, rng)
        assert 0.9 < season_shrinkage(y, M) < 1.0  # a little noise is measured …
        _, idx, _ = deseasonalize(y, M, shrink=True)
        assert np.array_equal(idx, seasonal_indices(y, M))  # … and the season is kept whole


def test_noise_alone_is_shrunk_to_almost_nothing() -> None:
    rng = np.random.default_rng(32)
    factors = np.array([season_shrinkage(rng.gamma(1 / 0.5**2, 100 * 0.5**2, 156), M) for _ in range(100)])
    assert np.mean(factors) < 0.2 and np.median(factors) < 0.1  # 52 indices of noise: ~nothing kept


def test_no_noise_measured_nothing_shrunk_and_short_seasons_untouched() -> None:
    rng = np.random.default_rng(33)
    y, _ = _series("sine0.25", 0.6, 2 * M, rng)  # every position seen once: no noise can be measured
    assert season_shrinkage(y, M) == 1.0
    assert np.allclose(shrunk_indices(y, M), seasonal_indices(y, M), rtol=0, atol=1e-12)
    # monthly: the M4 test's seasons and seasonal_indices, as before stop 30
    t, rng = np.arange(60), np.random.default_rng(36)
    monthly = 100 * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) * rng.gamma(1 / 0.15**2, 0.15**2, t.size)
    _, idx, _ = deseasonalize(monthly, 12, shrink=True)
    assert idx.size == 12 and season_shrinkage(monthly, 12) < KEEP_WHOLE
    assert np.array_equal(idx, seasonal_indices(monthly, 12))


def test_the_additive_indices_shrink_toward_zero() -> None:
    rng = np.random.default_rng(34)
    y, _ = _series("sine0.25", 0.6, 156, rng)
    y = y - y.mean()  # not positive: differences
    f = season_shrinkage(y, M, multiplicative=False)
    assert 0.0 <= f < 1.0
    assert f < KEEP_WHOLE
    assert np.allclose(shrunk_indices(y, M, False), f * seasonal_indices(y, M, False))


def test_the_ratios_shrink_in_logs() -> None:
    rng = np.random.default_rng(35)
    y, _ = _series("sine0.25", 0.6, 156, rng)
    f, idx = season_shrinkage(y, M), seasonal_indices(y, M)
    assert 0.0 < f < KEEP_WHOLE
    shrunk = shrunk_indices(y, M)
    assert np.allclose(shrunk, idx**f / np.mean(idx**f)) and np.isclose(shrunk.mean(), 1.0)
    # the logs are shrunk alike: a trough moves, relatively, as little as a peak (not half of itself)
    assert np.allclose(np.log(shrunk) - np.log(shrunk).mean(), f * (np.log(idx) - np.log(idx).mean()))


def test_the_option_reaches_the_pipeline_and_is_off_by_default() -> None:
    # forecast_demand with DETS as the seasonal series' only model, on noisy weekly seasons: with
    # season_shrinkage the forecast's season is flatter; the default (off) forecasts as without it
    rng = np.random.default_rng(37)
    weeks = pl.date_range(date(2020, 1, 6), date(2022, 12, 26), "1w", eager=True)  # 156 Mondays
    history = pl.concat([pl.DataFrame({"unique_id": f"s{i}", "ds": weeks,
                                       "y": _series("sine0.25", 0.6, weeks.len(), rng)[0]}) for i in range(4)])
    given = {"n_jobs": 1, "champion_margin": 1.0, "seasonal_models": ("DETS",), "seasonal_default": "DETS"}
    spread = {}
    for option in (None, False, True):
        config = ForecastConfig(**given) if option is None else ForecastConfig(**given, season_shrinkage=option)
        fc = forecast_demand(history, 52, config).forecast.sort("unique_id", "ds")
        spread[option] = fc.group_by("unique_id").agg(pl.col("mean").std()).sort("unique_id")["mean"].to_numpy()
    assert np.array_equal(spread[None], spread[False])
    shrunk = spread[True] < spread[False] - 1e-9
    assert shrunk.sum() >= 1 and np.all(spread[True] <= spread[False] + 1e-9)
