"""Typed run parameters: the shape of a flow's parameters, the CLI's options and a config file.

Every model is frozen and refuses unknown keys, so a typo in a config or a Prefect form is an error,
not a silently ignored setting.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from data_contracts.config import ContractConfig
from forecasting import ForecastConfig
from optimization import PlanConfig

__all__ = ["RunParameters", "ParameterError"]


class ParameterError(ValueError):
    """Run parameters that cannot work (a bad horizon, an unknown scenario, a missing folder)."""


class RunParameters(BaseModel):
    """Parameters of a planning run (weekly planning, replan or scenario)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_dir: Path = Field(description="Folder with one CSV or Parquet file per input entity.")
    warehouse: Path = Field(description="DuckDB warehouse file the run writes (created if missing).")
    run_date: date | None = Field(
        None, description="Date the plan starts from; default: the inventory snapshot's as-of date."
    )
    demand_file: Path | None = Field(
        None,
        description="Optional consensus demand (product_id, site_id, week, quantity) to plan against "
        "instead of the statistical forecast.",
    )
    scenario: str = Field("base", description="Scenario name; `base` is the plan of record.")
    service_level_overrides: dict[str, float] = Field(
        default_factory=dict, description="product_id → service level in (0, 1), overriding products.csv."
    )
    forecast: ForecastConfig = Field(default_factory=ForecastConfig, description="Forecasting settings.")
    plan: PlanConfig = Field(default_factory=PlanConfig, description="Planning model and solver settings.")
    contracts: ContractConfig = Field(default_factory=ContractConfig, description="Data contract settings.")

    @field_validator("service_level_overrides")
    @classmethod
    def _levels_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {p: v for p, v in value.items() if not 0 < v < 1}
        if bad:
            raise ValueError(f"service levels must be in (0, 1); got {bad}")
        return value

    @property
    def horizon_weeks(self) -> int:
        return self.plan.horizon_weeks
