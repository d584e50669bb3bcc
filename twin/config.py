"""Settings of a twin replay (a frozen pydantic model: a flow parameter and a config file's shape)."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, model_validator

from forecasting.config import _CLUSTER  # what a cluster address is: the forecast's rule

__all__ = ["FailedBatch", "TwinConfig"]


class FailedBatch(BaseModel):
    """A what-if: batches of a planned start that fail QC on every path (on top of sampled failures)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource_id: str = Field(description="Resource the batch is started on.")
    week: date = Field(description="Monday of the week the batch starts.")
    product_id: str | None = Field(
        None, description="Product started; needed only when the resource starts several that week.")
    batches: int = Field(1, ge=1, description="Batches of that start that fail.")


class TwinConfig(BaseModel):
    """How a stored plan is replayed over sample paths."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paths: int = Field(1000, ge=1, le=1_000_000, description="Sample paths simulated.")
    seed: int = Field(0, ge=0, description="Random seed; the same seed gives the same paths.")
    demand_variance: bool = Field(
        True, description="Draw demand paths from the forecast's quantiles; False: the plan's own demand."
    )
    process_variance: bool = Field(
        True,
        description="Batches fail QC, yield and release as the learned process says; False: production "
        "releases exactly as planned.",
    )
    week_correlation: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="Correlation of a series' demand quantile ranks from one week to the next (a Gaussian "
        "copula, AR(1)): forecast errors persist, so a bad week tends to follow a bad week. 0 = "
        "independent weeks. The weekly marginals are the forecast's quantiles whatever the value.",
    )
    bootstrap_classes: tuple[str, ...] = Field(
        ("intermittent", "lumpy"),
        description="Demand classes (forecast_series.series_class) whose paths are drawn from their own "
        "history instead of the forecast's quantiles.",
    )
    match_plan_mean: bool = Field(
        True,
        description="Scale each series-week's demand draw so that its mean is the plan's demand (the "
        "quantile function's own mean, or the bootstrapped history's mean, brought to the planned "
        "quantity; the shape kept). False: the forecast's quantiles as stored, whose mean is above the "
        "forecast's where a band is clipped at zero, and the history's own level for bootstrapped series.",
    )
    bootstrap_weeks: int = Field(
        104, ge=1, description="Most recent weeks of history a bootstrapped series draws from."
    )
    follow_plan_service: bool = Field(
        True,
        description="Serve what the plan serves each week plus any need it did not foresee, as stock allows "
        "(the plan may hold stock back on purpose, e.g. toward a safety-stock target); False: serve all "
        "that stock allows.",
    )
    catch_up_shipments: bool = Field(
        True,
        description="What a planned shipment could not take (its origin short of stock: a batch failed, "
        "yielded less or released late) leaves with the next planned shipment on the same lane, as stock "
        "allows, as the plan's own service serves backlog; False: a planned shipment is one chance, and "
        "a unit released after it stays at the plant.",
    )
    failed_batches: tuple[FailedBatch, ...] = Field(
        (),
        description="Planned batches that fail QC on every path (a what-if: what does losing this batch cost "
        "downstream?). Applied with or without process variance.",
    )
    shortage_tolerance: float = Field(
        1e-6, ge=0, description="Units of backlog or lost demand below which a week does not count as short."
    )
    cluster: str | None = Field(
        None, description="Dask scheduler address ('tcp://host:8786') whose workers run the blocks of paths, "
        "or 'local' for a local cluster of one worker process per usable core; None = this process. The "
        "flow connects at its edge (flows/cluster.py); the twin's tables are identical either way.",
    )
    cluster_timeout_s: float = Field(
        10.0, gt=0, description="Seconds to wait for the cluster's scheduler and a first worker before the "
        "replay fails naming `twin.cluster`.",
    )

    @model_validator(mode="after")
    def _check(self) -> TwinConfig:
        if self.cluster is not None and not _CLUSTER.fullmatch(self.cluster):
            raise ValueError(f"cluster must be a Dask scheduler address ('tcp://host:8786', 'tls://…') or "
                             f"'local', got {self.cluster!r}")
        return self
