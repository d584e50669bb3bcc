"""The raw frames a run would read from some sources, without touching any warehouse on disk.

``plantwin validate`` checks inputs before a run: it needs exactly what the contracts see in a run
(schema columns as text plus ``_load_id``, ``_source_file``, ``_source_row`` and ``_extra``). Rather
than rebuild that shape by hand, the sources are landed in a throwaway in-memory warehouse and read
back with :meth:`Warehouse.raw_rows`, the method a run uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import polars as pl

from data_contracts import schema
from data_contracts.casting import cast_expr
from warehouse.connection import connect
from warehouse.db import Warehouse
from warehouse.sources import SourceFile, read_folder

__all__ = ["inferred_run_date", "landed", "raw_frames", "read_sources"]


def read_sources(input_dir: Path | None = None, source: Path | None = None) -> list[SourceFile]:
    """Read an input folder or a source config (exactly one), as a run's ingest stage does.

    Raises:
        ValueError: neither or both are given.
        SourceError: a source cannot be read.
    """
    if (input_dir is None) == (source is None):
        raise ValueError("give exactly one of an input folder or a source config")
    if source is not None:
        from warehouse.source_config import read_configured_source

        return read_configured_source(source)
    return read_folder(input_dir)


def raw_frames(sources: list[SourceFile]) -> dict[str, pl.DataFrame]:
    """Entity → raw frame, as a run reads it, from sources landed in an in-memory warehouse."""
    with landed(sources) as (wh, load_ids):
        return {entity: wh.raw_rows(entity, load_id) for entity, load_id in load_ids.items()}


@contextmanager
def landed(sources: list[SourceFile]) -> Iterator[tuple[Warehouse, dict[str, str]]]:
    """The sources landed in an in-memory warehouse, open for the contracts: ``(warehouse, entity → load)``."""
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        yield wh, {s.entity: wh.land(s)[0] for s in sources}
    finally:
        con.close()


def inferred_run_date(raw: Mapping[str, object], today: date | None = None) -> date:
    """The run date a run would take when none is given: the latest inventory as-of date, else today."""
    inventory = raw.get(schema.INVENTORY.name)
    if inventory is not None and not isinstance(inventory, pl.DataFrame):
        inventory = inventory.frame()  # rows left in a warehouse (not so today: inventory is read whole)
    if inventory is not None and inventory.height:
        # the contracts' own reading of a date (ISO, a timestamp's date part): a value they refuse
        # (10/09/2019) never sets the run date, and a timestamp's date does
        latest = inventory.select(cast_expr("as_of_date", pl.Date).max()).item()
        if latest is not None:
            return latest
    return today or date.today()
