"""Classical multiplicative decomposition, as in the M4 benchmarks, and a model that forecasts through it.

- :func:`is_seasonal`: the M4 seasonality test (the autocorrelation at lag ``m`` exceeds the 90% limit
  ``1.645·√((1 + 2·Σ_{k<m} r_k²) / n)``) or, for a long season (``m`` > 24: weekly), where it finds none,
  :func:`season_contrast`'s test, which sees a smooth season in 2–3 seasons of history where the M4 test
  cannot; needs two full seasons (``n ≥ 2m``, as statsforecast's Theta).
- :func:`seasonal_indices`: ratios of the series to its centred moving average (``2×m`` when ``m`` is
  even), averaged per position in the season and normalised to mean 1 (multiplicative); differences
  normalised to mean 0 where the series is not positive (additive). Index ``i`` belongs to position
  ``i`` counted from the series' first value.
- :func:`shrunk_indices`: for a long season (``m`` > 24: weekly, where 2–3 seasons give each index two
  noisy values), the indices shrunk toward no season by their estimation noise
  (:func:`season_shrinkage`, a James–Stein factor), unless the season stands far above its noise.
- :class:`Deseasonalized`: a statsforecast model that divides the history by its seasonal indices where
  the test finds a season, fits the wrapped (non-seasonal) model on the result and multiplies its
  forecast back. That is how M4's Naive2, SES, Holt, Damped and Com handle seasons; it costs a
  non-seasonal fit whatever the season length, so a 52-week season is as cheap as a 12-month one.
- :func:`naive2`: M4's Naive2 benchmark as the organisers computed it (the scorers' OWA denominator).

Pure numpy; no I/O.
"""

from __future__ import annotations

import numpy as np
from statsforecast.models import _TS

__all__ = ["is_seasonal", "m4_seasonal", "season_contrast", "seasonal_indices", "season_shrinkage",
           "shrunk_indices", "deseasonalize", "reseasonalize", "naive2", "Deseasonalized"]

_LIMIT = 1.645  # one-sided 95% = two-sided 90% normal quantile of the M4 test
_CONTRAST_LIMIT = 1.96  # the contrast's limit in units of 1/√n (season_contrast: measured false positives)
#: the longest season the contrast leaves to the M4 test alone (ForecastConfig.native_season_max's default):
#: see is_seasonal
SHORT_SEASON_MAX = 24
#: a season whose shrinkage factor is at least this is kept whole: see shrunk_indices
KEEP_WHOLE = 0.9
#: a multiplicative index under this (but not 0) makes the season additive: see deseasonalize
_CLOSED = 0.01


def _acf(y: np.ndarray, lags: int) -> np.ndarray:
    d = y - y.mean()
    denom = float(d @ d)
    if denom == 0.0:
        return np.zeros(lags + 1)
    return np.array([1.0] + [float(d[k:] @ d[:-k]) / denom for k in range(1, lags + 1)])


def m4_seasonal(y: np.ndarray, m: int, min_seasons: int = 2) -> bool:
    """M4 seasonality test at season length ``m`` (False for ``m < 2`` or fewer than ``min_seasons``
    seasons; M4's own benchmarks asked for 3)."""
    y = np.asarray(y, dtype=float)
    if m < 2 or y.size < min_seasons * m:
        return False
    r = _acf(y, m)
    limit = _LIMIT * np.sqrt((1 + 2 * np.sum(r[1:m] ** 2)) / y.size)
    return bool(abs(r[m]) > limit)


def season_contrast(y: np.ndarray, m: int) -> float:
    """``√n · (r_m − mean(r_1 … r_{m−1}))``: how far the lag-``m`` autocorrelation stands above the season's
    other lags, in units of white noise's standard error 1/√n.

    Why not the M4 test alone: it divides ``r_m`` by Bartlett's standard error ``√((1 + 2·Σ_{k<m} r_k²)/n)``,
    which is right where the lags below ``m`` are the noise's own short memory, but a smooth season makes
    every ``r_k`` large (a 52-week sine's ``r_k`` is ``cos(2πk/52)``), so the limit grows with the season it
    tests: with 2–3 seasons, where ``r_m`` is also shrunk by ``(n − m)/n``, a clean 52-week sine of amplitude
    0.3 × level passes it in 0% of seeded series (and at 5 seasons in 100%).

    The contrast asks the question the other way round: a season makes ``y`` repeat at lag ``m`` more than
    at the lags inside the season, so ``r_m`` stands above their mean (which is ~0 for a periodic season:
    the cosines average out over a period). Series that merely persist do not: a random walk, a trend or an
    AR(1) has ``r_k`` falling with ``k``, so ``r_m`` is at or below the mean; white noise, intermittent and
    lumpy demand have both near 0. On seeded series (tests/test_forecasting_season_test.py,
    docs/forecast-accuracy.md "Stop 29") the limit 1.96 finds 52-week sines of 0.15–0.3 × level with 2–3
    seasons in ≥ 99.8%, and together with the M4 test calls ≤ 7.8% of AR(1) 0.5–0.98, random walks, trends,
    level steps, white noise, intermittent and lumpy series seasonal at 2–5 seasons (at 1.645 it took 10.2% of
    AR(1) 0.9 at 156 weeks).
    """
    r = _acf(np.asarray(y, dtype=float), m)
    return float(np.sqrt(len(y)) * (r[m] - r[1:m].mean()))


def is_seasonal(y: np.ndarray, m: int, min_seasons: int = 2) -> bool:
    """Whether ``y`` has a season of length ``m``: the M4 test finds one, or, for a season longer than
    ``SHORT_SEASON_MAX``, :func:`season_contrast` exceeds 1.96. Every season the M4 test finds is kept.
    False for ``m < 2`` or fewer than ``min_seasons`` seasons.

    Why long seasons only: a weekly series is fitted on a 156-week window, 3 seasons, always inside the M4
    test's blind range at m = 52 (it comes back only at ~5 seasons), and there the decomposition is the only
    way the season reaches DETS, DARIMA and DOT. At m ≤ 24 the M4 test comes back at ~4 seasons, the default
    combinations hold a native seasonal model (SETS; SARIMA inside TARIMA, which was built on the M4 test's
    answer on short monthly histories, stop 23), and the monthly and quarterly sets were not measured with the
    contrast end to end (docs/forecast-accuracy.md, stop 29)."""
    y = np.asarray(y, dtype=float)
    if m < 2 or y.size < min_seasons * m:
        return False
    if m4_seasonal(y, m, min_seasons):
        return True
    return m > SHORT_SEASON_MAX and season_contrast(y, m) > _CONTRAST_LIMIT


def _detrended(y: np.ndarray, m: int, multiplicative: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(detrended values, their positions in the season)``: ``y`` over (or minus) its centred moving
    average (``2×m`` when ``m`` is even), where that average is defined."""
    if m % 2 == 0:
        weights = np.r_[0.5, np.ones(m - 1), 0.5] / m
    else:
        weights = np.ones(m) / m
    trend = np.convolve(y, weights, mode="valid")  # centred: trend[j] belongs to y[j + len(weights)//2]
    offset = len(weights) // 2
    part = y[offset:offset + trend.size]
    with np.errstate(divide="ignore", invalid="ignore"):
        detrended = part / trend if multiplicative else part - trend
    # a ratio to a zero moving average (a season without demand) is undefined: skipped, as R's decompose
    # skips it (M4's Naive2, and the pipeline's short seasons with zeros: a season's worth of zero demand)
    ok = np.isfinite(detrended)
    return detrended[ok], ((np.arange(trend.size) + offset) % m)[ok]


def _position_means(values: np.ndarray, position: np.ndarray, m: int, neutral: float) -> np.ndarray:
    sums = np.bincount(position, weights=values, minlength=m)
    counts = np.bincount(position, minlength=m)
    return np.where(counts > 0, sums / np.maximum(counts, 1), neutral)


def seasonal_indices(y: np.ndarray, m: int, multiplicative: bool = True) -> np.ndarray:
    """``m`` seasonal indices by classical decomposition: ratios (mean 1) or differences (mean 0)."""
    return _indices(*_detrended(np.asarray(y, dtype=float), m, multiplicative), m, multiplicative)


def _indices(detrended: np.ndarray, position: np.ndarray, m: int, multiplicative: bool) -> np.ndarray:
    """:func:`seasonal_indices` from :func:`_detrended`'s values and positions."""
    idx = _position_means(detrended, position, m, 1.0 if multiplicative else 0.0)
    return idx / idx.mean() if multiplicative else idx - idx.mean()


def season_shrinkage(y: np.ndarray, m: int, multiplicative: bool = True) -> float:
    """The positive-part James–Stein factor ``max(0, 1 − (m − 3)·v̄ / Σᵢ (lᵢ − l̄)²)`` of the season's ``m``
    effects ``lᵢ``: the logs of :func:`seasonal_indices`' ratios, or its differences.

    Why: each index is the mean of the ``kᵢ`` detrended values seen at its position, one a season, so it
    carries their noise with variance ``σ²/kᵢ``. A weekly fit sees 156 weeks, so ``kᵢ`` = 2 after the moving
    average's ends: 52 indices are 52 means of two noisy values, and a forecast that multiplies them back
    repeats last years' noise as if it were the season (the demo's vaccine packs, stop 29: a real ±15–25%
    season under erratic demand, forecast worse than flat). ``σ²`` is pooled over positions from the spread
    of each position's values about their own mean (``Σ (kᵢ − 1)`` degrees of freedom), so it holds both the
    noise and the season's change from year to year, neither of which repeats; ``v̄`` is the mean of
    ``σ²/kᵢ``. Where the effects spread far beyond that noise (a clean season) the factor is ~1; where
    their spread is what noise alone gives, it is 0. ``m − 3`` is James and Stein's constant for ``m`` means
    shrunk toward their common mean (the normalisation takes one degree of freedom).

    Ratios are measured in logs: demand's noise is proportional to its level, so a ratio's noise grows with
    its index (a flu peak of 4.9 scatters sixty times as widely as its trough of 0.08), and the log makes it
    one variance for every position; shrinking in logs (``indexᶠ``) moves that trough as little, relatively,
    as the peak (shrunk linearly toward 1 by f = 0.96 the trough moves by almost half of itself).

    1 (nothing shrunk) where no position was seen twice (a history of at most ``2m`` periods: the moving
    average leaves ``n − m`` values), where the spread is 0, and for a ratio that is not positive.
    """
    return _shrinkage(*_detrended(np.asarray(y, dtype=float), m, multiplicative), m, multiplicative)


def _shrinkage(detrended: np.ndarray, position: np.ndarray, m: int, multiplicative: bool) -> float:
    """:func:`season_shrinkage` from :func:`_detrended`'s values and positions."""
    if multiplicative:
        if np.any(detrended <= 0):
            return 1.0
        detrended = np.log(detrended)
    counts = np.bincount(position, minlength=m)
    dof = int(np.sum(np.maximum(counts - 1, 0)))
    effects = _position_means(detrended, position, m, 0.0)
    spread = float(np.sum((effects - effects.mean()) ** 2))
    if dof == 0 or spread == 0.0 or m <= 3:
        return 1.0
    sigma2 = float(np.sum((detrended - effects[position]) ** 2)) / dof
    noise = float(np.mean(sigma2 / counts[counts > 0]))
    return max(0.0, 1.0 - (m - 3) * noise / spread)


def shrunk_indices(y: np.ndarray, m: int, multiplicative: bool = True) -> np.ndarray:
    """:func:`seasonal_indices` shrunk toward no season by :func:`season_shrinkage`'s factor ``f`` (ratios
    raised to ``f`` and normalised to mean 1 again, differences times ``f``), unless ``f ≥ KEEP_WHOLE``.

    Why whole above ``KEEP_WHOLE``: the factor minimises the indices' squared error averaged over the
    season's positions, but a forecast reads the level where the history ends and the season where the
    horizon lies, so a shrunk season is wrong by ``(1 − f)`` times the distance between those two effects.
    For a season of large amplitude that distance is large: the demo's flu (indices 0.08 to 4.9, factors
    0.95–0.99) is forecast from its summer trough into its autumn peak, and shrunk by 1–5% its error against
    the generator's truth rose 0.176 → 0.188 of the level, 11 of 15 series worse, while the vaccine packs
    (factors 0.25–0.51) gained 0.453 → 0.264. Below 0.9 the season's noise is at least a tenth of its spread,
    and the shrinking pays (docs/forecast-accuracy.md, "Stop 30": 0.9 was chosen from the demo's factors).
    """
    detrended, position = _detrended(np.asarray(y, dtype=float), m, multiplicative)  # once for both
    idx = _indices(detrended, position, m, multiplicative)
    f = _shrinkage(detrended, position, m, multiplicative)
    if f >= KEEP_WHOLE:
        return idx
    if not multiplicative:
        return f * idx
    shrunk = idx**f
    return shrunk / shrunk.mean()


def deseasonalize(y: np.ndarray, m: int, min_seasons: int = 2, zeros: bool = False,
                  shrink: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(adjusted y, indices, multiplicative)``: no season (indices 1) when the test finds none; else
    multiplicative for a positive series, additive otherwise; with ``zeros``, multiplicative also where
    values are zero (none negative) and the season is at most ``SHORT_SEASON_MAX`` long (monthly, quarterly,
    daily). With ``shrink``, a season longer than ``SHORT_SEASON_MAX`` is shrunk (:func:`shrunk_indices`; not
    measured on short seasons); a long season stays additive with a zero either way.

    Why ``shrink`` is an option (``ForecastConfig.season_shrinkage``, off): it helps M4 Weekly (OWA 0.723 →
    0.720) and the demo's vaccine packs against their truth, but the demo's forecast it gives takes the demo
    with campaigns from 0.92% in 32.8 s to 1.11% in 63.8 s on a quiet machine, past issue 17's 1% in 60 s
    (docs/forecast-accuracy.md "Stop 30: shrunk weekly seasons").

    Why ``zeros``: M4's own benchmarks decompose multiplicatively, zeros included (see :func:`naive2`), and a
    zero month is a month whose demand is zero, not a season that adds: an additive season puts the whole
    history's swings on the last level, so a shutdown month of a growing series is forecast at the
    difference between the last level and the history's mean level, not at zero. A position whose index is 0
    (no demand there in any season seen) is then bridged (:func:`_adjusted`); one under ``_CLOSED`` but not 0
    (a few stray orders in a near-empty month: 4 of PBS's safety-net series) would blow the adjusted series up,
    and the season is additive there, as without ``zeros``. On by default since stop 30
    (``ForecastConfig.zero_seasons_multiplicative``): whole PBS gains at three origins, the pharmacy daily pooled
    over four origins ties (docs/forecast-accuracy.md "Stop 30: the season of a series with zeros")."""
    y = np.asarray(y, dtype=float)
    if not is_seasonal(y, m, min_seasons):
        return y, np.ones(1), True
    if zeros and m <= SHORT_SEASON_MAX and np.all(y >= 0):
        idx = seasonal_indices(y, m, True)
        if not np.any((idx > 0) & (idx < _CLOSED)):  # stray orders in a near-empty season: additive below
            return _adjusted(y, idx), idx, True
    indices = shrunk_indices if shrink and m > SHORT_SEASON_MAX else seasonal_indices
    multiplicative = bool(np.all(y > 0))
    idx = indices(y, m, multiplicative)
    if multiplicative and np.any(idx < _CLOSED):  # a near-zero index would blow the adjusted series up
        multiplicative, idx = False, indices(y, m, False)
    at = idx[np.arange(y.size) % m]
    return (y / at if multiplicative else y - at), idx, multiplicative


def _adjusted(y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``y`` over its multiplicative indices; a period whose index is 0 takes the adjusted value interpolated
    between its open neighbours (flat beyond the ends).

    Why bridged: such a position had no demand in any season seen, a shutdown month, so ``y`` over its
    index is ``0 / 0``; the level runs on through it, and the forecast there is that level times 0."""
    at = idx[np.arange(y.size) % idx.size]
    open_ = at > 0
    adjusted = np.divide(y, at, out=np.zeros_like(y), where=open_)
    if open_.all():
        return adjusted
    t = np.arange(y.size)
    return np.where(open_, adjusted, np.interp(t, t[open_], adjusted[open_]))


def naive2(y: np.ndarray, m: int, h: int) -> np.ndarray:
    """M4's Naive2 benchmark (OWA's denominator): the last seasonally adjusted value, times the seasonal
    indices of the ``h`` periods ahead.

    As the organisers' code (M4-methods, "Benchmarks and Evaluation.R") does it: the season is removed only
    where the M4 test (:func:`m4_seasonal`, not :func:`is_seasonal`'s contrast) finds one at ``m`` with at
    least 3 seasons of history, and then always multiplicatively (R's ``decompose(type = "multiplicative")``),
    zeros included. Additive only where that gives no forecast: a negative value, or a zero index at the
    last period (R would divide by it). ``m`` is the set's M4 frequency (1 weekly and daily: no season).
    """
    y = np.asarray(y, dtype=float)
    if not m4_seasonal(y, m, min_seasons=3):
        return np.full(h, y[-1])
    idx = seasonal_indices(y, m, multiplicative=True)
    multiplicative = bool(np.all(y >= 0) and idx[(y.size - 1) % m] > 0)
    if not multiplicative:
        idx = seasonal_indices(y, m, multiplicative=False)
    last = idx[(y.size - 1) % m]
    level = y[-1] / last if multiplicative else y[-1] - last
    return reseasonalize(np.full(h, level), y.size, idx, multiplicative)


def reseasonalize(forecast: np.ndarray, n: int, idx: np.ndarray, multiplicative: bool) -> np.ndarray:
    """Put the season back on the ``h`` values forecast after a history of ``n`` values."""
    at = idx[(n + np.arange(forecast.size)) % idx.size]
    return forecast * at if multiplicative else forecast + at


class Deseasonalized(_TS):
    """``model`` fitted on the classically deseasonalised history, its forecast reseasonalised.

    Args:
        model: a non-seasonal statsforecast model (``AutoETS(model="ZZN")``, ``AutoARIMA()``, …).
        season_length: the season tested and removed.
        alias: the column name of its forecast.
        life: whether the season may come from periods the model does not fit (``DARIMA``): the
            engine then hands it a series' whole life with ``skip``, the periods before the window the
            other models see.
        skip: the periods at the start of ``y`` that the season is tested and estimated on but ``model``
            does not fit (the pipeline's ``input_weeks`` window: a long fit costs much, a season is
            cheap and on the pharmacy's weekly series only ~290 weeks show it, 156 do not).
        zeros: a short season multiplicative on a series with zeros (:func:`deseasonalize`).
        shrink: a long season's indices shrunk by their noise (:func:`deseasonalize`).
    """

    def __init__(self, model: _TS, season_length: int, alias: str, life: bool = False, skip: int = 0,
                 zeros: bool = False, shrink: bool = False):
        self.model = model
        self.season_length = season_length
        self.alias = alias
        self.life = life
        self.skip = skip
        self.zeros = zeros
        self.shrink = shrink

    def around(self, model: _TS, skip: int | None = None) -> Deseasonalized:
        """The same decomposition (season, alias, ``life``, ``skip`` unless given, ``zeros``, ``shrink``)
        around another model."""
        return Deseasonalized(model, self.season_length, self.alias, self.life,
                              self.skip if skip is None else skip, self.zeros, self.shrink)

    def _decompose(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
        return deseasonalize(y, self.season_length, zeros=self.zeros, shrink=self.shrink)

    def fit(self, y: np.ndarray, X=None):  # noqa: D102 - statsforecast's model contract
        adjusted, self.indices_, self.multiplicative_ = self._decompose(y)
        self.n_ = y.size
        self.fitted_model_ = self.model.new().fit(y=adjusted[self.skip:])
        return self

    def predict(self, h: int, X=None, level=None):  # noqa: D102
        mean = np.asarray(self.fitted_model_.predict(h=h)["mean"], dtype=float)
        return {"mean": reseasonalize(mean, self.n_, self.indices_, self.multiplicative_)}

    def forecast(self, y, h, X=None, X_future=None, level=None, fitted=False):  # noqa: D102
        adjusted, idx, multiplicative = self._decompose(y)
        mean = np.asarray(self.model.new().forecast(y=adjusted[self.skip:], h=h)["mean"], dtype=float)
        return {"mean": reseasonalize(mean, y.size, idx, multiplicative)}

    def forward(self, y, h, X=None, X_future=None, level=None, fitted=False):
        """Forecast ``h`` values after a new history ``y`` with the fitted model's parameters.

        The season is decomposed again on ``y`` (cheap, and the test may now find or lose a season);
        the wrapped model's fitted parameters are applied to the adjusted ``y`` by its own ``forward``
        (statsforecast's cross-validation with ``refit=False``: fit once, then move on). Raises where
        the wrapped model has none or it fails; :mod:`forecasting.orders` then fits anew.
        """
        adjusted, idx, multiplicative = self._decompose(y)
        mean = np.asarray(self.fitted_model_.forward(y=adjusted[self.skip:], h=h)["mean"], dtype=float)
        return {"mean": reseasonalize(mean, y.size, idx, multiplicative)}
