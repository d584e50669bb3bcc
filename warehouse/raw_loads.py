"""The raw loads of the warehouse: a source file's rows landed in its raw table (``loads`` records each), and
the raw rows a run reads of an entity, by SQL where they are.

:class:`RawLoads` is a mixin: :class:`warehouse.db.Warehouse` mixes it in and gives it the connection and
the operations it uses. This module imports nothing of :mod:`warehouse.db`.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from data_contracts import schema
from warehouse import csv_load
from warehouse.frames import _INSERT_ROWS, _arrow
from warehouse.layout import _raw_columns, _raw_select, _stored_raw_columns, sql_type
from warehouse.sources import InputChanged, SourceFile

__all__ = ["EVENT_ENTITIES", "RawLoads"]

#: Entities whose rows are events accumulating over loads (a later version of a key replaces the older);
#: every other entity is a snapshot: a run reads its latest load only.
EVENT_ENTITIES = (schema.ORDERS.name, schema.BATCHES.name)

#: ``loads`` rows of an entity up to and including a load (parameters: entity, load id)
_UP_TO = f"entity = ? AND loaded_at <= (SELECT loaded_at FROM {schema.LOADS.name} WHERE load_id = ?)"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class RawLoads:
    """The raw-landing methods of :class:`warehouse.db.Warehouse`, which mixes this class in.

    They rely on what the warehouse gives: ``con``, its DuckDB connection; ``typed_raw(entity)``, the raw
    columns stored typed; ``_insert(name, frame)``, a frame appended to a table; ``transaction()``, a
    context committing what runs inside it or rolling it back.
    """

    con: duckdb.DuckDBPyConnection

    def land(self, source: SourceFile) -> tuple[str, bool]:
        """Append a source file's rows to its raw table; a content already loaded is not stored again.

        A CSV file goes in by DuckDB's reader on one thread (:meth:`_land_csv`); one that reader refuses is
        read whole by polars, as before (:meth:`SourceFile.read_whole`), and lands as a frame, or is refused
        with polars' message. The source's ``row_count`` is the rows landed (or loaded before).

        Returns:
            The load id and whether the content was new.
        """
        known = self.con.execute(
            f"SELECT load_id, row_count FROM {schema.LOADS.name} WHERE entity = ? AND content_hash = ? "
            "ORDER BY loaded_at LIMIT 1",
            [source.entity, source.content_hash],
        ).fetchone()
        if known:
            source.landed(known[1])
            return known[0], False
        load_id = f"ld-{_now():%Y%m%dT%H%M%S}-{source.entity}-{secrets.token_hex(3)}"
        cut_off = None if source.csv is None else source.csv.cut_off  # read_whole drops the layout
        if source.csv is not None:
            try:
                with csv_load.one_thread(self.con), self.transaction():
                    rows = self._land_csv(source, load_id)
                    self._record_load(source, load_id, rows, plain=source.csv.plain, cut_off=cut_off)
                source.landed(rows)
                return load_id, True
            except csv_load.CsvParseError:
                source.read_whole()  # rolled back, nothing of it landed; its rows are now in source.frame
        with self.transaction():
            frame = source.frame.with_columns(
                pl.lit(load_id).alias(schema.LOAD_ID), pl.lit(str(source.path)).alias(schema.SOURCE_FILE)
            ).select(list(_raw_columns(source.entity)))
            self._insert_raw(source.entity, frame)
            self._record_load(source, load_id, frame.height, cut_off=cut_off)
        return load_id, True

    def _record_load(self, source: SourceFile, load_id: str, rows: int, plain: bool | None = None,
                     cut_off: bool | None = None) -> None:
        """Add the load's ``loads`` row; ``plain`` is what the scan of a CSV file landed by DuckDB's reader
        found (:attr:`csv_load.CsvLayout.plain`), None where no scan saw every byte (a frame); ``cut_off``
        whether a scanned CSV file ends mid-line (:attr:`csv_load.CsvLayout.cut_off`), None where not
        scanned."""
        loads = pl.DataFrame(
            [{"load_id": load_id, "entity": source.entity, "source": str(source.path),
              "content_hash": source.content_hash, "row_count": rows, "loaded_at": _now(), "plain": plain,
              "cut_off": cut_off}],
            schema=schema.LOADS.schema,
        )
        self._insert(schema.LOADS.name, loads)

    def _land_csv(self, source: SourceFile, load_id: str) -> int:
        """Insert a CSV file's rows with DuckDB's reader, no Python frame between (:mod:`warehouse.csv_load`);
        refuse, before the transaction commits, a file changed since it was hashed. Returns the rows.

        Raises:
            CsvParseError: DuckDB's reader refused the file (the caller rolls back and reads it whole).
            InputChanged: the file changed since it was hashed.
        """
        layout = source.csv
        sql, _, _ = csv_load.select_sql(source.path, layout, source.entity)
        select = ", ".join(
            f'? AS "{c}"' if c in (schema.LOAD_ID, schema.SOURCE_FILE) else f'"{c}"' for c in _raw_columns(source.entity)
        )
        (rows,) = csv_load.run_select(
            self.con, source.path, self._raw_insert(source.entity, f"SELECT {select} FROM ({sql})"),
            [load_id, str(source.path)]).fetchone()
        try:
            st = os.stat(source.path)
            changed = (st.st_size, st.st_mtime_ns) != (layout.size, layout.mtime_ns)
        except FileNotFoundError:
            changed = True
        if changed:
            raise InputChanged(f"{source.path.name}: changed after it was hashed, before its rows were landed "
                               "(rule: input_unchanged); nothing read is used. Run again when the delivery is "
                               "complete.")
        return int(rows)

    def _raw_insert(self, entity: str, rows: str) -> str:
        """SQL appending ``rows`` (SQL of raw rows: the text layout's columns) to the table storing ``entity``'s
        raw rows. A typed column (:meth:`typed_raw`) stores the cell's ``TRY_CAST`` and, beside it, the cell
        itself unless it is the typed value's canonical text (``CAST(typed AS VARCHAR)``, what the view
        rebuilds, :func:`_raw_text`): the text of every cell stays recoverable byte for byte."""
        cols, typed = list(_raw_columns(entity)), self.typed_raw(entity)
        if not typed:
            names = ", ".join(f'"{c}"' for c in cols)
            return f"INSERT INTO {schema.raw_table_name(entity)} ({names}) SELECT {names} FROM ({rows})"
        dtypes = schema.table(entity).columns
        casts = ", ".join(f'TRY_CAST("{c}" AS {sql_type(dtypes[c])}) AS "__t_{c}"' for c in typed)
        values = []
        for c in cols:
            values += [f'"__t_{c}"', f'CASE WHEN CAST("__t_{c}" AS VARCHAR) = "{c}" THEN NULL ELSE "{c}" END'] \
                if c in typed else [f'"{c}"']
        names = ", ".join(f'"{c}"' for c in _stored_raw_columns(entity))
        return (f"INSERT INTO {schema.stored_raw_table_name(entity)} ({names}) SELECT {', '.join(values)} "
                f"FROM (SELECT *, {casts} FROM ({rows}))")

    def _insert_raw(self, entity: str, frame: pl.DataFrame) -> None:
        """Append a frame of raw rows (the text layout's columns) to the table storing ``entity``'s."""
        if not self.typed_raw(entity):
            self._insert(schema.raw_table_name(entity), frame)
            return
        for chunk in frame.iter_slices(_INSERT_ROWS):
            self.con.register("_insert_frame", _arrow(chunk))
            try:
                self.con.execute(self._raw_insert(entity, "SELECT * FROM _insert_frame"))
            finally:
                self.con.unregister("_insert_frame")

    def raw_rows(self, entity: str, load_id: str, snapshot: bool = False) -> pl.DataFrame:
        """The raw rows a run reads for ``entity`` given the load of this run.

        Snapshot entities: the rows of that load. Event entities (orders, batches): every load up to and
        including it, the latest version of each key; unless ``snapshot`` (a source declaring its orders a
        full extract, ``orders: {mode: snapshot}``): the rows of that load only, so a line missing from it
        no longer counts.
        """
        sql, params = self.raw_query(entity, load_id, snapshot)
        return self.con.execute(f"SELECT * EXCLUDE ({schema.RAW_POSITION}) FROM ({sql}) ORDER BY {schema.RAW_POSITION}",
                                params).pl()

    def raw_count(self, entity: str, load_id: str, snapshot: bool = False) -> int:
        """How many rows :meth:`raw_rows` would return, counted where they are."""
        sql, params = self.raw_query(entity, load_id, snapshot)
        return int(self.con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0])

    def raw_query(self, entity: str, load_id: str, snapshot: bool = False, scan: bool = False
                  ) -> tuple[str, list[Any]]:
        """SQL (and its parameters) selecting the raw rows :meth:`raw_rows` returns, unordered, with their
        position among them in the column ``schema.RAW_POSITION`` (what ``ORDER BY`` restores). With ``scan``,
        each column stored typed (:meth:`typed_raw`) also comes as its value and its kept text
        (``"__t_<c>"``, ``"__k_<c>"``), which the contracts' screen reads instead of casting the text."""
        typed = self.typed_raw(entity)
        raw = schema.stored_raw_table_name(entity) if typed else schema.raw_table_name(entity)
        cols = ", ".join(_raw_select(entity, typed, "r.", scan))
        if self.raw_in_order(entity, load_id, snapshot):
            # A full extract, or one load so far: every row is its own newest version (the window below
            # would rank them all first, at 17 CPU-s and 3.7 GB for 8.5 million order lines).
            return (
                f"SELECT {cols}, r.{schema.SOURCE_ROW} AS {schema.RAW_POSITION} FROM {raw} r "
                f"WHERE r.{schema.LOAD_ID} = ?",
                [load_id],
            )
        keys = [f'r."{k}"' for k in schema.table(entity).key]
        key, key_is_null = ", ".join(keys), " OR ".join(f"{k} IS NULL" for k in keys)
        return (
            f"""
            WITH upto AS (
                SELECT load_id, loaded_at FROM {schema.LOADS.name}
                WHERE {_UP_TO}
            )
            SELECT {cols}, row_number() OVER (ORDER BY u.loaded_at, r.{schema.SOURCE_ROW}) AS {schema.RAW_POSITION}
            FROM {raw} r JOIN upto u ON r.{schema.LOAD_ID} = u.load_id
            -- the newest load that has a key wins; duplicates inside that load stay for the contracts to reject
            QUALIFY dense_rank() OVER (PARTITION BY {key} ORDER BY u.loaded_at DESC) = 1 OR {key_is_null}
            """,
            [entity, load_id],
        )

    def raw_in_order(self, entity: str, load_id: str, snapshot: bool = False) -> bool:
        """Whether :meth:`raw_query` reads one load's rows by a plain scan, so that its rows come out in the
        raw order without ``ORDER BY`` (DuckDB keeps a single table's order through ``WHERE``)."""
        return entity not in EVENT_ENTITIES or snapshot or self._only_load(entity, load_id)

    def plain_loads(self, entity: str, load_id: str, snapshot: bool = False) -> bool:
        """Whether every load :meth:`raw_query` reads was recorded plain (``loads.plain``: ASCII text without
        blanks, tabs or quotes), so that none of its cells holds a blank or a character beyond ASCII. False
        where one is not known (null: a frame, a load made before the column)."""
        if self.raw_in_order(entity, load_id, snapshot):
            where, params = "load_id = ?", [load_id]
        else:
            where, params = _UP_TO, [entity, load_id]
        (plain,) = self.con.execute(
            f"SELECT coalesce(bool_and(coalesce(plain, false)), false) FROM {schema.LOADS.name} WHERE {where}",
            params).fetchone()
        return bool(plain)

    def _only_load(self, entity: str, load_id: str) -> bool:
        """Whether ``load_id`` is the only load of ``entity`` up to and including it."""
        (count,) = self.con.execute(
            f"SELECT count(*) FROM {schema.LOADS.name} WHERE {_UP_TO}",
            [entity, load_id],
        ).fetchone()
        return count == 1
