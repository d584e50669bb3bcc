"""M4's Naive2 (``forecasting.seasonal.naive2``), the denominator of OWA in ``bench/accuracy.py``.

The organisers' code tests the season with the 90% autocorrelation test (3 seasons of history at least) and,
where it finds one, removes it multiplicatively (R's ``decompose``), zeros included; the naive forecast of the
adjusted series is put back on the season. Seeded series whose answer is known, and statsmodels'
``seasonal_decompose`` (R's ``decompose`` rewritten) as the slow, independent reference.
"""

from __future__ import annotations

import numpy as np
from statsmodels.tsa.seasonal import seasonal_decompose

from forecasting.seasonal import m4_seasonal, naive2

#: a monthly season with a shutdown month (August: no demand at all) and a December peak
SEASON = np.array([0.9, 0.95, 1.05, 1.0, 1.1, 1.15, 1.2, 0.0, 1.1, 1.25, 1.3, 1.5])


def _growing(n: int, seed: int, season: np.ndarray = SEASON) -> tuple[np.ndarray, np.ndarray]:
    """A level growing 100 → 100 + 3·(n−1) times ``season`` with 2% noise; and the noise-free level."""
    t = np.arange(n)
    level = 100.0 + 3.0 * t
    noise = np.random.default_rng(seed).normal(1.0, 0.02, n)
    return level * season[t % 12] * noise, level


def test_a_season_with_zero_months_is_removed_multiplicatively_as_the_organisers_did():
    # the season grows with the level: the last level times the season is the answer. An additive season
    # (the sizes of the whole history's swings, put on the last level) misses it by a third of the level
    # and forecasts the shutdown month far above zero
    for seed in range(5):
        y, level = _growing(96, seed)
        assert m4_seasonal(y, 12, min_seasons=3)
        fc = naive2(y, 12, 18)
        truth = level[-1] * SEASON[np.arange(96, 114) % 12]
        open_months = truth > 0
        assert np.all(fc[~open_months] == 0.0)  # August: no demand forecast
        assert np.allclose(fc[open_months], truth[open_months], rtol=0.08)


def test_positive_series_match_rs_decompose():
    # statsmodels' seasonal_decompose is R's decompose (centred 2×12 moving average, position means
    # normalised to 1): Naive2 = last value / its index × the indices ahead
    season = np.where(SEASON > 0, SEASON, 0.7)
    for seed in range(5):
        y, _ = _growing(84 + seed, seed, season)
        s = seasonal_decompose(y, model="multiplicative", period=12).seasonal
        expected = y[-1] / s[-1] * np.resize(s[-12:], 18)
        assert np.allclose(naive2(y, 12, 18), expected, rtol=1e-12)


def test_no_season_found_or_none_asked_is_the_plain_naive():
    rng = np.random.default_rng(0)
    noise = rng.normal(100, 5, 96)
    assert not m4_seasonal(noise, 12, min_seasons=3)
    assert np.all(naive2(noise, 12, 18) == noise[-1])
    y, _ = _growing(96, 0)
    assert np.all(naive2(y, 1, 13) == y[-1])  # M4's weekly and daily frequency: 1, no season (Naive2 = Naive)
    assert np.all(naive2(y[:35], 12, 18) == y[34])  # under 3 seasons: no test, as the organisers'
