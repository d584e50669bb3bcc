"""How the warehouse hands polars frames to DuckDB: as Arrow with plain strings (:func:`_arrow`), at most
:data:`_INSERT_ROWS` rows at a time, and with every float ``-0.0`` written as ``0.0``
(:func:`no_negative_zero`), so that no stored table shows ``-0.0``.

:class:`warehouse.db.Warehouse` inserts and stages its frames through these, and the contracts' screen and
the twin's stage store theirs with :func:`no_negative_zero`; this module imports nothing of plantwin.
"""

from __future__ import annotations

from typing import Any

import polars as pl

__all__ = ["no_negative_zero"]


#: Rows handed to DuckDB per insert: bounds the Arrow copy of a frame (see :func:`_arrow`).
_INSERT_ROWS = 1_000_000


def _arrow(frame: pl.DataFrame) -> Any:
    """``frame`` as Arrow with plain (large) strings: DuckDB inserts those in half the CPU of polars'
    string views (13 against 26 CPU-s for 8.5 million order lines)."""
    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def no_negative_zero(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every float ``-0.0`` written as ``0.0`` (``-0.0 == 0`` holds, so a zero becomes ``+0.0``),
    so no output table shows ``-0.0``; NaN and null stay as they are."""
    floats = {c: t for c, t in frame.schema.items() if t in (pl.Float32, pl.Float64)}
    return frame.with_columns(
        pl.when(pl.col(c) == 0).then(pl.lit(0.0, dtype=t)).otherwise(pl.col(c)).alias(c) for c, t in floats.items()
    ) if floats else frame
