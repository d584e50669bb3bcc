"""Typed run parameters: the shape of a flow's parameters, the CLI's options and a config file.

Every model is frozen and refuses unknown keys, so a typo in a config or a Prefect form is an error,
not a silently ignored setting.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from data_contracts import schema
from data_contracts.config import ContractConfig, ParameterError
from forecasting import ForecastConfig
from optimization import PlanConfig
from twin.config import TwinConfig
from twin.process import ProcessConfig

__all__ = ["ParameterError", "PlanningParameters", "ReplanParameters", "RunParameters", "ScenarioParameters",
           "TwinParameters", "VolumeGuard", "parameters_from_file"]


class VolumeGuard(BaseModel):
    """How far an entity's row count may fall below the previous accepted load before the run stops.

    Each value is a share (0.2 = 20 % fewer rows); 1 turns the check off for that group.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_drop_orders: float = Field(0.2, ge=0, le=1, description="Orders (every version the run reads).")
    max_drop_inventory: float = Field(0.3, ge=0, le=1, description="Inventory lots.")
    max_drop_master: float = Field(
        0.1, ge=0, le=1, description="Master data: products, sites, resources, routings, lanes."
    )

    def limits(self) -> dict[str, tuple[float, str]]:
        """entity → (largest allowed drop, the setting's name) for :func:`warehouse.volume.check_volume`."""
        master = (schema.PRODUCTS, schema.SITES, schema.RESOURCES, schema.ROUTINGS, schema.LANES)
        out = {schema.ORDERS.name: (self.max_drop_orders, "volume_guard.max_drop_orders"),
               schema.INVENTORY.name: (self.max_drop_inventory, "volume_guard.max_drop_inventory")}
        out.update({t.name: (self.max_drop_master, "volume_guard.max_drop_master") for t in master})
        return out


class PlanningParameters(BaseModel):
    """What every planning run takes: where to write, which scenario, the demand, the model's settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse: Path = Field(description="DuckDB warehouse file the run writes (created if missing).")
    scenario: str = Field("base", description="Scenario name; `base` is the plan of record.")
    demand_file: Path | None = Field(
        None,
        description="Optional consensus demand (product_id, site_id, week, quantity) to plan against "
        "instead of the statistical forecast.",
    )
    service_level_overrides: dict[str, float] = Field(
        default_factory=dict, description="product_id → service level in (0, 1), overriding products.csv."
    )
    plan: PlanConfig = Field(default_factory=PlanConfig, description="Planning model and solver settings.")
    plan_of_record: bool = Field(
        False,
        description="Make this base run the plan of record even if its horizon or demand source differs "
        "from the current one's (a run of the same scope replaces it anyway).",
    )
    lock_wait_seconds: float = Field(
        600, ge=0, description="How long to wait for another run holding the warehouse before failing."
    )

    @field_validator("service_level_overrides")
    @classmethod
    def _levels_in_range(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {p: v for p, v in value.items() if not 0 < v < 1}
        if bad:
            raise ValueError(f"service levels must be in (0, 1); got {bad}")
        return value

    @field_validator("scenario")
    @classmethod
    def _scenario_name(cls, value: str) -> str:
        if not value or not all(ch.isalnum() or ch in "-_." for ch in value):
            raise ValueError(f"scenario name {value!r} must be letters, digits, '-', '_' or '.'")
        return value

    @property
    def horizon_weeks(self) -> int:
        return self.plan.horizon_weeks


class RunParameters(PlanningParameters):
    """Parameters of a run from an input folder (weekly planning, nightly refresh)."""

    input_dir: Path | None = Field(None, description="Folder with one CSV or Parquet file per input entity.")
    source: Path | None = Field(
        None,
        description="Source config file (TOML or YAML) mapping entities to database tables or queries; "
        "instead of input_dir.",
    )
    run_date: date | None = Field(
        None, description="Date the plan starts from; default: the inventory snapshot's as-of date."
    )
    forecast: ForecastConfig = Field(default_factory=ForecastConfig, description="Forecasting settings.")
    contracts: ContractConfig = Field(default_factory=ContractConfig, description="Data contract settings.")
    process: ProcessConfig = Field(
        default_factory=ProcessConfig,
        description="Learning yields, QC failure rates and release times from batch records (use_learned: "
        "plan with them).",
    )
    input_settle_seconds: float = Field(
        1.0, ge=0, description="An input folder is read once its files' sizes and times stay unchanged this "
        "long (no wait when _READY or _SHA256SUMS is there, or every file is older); 0: no wait.",
    )
    input_settle_timeout_seconds: float = Field(
        120.0, gt=0, description="How long to wait for an input folder still being written before failing.",
    )
    volume_guard: VolumeGuard = Field(
        default_factory=VolumeGuard,
        description="Largest drop of an entity's row count against the previous accepted load.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RunParameters:
        if (self.input_dir is None) == (self.source is None):
            raise ValueError("give exactly one of input_dir (a folder of files) or source (a source config file)")
        return self


class ReplanParameters(PlanningParameters):
    """Parameters of a replan: plan again on an earlier run's inputs and forecast, without re-ingesting."""

    base_run_id: str | None = Field(
        None, description="Run whose validated inputs and forecast to reuse; default: the latest successful run "
        "that is not a what-if scenario (whose inputs and forecast are changed ones)."
    )


P = TypeVar("P", bound=PlanningParameters)


def parameters_from_file(model: type[P], path: Path | None, **given: Any) -> P:
    """Run parameters from a YAML or JSON file (the shape of a deployment's ``params``) and the command line.

    Values in ``given`` that are not None win over the file's; mappings (``plan``, ``forecast``,
    ``contracts``, ``process``) are merged key by key, so ``--horizon 13`` keeps the file's solver settings.

    Raises:
        ParameterError: the file cannot be read, is not a mapping, or holds an unknown or invalid setting
            (the message names the file and each setting's path).
    """
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))  # JSON is YAML too
        except OSError as exc:
            raise ParameterError(f"{path}: cannot be read: {exc.strerror or exc}") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ParameterError(f"{path}{where}: not valid YAML or JSON: {getattr(exc, 'problem', exc)}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ParameterError(f"{path}: a parameters file is a mapping of settings (plan:, forecast:, ...), "
                                 f"not a {type(loaded).__name__}")
        data = loaded or {}
    for key, value in given.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        if path is None:
            raise
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'file'}: {err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ParameterError(f"{path}: {problems}") from None


class TwinParameters(BaseModel):
    """Parameters of a twin replay: which warehouse and run, and the replay's settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warehouse: Path = Field(description="DuckDB warehouse holding the run's plan.")
    run_id: str | None = Field(
        None, description="Run whose plan to replay; default: the latest successful run of the scenario.")
    scenario: str | None = Field(
        None, description="Scenario whose latest successful run to replay when no run_id is given; "
        "default: `base`, the plan of record."
    )
    twin: TwinConfig = Field(default_factory=TwinConfig, description="Replay settings.")


class ScenarioParameters(ReplanParameters):
    """Parameters of a scenario run: a replan with a scenario file (whose ``name`` names the run)."""

    scenario_file: Path = Field(description="YAML file of the scenario's changes.")
