"""Helpers for tests: typed frames → the raw text form the warehouse hands to the contracts."""

from __future__ import annotations

from datetime import date

import polars as pl

from data_contracts import schema

__all__ = ["as_raw", "all_as_raw", "tiny_inputs", "TINY_RUN_DATE"]


def as_raw(
    frame: pl.DataFrame, entity: str, load_id: str = "ld-test", source_file: str | None = None
) -> pl.DataFrame:
    """``frame`` as the warehouse stores it raw: every column as text (null stays null), plus metadata.

    Args:
        frame: Typed (or already text) frame of ``entity``; columns are kept as they are (missing ones
            stay missing, extra ones stay), so tests can break the structure on purpose.
        entity: Input entity name (names the file ``<entity>.csv`` unless ``source_file`` is given).
        load_id: Load id of every row.
        source_file: Source file name.

    Returns:
        Text frame with ``_load_id``, ``_source_file`` and ``_source_row`` (1 = first data row).
    """
    text = frame.select(
        pl.col(c).dt.strftime("%Y-%m-%d")
        if frame.schema[c] == pl.Date
        else pl.col(c).cast(pl.String).str.to_lowercase()
        if frame.schema[c] == pl.Boolean
        else pl.col(c).cast(pl.String)
        for c in frame.columns
    )
    return text.with_columns(
        pl.lit(load_id).alias(schema.LOAD_ID),
        pl.lit(source_file or f"{entity}.csv").alias(schema.SOURCE_FILE),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(schema.SOURCE_ROW),
    )


def all_as_raw(frames: dict[str, pl.DataFrame], load_id: str = "ld-test") -> dict[str, pl.DataFrame]:
    """:func:`as_raw` of every entity frame."""
    return {e: as_raw(f, e, load_id) for e, f in frames.items()}


#: Run date that :func:`tiny_inputs` is valid for.
TINY_RUN_DATE = date(2026, 3, 2)


def _frame(t: schema.Table, rows: list[tuple]) -> pl.DataFrame:
    """Rows may stop before trailing columns that have a default (resources' campaign columns)."""
    tail = [t.defaults[c] for c in t.column_names if c in t.defaults]
    n = len(t.columns)
    full = [r if len(r) == n else (*r, *tail[len(tail) - (n - len(r)):]) for r in rows]
    return pl.DataFrame(full, schema=t.schema, orient="row")


def tiny_inputs() -> dict[str, pl.DataFrame]:
    """A valid typed input set a person can check: 3 products, 1 plant + 2 DCs, every entity.

    Plant ``PL1`` (resources ``R1``, ``R2``) ships to ``DC1`` (1 week) and ``DC2`` (2 weeks); products
    ``P1``…``P3`` are routed at ``PL1``; 4 orders, 2 inventory lots, 1 receipt, 1 calendar week, 1 batch,
    1 changeover, 1 bill-of-materials row (P3 consumes P1), 1 storage limit (vaccines at PL1).
    """
    d = date
    return {
        schema.PRODUCTS.name: _frame(
            schema.PRODUCTS,
            [
                ("P1", "Vax A", "vaccines", "doses", 52, 2.0, 0.1, 50.0, 1, 0.95, "manufacture"),
                ("P2", "Mab B", "monoclonals", "vials", None, 100.0, 1.0, 500.0, 2, 0.9, "manufacture"),
                ("P3", "Vax C", "vaccines", "doses", 26, 1.5, 0.05, 20.0, 3, 0.8, "release"),
            ],
        ),
        schema.SITES.name: _frame(
            schema.SITES,
            [
                ("PL1", "Plant 1", "plant", "EU"),
                ("DC1", "DC North", "dc", "EU"),
                ("DC2", "DC South", "dc", "EU"),
            ],
        ),
        schema.RESOURCES.name: _frame(
            schema.RESOURCES,
            [
                ("R1", "PL1", "Bioreactor 1", 120.0),
                ("R2", "PL1", "Filling 1", 100.0),
            ],
        ),
        schema.ROUTINGS.name: _frame(
            schema.ROUTINGS,
            [
                ("P1", "R1", 0.01, 0.9, 1.0, 2, None, None),
                ("P2", "R1", 0.1, 0.8, 20.0, 3, 100.0, 500.0),
                ("P3", "R2", 0.02, 1.0, 0.5, 1, None, None),
            ],
        ),
        schema.LANES.name: _frame(
            schema.LANES,
            [
                ("PL1", "DC1", 1, 0.2, None),
                ("PL1", "DC2", 2, 0.3, 10000.0),
            ],
        ),
        schema.ORDERS.name: _frame(
            schema.ORDERS,
            [
                ("O1", d(2026, 1, 5), d(2026, 2, 2), "P1", "DC1", 100.0, "open"),
                ("O2", d(2026, 1, 6), d(2026, 2, 9), "P2", "DC2", 10.0, "shipped"),
                ("O3", d(2026, 1, 7), d(2026, 2, 9), "P3", "DC1", 50.0, "cancelled"),
                ("O4", d(2026, 1, 8), d(2026, 2, 16), "P1", "DC2", 70.0, "open"),
            ],
        ),
        schema.INVENTORY.name: _frame(
            schema.INVENTORY,
            [
                (d(2026, 3, 1), "P1", "DC1", "L1", 500.0, d(2027, 1, 1), "released"),
                (d(2026, 3, 1), "P2", "PL1", "L2", 20.0, None, "quarantine"),
            ],
        ),
        schema.RECEIPTS.name: _frame(schema.RECEIPTS, [("P1", "PL1", d(2026, 3, 9), 1000.0, "production")]),
        schema.CALENDAR.name: _frame(schema.CALENDAR, [("R1", d(2026, 3, 9), 0.0)]),
        # applies to PL1's campaign resources: none here, so the plan ignores it
        schema.CHANGEOVERS.name: _frame(schema.CHANGEOVERS, [(None, "PL1", "P1", "P2", 24.0, 5000.0)]),
        schema.BATCHES.name: _frame(
            schema.BATCHES,
            [
                ("B1", "P1", "R1", d(2025, 10, 1), d(2025, 11, 1), 1000.0, 950.0, True),
            ],
        ),
        schema.BOM.name: _frame(schema.BOM, [("P3", "P1", 0.5, 0.1)]),
        schema.STORAGE.name: _frame(schema.STORAGE, [("PL1", "vaccines", 100000.0)]),
    }
