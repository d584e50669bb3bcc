"""Data values made safe to show and to open: no control characters on a console, no formulas in a CSV.

Input values reach people three ways: in messages (quarantine reasons, errors), on the console (``plantwin
validate``) and in files they open in a spreadsheet (``plantwin forecast --out x.csv``). A value is data,
never markup: terminal escape codes (``ESC [ 31 m``), bidirectional overrides and other control characters
are replaced by ``�`` before printing, long values are cut, and CSV cells starting like a formula get the
OWASP prefix ``'`` (https://owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

import re

import polars as pl

__all__ = [
    "CONTROL_PATTERN",
    "FORMULA_PATTERN",
    "REPLACEMENT",
    "neutralise_formulas",
    "printable",
    "printable_expr",
    "shown_expr",
]

#: C0 and C1 control characters (newline and tab included), zero-width marks and bidirectional
#: overrides/isolates; the pattern works both in Python's ``re`` and in polars (Rust ``regex``).
CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
#: What a control character is shown as.
REPLACEMENT = "\ufffd"
#: A CSV cell a spreadsheet would evaluate: starting with ``= + - @``, a tab or a carriage return.
FORMULA_PATTERN = r"^[=+\-@\t\r]"

_CONTROL = re.compile(CONTROL_PATTERN)


def printable(text: str, keep_newlines: bool = True) -> str:
    """``text`` with control characters replaced by ``�`` (newlines kept when ``keep_newlines``)."""
    if keep_newlines:
        return "\n".join(_CONTROL.sub(REPLACEMENT, line) for line in text.split("\n"))
    return _CONTROL.sub(REPLACEMENT, text)


def printable_expr(expr: pl.Expr) -> pl.Expr:
    """Polars version of :func:`printable` for a text expression (newlines replaced too)."""
    return expr.str.replace_all(CONTROL_PATTERN, REPLACEMENT)


def shown_expr(expr: pl.Expr, max_chars: int = 80) -> pl.Expr:
    """A text value as a message shows it: printable, and cut after ``max_chars`` characters with its
    length given (``'aaaa…' (2,000,000 characters)``), quoted; null stays null."""
    clean = printable_expr(expr)
    n = expr.str.len_chars()
    cut = pl.concat_str(
        pl.lit("'"),
        clean.str.slice(0, max_chars),
        pl.lit("…' ("),
        n.cast(pl.String),
        pl.lit(" characters)"),
    )
    return pl.when(n > max_chars).then(cut).otherwise(pl.concat_str(pl.lit("'"), clean, pl.lit("'")))


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells a spreadsheet would run as a formula, prefixed with ``'`` (the OWASP rule).

    Only text columns change: numbers (a negative quantity) are written as numbers.
    """
    text = [c for c, t in frame.schema.items() if t in (pl.String, pl.Categorical, pl.Enum)]
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(FORMULA_PATTERN))
        .then(pl.concat_str(pl.lit("'"), pl.col(c).cast(pl.String)))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text
    )
