"""STL without robustness weights as two matrices: the same decomposition as statsmodels' for a fraction of its cost.

statsforecast's MSTL (one season) decomposes a series with statsmodels' ``STL(y, period, seasonal=11,
seasonal_deg=0).fit()``: five inner passes of LOESS smoothings (cycle-subseries, low-pass moving averages and
LOESS, trend LOESS) and no outer, robust pass. Without robustness weights every LOESS weight depends on
positions only, never on the values, so the whole fit is linear in ``y``: ``season = S @ y`` and
``trend = T @ y`` for two ``n × n`` matrices fixed by the series length, the period and the windows.
:func:`stl_operator` builds them once (by the same steps, on matrices) and caches them by their settings;
a decomposition is then two matrix-vector products instead of ~4.4 ms of LOESS per 156-week series.
Building them costs about ten statsmodels fits and grows with ``n³``, so a series longer than
``MATRIX_MAX_N`` (320 periods; the weekly models see 156) is decomposed by statsmodels itself.

The products sum in another order than statsmodels' loops, so the components agree with statsmodels' to
rounding (about 1e-13 of the series' scale; ``tests/test_forecasting_stl.py``), not bit for bit.
The LOESS steps follow statsmodels' ``statsmodels/tsa/stl/_stl.pyx`` (``_est``, ``_ess``, ``_ss``, ``_fts``,
``_onestp``) for jumps of 1, its default; the parameter names are its own.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["stl_operator", "stl_decompose", "default_windows", "MATRIX_MAX_N"]

MATRIX_MAX_N = 320  # longer series: statsmodels' STL (a build costs ~n³; 2 × n² floats kept)
_CACHED = 32  # lengths × settings kept per process (two n × n matrices each: 0.4 MB at n = 156, 1.6 at 320)


def default_windows(period: int, seasonal: int) -> tuple[int, int]:
    """statsmodels' default ``(trend, low_pass)`` windows for a period and a seasonal window."""
    trend = int(np.ceil(1.5 * period / (1 - 1.5 / seasonal)))
    trend += (trend % 2) == 0
    low_pass = period + 1
    low_pass += (low_pass % 2) == 0
    return trend, low_pass


def _weights(n: int, len_: int, ideg: int, xs: np.ndarray, nleft: np.ndarray, nright: np.ndarray):
    """LOESS weights (``_est``) of ``n`` points at the 1-based positions ``xs``, each row using the points
    ``nleft … nright``: a ``(len(xs), n)`` matrix and whether a row had no weight (``_est``'s NaN)."""
    j = np.arange(1, n + 1, dtype=float)
    xs, nleft, nright = (np.asarray(v, dtype=float) for v in (xs, nleft, nright))
    h = np.maximum(xs - nleft, nright - xs)
    if len_ > n:
        h = h + (len_ - n) // 2
    r = np.abs(j[None, :] - xs[:, None])
    inside = (j[None, :] >= nleft[:, None]) & (j[None, :] <= nright[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        tricube = (1.0 - (r / h[:, None]) ** 3) ** 3
    w = np.where(r <= 0.001 * h[:, None], 1.0, tricube)
    w = np.where(inside & (r <= 0.999 * h[:, None]), w, 0.0)
    a = w.sum(axis=1)
    empty = a <= 0
    w = w / np.where(empty, 1.0, a)[:, None]
    if ideg > 0:
        mean = w @ j
        spread = (w * (j[None, :] - mean[:, None]) ** 2).sum(axis=1)
        tilt = (h > 0) & (np.sqrt(spread) > 0.001 * (n - 1.0))
        slope = np.where(tilt, (xs - mean) / np.where(tilt, spread, 1.0), 0.0)
        w = np.where(tilt[:, None], w * (slope[:, None] * (j[None, :] - mean[:, None]) + 1.0), w)
    return w, empty


def _smoother(n: int, len_: int, ideg: int) -> np.ndarray:
    """``_ess`` with a jump of 1 as an ``n × n`` matrix: LOESS of window ``len_`` at every point."""
    if n < 2:
        return np.eye(n)
    i = np.arange(n)
    if len_ >= n:
        nleft, nright = np.ones(n), np.full(n, n)
    else:
        shift = np.clip(i + 1 - (len_ + 2) // 2, 0, n - len_)
        nleft, nright = 1 + shift, len_ + shift
    w, empty = _weights(n, len_, ideg, i + 1, nleft, nright)
    w[empty] = np.eye(n)[empty]  # no weight: the point itself
    return w


def _cycle_subseries(n: int, period: int, seasonal: int, ideg: int) -> np.ndarray:
    """``_ss`` as an ``(n + 2 period) × n`` matrix: each cycle-subseries smoothed, one value extrapolated at
    either end."""
    out = np.zeros((n + 2 * period, n))
    for j in range(period):
        k = (n - (j + 1)) // period + 1
        cols = j + period * np.arange(k)
        rows = np.zeros((k + 2, k))
        rows[1:k + 1] = _smoother(k, seasonal, ideg)
        first, empty0 = _weights(k, seasonal, ideg, [0], [1], [min(seasonal, k)])
        last, empty1 = _weights(k, seasonal, ideg, [k + 1], [max(1, k - seasonal + 1)], [k])
        rows[0] = rows[1] if empty0[0] else first[0]
        rows[k + 1] = rows[k] if empty1[0] else last[0]
        out[np.ix_(j + period * np.arange(k + 2), cols)] = rows
    return out


def _moving_average(n: int, len_: int) -> np.ndarray:
    """``_ma``: the ``(n - len_ + 1) × n`` matrix of means over ``len_`` consecutive values."""
    m = n - len_ + 1
    idx = np.arange(m)[:, None] + np.arange(len_)[None, :]
    out = np.zeros((m, n))
    np.put_along_axis(out, idx, 1.0 / len_, axis=1)
    return out


@lru_cache(maxsize=_CACHED)
def stl_operator(n: int, period: int, seasonal: int = 11, seasonal_deg: int = 0, trend_deg: int = 1,
                 low_pass_deg: int = 1, inner_iter: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """``(S, T)``: non-robust STL of an ``n``-point series as matrices, ``season = S @ y``, ``trend = T @ y``.

    Defaults are statsforecast's MSTL with one period (``seasonal=11``, ``seasonal_deg=0``) and statsmodels'
    ``STL.fit()`` without ``robust`` (5 inner passes, no outer pass); trend and low-pass windows are
    statsmodels' defaults (:func:`default_windows`).
    """
    with threadpool_limits(limits=1, user_api="blas"):  # small products: threads only add spinning CPU
        return _operator(n, period, seasonal, seasonal_deg, trend_deg, low_pass_deg, inner_iter)


def _operator(n: int, period: int, seasonal: int, seasonal_deg: int, trend_deg: int, low_pass_deg: int,
              inner_iter: int) -> tuple[np.ndarray, np.ndarray]:
    trend, low_pass = default_windows(period, seasonal)
    cycle = _cycle_subseries(n, period, seasonal, seasonal_deg)
    m = n + 2 * period
    low = _moving_average(n + 2, 3) @ _moving_average(m - period + 1, period) @ _moving_average(m, period)
    low = _smoother(n, low_pass, low_pass_deg) @ low
    smooth_trend = _smoother(n, trend, trend_deg)
    eye = np.eye(n)
    season_op, trend_op = np.zeros((n, n)), np.zeros((n, n))
    for _ in range(inner_iter):
        c = cycle @ (eye - trend_op)
        season_op = c[period:period + n] - low @ c
        trend_op = smooth_trend @ (eye - season_op)
    season_op.setflags(write=False)
    trend_op.setflags(write=False)
    return season_op, trend_op


def stl_decompose(y: np.ndarray, period: int, seasonal: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """``(season, trend)`` of ``y`` by :func:`stl_operator` (statsforecast's ``mstl`` for one period); by
    statsmodels' STL above ``MATRIX_MAX_N`` periods."""
    if y.size > MATRIX_MAX_N:
        from statsmodels.tsa.seasonal import STL  # statsforecast's own dependency (its mstl)

        fit = STL(y, period=int(period), seasonal=int(seasonal), seasonal_deg=0).fit()
        return np.asarray(fit.seasonal), np.asarray(fit.trend)
    season_op, trend_op = stl_operator(int(y.size), int(period), int(seasonal))
    return season_op @ y, trend_op @ y
