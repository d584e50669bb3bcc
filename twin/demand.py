"""Demand sample paths for the twin, one week at a time, vectorised over paths and series.

Each demand series gets, per path and week, a quantile rank ``U`` in (0, 1) from a Gaussian copula
with AR(1) correlation across weeks (:attr:`TwinConfig.week_correlation`); the demand is then

* for most series, the forecast's quantile function at ``U``: linear between the stored quantiles
  ``q01 … q99``, extended linearly beyond ``q01`` (down to at most 0) and ``q99`` with the slope of the
  neighbouring segment — so each week's demand has the forecast's quantiles; when the plan planned
  against another demand than the forecast's mean (a consensus file), the quantiles are scaled by
  plan demand / forecast mean, keeping the forecast's relative spread around the planned level;
* for intermittent and lumpy series (:attr:`TwinConfig.bootstrap_classes`), a bootstrap of the series'
  own recent history (the empirical quantile at ``U`` of its last :attr:`TwinConfig.bootstrap_weeks`
  weeks, zero weeks included): the forecast's quantiles of a mostly-zero series are a poor shape;
* with :attr:`TwinConfig.match_plan_mean` (default), each series-week's draw is then scaled so that its
  mean is the plan's demand: the quantile function's own mean (its integral over the ranks) or the
  history's mean is brought to the planned quantity, keeping the shape (zero weeks stay zero). Without
  it the paths' mean is not the plan's: a band clipped at zero (a symmetric band about a small mean) has
  a mean above the forecast's, and a history's mean is not the forecast's level;
* the plan's demand itself where there is neither a forecast row nor history, or without variance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from data_contracts import schema
from twin.config import TwinConfig
from twin.index import TwinIndex

__all__ = ["DemandSampler", "build_demand_sampler", "knots_mean", "norm_cdf", "quantile_function"]

LEVELS = np.array([0.0, *schema.QUANTILES, 1.0])
_Q_COLS = [schema.quantile_column(q) for q in schema.QUANTILES]


def norm_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Numerical Recipes' ``erfc`` Chebyshev fit, relative error < 1.2e-7)."""
    x = np.abs(z) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    coefs = (0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418,
             0.37409196, 1.00002368, -1.26551223)
    poly = np.zeros_like(t)
    for c in coefs:
        poly = poly * t + c
    erfc = t * np.exp(-x * x + poly)
    return np.where(z >= 0, 1.0 - 0.5 * erfc, 0.5 * erfc)


def quantile_function(knots: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Piecewise-linear quantile function through ``(LEVELS, knots)`` evaluated at ranks ``u``.

    Args:
        knots: (K, len(LEVELS)) non-decreasing values at :data:`LEVELS` per series.
        u: (P, K) ranks in [0, 1].
    """
    i = np.clip(np.searchsorted(LEVELS, u, side="right") - 1, 0, len(LEVELS) - 2)
    lo, hi = LEVELS[i], LEVELS[i + 1]
    k = np.arange(knots.shape[0])[None, :]
    q_lo, q_hi = knots[k, i], knots[k, i + 1]
    return q_lo + (u - lo) / (hi - lo) * (q_hi - q_lo)


def knots_mean(knots: np.ndarray) -> np.ndarray:
    """Mean of the piecewise-linear quantile function through ``(LEVELS, knots)``: its integral over the
    ranks, (…, len(LEVELS)) → (…)."""
    return ((knots[..., :-1] + knots[..., 1:]) / 2.0 * np.diff(LEVELS)).sum(axis=-1)


def _to_plan(plan: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The factor that brings a draw whose mean is ``level`` to the plan's demand: ``plan / level`` where the
    level is positive, else 1 (broadcast)."""
    return np.where(level > 0, plan / np.where(level > 0, level, 1.0), 1.0)


def _extended(q: np.ndarray) -> np.ndarray:
    """(…, 9) stored quantiles → (…, 11) knots at LEVELS: monotone, tails extended, non-negative."""
    q = np.maximum.accumulate(np.maximum(q, 0.0), axis=-1)
    slope_lo = (q[..., 1] - q[..., 0]) / (LEVELS[2] - LEVELS[1])
    slope_hi = (q[..., -1] - q[..., -2]) / (LEVELS[-2] - LEVELS[-3])
    q0 = np.maximum(q[..., 0] - slope_lo * LEVELS[1], 0.0)
    q1 = q[..., -1] + slope_hi * (1.0 - LEVELS[-2])
    return np.concatenate([q0[..., None], q, q1[..., None]], axis=-1)


@dataclass
class DemandSampler:
    """Draws each week's demand of the index's demand nodes, (P, D) per call, in week order."""

    plan_demand: np.ndarray  # (D, H)
    quantile_pos: np.ndarray  # (Dq,) positions among demand nodes
    knots: np.ndarray  # (Dq, H, 11)
    has_knots: np.ndarray  # (Dq, H)
    boot_pos: np.ndarray  # (Db,)
    boot_sorted: np.ndarray  # (Db, L) each row's history sorted, zero-padded beyond its length
    boot_len: np.ndarray  # (Db,)
    boot_scale: np.ndarray  # (Db, H) factor on each week's bootstrap draw (plan demand / history mean)
    rho: float
    variance: bool
    rng: np.random.Generator
    paths: int
    _z: np.ndarray | None = None

    def week(self, t: int) -> np.ndarray:
        """Demand of week ``t`` on every path: (P, D)."""
        d = np.broadcast_to(self.plan_demand[:, t], (self.paths, self.plan_demand.shape[0])).copy()
        if not self.variance:
            return d
        u = self._ranks()
        if len(self.quantile_pos):
            drawn = quantile_function(self.knots[:, t, :], u[:, self.quantile_pos])
            cur = d[:, self.quantile_pos]
            d[:, self.quantile_pos] = np.where(self.has_knots[:, t][None, :], drawn, cur)
        if len(self.boot_pos):
            idx = np.minimum((u[:, self.boot_pos] * self.boot_len[None, :]).astype(np.int64),
                             self.boot_len[None, :] - 1)
            d[:, self.boot_pos] = (self.boot_sorted[np.arange(len(self.boot_pos))[None, :], idx]
                                   * self.boot_scale[:, t][None, :])
        return d

    def _ranks(self) -> np.ndarray:
        n = self.plan_demand.shape[0]
        if self.rho == 0.0:
            return self.rng.random((self.paths, n))
        eps = self.rng.standard_normal((self.paths, n))
        self._z = eps if self._z is None else self.rho * self._z + math.sqrt(1 - self.rho ** 2) * eps
        return norm_cdf(self._z)


def build_demand_sampler(
    index: TwinIndex, forecast: pl.DataFrame, series: pl.DataFrame, history: pl.DataFrame,
    config: TwinConfig, rng: np.random.Generator, week_of: pl.Expr,
) -> DemandSampler:
    """Prepare the quantile knots and bootstrap histories of every demand node.

    Args:
        index: the twin index (demand nodes, plan demand).
        forecast: ``product_id, site_id, week, mean, q01 … q99``.
        series: ``product_id, site_id, series_class``.
        history: ``product_id, site_id, week, quantity`` (weeks before the plan's start).
        config: twin settings.
        rng: generator for the demand stream.
        week_of: expression giving a ``week`` date column's week index.
    """
    h = index.horizon
    dem = index.nodes[index.demand_nodes.tolist()].with_row_index("pos").drop("node")
    boot_keys = series.filter(pl.col("series_class").is_in(list(config.bootstrap_classes))).select(
        "product_id", "site_id"
    )
    recent = (
        history.join(boot_keys, on=["product_id", "site_id"], how="semi")
        .sort("week").group_by("product_id", "site_id", maintain_order=True).tail(config.bootstrap_weeks)
        .join(dem, on=["product_id", "site_id"], how="inner")
        .sort("pos", "quantity")
        .group_by("pos", maintain_order=True).agg(pl.col("quantity"))
    )
    boot_pos = recent["pos"].to_numpy().astype(np.int64)
    boot_len = recent["quantity"].list.len().to_numpy().astype(np.int64)
    width = int(boot_len.max()) if len(boot_len) else 1
    boot_sorted = np.zeros((len(boot_pos), width))
    flat = np.concatenate(recent["quantity"].to_list()) if len(boot_pos) else np.zeros(0)
    rows = np.repeat(np.arange(len(boot_pos)), boot_len)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(boot_len) - boot_len, boot_len)
    boot_sorted[rows, cols] = flat
    boot_scale = np.ones((len(boot_pos), h))
    if config.match_plan_mean and len(boot_pos):
        hist_mean = boot_sorted.sum(axis=1) / np.maximum(boot_len, 1)
        boot_scale = _to_plan(index.plan_demand[boot_pos], hist_mean[:, None])
    fc = (
        forecast.with_columns(t=week_of)
        .filter(pl.col("t").is_between(0, h - 1))
        .join(dem, on=["product_id", "site_id"], how="inner")
        .filter(~pl.col("pos").is_in(pl.Series(boot_pos, dtype=pl.UInt32).implode()))
    )
    qpos = np.unique(fc["pos"].to_numpy()).astype(np.int64)
    where = np.full(len(dem), -1)
    where[qpos] = np.arange(len(qpos))
    knots = np.zeros((len(qpos), h, len(LEVELS)))
    has = np.zeros((len(qpos), h), dtype=bool)
    if fc.height:
        r, t = where[fc["pos"].to_numpy()], fc["t"].to_numpy()
        mean = fc["mean"].to_numpy()
        plan = index.plan_demand[fc["pos"].to_numpy(), t]
        k = _extended(fc.select(_Q_COLS).to_numpy())
        # the draw's mean (with match_plan_mean) or the forecast's mean brought to the plan's demand
        level = knots_mean(k) if config.match_plan_mean else mean
        knots[r, t] = k * _to_plan(plan, level)[:, None]
        has[r, t] = ~((mean <= 0) & (plan > 0))  # planned demand the forecast says is none: keep the plan's
    return DemandSampler(
        plan_demand=index.plan_demand, quantile_pos=qpos, knots=knots, has_knots=has, boot_pos=boot_pos,
        boot_sorted=boot_sorted, boot_len=np.maximum(boot_len, 1), boot_scale=boot_scale,
        rho=config.week_correlation,
        variance=config.demand_variance, rng=rng, paths=config.paths,
    )
