"""An entity's broken rows judged (step 2 of :func:`data_contracts.validate.validate_inputs`, after its
checks have run): every (row, check) broken as a hit, the quarantine rows with their reasons in words, the
rows rejected per rule, the "How to fix" lines and, above the allowed share, the entity's refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

import polars as pl

from data_contracts import schema
from data_contracts.casting import TYPE_RULE, date_form_hints, type_reason
from data_contracts.config import QUARANTINE_COLUMNS, ContractConfig
from data_contracts.formats import (
    DECIMAL_COMMA_RULE,
    FIX_HINTS,
    decimal_comma_words,
    fix_hints,
    looks_like_decimal_comma,
    sunday_reasons,
)
from data_contracts.gx_runner import CheckOutcome
from data_contracts.rules import COLUMN_RULES
from data_contracts.safe_text import shown_expr

_IDX = "__idx"
_HIT_SCHEMA = {_IDX: pl.Int64, "maker": pl.Int32}


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
