"""Production releases on each sample path: QC failures, yields and release delays of the planned starts.

A production row of the plan (a product started on a resource in a week) is made of batches (a
continuous routing's week of production is one batch). On each path

* a batch is a batch: a row of ``b`` batches (the plan's ``batches``; a campaign plan's are whole, an LP
  plan's may be 2.5) is ``⌊b⌋`` whole batches of ``quantity / b`` units and, if ``b`` is not whole, one
  partial batch of the rest; a failed batch costs its own units, never a share of the week's production;
* the number of whole batches passing QC is Binomial(⌊b⌋, 1 − learned failure rate), the partial batch
  passes with the same probability;
* the passed batches yield ``M·μ + √M·σ·Z`` of their planned size (the sum of ``M`` independent batch
  yields with the learned mean ``μ`` and batch-to-batch spread ``σ``), clipped to [0, M];
* batches named in :attr:`TwinConfig.failed_batches` fail on every path (whole batches first), with or
  without process variance;
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

from data_contracts.config import ParameterError
from twin.index import TwinIndex

__all__ = ["failed_rows", "sample_releases"]

_PROCESS = ["learned_yield", "yield_sd", "learned_failure_rate", "learned_release_weeks", "release_weeks_sd"]


def sample_releases(
    index: TwinIndex, process: pl.DataFrame, paths: int, variance: bool, rng: np.random.Generator,
    failed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Release week and released units of every production row on every path.

    Args:
        index: the twin index (production rows).
        process: ``product_id, resource_id`` and the learned columns of ``process_estimates``.
        paths: number of paths ``P``.
        variance: sample the process; False releases as planned.
        rng: generator for the process stream.
        failed: (J,) batches of each row that fail on every path (None: none; :func:`failed_rows`).

    Returns:
        ``(release_t, released)``, both (P, J).
    """
    j = len(index.prod_t)
    full, part = index.prod_full, index.prod_part
    forced = np.zeros(j) if failed is None else failed.astype(float)
    f_full = np.minimum(forced, full)  # whole batches fail first, then the partial one
    f_part = (forced > full) & (part > 0)
    plan_t = np.broadcast_to(index.prod_release_t, (paths, j))
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.where(full + part > 0, (full - f_full + np.where(f_part, 0.0, part)) / (full + part), 1.0)
    plan_q = np.broadcast_to(index.prod_released * kept, (paths, j))
    if not variance or j == 0:
        return plan_t.copy(), plan_q.copy()
    est = index.prod_keys.with_row_index("_r").join(
        process.select("product_id", "resource_id", *_PROCESS), on=["product_id", "resource_id"], how="left",
        validate="m:1",
    ).sort("_r")
    known = est["learned_yield"].is_not_null().to_numpy()
    mu, sd, fail, weeks, weeks_sd = (est[c].fill_null(0.0).to_numpy() for c in _PROCESS)
    ok = np.clip(1.0 - fail, 0.0, 1.0)[None, :]
    passed = rng.binomial((full - f_full).astype(np.int64)[None, :], ok, size=(paths, j))
    good = passed * mu[None, :] + np.sqrt(passed) * sd[None, :] * rng.standard_normal((paths, j))
    p_pass = (rng.random((paths, j)) < ok) & ((part > 0) & ~f_part)[None, :]
    p_good = p_pass * (mu[None, :] + sd[None, :] * rng.standard_normal((paths, j)))
    per_batch = index.prod_qty / np.where(full + part > 0, full + part, 1.0)
    released = per_batch[None, :] * (np.clip(good, 0.0, passed)
                                     + part[None, :] * np.clip(p_good, 0.0, p_pass))
    delay = _delays(weeks, weeks_sd, paths, rng)
    release_t = index.prod_t[None, :] + delay.astype(np.int64)
    return np.where(known, release_t, plan_t), np.where(known, released, plan_q)


def failed_rows(index: TwinIndex, failed: pl.DataFrame) -> np.ndarray:
    """(J,) batches failing on every path per production row, from ``resource_id, t, product_id, batches``.

    ``product_id`` may be null where the resource starts one product that week.

    Raises:
        ParameterError: a failed batch names no planned start, or a resource starting several products
            that week without naming the product, or more batches than the start has.
    """
    out = np.zeros(len(index.prod_t))
    if failed.height == 0:
        return out
    rows = index.prod_keys.with_columns(t=pl.Series(index.prod_t), _r=pl.int_range(pl.len()),
                                        _b=pl.Series(np.ceil(index.prod_full + index.prod_part - 1e-6)))
    for f in failed.iter_rows(named=True):  # a handful of what-ifs, not data rows
        hit = rows.filter((pl.col("resource_id") == f["resource_id"]) & (pl.col("t") == f["t"]))
        if f["product_id"] is not None:
            hit = hit.filter(pl.col("product_id") == f["product_id"])
        what = f"failed batch {f['resource_id']} week {f['week']}" + (
            f" product {f['product_id']}" if f["product_id"] is not None else "")
        if hit.height == 0:
            raise ParameterError(f"{what}: the plan starts nothing there that week")
        if hit.height > 1:
            raise ParameterError(f"{what}: the resource starts {', '.join(hit['product_id'])} that week; "
                                 "name the product")
        if f["batches"] > hit["_b"][0]:
            raise ParameterError(f"{what}: {f['batches']} batches fail but the start has {hit['_b'][0]:g}")
        out[hit["_r"][0]] += f["batches"]
    return out


def _delays(mean: np.ndarray, sd: np.ndarray, paths: int, rng: np.random.Generator) -> np.ndarray:
    """Whole weeks to release (P, J): two-point around the mean, plus any extra spread, at least 0."""
    base = np.floor(mean)
    frac = mean - base
    late = rng.random((paths, len(mean))) < frac[None, :]
    extra_sd = np.sqrt(np.maximum(sd ** 2 - frac * (1 - frac), 0.0))
    extra = np.rint(extra_sd[None, :] * rng.standard_normal((paths, len(mean))))
    return np.maximum(base[None, :] + late + extra, 0.0)
