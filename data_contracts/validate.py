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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath
from typing import Any, Protocol

import polars as pl

from data_contracts import schema
from data_contracts.casting import TYPE_RULE, cast_frame, date_form_hints, type_reason
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
from data_contracts.formats import (
    DECIMAL_COMMA_RULE,
    FIX_HINTS,
    decimal_comma_words,
    default_text,
    fix_hints,
    looks_like_decimal_comma,
    sunday_reasons,
    week_start_monday,
    zero_means_none,
)
from data_contracts.gx_runner import CheckOutcome, GxValidator, verdicts
from data_contracts.safe_text import shown_expr
from data_contracts.network import bom_cycles, demand_reachability, zero_lead_cycle_flags
from data_contracts.rules import COLUMN_RULES, Check, E, entity_checks
from data_contracts.screen import Profile, ScreenQuery, Split, screen_query

__all__ = ["validate_inputs", "MASTER_ENTITIES", "NETWORK", "RawRows"]

#: Entities that must have rows.
MASTER_ENTITIES = (
    schema.PRODUCTS.name,
    schema.SITES.name,
    schema.RESOURCES.name,
    schema.ROUTINGS.name,
    schema.LANES.name,
)
#: Entity name of the cross-entity network checks in results and warnings.
NETWORK = "network"

_META = (*schema.RAW_META_COLUMNS, schema.RAW_EXTRA)


class RawRows(Protocol):
    """An entity's raw rows where they are (the warehouse's ``warehouse.screen.WarehouseRows``)."""

    profile: Profile

    def frame(self) -> pl.DataFrame:
        """Every row, as a raw frame."""

    def split(self, query: ScreenQuery) -> Split:
        """The rows ``query`` is unsure of, read; the others counted."""
_IDX = "__idx"
_HIT_SCHEMA = {_IDX: pl.Int64, "maker": pl.Int32}


def _file_label(frame: pl.DataFrame, entity: str) -> str:
    if schema.SOURCE_FILE in frame.columns and frame.height:
        first = frame.get_column(schema.SOURCE_FILE).drop_nulls()
        if first.len():
            return PurePath(first[0]).name
    return entity


def _profile(frame: pl.DataFrame, t: schema.Table) -> Profile:
    """What the structure checks and results read of a raw frame (see :class:`data_contracts.screen.Profile`)."""
    return Profile(
        height=frame.height,
        filled={c: frame.get_column(c).null_count() < frame.height for c in frame.columns if c in t.columns},
        label=_file_label(frame, t.name),
        extra=_extra_columns(frame, t),
    )


def _structure_errors(raw: Mapping[str, object], profiles: dict[str, Profile]) -> list[str]:
    known = {t.name for t in schema.INPUT_ENTITIES}
    errors = [
        f"{name}: not an input entity; known: {', '.join(sorted(known))} (rule: known_entities)"
        for name in sorted(set(raw) - known)
    ]
    for t in schema.INPUT_ENTITIES:
        p = profiles.get(t.name)
        if p is None:
            if not t.optional:
                errors.append(f"{t.name}: no input file (rule: required_entities)")
            continue
        label = p.label
        tabbed = [e for e in p.extra if "\t" in e]
        if tabbed and not all(p.filled.get(c, False) for c in t.required_columns):
            errors.append(f"{label}: the header {_column_shown(tabbed[0])} holds tabs: write the file with ',' or "
                          "';' between the columns (rule: required_columns)")
            continue
        for c in t.required_columns:
            if c not in p.filled:
                errors.append(f"{label}: missing column {c!r}{_header_hint(c, p.extra)} (rule: required_columns)")
            elif c not in t.nullable and p.height and not p.filled[c]:
                errors.append(
                    f"{label}: missing column {c!r}: not in the header, or empty in all {p.height} rows"
                    f"{_header_hint(c, p.extra)} (rule: required_columns)"
                )
        if t.name in MASTER_ENTITIES and p.height == 0:
            errors.append(f"{label}: master data {t.name} has no rows (rule: master_data_not_empty)")
        elif t.name == schema.ORDERS.name and p.height == 0:
            errors.append(f"{label}: no order lines, so there is no demand history to forecast from "
                          "(rule: orders_not_empty)")
    return errors


def _header_hint(column: str, extra: list[str]) -> str:
    """What the file's unknown columns say about a missing one: a name in other letters, or the unknown
    names to look through ("" when the file has none)."""
    near = [e for e in extra if e.strip().lower() == column]
    if near:
        return f"; the header has {_column_shown(near[0])}: name it {column!r} (column names are matched exactly)"
    if extra:
        names = ", ".join(_column_shown(e) for e in extra[:8]) + (", ..." if len(extra) > 8 else "")
        return f"; columns the contract does not know: {names}: if one of them is {column!r}, rename it"
    return ""


def _column_shown(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "...")


def _extra_columns(frame: pl.DataFrame, t: schema.Table) -> list[str]:
    extra = [c for c in frame.columns if c not in t.columns and c not in _META]
    if schema.RAW_EXTRA in frame.columns:
        js = frame.get_column(schema.RAW_EXTRA).drop_nulls()
        if js.len():
            decoded = js.str.json_decode(infer_schema_length=None)
            if isinstance(decoded.dtype, pl.Struct):
                extra += [f.name for f in decoded.dtype.fields if f.name not in extra]
    return extra


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


def _shown(columns: tuple[str, ...]) -> pl.Expr:
    """'col 'value'' for each column, as one string (raw values as in the file, made printable and cut
    when long: a message never carries a terminal escape code or two million characters)."""
    parts = [
        pl.concat_str(
            pl.lit(f"{c} "),
            pl.when(pl.col(c).is_null()).then(pl.lit("(empty)")).otherwise(shown_expr(pl.col(c))),
        )
        for c in columns
    ]
    return pl.concat_str(parts, separator=", ")


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


@dataclass(frozen=True)
class _Maker:
    """What one kind of hit is: its rule, the column it names, the columns shown and the words after."""

    rule: str
    column: str
    shown: tuple[str, ...]
    words: str


def _hits(
    failed: pl.DataFrame, outcomes: list[CheckOutcome], t: schema.Table, text: pl.DataFrame, decimal: str = "."
) -> tuple[pl.DataFrame, list[_Maker]]:
    """Every (row, check) broken, as ``(_IDX, maker)`` pairs, minus hits made redundant by a rule in the
    check's ``unless``; and the makers the hits point to.

    Hits hold two integers each; rules and reasons in words are attached later and only to the hits kept
    (:func:`_with_reasons`): a million junk lines are counted and refused without a million sentences.
    """
    makers: list[_Maker] = []
    parts: list[tuple[tuple[str, ...], pl.DataFrame]] = []
    for c in failed.columns:
        # a number written 1,5 (decimal: "." declared or by default) is recognised: rule decimal_comma, with the fix
        number = t.columns[c] in (pl.Float64, pl.Int64)
        comma = (failed.get_column(c) & text.select(looks_like_decimal_comma(pl.col(c))).to_series()
                 if number and decimal == "." else pl.repeat(False, failed.height, eager=True))
        words = decimal_comma_words(",") if number and decimal == "," else f" is not {type_reason(t.columns[c])}"
        for rule, rows, why in ((TYPE_RULE, failed.get_column(c) & ~comma, words),
                                (DECIMAL_COMMA_RULE, comma, decimal_comma_words("."))):
            makers.append(_Maker(rule, c, (c,), why))
            parts.append(((), rows.arg_true().cast(pl.Int64).alias(_IDX).to_frame()))
    for o in outcomes:
        makers.append(_Maker(o.check.rule, o.check.columns[0], o.check.columns, " " + o.check.reason))
        parts.append((o.check.unless, pl.DataFrame({_IDX: pl.Series(o.rows, dtype=pl.Int64)})))
    kept = []
    for m, (unless, rows) in enumerate(parts):
        for rule in unless:
            others = [
                frame
                for k, (_, frame) in enumerate(parts)
                if makers[k].rule == rule
                and (rule not in COLUMN_RULES or makers[k].column == makers[m].column)
            ]
            if others:
                rows = rows.join(pl.concat(others).unique(), on=_IDX, how="anti")
        kept.append(rows.with_columns(pl.lit(m, pl.Int32).alias("maker")))
    return pl.concat([pl.DataFrame(schema=_HIT_SCHEMA), *kept]), makers


def _rule_rows(hits: pl.DataFrame, makers: list[_Maker]) -> pl.DataFrame:
    """Rows broken per rule (``rule``, ``len``), counting a row once per rule."""
    rules = sorted({m.rule for m in makers})
    rule_of = pl.Series([rules.index(m.rule) for m in makers], dtype=pl.Int32)
    to_rule = pl.col("maker").replace_strict(pl.int_range(len(makers), eager=True), rule_of)
    counted = hits.select(_IDX, to_rule.alias("r")).unique().group_by("r").len()
    names = pl.col("r").replace_strict(pl.int_range(len(rules), eager=True), pl.Series(rules))
    return counted.select(names.alias("rule"), "len")


def _with_reasons(text: pl.DataFrame, hits: pl.DataFrame, makers: list[_Maker]) -> pl.DataFrame:
    """``hits`` with rule, column and the reason in words (values shown as in the file), in maker order."""
    parts = [
        part.join(text, on=_IDX, how="left").select(
            _IDX,
            "maker",
            pl.lit(makers[m].rule).alias("rule"),
            pl.lit(makers[m].column).alias("column"),
            pl.concat_str(_shown(makers[m].shown), pl.lit(makers[m].words)).alias("reason"),
        )
        for (m,), part in hits.partition_by("maker", as_dict=True).items()
    ]
    empty = pl.DataFrame(schema={**_HIT_SCHEMA, "rule": pl.String, "column": pl.String, "reason": pl.String})
    return pl.concat([empty, *parts]).sort(_IDX, "maker")


#: an entity no row of which broke a rule: its rows rejected per rule
_NO_RULE_ROWS = pl.DataFrame(schema={"rule": pl.String, "rows": pl.UInt32})


def _hinted_rows(text: pl.DataFrame, hits: pl.DataFrame, makers: list[_Maker], t: schema.Table) -> pl.DataFrame:
    """Every row a "How to fix" line counts (:func:`data_contracts.formats.fix_hints`,
    :func:`data_contracts.casting.date_form_hints`), in the quarantine's columns those read: a refused
    entity's quarantine keeps its first ``refused_rows_stored`` rows only, and a line counted from it said
    "1000 row(s)" of a file with 40,000 decimal commas. Reasons are written only where a hint reads them
    (a date's value: the early dates' floor, the day-first forms); the other rows are counted by rule, so a
    million junk lines cost integers and a rule's name each here, not a sentence."""
    dated = [m for m, k in enumerate(makers)
             if k.rule == "date_range" or (k.rule == TYPE_RULE and t.columns[k.column] == pl.Date)]
    counted = [m for m, k in enumerate(makers) if k.rule in FIX_HINTS and m not in dated]
    # a row counts once per rule, whichever columns broke it: each maker stands for its rule's first maker
    first = {k.rule: m for m, k in reversed(list(enumerate(makers)))}
    every = pl.int_range(len(makers), eager=True)
    plain = (
        hits.filter(pl.col("maker").is_in(counted))
        .select(_IDX, pl.col("maker").replace_strict(every, pl.Series([first[k.rule] for k in makers])))
        .unique()  # integers: no sentence and no rule name before the duplicates are gone
        .select(_IDX, pl.col("maker").replace_strict(every, pl.Series([k.rule for k in makers])).alias("rule"),
                pl.lit(None, pl.String).alias("reason"))
    )
    worded = (_with_reasons(text, hits.filter(pl.col("maker").is_in(dated)), makers)
              .group_by(_IDX, "rule", maintain_order=True).agg(pl.col("reason").str.join("; ")))
    return (pl.concat([plain, worded]).join(text.select(_IDX, "source_file", "source_row"), on=_IDX, how="left")
            .drop(_IDX))


def _first_rows(hits: pl.DataFrame, k: int) -> pl.DataFrame:
    """The hits of the first ``k`` rows that broke anything."""
    first = hits.get_column(_IDX).unique().sort().head(k).implode()
    return hits.filter(pl.col(_IDX).is_in(first))


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


def _quarantine(
    entity: str, text: pl.DataFrame, hits: pl.DataFrame, t: schema.Table, max_chars: int
) -> pl.DataFrame:
    """One row per (raw row, rule) broken; ``row_values`` keeps each value's first ``max_chars``
    characters (the raw table keeps all of it)."""
    per_rule = hits.group_by(_IDX, "rule", maintain_order=True).agg(pl.col("reason").str.join("; "))
    rows = text.filter(pl.col(_IDX).is_in(per_rule.get_column(_IDX).implode())).select(
        _IDX,
        "load_id",
        "source_file",
        "source_row",
        pl.struct(pl.col(t.column_names).str.slice(0, max_chars)).struct.json_encode().alias("row_values"),
    )
    return (
        per_rule.join(rows, on=_IDX, how="left")
        .sort(_IDX, "rule")
        .with_columns(pl.lit(entity).alias("entity"))
        .select(list(QUARANTINE_COLUMNS))
        .cast(QUARANTINE_COLUMNS)
    )


def _threshold_error(
    entity: str,
    label: str,
    n: int,
    hits: pl.DataFrame,
    makers: list[_Maker],
    first: pl.DataFrame,
    limit: float,
    shown: int,
) -> str | None:
    """The refusal of an entity with more than ``limit`` of its ``n`` rows broken, or None.

    Args:
        hits: Every hit (see :func:`_hits`); counts rows and rules.
        makers: What the hits' ``maker`` points to.
        first: The quarantine of the first offending rows (at least ``shown`` rows' worth).
    """
    rejected = hits.get_column(_IDX).n_unique() if hits.height else 0
    if n == 0 or rejected / n <= limit:
        return None
    top = _rule_rows(hits, makers).sort(["len", "rule"], descending=[True, False]).head(3)
    rules = ", ".join(f"{r} ({k} rows)" for r, k in top.iter_rows())
    lines = "\n".join(
        f"  {PurePath(f).name} row {r}: {why}"
        for f, r, why in first.sort("source_row")
        .head(shown)
        .select("source_file", "source_row", "reason")
        .iter_rows()
    )
    return (
        f"{label}: {rejected} of {n} {entity} rows rejected ({rejected / n:.1%}), above the allowed "
        f"{limit:.1%} (rule: max_reject_share); top rules: {rules}; first offending rows:\n{lines}"
    )


def _judge(
    t: schema.Table,
    label: str,
    text: pl.DataFrame,
    failed: pl.DataFrame,
    outcomes: list[CheckOutcome],
    config: ContractConfig,
    n: int,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, list[str], str | None]:
    """The hits, the quarantine, the rows rejected per rule (``rule``, ``rows``), the "How to fix" lines and,
    above the allowed share, the refusal of one entity of ``n`` rows (those in ``text`` and any kept where
    they are).

    A refused entity's quarantine keeps the rows of its first ``config.refused_rows_stored`` offending
    rows only (each raw row stays in the raw table): junk costs bounded memory and warehouse space. Its
    rows per rule and "How to fix" lines count every row each rule broke (:func:`_hinted_rows`), not the
    rows kept.
    """
    hits, makers = _hits(failed, outcomes, t, text, config.decimal)

    # a Sunday among other days' labels suggests no week_start: sunday (as the fix hints), judged on every
    # row the file broke: a refused file's quarantine and its message keep its first rows only
    broken = {makers[m].rule for m in hits.get_column("maker").unique().to_list()}

    def quarantine_of(rows: pl.DataFrame) -> pl.DataFrame:
        return sunday_reasons(_quarantine(t.name, text, _with_reasons(text, rows, makers), t,
                                          config.max_text_length), broken)

    first = quarantine_of(_first_rows(hits, config.failing_rows_shown))
    message = _threshold_error(
        t.name,
        label,
        n,
        hits,
        makers,
        first,
        config.reject_share_limit(t.name),
        config.failing_rows_shown,
    )
    by_rule = _rule_rows(hits, makers).rename({"len": "rows"}) if hits.height else _NO_RULE_ROWS
    if message is None:
        quarantine = quarantine_of(hits)
        return hits, quarantine, by_rule, _hints(quarantine) if quarantine.height else [], None
    rejected = hits.get_column(_IDX).n_unique()
    if rejected > config.refused_rows_stored:
        message += (
            f"\n(the quarantine keeps the first {config.refused_rows_stored:,} of the {rejected:,} rows "
            "rejected; every row stays in the raw table)"
        )
    stored = quarantine_of(_first_rows(hits, config.refused_rows_stored))
    # what validate's "How to fix" says, in the refusal too; counted on every row the file broke
    hints = _hints(_hinted_rows(text, hits, makers, t))
    if hints:
        message += "\nhow to fix what was recognised:\n" + "\n".join(hints)
    return hits, stored, by_rule, hints, message


def _hints(rows: pl.DataFrame) -> list[str]:
    """The "How to fix" lines of an entity's quarantine rows (or every row a hint counts, :func:`_hinted_rows`):
    decimal commas, Sundays, negatives, other days, early dates, then day-first dates and ISO weeks."""
    return fix_hints(rows) + date_form_hints(rows)


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
