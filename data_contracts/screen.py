"""The row-level checks as SQL, for entities whose rows stay in the warehouse (DuckDB) while they are checked.

Eight and a half million order lines need not become a polars frame to be checked: :func:`screen_query`
writes one SQL expression per entity that is true on the rows that **surely** pass every check of the entity
(:func:`data_contracts.rules.entity_checks`) and a typed SQL expression per column giving such a row's clean
value. The warehouse evaluates it where the raw rows are (``warehouse.screen``); only the other rows, the
*suspects*, are read into polars and validated exactly as before (:func:`data_contracts.validate.validate_inputs`
with cast, every check, GX on the broken rows, quarantine and reasons). A clean row's values are written from
SQL straight into the run's clean table.

"Surely" is deliberately narrower than the contracts: a number must be plain decimal digits (``12``, ``-3.25``;
not ``1e3``, `` 5`` or ``+5``, which polars reads but the SQL leaves to polars), a date exactly ``YYYY-MM-DD``,
a text at most ``max_text_length`` bytes. A row the SQL is unsure of is a suspect and polars judges it, so
the quarantine, the reasons and the clean values are the same as when polars saw every row (tested in
``tests/test_contracts_screen.py`` on rows broken in every column). Whole-column checks stay exact because the
suspects are closed under them: every row sharing a key, or a key folded to lower case without blanks, with
another row is a suspect, so polars sees each duplicate group whole.

An entity is screened only where every check has a SQL form here (:func:`screen_query` returns None
otherwise, and the entity is read whole, as before): not the entities other entities reference (their clean
rows are the next entities' references), nor those whose values are rewritten before the checks (the
never-expires date, a zero batch size), nor sources with a decimal comma or Sunday weeks, nor keys holding
characters outside ASCII (where SQL's and polars' lower case could differ).

This module writes SQL text only; it runs nothing (``warehouse.screen`` does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from data_contracts import schema
from data_contracts.checks import Check
from data_contracts.config import ContractConfig
from data_contracts.formats import SUNDAY_WEEK_RULE, default_text
from data_contracts.rules_bounds import REFERENCES, date_bounds

__all__ = ["BLANKS", "SCREENED_ENTITIES", "ScreenQuery", "Split", "screen_query", "expectation_columns",
           "typed_columns"]

#: Entities checked where their rows are: the event entities and the ones nothing references.
SCREENED_ENTITIES: tuple[str, ...] = (
    schema.ORDERS.name,
    schema.BATCHES.name,
    schema.RECEIPTS.name,
    schema.CALENDAR.name,
)

_FLOAT = r"-?[0-9]{1,15}(\.[0-9]{1,15})?"
_INT = r"-?[0-9]{1,15}"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_BOOL = r"(?i)(true|t|yes|y|1|false|f|no|n|0)"
#: ASCII whitespace: what polars' ``\s`` removes from an ASCII key (:func:`data_contracts.rules.lookalike_key`).
BLANKS = r"[\t\n\v\f\r ]"


@dataclass(frozen=True)
class ScreenQuery:
    """What the warehouse evaluates on one entity's raw rows (column names quoted, no table alias).

    Attributes:
        sure: True on the rows that surely pass every check (may hold window functions over the rows).
        typed: Column → SQL of its clean value, valid on the rows where ``sure`` holds.
        refs: Name of a table the SQL reads (one column ``v``) → its values: the referenced entities'
            clean ids.
        missing: Per check, SQL true where the row lacks a value the check's expectation reads (GX counts
            those as missing: its results over every row need them for the rows left in the warehouse).
        group_by: Columns whose clean rows are counted per value (``order_lines``) for the network check.
        unique: Keys (SQL expressions) no two rows may share for a row to be sure: ``sure`` holds only on
            rows whose key is not among the keys that occur more than once (the warehouse proves a key
            distinct by its order, or counts its distinct values, in the scan that judges the rows, and groups
            them, one ``GROUP BY`` per key, only where some repeat: cheaper than a window over millions of
            rows).
        columns: The select list (``typed[c] AS "__t_<c>"``) that ``sure``, ``missing`` and ``unique`` read
            their typed values from: each value cast once per row, where the checks named the same cast
            a dozen times (the flags of a million order lines: ≈ 0.3 instead of ≈ 0.9 CPU-s). The
            warehouse evaluates them over ``SELECT *, <columns> FROM <raw rows>``.
    """

    sure: str
    typed: dict[str, str]
    refs: dict[str, pl.Series]
    missing: list[str]
    group_by: tuple[str, ...] = ()
    unique: tuple[tuple[str, ...], ...] = ()
    columns: str = ""


@dataclass(frozen=True)
class Split:
    """An entity's rows split by a :class:`ScreenQuery`.

    Attributes:
        suspects: The raw rows the SQL was unsure of, in the raw order, as :meth:`Warehouse.raw_rows` gives
            them, plus ``__pos`` (their position among all the entity's rows).
        kept: How many rows surely passed (they stay in the warehouse).
        missing: Per check, how many kept rows lack a value the check reads.
        groups: The kept rows counted per ``group_by`` value (``order_lines``), or None.
    """

    suspects: pl.DataFrame
    kept: int
    missing: list[int]
    groups: pl.DataFrame | None = None


@dataclass(frozen=True)
class Profile:
    """What the structure checks and the results need of an entity's raw rows, without reading them.

    Attributes:
        height: Rows.
        filled: Column → whether some row holds a value (all the structure checks ask: a required column
            empty in every row, or not in the header at all, is an error).
        label: The file name shown in messages.
        extra: Columns beyond the contract, in the order polars would infer them from ``_extra``.
        ascii_keys: Whether every key value is ASCII text.
        blank_keys: Whether some key value may hold ASCII whitespace (folded keys then drop it; without any,
            a folded key is the key in lower case, a cheaper expression on millions of rows).
        typed_raw: Columns the warehouse stores typed (``schema.TYPED_RAW``): its rows carry each one's value
            as ``"__t_<c>"`` and its kept text (null where the text is the value's canonical text) as
            ``"__k_<c>"``, which the screen reads instead of casting the text.
    """

    height: int
    filled: dict[str, bool]
    label: str
    extra: list[str] = field(default_factory=list)
    ascii_keys: bool = True
    blank_keys: bool = True
    typed_raw: tuple[str, ...] = ()


def _q(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _literal(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    return None


def _text(t: schema.Table, c: str) -> str:
    default = t.defaults.get(c)
    return _q(c) if default is None else f"coalesce({_q(c)}, {_literal(default_text(default))})"


#: SQL true where a stored double's canonical text (``CAST(q AS VARCHAR)``) surely matches :data:`_FLOAT`:
#: DuckDB writes ``1e-05`` below 1e-4, ``1e+16`` from 1e16, ``nan``, ``inf``, and up to 17 digits
#: (``0.30000000000000004``); a value equal to itself rounded to 6 places, under 1e15 and not below 1e-4
#: (or zero) is written in plain digits with at most 6 decimals. Narrower than the pattern (``0.1234567``
#: is a suspect): a suspect only costs polars' look.
_CANONICAL_FLOAT = "(abs({v}) < 1e15 AND ({v} = 0 OR abs({v}) >= 1e-4) AND {v} = round({v}, 6))"
#: The same for a stored date: DuckDB writes years 1000–9999 as ``YYYY-MM-DD`` (``0999-…``, ``10000-…`` and
#: ``… (BC)`` otherwise).
_CANONICAL_DATE = "(year({v}) BETWEEN 1000 AND 9999)"


def _stored_column(t: schema.Table, c: str) -> tuple[str, str] | None:
    """:func:`_column` for a column the warehouse stores typed (:attr:`Profile.typed_raw`): the typed value is
    ``"__t_<c>"`` (the cell's ``TRY_CAST``, as the text's); a cell kept as text is judged by the text's
    pattern, as before, and one stored as its canonical text by a condition on the value that implies the
    pattern (:data:`_CANONICAL_FLOAT`, :data:`_CANONICAL_DATE`)."""
    v, k, dtype = f'"__t_{c}"', f'"__k_{c}"', t.columns[c]
    if c in t.defaults:
        return None  # a default fills the text before the cast; no typed column has one
    if dtype == pl.Float64:
        kept, canonical = f"regexp_full_match({k}, '{_FLOAT}')", _CANONICAL_FLOAT.format(v=v)
    elif dtype == pl.Date:
        kept, canonical = f"(regexp_full_match({k}, '{_DATE}') AND {v} IS NOT NULL)", _CANONICAL_DATE.format(v=v)
    else:
        return None
    ok = f"(CASE WHEN {k} IS NULL THEN {canonical} ELSE {kept} END)"
    present = f"({k} IS NOT NULL OR {v} IS NOT NULL)"
    if c in t.nullable:
        return f"(NOT {present} OR {ok})", v
    return f"({present} AND {ok})", v


def _column(t: schema.Table, c: str, named: str | None = None) -> tuple[str, str] | None:
    """(SQL true where the raw value surely casts as polars casts it, SQL of the typed value). With
    ``named`` (the typed value's column in the screen's select list), the date check reads it instead of
    casting again."""
    x, dtype = _text(t, c), t.columns[c]
    if dtype == pl.String:
        ok, typed = "true", x
    elif dtype == pl.Float64:
        ok, typed = f"regexp_full_match({x}, '{_FLOAT}')", f"TRY_CAST({x} AS DOUBLE)"
    elif dtype == pl.Int64:
        ok, typed = f"regexp_full_match({x}, '{_INT}')", f"TRY_CAST({x} AS BIGINT)"
    elif dtype == pl.Date:
        typed = f"TRY_CAST({x} AS DATE)"
        ok = f"(regexp_full_match({x}, '{_DATE}') AND {named or typed} IS NOT NULL)"
    elif dtype == pl.Boolean:
        ok = f"regexp_full_match({x}, '{_BOOL}')"
        typed = f"(lower({x}) IN ('true', 't', 'yes', 'y', '1'))"
    else:
        return None
    if c in t.nullable and c not in t.defaults:
        return f"({x} IS NULL OR {ok})", typed
    return f"({x} IS NOT NULL AND {ok})", typed


def typed_columns(t: schema.Table) -> dict[str, str]:
    """Column → SQL of its typed value from the raw text (:attr:`ScreenQuery.typed`, valid on the rows
    where its ``sure`` holds); what the clean rows derived from a load cast on read
    (``schema.DERIVED_CLEAN``). Raises ``TypeError`` for a column of a type the screen cannot cast."""
    typed = {}
    for c in t.columns:
        column = _column(t, c)
        if column is None:
            raise TypeError(f"{t.name}.{c}: no SQL cast for {t.columns[c]}")
        typed[c] = column[1]
    return typed


def expectation_columns(exp: Any) -> list[str]:
    """The columns an expectation reads (a row missing one of them is "missing" in GX's counts)."""
    if getattr(exp, "column_list", None):
        return list(exp.column_list)
    if getattr(exp, "column_A", None):
        return [exp.column_A, exp.column_B]
    return [exp.column]


def _folded(typed: str, blanks: bool = True) -> str:
    """An ASCII key folded as :func:`data_contracts.rules.lookalike_key` folds it: lower case, no blanks
    (``blanks`` False: no key holds one, so lower case is all)."""
    return f"lower(regexp_replace({typed}, '{BLANKS}', '', 'g'))" if blanks else f"lower({typed})"


def _passes(
    t: schema.Table,
    check: Check,
    typed: dict[str, str],
    refs: dict[str, pl.DataFrame],
    ref_tables: dict[str, pl.Series],
    run_date: date,
    config: ContractConfig,
    unique: list[tuple[str, ...]],
    blanks: bool = True,
) -> str | None:
    """SQL true where a row surely passes ``check`` (given its columns cast surely), or None if unknown.
    A uniqueness check adds its key to ``unique`` instead (and returns ``true``)."""
    exp, rule, cols = check.expectation, check.rule, check.columns
    kind = exp.kind
    if check.derive:  # a flag computed in polars: recognised by its rule
        c = cols[0]
        if rule == "unique_ignoring_case":
            if any(t.columns[k] != pl.String for k in t.key):
                return None
            unique.append(tuple(_folded(typed[k], blanks) for k in t.key))
            return "true"
        if rule == "max_length":
            return f"({typed[c]} IS NULL OR strlen({typed[c]}) <= {int(config.max_text_length)})"
        if (t.name, c) in REFERENCES and REFERENCES[(t.name, c)][2] == rule and len(cols) == 1:
            ref_entity, ref_col, _ = REFERENCES[(t.name, c)]
            name = f"__ref_{t.name}_{c}"
            ref_tables[name] = refs[ref_entity].get_column(ref_col).drop_nulls().unique().alias("v")
            return f"({typed[c]} IS NULL OR {typed[c]} IN (SELECT v FROM {name}))"
        if rule == "date_range":
            lo, hi = date_bounds(t.name, c, run_date, config)
            return f"({typed[c]} IS NULL OR {typed[c]} BETWEEN {_literal(lo)} AND {_literal(hi)})"
        if rule in ("week_is_monday", SUNDAY_WEEK_RULE) and config.week_start == "monday":
            return f"({typed[c]} IS NULL OR isodow({typed[c]}) = 1)"
        if rule == "actual_above_planned":
            return f"NOT coalesce({typed['actual_qty']} > 2 * {typed['planned_qty']}, false)"
        return None
    if kind == "ExpectColumnValuesToNotBeNull":
        return f"({typed[exp.column]} IS NOT NULL)"
    if kind == "ExpectColumnValuesToBeInSet" and exp.column in typed:
        values = [_literal(v) for v in exp.value_set]
        if any(v is None for v in values) or not values:
            return None
        return f"({typed[exp.column]} IS NULL OR {typed[exp.column]} IN ({', '.join(values)}))"
    if kind == "ExpectColumnValuesToBeBetween" and exp.column in typed:
        x, ok = typed[exp.column], []
        for bound, strict, op in ((exp.min_value, exp.strict_min, ">"), (exp.max_value, exp.strict_max, "<")):
            if bound is None:
                continue
            if isinstance(bound, bool) or not isinstance(bound, (int, float)):
                return None
            ok.append(f"{x} {op}{'' if strict else '='} {_literal(bound)}")
        return f"({x} IS NULL OR ({' AND '.join(ok) or 'true'}))"
    if kind == "ExpectColumnValuesToBeUnique" and t.columns.get(exp.column) == pl.String:
        unique.append((typed[exp.column],))
        return "true"
    if kind == "ExpectCompoundColumnsToBeUnique" and all(t.columns.get(c) == pl.String for c in exp.column_list):
        unique.append(tuple(typed[c] for c in exp.column_list))
        return "true"
    if kind == "ExpectColumnPairValuesAToBeGreaterThanB" and exp.ignore_row_if == "either_value_is_missing":
        a, b = typed[exp.column_A], typed[exp.column_B]
        return f"({a} IS NULL OR {b} IS NULL OR {a} >{'=' if exp.or_equal else ''} {b})"
    return None


def screen_query(
    t: schema.Table,
    checks: list[Check],
    refs: dict[str, pl.DataFrame],
    run_date: date,
    config: ContractConfig,
    profile: Profile,
) -> ScreenQuery | None:
    """The SQL that finds the rows of ``t`` that surely pass ``checks``, or None where it cannot be written.

    Args:
        t: The entity's schema table.
        checks: Its checks, as :func:`data_contracts.rules.entity_checks` built them.
        refs: The clean frames of the entities before it (the referenced ids).
        run_date: The run date.
        config: The contracts' settings.
        profile: The entity's rows at a glance (its keys must be ASCII).
    """
    if (
        t.name not in SCREENED_ENTITIES
        or config.decimal != "."
        or config.week_start != "monday"
        or not profile.ascii_keys
        or any(e == t.name for e, _ in (*schema.NO_EXPIRY_COLUMNS, *schema.ZERO_MEANS_NONE))
    ):
        return None
    named = {c: f'"__t_{c}"' for c in t.columns}  # each typed value computed once per row (ScreenQuery.columns)
    stored = profile.typed_raw  # those the rows carry typed already
    columns = {c: _stored_column(t, c) if c in stored else _column(t, c, named[c]) for c in t.columns}
    if any(v is None for v in columns.values()):
        return None
    typed = typed_columns(t) | {c: named[c] for c in stored}
    ref_tables: dict[str, pl.Series] = {}
    sure = [v[0] for v in columns.values()]
    unique: list[tuple[str, ...]] = []
    for check in checks:
        passes = _passes(t, check, named, refs, ref_tables, run_date, config, unique, profile.blank_keys)
        if passes is None:
            return None
        sure.append(passes)
    # a key shared exactly is shared folded too: where the folded key is checked, the exact one adds nothing
    folded_key = tuple(_folded(named[k], profile.blank_keys) for k in t.key)
    folded = {tuple(named[k] for k in t.key)} if folded_key in unique else set()
    unique = [k for k in dict.fromkeys(unique) if k not in folded]
    missing = []
    for check in checks:
        real = [c for c in expectation_columns(check.expectation) if c in t.columns]
        missing.append("(" + " OR ".join(f"{named[c]} IS NULL" for c in real) + ")" if real else "false")
    group_by = ("product_id", "site_id", "status") if t.name == schema.ORDERS.name else ()
    # coalesce: a row whose verdict SQL cannot tell (NULL) is a suspect, never kept unchecked
    # each condition once (several checks ask the same: a value present, a Monday week); none that is always true
    sure = [c for c in dict.fromkeys(sure) if c != "true"] or ["true"]
    return ScreenQuery(f"coalesce({' AND '.join(sure)}, false)", typed, ref_tables, missing, group_by,
                       tuple(unique), ", ".join(f"{typed[c]} AS {named[c]}" for c in t.columns if c not in stored))
