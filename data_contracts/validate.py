"""Input contracts: raw text rows of every entity → typed clean frames, quarantined rows and results.

Order of work (:func:`validate_inputs`):

1. Structure, for all entities at once (raises :class:`ContractError`): every required entity is present,
   every required column is present (a column with a schema default may be absent and is filled; a
   non-nullable column that is null in every row counts as missing, since the warehouse stores absent
   columns as null), master data (products, sites, resources, routings, lanes) has rows. Columns beyond
   the contract are dropped with a note in the results.
2. Entities in ``schema.INPUT_ENTITIES`` order, master data first: cast text to types (rule ``type``),
   then validate the typed frame with its GX suite (see :mod:`data_contracts.rules`); references are
   checked against the *clean* rows of the entities before, so rejecting a product makes its orders
   unknown. A row breaking any rule is quarantined (one row per rule broken); the others are clean.
   Duplicated keys reject every row sharing the key: which one is right is for an operator to decide.
   Above ``max_reject_share`` of an entity's rows rejected, the entity is refused and the run fails,
   after every entity has been validated (one pass reports every entity's problems; all rows of a refused
   entity are the reference of the entities after it, so its rejections are not repeated downstream). Every check is computed in polars first
   (:func:`data_contracts.checks.broken`): junk beyond the share is refused before GX runs, and a refused
   entity keeps the quarantine of its first ``refused_rows_stored`` offending rows only (bounded memory
   on a million junk lines). Otherwise GX runs every expectation on the rows some check breaks (not the
   clean millions; nothing at all where no row is broken), must agree with polars row for row, and its
   results are counted over every row (:mod:`data_contracts.gx_runner`). An entity handed over as
   :class:`RawRows` (its rows left in the warehouse) is first screened in SQL
   (:mod:`data_contracts.screen`): only the rows the SQL is unsure of go through the steps above, the
   others are counted as clean where they are.
3. The network: demand (not cancelled orders) at a site that no plant making the product reaches through
   lanes is a failed ``network`` expectation and a warning, not a rejected row: the demand is real and
   the plan should show it short (reason ``no_route``) rather than hide it.

Step 1 is :mod:`data_contracts.validate_structure`; how an entity's broken rows are judged in step 2 (the
quarantine, the rows per rule, the "How to fix" lines, the refusal) is
:mod:`data_contracts.validate_quarantine`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import polars as pl

from data_contracts import schema
from data_contracts.casting import TYPE_RULE, cast_frame
from data_contracts.config import (
    QUARANTINE_COLUMNS,
    SUPPORTED_MAX_DATE,
    SUPPORTED_MIN_DATE,
    RESULT_COLUMNS,
    WARNING_SCHEMA,
    ContractConfig,
    ContractError,
    ContractOutcome,
)
from data_contracts.findings import continuous_campaign_warnings
from data_contracts.formats import default_text, week_start_monday, zero_means_none
from data_contracts.gx_runner import CheckOutcome, GxValidator, verdicts
from data_contracts.network import bom_cycles, demand_reachability, zero_lead_cycle_flags
from data_contracts.rules import Check, E, entity_checks
from data_contracts.screen import Profile, ScreenQuery, Split, screen_query
from data_contracts.validate_quarantine import _IDX, _NO_RULE_ROWS, _judge
from data_contracts.validate_structure import MASTER_ENTITIES, _profile, _structure_errors

__all__ = ["validate_inputs", "MASTER_ENTITIES", "NETWORK", "RawRows"]

#: Entity name of the cross-entity network checks in results and warnings.
NETWORK = "network"


class RawRows(Protocol):
    """An entity's raw rows where they are (the warehouse's ``warehouse.screen.WarehouseRows``)."""

    profile: Profile

    def frame(self) -> pl.DataFrame:
        """Every row, as a raw frame."""

    def split(self, query: ScreenQuery) -> Split:
        """The rows ``query`` is unsure of, read; the others counted."""


def _prepare(frame: pl.DataFrame, t: schema.Table) -> pl.DataFrame:
    """Schema columns as text (defaults filled) plus metadata and a positional index."""
    n = frame.height
    cols = []
    for c in t.columns:
        expr = pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String).alias(c)
        if t.defaults.get(c) is not None:  # a None default keeps the null
            expr = expr.fill_null(default_text(t.defaults[c]))
        cols.append(expr)
    meta = [
        (
            pl.col(schema.LOAD_ID).cast(pl.String)
            if schema.LOAD_ID in frame.columns
            else pl.lit(None, pl.String)
        ).alias("load_id"),
        (
            pl.col(schema.SOURCE_FILE).cast(pl.String)
            if schema.SOURCE_FILE in frame.columns
            else pl.lit(t.name)
        ).alias("source_file"),
        (
            pl.col(schema.SOURCE_ROW).cast(pl.Int64)
            if schema.SOURCE_ROW in frame.columns
            else pl.int_range(1, n + 1, dtype=pl.Int64)
        ).alias("source_row"),
    ]
    return frame.select(*cols, *meta).with_row_index(_IDX).with_columns(pl.col(_IDX).cast(pl.Int64))


def _never_expires(
    typed: pl.DataFrame, failed: pl.DataFrame, t: schema.Table, config: ContractConfig
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The "never expires" sentinel date read as null (no expiry) where null means that."""
    columns = [c for e, c in schema.NO_EXPIRY_COLUMNS if e == t.name]
    if config.never_expires is None or not columns:
        return typed, failed
    return (
        typed.with_columns(
            pl.when(pl.col(c) == config.never_expires).then(None).otherwise(pl.col(c)).alias(c)
            for c in columns
        ),
        failed,
    )


def _polars_outcomes(verdicts: pl.DataFrame, checks: list[Check], kept: int = 0) -> list[CheckOutcome]:
    """The outcome of every check as polars computes it (see :func:`gx_runner.verdicts`), without GX;
    ``kept`` more rows passed every check where they are."""
    outcomes = []
    for i, check in enumerate(checks):
        rows = verdicts.get_column(str(i)).arg_true().to_list()
        outcomes.append(CheckOutcome(check, not rows, verdicts.height + kept, len(rows), rows))
    return outcomes


def _results(
    entity: str, n: int, failed: pl.DataFrame, outcomes: list[CheckOutcome], extra: list[str]
) -> pl.DataFrame:
    rows = [(f"extra_column_dropped({c})", True, n, 0) for c in extra]
    rows += [
        (f"{TYPE_RULE}({c})", int(failed.get_column(c).sum()) == 0, n, int(failed.get_column(c).sum()))
        for c in failed.columns
    ]
    rows += [(o.check.name, o.success, o.element_count, o.unexpected_count) for o in outcomes]
    return pl.DataFrame([(entity, *r) for r in rows], schema=RESULT_COLUMNS, orient="row")


def _network(
    clean: dict[str, pl.DataFrame], validator: GxValidator, counted_orders: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, object]:
    orders = clean[schema.ORDERS.name]
    if counted_orders is not None:  # the order lines kept in the warehouse, counted there
        orders = pl.concat([
            orders.select(*counted_orders.columns[:-1], pl.lit(1, pl.Int64).alias("order_lines")),
            counted_orders.cast({"order_lines": pl.Int64}),
        ])
    reach = demand_reachability(
        orders,
        clean[schema.ROUTINGS.name],
        clean[schema.RESOURCES.name],
        clean[schema.LANES.name],
    )
    check = Check(
        "demand_reachable",
        ("product_id", "site_id"),
        E.ExpectColumnValuesToBeInSet(column="reachable", value_set=[True]),
        "has demand that no plant making the product reaches through lanes",
    )
    # like the entities' suites: GX sees the unreached pairs only (none: no GX at all)
    validation, (o,) = validator.validate(NETWORK, reach, [check], verdicts=verdicts(reach, [check]))
    results = pl.DataFrame(
        [(NETWORK, check.name, o.success, o.element_count, o.unexpected_count)],
        schema=RESULT_COLUMNS,
        orient="row",
    )
    warnings = (
        reach.filter(~pl.col("reachable"))
        .select(
            pl.lit(NETWORK).alias("entity"),
            pl.lit(check.rule).alias("rule"),
            pl.concat_str("product_id", pl.lit("|"), "site_id").alias("key"),
            pl.format(
                "demand for product {} at site {} ({} order lines) is reached by no lane path from a "
                "plant that makes it",
                "product_id",
                "site_id",
                "order_lines",
            ).alias("reason"),
        )
        .cast(WARNING_SCHEMA)
    )
    return results, warnings, validation


def validate_inputs(
    raw: Mapping[str, pl.DataFrame | RawRows], run_date: date, config: ContractConfig = ContractConfig()
) -> ContractOutcome:
    """Split a run's raw input rows into typed clean frames and quarantined rows.

    Args:
        raw: Entity name → raw frame: every schema column as ``pl.String`` (null for an empty cell), plus
            ``_load_id``, ``_source_file``, ``_source_row`` (and optionally ``_extra``). Optional entities
            may be absent. Or, for an entity whose rows stay in the warehouse, a :class:`RawRows`: where
            :func:`data_contracts.screen.screen_query` writes the entity's checks as SQL, only the rows it is
            unsure of are read, the others stay clean where they are (``kept`` and ``positions`` of the
            outcome; the caller stages them); otherwise every row is read.
        run_date: Date the run plans from (no order or stock snapshot may lie after it).
        config: Thresholds and bounds.

    Returns:
        The clean frames, the quarantine, one result row per expectation, network warnings and the GX
        validation results.

    Raises:
        ContractError: A structural failure, or entities with more rows rejected than allowed: every
            entity is validated before this is raised, and the message names each refused entity's file,
            its rules and first offending rows. ``error.outcome`` holds every entity's quarantine and
            results (for storing them and for ``plantwin validate``'s report).
    """
    profiles = {
        t.name: _profile(raw[t.name], t) if isinstance(raw[t.name], pl.DataFrame) else raw[t.name].profile
        for t in schema.INPUT_ENTITIES
        if t.name in raw
    }
    errors = _structure_errors(raw, profiles)
    if not SUPPORTED_MIN_DATE <= run_date <= SUPPORTED_MAX_DATE:
        errors.append(
            f"the run date {run_date} is outside the supported dates {SUPPORTED_MIN_DATE} … "
            f"{SUPPORTED_MAX_DATE}; given no run date, a run takes the latest inventory as_of_date: check "
            "that column or give --run-date (rule: run_date_range)"
        )
    if errors:
        raise ContractError("\n".join(errors))
    validator = GxValidator()
    clean: dict[str, pl.DataFrame] = {}
    kept: dict[str, int] = {}
    positions: dict[str, pl.Series] = {}
    counted_orders = None
    quarantines, results, validations = [], [], {}
    found = _Found()  # rows rejected and the fix hints, counted on every row (not a refused quarantine's first)
    refs: dict[str, pl.DataFrame] = {}
    refusals: list[str] = []
    noticed: list[pl.DataFrame] = []  # warnings of one entity's rows (the network's come last)
    for t in schema.INPUT_ENTITIES:
        if t.name not in raw:
            continue
        source, profile = raw[t.name], profiles[t.name]
        label = profile.label
        split = None
        if isinstance(source, pl.DataFrame):
            frame = source
        else:  # rows left in the warehouse: those surely clean stay there, polars reads the others
            query = screen_query(t, entity_checks(t, refs, run_date, config), refs, run_date, config, profile)
            split = source.split(query) if query is not None else None
            frame = split.suspects if split is not None else source.frame()
        outside = (split.kept, split.missing) if split is not None else None
        text = _prepare(frame, t)
        typed, failed = _never_expires(*cast_frame(text, t.columns, config.decimal), t, config)
        typed = zero_means_none(week_start_monday(typed, t.name, config.week_start), t.name)
        cycle = None
        if t.name == schema.LANES.name:
            cycle = pl.lit(zero_lead_cycle_flags(typed))
        cycles = bom_cycles(typed) if t.name == schema.BOM.name else None
        checks = entity_checks(t, refs, run_date, config, zero_lead_cycle=cycle, bom_cycles=cycles)
        # Every check is computed in polars first. Junk is refused before GX: when the checks already
        # reject too many rows, GX (whose complete results hold every failing row of every expectation)
        # never sees a million junk lines. Otherwise GX sees the rows some check breaks, nothing else.
        judged = verdicts(typed, checks)
        screened = _polars_outcomes(judged, checks, outside[0] if outside else 0)
        hits, quarantine, by_rule, entity_hints, message = _judge(t, label, text, failed, screened, config,
                                                                  profile.height)
        if message:
            message += "\n(found by the checks computed in polars; Great Expectations did not run on this entity)"
        else:
            # GX must find exactly the rows polars found (else RuntimeError), so the hits stand as judged.
            validations[t.name], screened = validator.validate(
                t.name, typed, checks, verdicts=judged, outside=outside
            )
        good = ~text.get_column(_IDX).is_in(hits.get_column(_IDX).unique().implode()) if hits.height else None
        clean[t.name] = typed.filter(good) if good is not None else typed
        if t.name == schema.ROUTINGS.name and schema.RESOURCES.name in refs:
            rows = pl.concat([text.select("source_file", "source_row"), typed], how="horizontal")
            noticed.append(continuous_campaign_warnings(rows.filter(good) if good is not None else rows,
                                                        refs[schema.RESOURCES.name]))
        if split is not None:
            kept[t.name] = split.kept
            pos = split.suspects.get_column(schema.RAW_POSITION)
            positions[t.name] = pos.filter(good) if good is not None else pos
            if t.name == schema.ORDERS.name:
                counted_orders = split.groups
        # A refused entity's rows all stay the reference of the entities after it: the run fails anyway,
        # and one pass then reports every entity's own problems, not its rejections repeated downstream.
        # (No entity references a screened one: SCREENED_ENTITIES.)
        refs[t.name] = typed if message else clean[t.name]
        quarantines.append(quarantine)
        found.hints += entity_hints
        found.rejected[t.name] = hits.get_column(_IDX).n_unique() if hits.height else 0
        found.rule_rows.append(by_rule.select(pl.lit(t.name).alias("entity"), "rule", "rows"))
        results.append(_results(t.name, profile.height, failed, screened, profile.extra))
        if message:
            refusals.append(message)
    if refusals:
        raise ContractError(
            _refused(refusals), _outcome(clean, quarantines, results, None, validations, kept, positions, found)
        )
    net_results, warnings, net_validation = _network(clean, validator, counted_orders)
    results.append(net_results)
    validations[NETWORK] = net_validation
    return _outcome(clean, quarantines, results, pl.concat([*noticed, warnings]), validations, kept, positions,
                    found)


def _refused(messages: list[str]) -> str:
    """One error naming every refused entity (each message names its file, rules and first rows)."""
    if len(messages) == 1:
        return messages[0]
    return f"{len(messages)} entities refused; fix them all before the next run:\n" + "\n\n".join(messages)


@dataclass
class _Found:
    """What the entities' rows broke, counted on every row: rows rejected per entity and per rule, and the fix
    hints (a refused entity's quarantine keeps its first ``refused_rows_stored`` rows only)."""

    rejected: dict[str, int] = field(default_factory=dict)
    rule_rows: list[pl.DataFrame] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def _outcome(
    clean: dict[str, pl.DataFrame],
    quarantines: list[pl.DataFrame],
    results: list[pl.DataFrame],
    warnings: pl.DataFrame | None,
    validations: dict[str, Any],
    kept: dict[str, int] | None = None,
    positions: dict[str, pl.Series] | None = None,
    found: _Found | None = None,
) -> ContractOutcome:
    found = found or _Found()
    return ContractOutcome(
        kept=dict(kept or {}),
        positions=dict(positions or {}),
        clean=dict(clean),
        quarantine=pl.concat([pl.DataFrame(schema=QUARANTINE_COLUMNS), *quarantines]),
        results=pl.concat([pl.DataFrame(schema=RESULT_COLUMNS), *results]),
        warnings=warnings if warnings is not None else pl.DataFrame(schema=WARNING_SCHEMA),
        validations=dict(validations),
        hints=tuple(found.hints),
        rejected=dict(found.rejected),
        rule_rows=pl.concat([pl.DataFrame(schema={"entity": pl.String, **_NO_RULE_ROWS.schema}), *found.rule_rows]),
    )
