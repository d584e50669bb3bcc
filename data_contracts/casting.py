"""Raw text → typed columns, and the ``type`` rule: a value present in the file that does not parse.

Raw frames hold every column as ``pl.String`` exactly as in the file (null for an empty cell). Casting is
lenient where the meaning is unambiguous (``"3.0"`` is the whole number 3, a timestamp at any time of day
is its date, ``yes``/``no`` are booleans) and strict otherwise: a value that was present before the cast and
is null after it breaks the ``type`` rule.
"""

from __future__ import annotations

import polars as pl

from data_contracts.formats import decimal_comma_number, hint_line

__all__ = ["TYPE_RULE", "cast_expr", "date_form_hints", "type_reason", "cast_frame"]

TYPE_RULE = "type"

_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}([ T].*)?$"


def cast_expr(column: str, dtype: pl.DataType, decimal: str = ".") -> pl.Expr:
    """Expression casting the text column ``column`` to ``dtype``; unparseable values become null.

    ``decimal`` is the source's decimal mark: with ``","`` numbers read as ``1,5`` or ``1.234,5``
    (:func:`data_contracts.formats.decimal_comma_number`), and ``1.5`` does not parse.
    """
    s = pl.col(column).str.strip_chars()
    s = pl.when(s == "").then(None).otherwise(s)
    if dtype == pl.String:
        return pl.col(column)
    number = decimal_comma_number(s) if decimal == "," else s.cast(pl.Float64, strict=False)
    if dtype == pl.Float64:
        return pl.when(number.is_finite()).then(number).otherwise(None)
    if dtype == pl.Int64:
        whole = pl.when(number.is_finite() & (number == number.round()) & (number.abs() < 2.0**53)).then(
            number.cast(pl.Int64))
        if decimal == ",":
            return whole
        return pl.coalesce(s.cast(pl.Int64, strict=False), whole)
    if dtype == pl.Date:
        text = pl.when(s.str.contains(_DATE_TEXT)).then(s.str.slice(0, 10))
        return text.str.to_date("%Y-%m-%d", strict=False)
    if dtype == pl.Boolean:
        low = s.str.to_lowercase()
        return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
    raise TypeError(f"no cast from text to {dtype} for column {column!r}")


def type_reason(dtype: pl.DataType) -> str:
    """What a value of ``dtype`` must look like, for quarantine reasons."""
    return {
        pl.Float64: "a finite number",
        pl.Int64: "a whole number",
        pl.Date: "a date (YYYY-MM-DD)",
        pl.Boolean: "true or false",
    }.get(dtype, str(dtype))


#: Date values written in a form no setting reads (the source config has ``decimal`` and ``week_start``, no
#: date format): the pattern of the whole value and how to export it instead.
_DATE_FORMS = {
    r"[0-3]?[0-9][/.-][01]?[0-9][/.-][0-9]{4}": (
        "dates are written day first (31/12/2026) where plantwin reads YYYY-MM-DD (2026-12-31); no setting "
        "reads another date format (the source config has none): export the dates as YYYY-MM-DD (in SQL "
        "strftime(d, '%Y-%m-%d'), in a spreadsheet the cell format yyyy-mm-dd)."),
    r"[0-9]{4}-?W[0-5][0-9](-?[1-7])?": (
        "weeks are written as ISO weeks (2026-W05) where plantwin reads the date of the week's Monday "
        "(2026-01-26); no setting reads week numbers (the source config has none): export each week as its "
        "Monday, YYYY-MM-DD (in SQL date_trunc('week', d))."),
}


def date_form_hints(quarantine: pl.DataFrame) -> list[str]:
    """A fix hint per file of ``quarantine`` whose every value refused as no date (rule ``type``) is written
    in one of the forms of ``_DATE_FORMS`` (a whole export of day-first dates or ISO weeks), in the form of
    :func:`data_contracts.formats.fix_hints`' lines; none for a file with any other refused date value."""
    if "reason" not in quarantine.columns:
        return []
    words = f"' is not {type_reason(pl.Date)}"
    dates = (quarantine.filter((pl.col("rule") == TYPE_RULE) & pl.col("reason").str.ends_with(words))
             .with_columns(pl.col("reason").str.extract(r"'(.*)' is not ").alias("value")))
    lines = []
    for (source_file,), rows in dates.group_by("source_file", maintain_order=True):
        for pattern, hint in _DATE_FORMS.items():
            if rows["value"].str.contains(f"^(?:{pattern})$").fill_null(False).all():
                lines.append(hint_line(source_file, rows["source_row"].n_unique(), TYPE_RULE, hint))
    return sorted(lines)


def cast_frame(
    raw: pl.DataFrame, columns: dict[str, pl.DataType], decimal: str = "."
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast the text ``columns`` of ``raw`` to their types.

    Args:
        raw: Frame with every column of ``columns`` as ``pl.String``.
        columns: Column name → target dtype, in output order.
        decimal: The source's decimal mark (``.`` or ``,``).

    Returns:
        ``(typed, failed)``: ``typed`` has ``columns`` with their dtypes (unparseable values null);
        ``failed`` has one boolean column per non-text column, true where the value did not parse.
    """
    typed = raw.select(cast_expr(c, t, decimal).alias(c) for c, t in columns.items())
    present = raw.select(
        (pl.col(c).str.strip_chars().fill_null("") != "").alias(c)
        for c, t in columns.items()
        if t != pl.String
    )
    failed = present.with_columns(
        (pl.col(c) & typed.get_column(c).is_null()).alias(c) for c in present.columns
    )
    return typed, failed
