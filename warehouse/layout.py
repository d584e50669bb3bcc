"""The warehouse's layout as SQL text: every table it holds and its DDL, the raw rows' storage and the views
rebuilding their text, the clean views cast on read, and the fingerprint of it all.

:func:`sql_type` is a schema type's DuckDB type; :func:`_wanted_tables` names every table and its columns,
:func:`_ddl` creates one, a raw table's text with the compression :func:`raw_compression` chose. A typed raw
column is stored as its value beside its kept text (:func:`_stored_raw_columns`), and the ``raw_<entity>``
view rebuilds the text byte for byte (:func:`_raw_views`, :func:`_raw_select`); the ``clean_<entity>`` views
cast the raw rows on read (:func:`_clean_views`, :func:`clean_casts`). :func:`_schema_mark` fingerprints it
all, with the analysts' views and macros. :class:`warehouse.db.Warehouse` creates them (``migrate``); this
module imports nothing of it.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping

import polars as pl

from data_contracts import schema
from warehouse.views import MACROS, VIEWS

__all__ = ["clean_casts", "raw_compression", "sql_type"]


_SQL_TYPES = {
    pl.String: "VARCHAR",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Date: "DATE",
    pl.Boolean: "BOOLEAN",
}


def sql_type(dtype: pl.DataType) -> str:
    """DuckDB type of a polars dtype used in the schema."""
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP"
    return _SQL_TYPES[dtype.base_type() if hasattr(dtype, "base_type") else dtype]


def _ddl(name: str, columns: Mapping[str, pl.DataType], compression: Mapping[str, str] | None = None
         ) -> str:
    compression = compression or {}
    cols = ", ".join(
        f'"{c}" {sql_type(t)}' + (f" USING COMPRESSION {compression[c]}" if c in compression else "")
        for c, t in columns.items()
    )
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


def _raw_columns(entity: str) -> dict[str, pl.DataType]:
    t = schema.table(entity)
    cols: dict[str, pl.DataType] = {schema.LOAD_ID: pl.String, schema.SOURCE_FILE: pl.String,
                                    schema.SOURCE_ROW: pl.Int64}
    cols.update({c: pl.String for c in t.columns})
    cols[schema.RAW_EXTRA] = pl.String
    return cols


def _stored_raw_columns(entity: str) -> dict[str, pl.DataType]:
    """Columns of the table storing ``entity``'s raw rows (:func:`schema.stored_raw_table_name`): the raw
    columns, each of :data:`schema.TYPED_RAW` as its type followed by its kept text."""
    typed, dtypes = schema.TYPED_RAW.get(entity, ()), schema.table(entity).columns
    cols: dict[str, pl.DataType] = {}
    for c, dtype in _raw_columns(entity).items():
        if c in typed:
            cols[c] = dtypes[c]
            cols[schema.kept_text_column(c)] = pl.String
        else:
            cols[c] = dtype
    return cols


def _raw_text(c: str, alias: str = "") -> str:
    """SQL of a typed raw column's cell text: the kept text, else the typed value's canonical text (what the
    landing compared the cell with, :meth:`Warehouse._raw_insert`), so byte for byte the cell as loaded."""
    return f'coalesce({alias}"{schema.kept_text_column(c)}", CAST({alias}"{c}" AS VARCHAR))'


def _raw_select(entity: str, typed: tuple[str, ...], alias: str = "", scan: bool = False) -> list[str]:
    """The select list of ``entity``'s raw rows (the text layout's columns) from the table storing them, whose
    ``typed`` columns are stored typed; with ``scan``, each typed column also as ``"__t_<c>"`` (its value)
    and ``"__k_<c>"`` (its kept text), what the contracts' screen reads (:class:`warehouse.screen.WarehouseRows`)."""
    out = []
    for c in _raw_columns(entity):
        if c not in typed:
            out.append(f'{alias}"{c}"')
            continue
        out.append(f'{_raw_text(c, alias)} AS "{c}"')
        if scan:
            out += [f'{alias}"{c}" AS "__t_{c}"', f'{alias}"{schema.kept_text_column(c)}" AS "__k_{c}"']
    return out


def _raw_views(text: frozenset[str] = frozenset()) -> dict[str, str]:
    """``raw_<entity>`` view → its SELECT rebuilding the text, for each entity of :data:`schema.TYPED_RAW`
    not in ``text`` (those whose warehouse keeps the text layout: its ``raw_<entity>`` is a table)."""
    return {
        schema.raw_table_name(e): f"SELECT {', '.join(_raw_select(e, typed))} FROM {schema.stored_raw_table_name(e)}"
        for e, typed in schema.TYPED_RAW.items() if e not in text
    }


def raw_compression(entity: str) -> dict[str, str]:
    """Column → DuckDB compression of ``entity``'s raw text, chosen by what the column holds, so that DuckDB
    does not analyse every candidate method for every column segment of every load (the landing's CPU):

    - ``fsst`` (compressed strings) for text taking values without bound: the entity's key columns and the
      numbers' text;
    - ``dictionary`` for text of few distinct values: the load's constants (load id, source file), ``_extra``
      (null unless the file had columns the schema does not name), dates, flags, and the other text columns
      (references to products, sites and resources, statuses, names).

    Only the storage changes: every cell reads back as loaded. Measured on 1.1 M order lines (generated, and
    with random ids and PBS's costs as quantities) and on the 8.5 M of the big input: the same file size as
    DuckDB's choice at 0.74–0.91 of its insert CPU (docs/contracts-stage.md, stop 24). The record numbers
    (``_source_row``) keep DuckDB's choice.
    """
    t = schema.table(entity)
    chosen = {schema.LOAD_ID: "dictionary", schema.SOURCE_FILE: "dictionary", schema.RAW_EXTRA: "dictionary"}
    for c, dtype in t.columns.items():
        unbounded = (c in t.key and dtype == pl.String) or dtype in (pl.Float64, pl.Int64)
        chosen[c] = "fsst" if unbounded else "dictionary"
    return chosen


def _stored_compression(entity: str) -> dict[str, str]:
    """:func:`raw_compression` for the table storing ``entity``'s raw rows: a typed column's kept text is a
    dictionary (mostly null: FSST stores a column of nulls uncompressed, 30 MiB more on the big input's 8.5 M
    quantities, as it did ``_extra``'s, stop 24); the typed values keep DuckDB's choice (no string analysis)."""
    chosen = raw_compression(entity)
    for c in schema.TYPED_RAW.get(entity, ()):
        del chosen[c]
        chosen[schema.kept_text_column(c)] = "dictionary"
    return chosen


def _clean_columns(entity: str) -> dict[str, pl.DataType]:
    return {"run_id": pl.String, **schema.table(entity).columns}


def _wanted_tables(text: frozenset[str] = frozenset()) -> dict[str, Mapping[str, pl.DataType]]:
    """Every table the warehouse holds and its columns, by name; the entities in ``text`` keep their raw rows
    as text (a warehouse made before :data:`schema.TYPED_RAW`)."""
    wanted: dict[str, Mapping[str, pl.DataType]] = {}
    for t in schema.INPUT_ENTITIES:
        if t.name in schema.TYPED_RAW and t.name not in text:
            wanted[schema.stored_raw_table_name(t.name)] = _stored_raw_columns(t.name)
        else:
            wanted[schema.raw_table_name(t.name)] = _raw_columns(t.name)
        wanted[schema.stored_clean_table_name(t.name)] = _clean_columns(t.name)
    for t in (schema.LOADS, schema.RUNS, schema.QUARANTINE, schema.CLEAN_LOADS, schema.CONTRACT_RESULTS,
              schema.RUN_WARNINGS,
              *schema.OUTPUT_TABLES, *schema.TWIN_TABLES):
        wanted[t.name] = t.columns
    return wanted


def clean_casts(entity: str, typed: Mapping[str, str], stored: bool = True) -> dict[str, str]:
    """Column → SQL of ``entity``'s clean column from ``typed`` (column → SQL of its typed value, as
    :func:`data_contracts.screen.typed_columns`): cast to the column's type; with ``stored``, ``-0.0`` is
    ``0.0``, as :meth:`Warehouse.stage` writes it."""
    return {
        c: f"CASE WHEN {typed[c]} = 0 THEN 0.0 ELSE {typed[c]} END"
        if stored and d == pl.Float64 else f"CAST({typed[c]} AS {sql_type(d)})"
        for c, d in schema.table(entity).columns.items()
    }


def _clean_select(entity: str, raw_rows: str, stored: tuple[str, ...] = ()) -> str:
    """The casts of ``entity``'s clean columns over ``raw_rows`` (SQL of raw rows, text as loaded, but the
    ``stored`` columns: typed, as the table storing them holds them)."""
    from data_contracts.screen import typed_columns  # the screen's own casts: the same SQL the contracts kept

    t = schema.table(entity)
    casts = clean_casts(entity, typed_columns(t) | {c: f'"{c}"' for c in stored})
    return ", ".join(f'{casts[c]} AS "{c}"' for c in t.columns) + f" FROM ({raw_rows})"


@functools.cache
def _clean_views(text: frozenset[str] = frozenset()) -> dict[str, str]:
    """``clean_<entity>`` view → its SELECT, for :data:`schema.DERIVED_CLEAN`: the typed rows runs stored, and
    for each run in ``clean_loads`` every raw row of its load, cast on read (its typed raw columns read as
    stored, unless the entity is in ``text``: the warehouse keeps its raw rows as text)."""
    views = {}
    for entity in schema.DERIVED_CLEAN:
        cols = ", ".join(f'"{c}"' for c in schema.table(entity).columns)
        stored = () if entity in text else schema.TYPED_RAW.get(entity, ())
        raw = schema.stored_raw_table_name(entity) if stored else schema.raw_table_name(entity)
        loads = (f"SELECT l.run_id AS __run, r.* FROM {raw} r "
                 f"JOIN {schema.CLEAN_LOADS.name} l ON r.{schema.LOAD_ID} = l.load_id AND l.entity = '{entity}'")
        views[schema.clean_table_name(entity)] = (
            f"SELECT run_id, {cols} FROM {schema.stored_clean_table_name(entity)} "
            f"UNION ALL SELECT __run AS run_id, {_clean_select(entity, loads, stored)}"
        )
    return views


def _compressions() -> dict[str, dict[str, str]]:
    """Table → its columns' chosen compression (:func:`raw_compression`): the tables storing raw rows'."""
    out = {schema.raw_table_name(t.name): raw_compression(t.name) for t in schema.INPUT_ENTITIES}
    out |= {schema.stored_raw_table_name(e): _stored_compression(e) for e in schema.TYPED_RAW}
    return out


@functools.cache
def _schema_mark() -> str:
    """``plantwin-schema <digest>`` of every table's DDL, view and macro this code creates."""
    digest = hashlib.sha256()
    compressions = _compressions()
    for name, columns in _wanted_tables().items():
        digest.update(_ddl(name, columns, compressions.get(name)).encode() + b"\0")
    for name, select in (VIEWS | _raw_views() | _clean_views()).items():
        digest.update(f"{name}\0{select}\0".encode())
    for name, (params, body) in MACROS.items():
        digest.update(f"{name}\0{params}\0{body}\0".encode())
    return f"plantwin-schema {digest.hexdigest()[:16]}"
