"""How a source writes numbers and weeks: recognising a decimal comma or Sunday-labelled weeks, and reading
them when the source declares so.

Sources from other locales write ``1,5`` for one and a half (and ``1.234,5`` with a thousands point), and
some label a week by its Sunday. Read as plantwin's defaults (``.`` as decimal point, weeks named by their
ISO Monday) such values are rejected; here they are *recognised*, so the quarantine says what they are and
how to fix them (rules ``decimal_comma`` and ``sunday_week``), and *read* when the source config declares
the convention (``decimal: ","``, ``week_start: sunday``; the contracts get them as
``ContractConfig.decimal`` and ``ContractConfig.week_start``). Nothing is guessed: an undeclared
convention is never applied, since ``1,500`` may be one and a half or fifteen hundred.

Pure polars expressions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import polars as pl

from data_contracts import schema
from data_contracts.config import SUPPORTED_MIN_DATE

__all__ = [
    "DECIMAL_COMMA_RULE",
    "FIX_HINTS",
    "RESAMPLE_TO_WEEKS",
    "SUNDAY_WEEK_RULE",
    "decimal_comma_number",
    "decimal_comma_words",
    "default_text",
    "early_date_hints",
    "file_name",
    "fix_hints",
    "hint_line",
    "looks_like_decimal_comma",
    "sunday_reasons",
    "sunday_week_words",
    "week_start_monday",
    "zero_means_none",
]

#: Quarantine rule of a number written with a decimal comma while the source declares none.
DECIMAL_COMMA_RULE = "decimal_comma"
#: Quarantine rule of a week labelled by its Sunday while the source declares Monday weeks.
SUNDAY_WEEK_RULE = "sunday_week"
#: the rule of a week label that is neither a Monday nor (undeclared) a Sunday
WEEK_IS_MONDAY_RULE = "week_is_monday"

#: ``1,5``, ``-0,25``, ``1.234,5``, ``12.345.678,90``: digits, optional thousands points, a comma, digits.
_DECIMAL_COMMA = r"^[+-]?(\d+|\d{1,3}(\.\d{3})+),\d+$"
#: What a number may look like under ``decimal: ","``: ``1500``, ``1.500``, ``1,5``, ``1.234,5``, ``-3``.
_COMMA_NUMBER = r"^[+-]?(\d+|\d{1,3}(\.\d{3})+)(,\d+)?$"


def looks_like_decimal_comma(text: pl.Expr) -> pl.Expr:
    """True where the text value is a number written with a decimal comma (``1,5``, ``1.234,5``)."""
    return text.str.strip_chars().str.contains(_DECIMAL_COMMA).fill_null(False)


def decimal_comma_number(text: pl.Expr) -> pl.Expr:
    """The number a text written with a decimal comma means (thousands points dropped); null otherwise.

    ``1,5`` → 1.5, ``1.234,5`` → 1234.5, ``1.500`` → 1500 (a point only groups thousands), ``1.5`` → null.
    """
    s = text.str.strip_chars()
    plain = s.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    return pl.when(s.str.contains(_COMMA_NUMBER)).then(plain.cast(pl.Float64, strict=False))


def default_text(value: object) -> str:
    """A column's default (``schema.Table.defaults``) as the raw text a file would hold, readable under either
    decimal mark: a whole number without a fraction (``0.0`` → ``"0"``), so an absent ``changeover_hours``
    is not refused as ``'0.0'`` under ``decimal: ","``, a value the user never wrote."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def decimal_comma_words(decimal: str) -> str:
    """Reason words of a ``decimal_comma`` hit (with the default decimal point) or, under ``decimal: ","``,
    of a number that does not read as one with a decimal comma."""
    if decimal == ",":
        return (' is not a number written with a decimal comma (1,5 or 1.234,5), as the source config declares '
                '(decimal: ",")')
    return (' has a decimal comma, but numbers are read with "." as decimal point: if the source writes '
            'numbers so, declare decimal: "," in its source config (or export with "."); if the comma groups '
            'thousands (1,500), export without it')


def sunday_week_words() -> str:
    """Reason words of a week value that is a Sunday where weeks are named by their Monday."""
    return ("is a Sunday, but weeks are identified by their Monday: if the source labels each week by its "
            "Sunday, declare week_start: sunday in its source config (the week is then the one of the Monday "
            "after)")


def week_start_monday(typed: pl.DataFrame, entity: str, week_start: str) -> pl.DataFrame:
    """Week columns of ``entity`` (``schema.WEEK_COLUMNS``) moved to the project's Monday weeks.

    Under ``week_start: sunday`` a week runs Sunday to Saturday and is labelled by its Sunday; six of its
    seven days fall in the ISO week of the Monday after, which is the week it becomes (``2026-05-03`` →
    ``2026-05-04``). Values that are not Sundays move by the same day and are then rejected as not
    naming a week. With ``monday`` (the default) nothing changes.
    """
    columns = [c for e, c in schema.WEEK_COLUMNS if e == entity and c in typed.columns]
    if week_start != "sunday" or not columns:
        return typed
    return typed.with_columns((pl.col(c) + timedelta(days=1)).alias(c) for c in columns)


def zero_means_none(typed: pl.DataFrame, entity: str) -> pl.DataFrame:
    """Columns where 0 means "none" (``schema.ZERO_MEANS_NONE``: a batch size of 0 is no batch size) read as null."""
    columns = [c for e, c in schema.ZERO_MEANS_NONE if e == entity and c in typed.columns]
    return typed.with_columns(
        pl.when(pl.col(c) == 0).then(None).otherwise(pl.col(c)).alias(c) for c in columns
    ) if columns else typed


#: How figures per month or quarter become weeks, the only periods plantwin reads (no setting reads months):
#: the last words of the ``week_is_monday`` hint and of the ``period_buckets`` warning
#: (:func:`data_contracts.findings.period_bucket_warnings`). One Monday per month is not it: the weeks between
#: then read as weeks without demand.
RESAMPLE_TO_WEEKS = (
    "resample the extract to weeks: spread each period's figure evenly over its days and sum the days by ISO "
    "week, each week dated on its Monday (in SQL: one row per day of the period, quantity / days in the "
    "period, grouped by date_trunc('week', day)); a week across two months takes its days' share of each"
)

#: How to fix what a rule recognised, for the validate report.
FIX_HINTS: dict[str, str] = {
    DECIMAL_COMMA_RULE: (
        'numbers are written with a decimal comma (1,5 or 1.234,5) but are read with "." as the decimal '
        'point. If the source writes numbers so, declare it in its source config: decimal: "," (for an '
        "input folder, a config with source: {type: folder, path: DIR}; then --source FILE instead of "
        '--input DIR); or export the numbers with ".". A comma that groups thousands (1,500 for fifteen '
        'hundred) is no decimal comma: export the numbers without it (decimal: "," would read 1,500 as 1.5).'
    ),
    SUNDAY_WEEK_RULE: (
        "weeks are labelled by their Sunday but identified by their Monday here. If the source labels each "
        "week by the Sunday it starts on, declare it in its source config: week_start: sunday (each week "
        "is read as the ISO week of the Monday after); or export the weeks' Mondays."
    ),
    "non_negative": (
        "negative values where the contract allows none. In orders these are mostly returns or credit notes "
        "(-5 for five packs back): plantwin plans demand, not returns, so leave them out of the order extract "
        "or net them into the order line they return; elsewhere a negative stock, cost or time is an error to "
        "correct at the source."
    ),
    WEEK_IS_MONDAY_RULE: (
        "weeks are identified by their Monday, and these labels are other days (the first of a month, an "
        "order's own date): export each order's week as the Monday of its ISO week (in SQL "
        "date_trunc('week', d)). Figures per month or quarter (not orders) are no week's demand: moved to one "
        "Monday each, they read as lumpy weekly demand with empty weeks between (forecast as intermittent, "
        f"or as zero); {RESAMPLE_TO_WEEKS}."
    ),
}


def _mixed_week_files(quarantine: pl.DataFrame) -> list[str]:
    """Files of ``quarantine`` with week labels neither Mondays nor Sundays (rule ``week_is_monday``): their
    Sundays (the first of each month) are no Sunday convention, and the ``week_start: sunday`` setting
    would refuse the rest, so neither the fix hint nor a row's reason suggests it there."""
    return quarantine.filter(pl.col("rule") == WEEK_IS_MONDAY_RULE)["source_file"].unique().to_list()


def sunday_reasons(quarantine: pl.DataFrame, rules: Iterable[str] = ()) -> pl.DataFrame:
    """``quarantine`` with the ``sunday_week`` rows of a file mixing Sundays with other days
    (:func:`_mixed_week_files`; or every row when ``rules``, every rule the file broke, holds
    ``week_is_monday``: a refused file's stored rows may be its first only) giving the Monday words instead of
    suggesting ``week_start: sunday``."""
    if WEEK_IS_MONDAY_RULE in rules:
        mixed = quarantine["source_file"].unique().to_list()
    else:
        mixed = _mixed_week_files(quarantine)
    if not mixed:
        return quarantine
    return quarantine.with_columns(
        pl.when(pl.col("source_file").is_in(mixed) & (pl.col("rule") == SUNDAY_WEEK_RULE))
        .then(pl.col("reason").str.replace(sunday_week_words(), _SUNDAY_AMONG_OTHER_DAYS, literal=True))
        .otherwise(pl.col("reason")).alias("reason"))


#: a row's reason words for a Sunday in a file whose week labels are other days too
_SUNDAY_AMONG_OTHER_DAYS = ("is a Sunday, but weeks are identified by their Monday, and this file labels "
                            "weeks by other days too: export each as the Monday of its ISO week")


def file_name(source_file: object) -> str:
    """The file's name without its folder, whichever separator the path was written with."""
    return str(source_file).replace("\\", "/").rsplit("/", 1)[-1]


def hint_line(source_file: object, rows: int, rule: str, hint: str) -> str:
    """One "How to fix" line: the file, how many rows, the rule and what to do."""
    return f"  {file_name(source_file)}: {rows} row(s) [{rule}]: {hint}"


def fix_hints(quarantine: pl.DataFrame) -> list[str]:
    """One line per (file, rule) of ``quarantine`` that a fix hint exists for: where, how many rows, how to fix."""
    hinted = quarantine.filter(pl.col("rule").is_in(list(FIX_HINTS)))
    if not hinted.height:
        return early_date_hints(quarantine)
    counts = hinted.group_by("source_file", "rule").agg(pl.col("source_row").n_unique().alias("rows"))
    # Sundays among labels of other days too: both get the other days' hint, counted together
    mixed = _mixed_week_files(quarantine)
    counts = (counts.with_columns(
        pl.when(pl.col("source_file").is_in(mixed) & (pl.col("rule") == SUNDAY_WEEK_RULE))
        .then(pl.lit(WEEK_IS_MONDAY_RULE)).otherwise(pl.col("rule")).alias("rule"))
        .group_by("source_file", "rule").agg(pl.col("rows").sum()))
    return [hint_line(source_file, rows, rule, FIX_HINTS[rule])
            for source_file, rule, rows in counts.sort("source_file", "rule").iter_rows()
            ] + early_date_hints(quarantine)


#: a ``date_range`` reason's first date and the range's floor: "order_date '1991-07-01' is before 2000-01-01 or
#: after the run date …", "requested_week '1991-07-01' is outside the plausible range 2000-01-01 … 2018-07-07"
_DATE_RANGE_WORDS = (r"'(?P<value>\d{4}-\d{2}-\d{2})[^']*' is (?:before|outside the plausible range) "
                     r"(?P<floor>\d{4}-\d{2}-\d{2})")


def early_date_hints(quarantine: pl.DataFrame) -> list[str]:
    """One "How to fix" line per file with ``date_range`` rows dated before the contracts' floor
    (``contracts.min_date``, 2000-01-01 by default): real history of a long-lived product (PBS's scripts
    from 1991) was refused with no word of the setting that takes it. Read from the rows' reasons."""
    if "reason" not in quarantine.columns:
        return []
    dates = (quarantine.filter(pl.col("rule") == "date_range")
             .with_columns(pl.col("reason").str.extract_groups(_DATE_RANGE_WORDS).alias("d"))
             .unnest("d")  # a date before 1678 is no history: no setting takes it
             .filter((pl.col("value") < pl.col("floor")) & (pl.col("value") >= SUPPORTED_MIN_DATE.isoformat())))
    lines = []
    for (source_file,), rows in dates.group_by("source_file", maintain_order=True):
        earliest = f"{rows['value'].min()[:4]}-01-01"
        lines.append(hint_line(source_file, rows["source_row"].n_unique(), "date_range", (
            f"dates before {rows['floor'].min()}, the earliest the contracts take as plausible "
            "(contracts.min_date). If this history is real (years of monthly figures, an old system's orders), "
            f"set the floor in the run's --params file (YAML: contracts: {{min_date: {earliest}}}) and give "
            "plantwin validate the same --params; or leave the older lines out of the extract.")))
    return sorted(lines)
