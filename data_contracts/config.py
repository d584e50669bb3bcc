"""Configuration, errors and the outcome of the input contracts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import polars as pl
import pydantic

from data_contracts import schema

__all__ = [
    "ContractConfig",
    "ContractError",
    "PlanContractError",
    "ContractOutcome",
    "ParameterError",
    "QUARANTINE_COLUMNS",
    "RESULT_COLUMNS",
    "WARNING_SCHEMA",
    "SUPPORTED_MIN_DATE",
    "SUPPORTED_MAX_DATE",
]

#: Dates the contracts can check at all: Great Expectations compares pandas ``datetime64[ns]`` values,
#: which span 1677-09-21 … 2262-04-11; whole years inside that. A date outside them breaks ``date_range``.
SUPPORTED_MIN_DATE = date(1678, 1, 1)
SUPPORTED_MAX_DATE = date(2261, 12, 31)

#: Quarantine frame columns: ``schema.QUARANTINE`` without ``run_id`` (the warehouse adds it).
QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    c: t for c, t in schema.QUARANTINE.columns.items() if c != "run_id"
}
#: Results frame columns: ``schema.CONTRACT_RESULTS`` without ``run_id``.
RESULT_COLUMNS: dict[str, pl.DataType] = {
    c: t for c, t in schema.CONTRACT_RESULTS.columns.items() if c != "run_id"
}
#: Warnings: findings that do not reject rows (e.g. demand no plant can reach); ``key`` names the item:
#: ``schema.RUN_WARNINGS`` without ``run_id``.
WARNING_SCHEMA: dict[str, pl.DataType] = {
    c: t for c, t in schema.RUN_WARNINGS.columns.items() if c != "run_id"
}


class ContractConfig(pydantic.BaseModel, frozen=True, extra="forbid"):
    """Thresholds and bounds of the input contracts.

    Attributes:
        max_reject_share: Share of an entity's rows that may be quarantined; above it the run fails.
        max_reject_share_by_entity: Per-entity override of ``max_reject_share``.
        max_quantity: Sanity bound on every quantity column; a larger value is quarantined.
        min_date: Earliest plausible date in any date column.
        max_years_ahead: Latest plausible date = run date + this many years (requested weeks, receipts,
            calendar, expiry dates).
        failing_rows_shown: How many offending rows a threshold error or report lists.
        never_expires: The date an ERP writes for "never expires" (``9999-12-31``); in a column where
            null means no expiry (``schema.NO_EXPIRY_COLUMNS``) it is read as null. None: no sentinel.
        max_cost: Plausible maximum of every cost and penalty column (currency per unit, or per unit
            and week); a larger value is quarantined (rule ``max_value``).
        max_hours_per_unit: Plausible maximum of a routing's hours per unit.
        max_hours_per_week: Plausible maximum of a resource's hours per week and a calendar week's hours.
        max_weeks: Plausible maximum of lead times, release lags and shelf lives, in weeks.
        max_text_length: Longest text value accepted in any text column (rule ``max_length``).
        refused_rows_stored: An entity refused for too many rejected rows keeps the quarantine rows of
            its first this many offending rows only (every row stays in the raw table), so junk input
            costs bounded memory and warehouse space.
        decimal: The decimal mark of the source's numbers: ``.`` (default; ``1,5`` is then rejected with the
            rule ``decimal_comma``) or ``,`` (``1,5`` and ``1.234,5`` read as 1.5 and 1234.5). Declared in
            the source config (``decimal: ","``, :mod:`data_contracts.formats`).
        week_start: The day a source's weeks are labelled by: ``monday`` (default, ISO; a Sunday is
            rejected with the rule ``sunday_week``) or ``sunday`` (each week read as the ISO week of the
            Monday after). Declared in the source config (``week_start: sunday``).
        data_docs: When a run writes its GX Data Docs: ``on_failure`` (default) where some row broke an
            expectation (GX ran, so is loaded); otherwise the run keeps their results and ``plantwin
            data-docs --run RUN_ID`` writes the same site on request (GX's import, ≈ 3 CPU-s, only then).
            ``always``: every run writes them.
    """

    max_reject_share: float = pydantic.Field(0.05, ge=0.0, le=1.0)
    max_reject_share_by_entity: dict[str, float] = pydantic.Field(default_factory=dict)
    max_quantity: float = pydantic.Field(10_000_000.0, gt=0)
    min_date: date = date(2000, 1, 1)
    max_years_ahead: int = pydantic.Field(10, ge=0)
    failing_rows_shown: int = pydantic.Field(5, ge=1)
    never_expires: date | None = date(9999, 12, 31)
    max_cost: float = pydantic.Field(1e9, gt=0)
    max_hours_per_unit: float = pydantic.Field(10_000.0, gt=0)
    max_hours_per_week: float = pydantic.Field(10_000.0, gt=0)
    max_weeks: int = pydantic.Field(520, ge=1)
    max_text_length: int = pydantic.Field(1_000, ge=1)
    refused_rows_stored: int = pydantic.Field(1_000, ge=1)
    decimal: Literal[".", ","] = "."
    week_start: Literal["monday", "sunday"] = "monday"
    data_docs: Literal["on_failure", "always"] = "on_failure"

    @pydantic.field_validator("min_date")
    @classmethod
    def _supported_min_date(cls, v: date) -> date:
        if v < SUPPORTED_MIN_DATE:
            raise ValueError(f"min_date must be on or after {SUPPORTED_MIN_DATE} (the supported date range)")
        return v

    @pydantic.field_validator("max_reject_share_by_entity")
    @classmethod
    def _known_entities(cls, v: dict[str, float]) -> dict[str, float]:
        known = {t.name for t in schema.INPUT_ENTITIES}
        unknown = sorted(set(v) - known)
        if unknown:
            raise ValueError(f"unknown entities {unknown}; known: {sorted(known)}")
        bad = {k: s for k, s in v.items() if not 0.0 <= s <= 1.0}
        if bad:
            raise ValueError(f"shares must be in [0, 1]: {bad}")
        return v

    def reject_share_limit(self, entity: str) -> float:
        """The largest share of ``entity``'s rows that may be quarantined."""
        return self.max_reject_share_by_entity.get(entity, self.max_reject_share)


class ParameterError(ValueError):
    """Run parameters that cannot work (a bad horizon, an unknown scenario, a missing folder or run).

    Defined at the bottom of the package graph so that every layer (report, twin, flows, CLI) can raise it;
    ``flows.settings`` re-exports it.
    """


class ContractError(Exception):
    """An input fails its contract as a whole: structure (missing entity or column, empty master data)
    or too many rejected rows. The message names the file, column, rule and offending rows.

    Attributes:
        outcome: For a threshold failure, what was validated up to the failing entity (its quarantine
            and results are worth storing); None for a structural failure.
    """

    def __init__(self, message: str, outcome: ContractOutcome | None = None):
        super().__init__(message)
        self.outcome = outcome


class PlanContractError(Exception):
    """A plan breaks an output contract (stock balance, negative stock, capacity, unknown lane).

    Attributes:
        results: One row per output expectation (``RESULT_COLUMNS``), failed ones with their counts.
    """

    def __init__(self, message: str, results: pl.DataFrame | None = None):
        super().__init__(message)
        self.results = results


@dataclass(frozen=True)
class ContractOutcome:
    """What the input contracts made of a run's raw rows.

    Attributes:
        clean: Entity → typed frame with exactly the schema columns in order (metadata dropped). Optional
            entities absent from the input are absent here too.
        quarantine: One row per (raw row, rule) broken, columns ``QUARANTINE_COLUMNS``.
        results: One row per expectation checked, columns ``RESULT_COLUMNS``.
        warnings: Findings that reject no row (``WARNING_SCHEMA``), e.g. demand at a DC that no plant
            making the product can reach; each also fails an expectation in ``results``.
        validations: Entity (or ``network``) → the Great Expectations validation result, for Data Docs.
        kept: Entity → clean rows left where they are (in the warehouse, :mod:`data_contracts.screen`) and
            not in ``clean``, whose frame then holds only the other clean rows.
        positions: For the entities in ``kept``: each row of ``clean[entity]``'s position among the raw rows.
        hints: ``plantwin validate``'s "How to fix" lines (:func:`data_contracts.formats.fix_hints`,
            :func:`data_contracts.casting.date_form_hints`): one per file and recognised problem, its rows
            counted on every row the rule broke, also where a refused entity's ``quarantine`` keeps its first
            ``refused_rows_stored`` rows only.
        rejected: Entity → rows rejected, counted on every row (a refused entity's ``quarantine`` may keep
            fewer).
        rule_rows: Rows rejected per entity and rule (``entity``, ``rule``, ``rows``), counted the same way.
    """

    clean: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    results: pl.DataFrame
    warnings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=WARNING_SCHEMA))
    validations: dict[str, Any] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    positions: dict[str, pl.Series] = field(default_factory=dict)
    hints: tuple[str, ...] = ()
    rejected: dict[str, int] = field(default_factory=dict)
    rule_rows: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"entity": pl.String, "rule": pl.String, "rows": pl.UInt32}))

    def clean_rows(self, entity: str) -> int:
        """How many of ``entity``'s rows are clean (in ``clean`` and kept where they are)."""
        return self.clean[entity].height + self.kept.get(entity, 0)
