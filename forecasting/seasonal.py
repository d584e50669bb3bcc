"""Classical multiplicative decomposition, as in the M4 benchmarks, and a model that forecasts through it.

- :func:`is_seasonal`: the M4 seasonality test: the autocorrelation at lag ``m`` exceeds the 90% limit
  ``1.645·√((1 + 2·Σ_{k<m} r_k²) / n)``; needs at least three seasons (``n ≥ 3m``) and positive values.
- :func:`seasonal_indices`: ratios of the series to its centred moving average (``2×m`` when ``m`` is
  even), averaged per position in the season and normalised to mean 1. Index ``i`` belongs to
  position ``i`` counted from the series' first value.
- :class:`Deseasonalized`: a statsforecast model that divides the history by its seasonal indices where
  the test finds a season, fits the wrapped (non-seasonal) model on the result and multiplies its
  forecast back. That is how M4's Naive2, SES, Holt, Damped and Com handle seasons; it costs a
  non-seasonal fit whatever the season length, so a 52-week season is as cheap as a 12-month one.

Pure numpy; no I/O.
"""

from __future__ import annotations

import numpy as np
from statsforecast.models import _TS

__all__ = ["is_seasonal", "seasonal_indices", "deseasonalize", "Deseasonalized"]

_LIMIT = 1.645  # one-sided 95% = two-sided 90% normal quantile of the M4 test


def _acf(y: np.ndarray, lags: int) -> np.ndarray:
    d = y - y.mean()
    denom = float(d @ d)
    if denom == 0.0:
        return np.zeros(lags + 1)
    return np.array([1.0] + [float(d[k:] @ d[:-k]) / denom for k in range(1, lags + 1)])


def is_seasonal(y: np.ndarray, m: int) -> bool:
    """M4 seasonality test at season length ``m`` (False for ``m < 2``, short or non-positive series)."""
    y = np.asarray(y, dtype=float)
    if m < 2 or y.size < 3 * m or np.any(y <= 0):
        return False
    r = _acf(y, m)
    limit = _LIMIT * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / y.size)
    return bool(abs(r[m]) > limit)


def seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """``m`` multiplicative seasonal indices (mean 1) by classical decomposition."""
    y = np.asarray(y, dtype=float)
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")  # centred: trend[j] belongs to y[j + len(weights)//2]
    offset = len(weights) // 2
    ratio = y[offset:offset + trend.size] / trend
    position = (np.arange(trend.size) + offset) % m
    sums = np.bincount(position, weights=ratio, minlength=m)
    counts = np.bincount(position, minlength=m)
    idx = np.where(counts > 0, sums / np.maximum(counts, 1), 1.0)
    return idx / idx.mean()


def deseasonalize(y: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y / indices at each position, indices)``; indices all 1 when the test finds no season."""
    y = np.asarray(y, dtype=float)
    idx = seasonal_indices(y, m) if is_seasonal(y, m) else np.ones(max(m, 1))
    return y / idx[np.arange(y.size) % idx.size], idx


class Deseasonalized(_TS):
    """``model`` fitted on the classically deseasonalised history, its forecast reseasonalised.

    Args:
        model: a non-seasonal statsforecast model (``AutoETS(model="ZZN")``, ``AutoARIMA()``, …).
        season_length: the season tested and removed.
        alias: the column name of its forecast.
    """

    def __init__(self, model: _TS, season_length: int, alias: str):
        self.model = model
        self.season_length = season_length
        self.alias = alias

    def _future(self, n: int, h: int) -> np.ndarray:
        return self.indices_[(n + np.arange(h)) % self.indices_.size]

    def fit(self, y: np.ndarray, X=None):  # noqa: D102 - statsforecast's model contract
        adjusted, self.indices_ = deseasonalize(y, self.season_length)
        self.n_ = y.size
        self.fitted_model_ = self.model.new().fit(y=adjusted)
        return self

    def predict(self, h: int, X=None, level=None):  # noqa: D102
        res = self.fitted_model_.predict(h=h)
        return {"mean": np.asarray(res["mean"]) * self._future(self.n_, h)}

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        adjusted, idx = deseasonalize(y, self.season_length)
        res = self.model.new().forecast(y=adjusted, h=h)
        return {"mean": np.asarray(res["mean"]) * idx[(y.size + np.arange(h)) % idx.size]}
