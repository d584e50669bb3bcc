"""Learning the manufacturing process from batch records ("smart quality"). Pure functions on frames.

Per routing (product × resource) the batch records say three things the routing's master data also
states or implies:

* **yield** — ``actual_qty / planned_qty`` of batches that passed QC;
* **QC failure rate** — the share of decided batches (passed or failed) that failed;
* **weeks to release** — whole ISO weeks from the start's week to the release's week (the plan's weekly
  buckets: a batch started in week ``t`` and released in week ``t + k`` took ``k`` weeks).

Only the most recent :attr:`ProcessConfig.window_batches` decided batches of a routing count (a process
drifts). With few batches the estimates are shrunk toward a prior, the routing's own value, with a
prior weight of :attr:`ProcessConfig.prior_batches` batches (a conjugate normal prior with known weight):

    learned = (k · prior + n · sample mean) / (k + n)

so 2 batches move a yield of 0.92 only 2/7 of the way toward what they show, and 40 batches almost all
the way. The routing has no failure rate, so its prior is the pooled rate of all routings' batches
(empirical Bayes) with weight :attr:`ProcessConfig.failure_prior_batches`: a Beta(k·p̄, k·(1 − p̄)) prior,
whose posterior mean and standard deviation are stored. Batch-to-batch standard deviations of yield and
weeks to release are shrunk the same way toward the within-routing variance pooled over all routings.

The plan can use what was learned: :func:`apply_process_estimates` replaces each routing's yield by
``learned yield × (1 − failure rate)`` (good units per unit started) and its release weeks by the learned
mean rounded up (conservative: a plan that waits a little longer than the average batch).
"""

from __future__ import annotations

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from data_contracts import schema

__all__ = ["ProcessConfig", "apply_process_estimates", "batch_observations", "estimate_process"]

_KEY = ["product_id", "resource_id"]
#: a learned mean this close above a whole week still rounds down to it (float noise, not a later week)
_ROUND_TOL = 1e-9


class ProcessConfig(BaseModel):
    """How batch records are turned into process estimates and whether the plan uses them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    use_learned: bool = Field(
        True,
        description="Plan with the learned yield (× (1 − QC failure rate)) and release weeks instead of "
        "the routings' values.",
    )
    prior_batches: float = Field(
        5.0, ge=0, description="Weight of the routing's yield and release weeks, in batches."
    )
    failure_prior_batches: float = Field(
        10.0, ge=0, description="Weight of the pooled QC failure rate of all routings, in batches."
    )
    window_batches: int = Field(
        40, ge=1, description="Most recent decided batches per routing that the estimates use."
    )


def batch_observations(batches: pl.DataFrame, window_batches: int) -> pl.DataFrame:
    """One row per decided batch of the last ``window_batches`` per routing, with what it shows.

    A batch is decided when it has a release (or rejection) date and a QC outcome; a passed batch
    with a positive planned quantity and an actual quantity gives a yield and weeks to release.

    Args:
        batches: the ``batches`` entity's columns.
        window_batches: most recent decided batches kept per product × resource.

    Returns:
        ``product_id, resource_id, start_date, failed, yield, weeks``.
    """
    passed_ok = pl.col("qc_passed") & (pl.col("planned_qty") > 0) & pl.col("actual_qty").is_not_null()
    return (
        batches.filter(pl.col("release_date").is_not_null() & pl.col("qc_passed").is_not_null())
        .sort("start_date", "batch_id", descending=True)
        .with_columns(pl.int_range(pl.len()).over(_KEY).alias("_recent"))
        .filter(pl.col("_recent") < window_batches)
        .select(
            *_KEY, "start_date",
            failed=~pl.col("qc_passed"),
            **{"yield": pl.when(passed_ok).then(pl.col("actual_qty") / pl.col("planned_qty"))},
            weeks=pl.when(pl.col("qc_passed")).then(
                (_monday("release_date") - _monday("start_date")).dt.total_days() // 7
            ).cast(pl.Float64),
        )
    )


def _monday(col: str) -> pl.Expr:
    return pl.col(col) - pl.duration(days=pl.col(col).dt.weekday() - 1)


def _stats(obs: pl.DataFrame, col: str) -> list[pl.Expr]:
    v = pl.col(col).drop_nulls()
    return [
        v.len().alias(f"n_{col}"),
        v.mean().alias(f"mean_{col}"),
        ((v - v.mean()) ** 2).sum().alias(f"ss_{col}"),
    ]


def _pooled_var(stats: pl.DataFrame, col: str) -> float:
    """Within-routing variance pooled over routings with at least two observations (0 when none)."""
    s = stats.filter(pl.col(f"n_{col}") >= 2).select(
        pl.col(f"ss_{col}").sum().alias("ss"), (pl.col(f"n_{col}") - 1).sum().alias("df")
    )
    ss, df = s.row(0)
    return float(ss) / float(df) if df else 0.0


def _shrunk(col: str, prior: pl.Expr, k: float, pooled_var: float) -> list[pl.Expr]:
    """Shrunk mean and batch-to-batch standard deviation of observation column ``col``."""
    n = pl.col(f"n_{col}").fill_null(0).cast(pl.Float64)  # a routing without batches has none
    mean = pl.col(f"mean_{col}").fill_null(0.0)  # weighted by n = 0 below
    ss = pl.col(f"ss_{col}").fill_null(0.0)
    learned = pl.when(n + k > 0).then((k * prior + n * mean) / (n + k)).otherwise(prior)
    var = pl.when(n - 1 + k > 0).then((k * pooled_var + ss) / (n - 1 + k)).otherwise(pooled_var)
    return [learned, var.clip(lower_bound=0.0).sqrt()]


def estimate_process(batches: pl.DataFrame, routings: pl.DataFrame, config: ProcessConfig) -> pl.DataFrame:
    """Learned yield, QC failure rate and weeks to release per routing, beside the routing's values.

    Batches of a product × resource that has no routing are not used (the contracts reject batches of
    unknown resources; a batch of a product off its routings says nothing the plan can use).

    Args:
        batches: the ``batches`` entity (may be empty).
        routings: the ``routings`` entity.
        config: prior weights and window.

    Returns:
        The ``process_estimates`` columns without ``run_id``, one row per routing, with
        ``applied = config.use_learned``.
    """
    obs = batch_observations(batches, config.window_batches).join(
        routings.select(_KEY), on=_KEY, how="semi"
    )
    stats = obs.group_by(_KEY).agg(
        pl.len().alias("batches"),
        pl.col("failed").sum().cast(pl.Int64).alias("failed_batches"),
        pl.col("start_date").max().alias("last_batch_start"),
        *_stats(obs, "yield"),
        *_stats(obs, "weeks"),
    )
    decided = int(stats["batches"].sum() or 0)
    pooled_failure = float(stats["failed_batches"].sum() or 0) / decided if decided else 0.0
    k, kf = config.prior_batches, config.failure_prior_batches
    n = pl.col("batches").cast(pl.Float64)
    a = kf * pooled_failure + pl.col("failed_batches").cast(pl.Float64)
    failure = pl.when(n + kf > 0).then(a / (n + kf)).otherwise(pooled_failure)
    y_mean, y_sd = _shrunk("yield", pl.col("routing_yield"), k, _pooled_var(stats, "yield"))
    w_mean, w_sd = _shrunk("weeks", pl.col("routing_release_weeks").cast(pl.Float64), k,
                           _pooled_var(stats, "weeks"))
    cols = [c for c in schema.PROCESS_ESTIMATES.column_names if c != "run_id"]
    return (
        routings.select(*_KEY, pl.col("yield").alias("routing_yield"),
                        pl.col("release_weeks").alias("routing_release_weeks"))
        .join(stats, on=_KEY, how="left", validate="1:1")
        .with_columns(pl.col("batches", "failed_batches").fill_null(0))  # no batch records: zero batches
        .with_columns(
            learned_yield=y_mean.clip(1e-6, 1.0),
            yield_sd=y_sd,
            learned_failure_rate=failure,
            learned_release_weeks=w_mean.clip(lower_bound=0.0),
            release_weeks_sd=w_sd,
        )
        .with_columns(
            failure_rate_sd=(
                pl.col("learned_failure_rate") * (1 - pl.col("learned_failure_rate")) / (n + kf + 1)
            ).sqrt(),
            effective_yield=(pl.col("learned_yield") * (1 - pl.col("learned_failure_rate"))).clip(1e-6, 1.0),
            effective_release_weeks=(pl.col("learned_release_weeks") - _ROUND_TOL).ceil().clip(lower_bound=0)
            .cast(pl.Int64),
            applied=pl.lit(config.use_learned),
            prior_batches=pl.lit(float(k)),
        )
        .select(pl.col(c).cast(schema.PROCESS_ESTIMATES.columns[c]) for c in cols)
        .sort(_KEY)
    )


def apply_process_estimates(routings: pl.DataFrame, estimates: pl.DataFrame) -> pl.DataFrame:
    """Routings with the learned effective yield and release weeks where an estimate exists.

    Args:
        routings: the ``routings`` entity.
        estimates: ``product_id, resource_id, effective_yield, effective_release_weeks`` (at most one row
            per routing; routings without a row keep their values).

    Returns:
        ``routings`` with the same columns, rows and order; ``yield`` = learned yield × (1 − failure
        rate), ``release_weeks`` = learned weeks to release rounded up.
    """
    eff = estimates.select(*_KEY, "effective_yield", "effective_release_weeks")
    return (
        routings.join(eff, on=_KEY, how="left", validate="1:1", maintain_order="left")
        .with_columns(
            pl.coalesce("effective_yield", "yield").alias("yield"),
            pl.coalesce("effective_release_weeks", "release_weeks").alias("release_weeks"),
        )
        .select(routings.columns)
    )
