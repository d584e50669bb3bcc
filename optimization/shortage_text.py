"""How a shortage's detail writes its figures: numbers with thousands separators, ISO weeks and the chain of
components through the bill of materials, all as polars expressions on the shortage frame's columns.

The detail is read by planners (``+44.0 hours on US-FL01 in 2026-W19 recovers 17,730 units``), so the
figures are spelled the same way in every reason (:mod:`optimization.shortage_reasons`) and in the recovery
advice (:mod:`optimization.shortage_recovery`).
"""

from __future__ import annotations

import polars as pl

__all__ = ["component_chain", "fmt_number", "iso_week", "number"]


def iso_week(col: str) -> pl.Expr:
    """The date column ``col`` as its ISO week (``2026-W19``)."""
    return pl.col(col).dt.strftime("%G-W%V")


def component_chain(component: str, via: str) -> pl.Expr:
    """``its component C`` and, where the chain has items in between, `` (through B → A)``."""
    return pl.concat_str(
        pl.lit("its component "),
        pl.col(component),
        pl.when(pl.col(via) != "").then(pl.concat_str(pl.lit(" (through "), pl.col(via), pl.lit(")")))
        .otherwise(pl.lit("")),
    )


def fmt_number(value: pl.Expr, digits: int = 0) -> pl.Expr:
    """``value`` as text with thousands separators and ``digits`` decimals (``17,730``, ``81,903.78``)."""
    v = value.round(digits)
    a = v.abs()
    whole = (
        a.floor().cast(pl.Int64).cast(pl.String)
        .str.reverse().str.replace_all(r"(\d{3})", "${1},").str.strip_chars_end(",").str.reverse()
    )
    out = pl.concat_str(pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit("")), whole)
    if digits > 0:
        frac = ((a - a.floor()) * 10**digits).round(0).cast(pl.Int64).cast(pl.String).str.zfill(digits)
        out = pl.concat_str(out, pl.lit("."), frac)
    return out


def number(col: str, digits: int = 0) -> pl.Expr:
    """The column ``col`` as :func:`fmt_number` writes it."""
    return fmt_number(pl.col(col), digits)
