"""The DuckDB warehouse: tables from the schema module, append-only raw loads, runs and their outputs.

A run is all or nothing. Its stages write into a staging schema of their own (``stage_<run>``); only
:meth:`Warehouse.commit_run` moves the staged frames into the output tables, in one transaction that also
marks the run ``success``. A failed run drops its staging schema and keeps its ``runs`` row with the error.

The tables' layout as SQL text (their DDL, the raw and clean views, the schema's mark) lives below this
module, in :mod:`warehouse.layout`, which :meth:`Warehouse.migrate` creates, and the connection to the file in
:mod:`warehouse.connection`, which :func:`open_warehouse` opens; the frames go to DuckDB as
:mod:`warehouse.frames` hands them. None of them imports anything of this module.

The raw loads (a source file's rows landed, the raw rows a run reads of them) live in
:mod:`warehouse.raw_loads`, as the mixin :class:`~warehouse.raw_loads.RawLoads` this module's
:class:`Warehouse` derives from; it, too, imports nothing of this module.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from data_contracts import schema
from data_contracts.config import ParameterError
from warehouse.connection import connect
from warehouse.frames import _INSERT_ROWS, _arrow, no_negative_zero
from warehouse.layout import (_clean_columns, _clean_select, _clean_views, _compressions, _ddl, _raw_views,
                              _schema_mark, _wanted_tables, sql_type)
from warehouse.raw_loads import EVENT_ENTITIES, RawLoads, _now
from warehouse.reads import run_rows
from warehouse.views import create_views

__all__ = ["EVENT_ENTITIES", "STREAM_MEMORY_LIMIT", "UnknownRun", "Warehouse", "open_warehouse"]


class Warehouse(RawLoads):
    """A connection to the warehouse file with the operations the pipeline needs."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path):
        self.con = con
        self.path = path
        self._typed: dict[str, tuple[str, ...]] = {}

    def typed_raw(self, entity: str) -> tuple[str, ...]:
        """The raw columns of ``entity`` this warehouse stores typed (:data:`schema.TYPED_RAW`): none where its
        ``raw_<entity>`` is a table of text (a warehouse made before, or an entity not typed)."""
        if entity not in self._typed:
            stored = entity in schema.TYPED_RAW and self.con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ? "
                "AND table_type = 'BASE TABLE'", [schema.stored_raw_table_name(entity)]).fetchone()[0] > 0
            self._typed[entity] = schema.TYPED_RAW[entity] if stored else ()
        return self._typed[entity]

    # ------------------------------------------------------------------ schema
    def migrate(self) -> None:
        """Create every table that does not exist yet and add columns a newer schema has (idempotent).

        A migrated file carries the schema's fingerprint (:func:`_schema_mark`, as the comment of ``runs``);
        a file already carrying this code's fingerprint is left alone: a run opens its warehouse a dozen
        times, and each migration re-ran ~70 statements and rewrote the views (0.1 CPU-s, 0.4 s at load).
        """
        mark = _schema_mark()
        self._typed.clear()  # the layout is read again after the migration (typed_raw)
        found = self.con.execute(
            "SELECT comment FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = ?",
            [schema.RUNS.name]).fetchall()
        if found and found[0][0] == mark:
            return
        # columns a newer schema adds take, in an older warehouse's rows, what those rows meant: a clean
        # input table its entity's defaults (resources.campaign false, ...), an output table its backfill
        # (plan_inventory.consumed 0); raw tables keep null: they hold what was loaded
        backfill = {schema.stored_clean_table_name(t.name): t.defaults for t in schema.INPUT_ENTITIES}
        backfill |= {t.name: t.backfill for t in (*schema.OUTPUT_TABLES, *schema.TWIN_TABLES) if t.backfill}
        with self.transaction():  # one commit, not ~70 (a new warehouse: 0.2 s against 0.6–1.6 s)
            tables = {n for (n,) in self.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE'").fetchall()}
            # an older warehouse's raw text table stays as it is (its rows are never rewritten) and is
            # appended to as before; a new warehouse stores the typed raw columns under a view of the text
            text = frozenset(e for e in schema.TYPED_RAW if schema.raw_table_name(e) in tables)
            wanted = _wanted_tables(text)
            for entity in schema.DERIVED_CLEAN:  # an older warehouse's clean table: the typed rows under the view
                old, stored = schema.clean_table_name(entity), schema.stored_clean_table_name(entity)
                if old in tables and stored not in tables:
                    self.con.execute(f"ALTER TABLE {old} RENAME TO {stored}")
            compressions = _compressions()  # a raw table created before keeps DuckDB's choice: read the same
            for name, columns in wanted.items():
                self.con.execute(_ddl(name, columns, compressions.get(name)))
            have = set(self.con.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'main'"
            ).fetchall())
            fill: dict[str, dict[str, object]] = {}
            for name, columns in wanted.items():
                for c, dtype in columns.items():  # e.g. resources' campaign columns in an older warehouse
                    if (name, c) not in have:
                        self.con.execute(f'ALTER TABLE {name} ADD COLUMN "{c}" {sql_type(dtype)}')
                        if backfill.get(name, {}).get(c) is not None:  # what the older rows meant
                            fill.setdefault(name, {})[c] = backfill[name][c]
            # every column added before any row is filled: DuckDB refuses to commit an UPDATE followed by
            # another ALTER of the same table in one transaction (and an ADD COLUMN ... DEFAULT false)
            for name, values in fill.items():
                sets = ", ".join(f'"{c}" = ?' for c in values)
                self.con.execute(f"UPDATE {name} SET {sets}", list(values.values()))
            for name, select in (_raw_views(text) | _clean_views(text)).items():
                self.con.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")
            create_views(self.con)  # analysts' views travel with every published snapshot
            if tables and schema.RUN_WARNINGS.name not in tables:  # runs made before the table: once
                self._backfill_warnings()
            self.con.execute(f"COMMENT ON TABLE {schema.RUNS.name} IS '{mark}'")

    def _backfill_warnings(self) -> None:
        """Store, for each run made before ``run_warnings`` existed, the warnings its summary showed then and
        that the warehouse's rows still give (:func:`warehouse.reads.past_run_warnings`); their
        ``runs.warnings`` stays null."""
        from warehouse.reads import past_run_warnings

        runs = self.con.execute(f"SELECT run_id FROM {schema.RUNS.name} ORDER BY run_id").fetchall()
        for (run_id,) in runs:
            noticed = past_run_warnings(self.con, run_id)
            if noticed.height:
                self._insert(schema.RUN_WARNINGS.name, noticed.with_columns(pl.lit(run_id).alias("run_id")))

    # ------------------------------------------------------------------ runs
    def start_run(self, *, kind: str, scenario: str, run_date: date, parameters: Mapping[str, Any],
                  code_version: str, base_run_id: str | None = None) -> str:
        """Insert a ``running`` row for a new run and return its id."""
        run_id = f"run-{_now():%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        row = {c: None for c in schema.RUNS.columns} | {
            "run_id": run_id, "kind": kind, "scenario": scenario, "base_run_id": base_run_id,
            "run_date": run_date, "parameters": json.dumps(parameters, default=str, sort_keys=True),
            "input_load_ids": "{}", "code_version": code_version, "status": "running", "started_at": _now(),
        }
        self._insert(schema.RUNS.name, pl.DataFrame([row], schema=schema.RUNS.schema))
        self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {self._stage(run_id)}")
        return run_id

    def abandon_unfinished_runs(self) -> list[str]:
        """Mark runs still ``running`` as failed: called under the warehouse lock, so no one runs them.

        A process killed mid-run (out of memory, a worker stopped) cannot record its own end; the next run
        records it, and drops whatever the dead run had staged.
        """
        stale = [r for (r,) in self.con.execute(
            f"SELECT run_id FROM {schema.RUNS.name} WHERE status = 'running'").fetchall()]
        for run_id in stale:
            self.fail_run(run_id, "abandoned: the process running it ended before the run finished")
        return stale

    def update_run(self, run_id: str, **fields: Any) -> None:
        """Set columns of a run's row (values that are dicts are stored as JSON)."""
        unknown = set(fields) - set(schema.RUNS.columns)
        if unknown:
            raise KeyError(f"runs has no column(s) {sorted(unknown)}")
        # dicts are stored as JSON in their own order (stage timings stay in pipeline order)
        values = [json.dumps(v, default=str) if isinstance(v, dict) else v for v in fields.values()]
        sets = ", ".join(f'"{c}" = ?' for c in fields)
        self.con.execute(f"UPDATE {schema.RUNS.name} SET {sets} WHERE run_id = ?", [*values, run_id])

    def stage(self, run_id: str, name: str, frame: pl.DataFrame) -> None:
        """Keep a run's output frame (without run_id) in its staging schema until the run commits."""
        target = f"{self._stage(run_id)}.{_ident(name)}"
        self._unstage(run_id, name)
        frame = no_negative_zero(frame)
        self.con.register("_stage_frame", _arrow(frame.head(0)))
        try:
            self.con.execute(f"CREATE TABLE {target} AS SELECT * FROM _stage_frame")
        finally:
            self.con.unregister("_stage_frame")
        self._insert(f"{self._stage(run_id)}.{_ident(name)}", frame)

    def stage_query(self, run_id: str, name: str, sql: str, params: list[Any] | None = None) -> None:
        """Keep the rows of a query (without run_id) as a run's output in its staging schema: a table made
        where its rows already are, without passing them through Python."""
        target = f"{self._stage(run_id)}.{_ident(name)}"
        self._unstage(run_id, name)
        self.con.execute(f"CREATE TABLE {target} AS {sql}", params or [])

    def stage_clean_load(self, run_id: str, entity: str, load_id: str) -> None:
        """Stage a run's clean rows of ``entity`` (one of :data:`schema.DERIVED_CLEAN`) as every raw row of
        ``load_id``, cast on read: no row is copied. The run's later stages read the staged view
        (:meth:`staged`); its commit stores the ``clean_loads`` row that makes ``clean_<entity>`` show them."""
        if entity not in schema.DERIVED_CLEAN:
            raise ValueError(f"{entity}: its clean rows are stored, not derived from a load")
        name = schema.clean_table_name(entity)
        self._unstage(run_id, name)
        typed = self.typed_raw(entity)
        table = schema.stored_raw_table_name(entity) if typed else schema.raw_table_name(entity)
        raw = f"SELECT * FROM main.{table} WHERE {schema.LOAD_ID} = '{load_id.replace(chr(39), chr(39) * 2)}'"
        self.con.execute(
            f"CREATE VIEW {self._stage(run_id)}.{_ident(name)} AS SELECT {_clean_select(entity, raw, typed)}")
        loads = f"{self._stage(run_id)}.{schema.CLEAN_LOADS.name}"
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {loads} (entity VARCHAR, load_id VARCHAR)")
        self.con.execute(f"INSERT INTO {loads} VALUES (?, ?)", [entity, load_id])

    def _unstage(self, run_id: str, name: str) -> None:
        """Drop what the run staged as ``name`` (a table, or a clean view and its ``clean_loads`` row)."""
        stage = self._stage(run_id)
        for (kind,) in self.con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
            [stage, name],
        ).fetchall():
            self.con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {stage}.{_ident(name)}")
        entity = name.removeprefix("clean_")
        if entity in schema.DERIVED_CLEAN and schema.CLEAN_LOADS.name in self.staged_names(run_id):
            self.con.execute(f"DELETE FROM {stage}.{schema.CLEAN_LOADS.name} WHERE entity = ?", [entity])

    def staged(self, run_id: str, name: str) -> pl.DataFrame:
        """A frame a stage of this run staged earlier."""
        return self.con.execute(f"SELECT * FROM {self._stage(run_id)}.{_ident(name)}").pl()

    def stage_from_run(self, source_run_id: str, run_id: str, names: list[str]) -> None:
        """Stage, for ``run_id``, the rows another run committed to the tables ``names``."""
        for name in names:
            target = f"{self._stage(run_id)}.{_ident(name)}"
            self._unstage(run_id, name)
            self.con.execute(
                f"CREATE TABLE {target} AS SELECT * EXCLUDE (run_id) FROM {_ident(name)} WHERE run_id = ?",
                [source_run_id],
            )

    def staged_names(self, run_id: str) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY table_name",
            [self._stage(run_id)],
        ).fetchall()
        return [r[0] for r in rows]

    def commit_run(self, run_id: str, **fields: Any) -> None:
        """Move every staged frame into its table and mark the run ``success``, in one transaction. A staged
        clean view (:meth:`stage_clean_load`) moves nothing: its ``clean_loads`` row is the record."""
        stage = self._stage(run_id)
        views = {n for (n,) in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'VIEW'",
            [stage]).fetchall()}
        with self.transaction():
            for name in self.staged_names(run_id):
                columns = schema.table(name).column_names if name in schema.TABLES else None
                target = name
                if columns is None and name.startswith("clean_") and name not in views:
                    columns = list(_clean_columns(name.removeprefix("clean_")))
                    target = schema.stored_clean_table_name(name.removeprefix("clean_"))
                if columns is None:
                    continue  # intermediate frame, not an output
                select = ", ".join("?" if c == "run_id" else f'"{c}"' for c in columns)
                target_cols = ", ".join(f'"{c}"' for c in columns)
                self.con.execute(
                    f"INSERT INTO {target} ({target_cols}) SELECT {select} FROM {stage}.{_ident(name)}", [run_id]
                )
            if schema.RUN_WARNINGS.name in self.staged_names(run_id):  # a run that checked its inputs
                fields.setdefault("warnings", self._warning_count(run_id))
            self.update_run(run_id, status="success", finished_at=_now(), **fields)
        self.con.execute(f"DROP SCHEMA IF EXISTS {stage} CASCADE")

    def _warning_count(self, run_id: str) -> int:
        return self.con.execute(f"SELECT count(*) FROM {schema.RUN_WARNINGS.name} WHERE run_id = ?",
                                [run_id]).fetchone()[0]

    def record_validation(self, run_id: str, quarantine: pl.DataFrame, results: pl.DataFrame,
                          warnings: pl.DataFrame | None = None) -> None:
        """Store a failed validation's quarantine rows, results and warnings at once: the record of why a run
        failed, and what else its contracts noticed."""
        with self.transaction():
            frames = [(schema.QUARANTINE, quarantine), (schema.CONTRACT_RESULTS, results)]
            if warnings is not None:
                frames.append((schema.RUN_WARNINGS, warnings))
            for table, frame in frames:
                self._insert(table.name, frame.with_columns(pl.lit(run_id).alias("run_id")))
            if warnings is not None:
                self.update_run(run_id, warnings=self._warning_count(run_id))

    def fail_run(self, run_id: str, error: str, **fields: Any) -> None:
        """Drop whatever the run staged and record the error."""
        self.con.execute(f"DROP SCHEMA IF EXISTS {self._stage(run_id)} CASCADE")
        self.update_run(run_id, status="failed", error=error, finished_at=_now(), **fields)

    def run(self, run_id: str) -> dict[str, Any]:
        """A run's row as a dict (read as the report reads it, :func:`warehouse.reads.run_rows`)."""
        row = run_rows(self.con, run_id).get(run_id)
        if row is None:
            raise UnknownRun(f"no run {run_id!r} in {self.path}")
        return row

    def latest_run(self, status: str = "success", but_kind: str | None = None) -> str | None:
        """The latest run of ``status`` (not of kind ``but_kind``, when given)."""
        row = self.con.execute(
            f"SELECT run_id FROM {schema.RUNS.name} WHERE status = ? AND kind IS DISTINCT FROM ? "
            "ORDER BY started_at DESC LIMIT 1", [status, but_kind]
        ).fetchone()
        return row[0] if row else None

    def read(self, name: str, run_id: str | None = None) -> pl.DataFrame:
        """A table's rows, those of one run when ``run_id`` is given."""
        table = _ident(name)
        if run_id is None:
            return self.con.execute(f"SELECT * FROM {table}").pl()
        return self.con.execute(f"SELECT * FROM {table} WHERE run_id = ?", [run_id]).pl()

    def planning_inputs(self, run_id: str) -> dict[str, pl.DataFrame]:
        """The validated inputs a run planned on (:data:`schema.PLANNING_INPUTS`), entity → frame without
        ``run_id``: what a replay, a re-plan or a benchmark of a stored run rebuilds its network from."""
        return {
            t.name: self.read(schema.clean_table_name(t.name), run_id).drop("run_id")
            for t in schema.PLANNING_INPUTS
        }

    # ------------------------------------------------------------------ helpers
    def limit_memory(self, limit: str | None = None) -> None:
        """Cap DuckDB's memory on this connection (default :data:`STREAM_MEMORY_LIMIT`): beyond it, DuckDB
        spills its groupings and sorts to a folder beside the warehouse file instead of growing the process."""
        limit = limit or STREAM_MEMORY_LIMIT
        if not re.fullmatch(r"[0-9.]+ ?[KMGT]i?B", limit):
            raise ValueError(f"not a memory size: {limit!r}")
        self.con.execute(f"SET memory_limit = '{limit}'")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    def _insert(self, name: str, frame: pl.DataFrame) -> None:
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        target = ".".join(_ident(part) for part in name.split(".", 1))
        for chunk in frame.iter_slices(_INSERT_ROWS):
            self.con.register("_insert_frame", _arrow(chunk))
            try:
                self.con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM _insert_frame")
            finally:
                self.con.unregister("_insert_frame")

    @staticmethod
    def _stage(run_id: str) -> str:
        return "stage_" + re.sub(r"[^0-9a-zA-Z]", "_", run_id)


#: DuckDB's memory in the stages that stream the inputs through the warehouse (ingest, contracts): the
#: process stays near this plus Python's own (8.5 million order lines: 2.0 GiB at the peak without it).
STREAM_MEMORY_LIMIT = "1GiB"


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not a table name: {name!r}")
    return name


class UnknownRun(ParameterError, KeyError):
    """No run of that id in the warehouse: a bad parameter (the CLI's exit 2) and a failed lookup."""

    def __str__(self) -> str:  # the message itself, not KeyError's quoted repr of it
        return str(self.args[0]) if self.args else ""


@contextmanager
def open_warehouse(path: Path | str, read_only: bool = False) -> Iterator[Warehouse]:
    """Open (and migrate, unless read-only) the warehouse file."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(path, read_only=read_only)
    try:
        wh = Warehouse(con, path)
        if not read_only:
            wh.migrate()
        yield wh
    finally:
        con.close()
