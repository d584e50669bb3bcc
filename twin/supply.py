"""Production releases on each sample path: QC failures, yields and release delays of the planned starts.

A production row of the plan (a product started on a resource in a week) is ``n`` batches: the plan's
``batches`` rounded up (a continuous routing's week of production is one batch). On each path

* the number of batches passing QC is Binomial(n, 1 − learned failure rate);
* the passed batches yield ``M·μ + √M·σ·Z`` of their planned size (the sum of ``M`` independent batch
  yields with the learned mean ``μ`` and batch-to-batch spread ``σ``), clipped to [0, M];
* the row is released after ``⌊μ_w⌋ + B`` weeks, ``B`` Bernoulli(μ_w − ⌊μ_w⌋): whole weeks with the
  learned mean ``μ_w`` (3.2 weeks: 3 weeks on 80% of paths, 4 on 20%), plus, where the learned
  batch-to-batch spread ``σ_w`` is wider than that two-point spread, a rounded normal with the extra
  variance (never before the start week).

Without process variance, or for a routing without an estimate, the row releases what the plan says,
when it says.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from twin.index import TwinIndex

__all__ = ["sample_releases"]

_PROCESS = ["learned_yield", "yield_sd", "learned_failure_rate", "learned_release_weeks", "release_weeks_sd"]


def sample_releases(
    index: TwinIndex, process: pl.DataFrame, paths: int, variance: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Release week and released units of every production row on every path.

    Args:
        index: the twin index (production rows).
        process: ``product_id, resource_id`` and the learned columns of ``process_estimates``.
        paths: number of paths ``P``.
        variance: sample the process; False releases as planned.
        rng: generator for the process stream.

    Returns:
        ``(release_t, released)``, both (P, J).
    """
    j = len(index.prod_t)
    plan_t = np.broadcast_to(index.prod_release_t, (paths, j))
    plan_q = np.broadcast_to(index.prod_released, (paths, j))
    if not variance or j == 0:
        return plan_t.copy(), plan_q.copy()
    est = index.prod_keys.with_row_index("_r").join(
        process.select("product_id", "resource_id", *_PROCESS), on=["product_id", "resource_id"], how="left",
        validate="m:1",
    ).sort("_r")
    known = est["learned_yield"].is_not_null().to_numpy()
    mu, sd, fail, weeks, weeks_sd = (est[c].fill_null(0.0).to_numpy() for c in _PROCESS)
    n = index.prod_batches.astype(np.int64)
    passed = rng.binomial(n[None, :], np.clip(1.0 - fail, 0.0, 1.0)[None, :], size=(paths, j))
    good = passed * mu[None, :] + np.sqrt(passed) * sd[None, :] * rng.standard_normal((paths, j))
    released = index.prod_qty[None, :] / n[None, :] * np.clip(good, 0.0, passed)
    delay = _delays(weeks, weeks_sd, paths, rng)
    release_t = index.prod_t[None, :] + delay.astype(np.int64)
    return np.where(known, release_t, plan_t), np.where(known, released, plan_q)


def _delays(mean: np.ndarray, sd: np.ndarray, paths: int, rng: np.random.Generator) -> np.ndarray:
    """Whole weeks to release (P, J): two-point around the mean, plus any extra spread, at least 0."""
    base = np.floor(mean)
    frac = mean - base
    late = rng.random((paths, len(mean))) < frac[None, :]
    extra_sd = np.sqrt(np.maximum(sd ** 2 - frac * (1 - frac), 0.0))
    extra = np.rint(extra_sd[None, :] * rng.standard_normal((paths, len(mean))))
    return np.maximum(base[None, :] + late + extra, 0.0)
