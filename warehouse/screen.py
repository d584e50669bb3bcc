"""An entity's raw rows checked where they are: the warehouse side of :mod:`data_contracts.screen`.

:class:`WarehouseRows` stands for the raw rows a run reads of one entity (:meth:`Warehouse.raw_query`)
without reading them: its profile (rows, the columns holding a value, the file, extra columns) is one aggregate
query; :meth:`WarehouseRows.split` evaluates the contracts' SQL on every row and reads into polars only the
rows it is unsure of; :meth:`WarehouseRows.stage_clean` writes the run's clean table from the rows that
surely passed (cast in SQL) and the suspects polars found clean, in the raw order. Where the contracts
cannot write the SQL, :meth:`WarehouseRows.frame` reads every row, as before.
"""

from __future__ import annotations

from pathlib import PurePath
import polars as pl

from data_contracts import schema
from data_contracts.screen import BLANKS, SCREENED_ENTITIES, Profile, ScreenQuery, Split
from warehouse.db import Warehouse
from warehouse.frames import no_negative_zero
from warehouse.layout import clean_casts

__all__ = ["WarehouseRows", "raw_inputs"]

_P = schema.RAW_POSITION
#: rows :meth:`WarehouseRows._ascending` tests first, before the whole pass (1/130 of the big input's orders)
ASCENDING_PREFIX = 65_536


class WarehouseRows:
    """The raw rows of ``entity`` a run reads from load ``load_id`` (see :meth:`Warehouse.raw_rows`)."""

    def __init__(self, wh: Warehouse, entity: str, load_id: str, snapshot: bool = False) -> None:
        self.wh, self.entity, self.load_id, self.snapshot = wh, entity, load_id, snapshot
        self.table = schema.table(entity)
        self.sql, self.params = wh.raw_query(entity, load_id, snapshot)
        # the same rows with the typed raw columns' values and kept text beside the text: what every statement
        # evaluating the contracts' SQL reads (the text rebuilt only where a statement reads it)
        self.scan_sql, _ = wh.raw_query(entity, load_id, snapshot, scan=True)
        self.typed_raw = wh.typed_raw(entity)
        self._judged = f"__judged_{entity}"
        self._query: ScreenQuery | None = None
        self._kept = 0
        self._suspect_rows = -1
        self.profile = self._profile()

    def _profile(self) -> Profile:
        t, con = self.table, self.wh.con
        # a typed column holds a value where its value or its kept text is present (no text rebuilt to test it);
        # whether some row holds one is all the structure checks ask: a probe that stops at the first such
        # row, not a count of every row (≈ 0.045 of the statement's 0.065 CPU-s on 1.1 M order lines)
        filled = ", ".join("EXISTS (SELECT 1 FROM __rows WHERE " + (
            f'"__t_{c}" IS NOT NULL OR "__k_{c}" IS NOT NULL)' if c in self.typed_raw else f'"{c}" IS NOT NULL)')
            for c in t.columns)
        text_keys = [k for k in t.key if t.columns[k] == pl.String]
        if self.wh.plain_loads(self.entity, self.load_id, self.snapshot):
            # the ingest's scan saw every byte of the file: ASCII, no blank; the blanks' regex below was two
            # thirds of this statement, ~0.1 CPU-s per million keys (docs/contracts-stage.md, stop 26)
            ascii_keys, blank_keys = "true", "false"
        else:
            # ASCII: as many bytes as characters (a character beyond ASCII takes two bytes or more)
            ascii_keys = " AND ".join(f"coalesce(bool_and(strlen(\"{k}\") = length(\"{k}\")), true)"
                                      for k in text_keys) or "true"
            blank_keys = " OR ".join(f"coalesce(bool_or(regexp_matches(\"{k}\", '{BLANKS}')), false)"
                                     for k in text_keys) or "false"
        row = con.execute(
            f"WITH __rows AS NOT MATERIALIZED ({self.scan_sql}) SELECT count(*), {filled}, arg_min("
            f"{schema.SOURCE_FILE}, {_P}) FILTER (WHERE {schema.SOURCE_FILE} IS NOT NULL), {ascii_keys}, "
            f"{blank_keys} FROM __rows",
            self.params,
        ).fetchone()
        n, holding, first_file, ascii_ok, blanks = row[0], row[1:-3], row[-3], row[-2], row[-1]
        extra: list[str] = []
        for (keys,) in con.execute(
            f"SELECT json_keys({schema.RAW_EXTRA}) AS k FROM ({self.sql}) WHERE {schema.RAW_EXTRA} IS NOT NULL "
            f"GROUP BY k ORDER BY min({_P})",
            self.params,
        ).fetchall():
            extra += [k for k in keys if k not in extra]  # as polars infers the fields: first seen first
        return Profile(
            height=int(n),
            filled=dict(zip(t.columns, (bool(v) for v in holding), strict=True)),
            label=PurePath(first_file).name if first_file else self.entity,
            extra=extra,
            ascii_keys=bool(ascii_ok),
            blank_keys=bool(blanks),
            typed_raw=self.typed_raw,
        )

    def frame(self) -> pl.DataFrame:
        """Every row, as :meth:`Warehouse.raw_rows` reads it."""
        return self.wh.raw_rows(self.entity, self.load_id, self.snapshot)

    def split(self, query: ScreenQuery) -> Split:
        """Evaluate ``query`` on every row; read the suspects; count what the kept rows need counted."""
        con = self.wh.con
        for name, values in query.refs.items():
            con.register(name, pl.DataFrame({"v": values}).to_arrow())
        # one flag per distinct expression (many checks read the same column, or none that may be missing)
        distinct = list(dict.fromkeys(m for m in query.missing if m != "false"))
        missing = "".join(f", {m} AS __m{i}" for i, m in enumerate(distinct))
        in_order = self.wh.raw_in_order(self.entity, self.load_id, self.snapshot)
        base = f"SELECT *, {query.columns} FROM ({self.scan_sql})"  # the typed values the checks read, cast once
        # keys occurring more than once; a row holding one of them is a suspect
        dups, shared = [], []
        row: tuple[int, ...] | None = None
        try:
            if in_order:  # a plain scan of one load: one aggregate judges it (_one_scan)
                row = self._one_scan(query, base, distinct)
            else:  # the newest-version window: evaluated once, in one statement with the repeated keys
                for i, key in enumerate(query.unique):
                    k, present = _key(key)
                    dups.append(f"__dup{i} AS (SELECT {k} AS k FROM __base WHERE {present} GROUP BY ALL "
                                "HAVING count(*) > 1)")
                    shared.append(f"coalesce({k} NOT IN (SELECT k FROM __dup{i}), false)")
                sure = " AND ".join([query.sure, *shared])
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE {self._judged} AS "
                    f"WITH __base AS ({base}){''.join(', ' + d for d in dups)} "
                    f"SELECT {_P}, {sure} AS __sure{missing} FROM __base",
                    self.params,
                )
        finally:
            for name in query.refs:
                con.unregister(name)
            for i in range(len(query.unique)):
                con.execute(f"DROP TABLE IF EXISTS __dup{i}_{self.entity}")
        if row is None:
            sums = "".join(f", coalesce(sum(__m{i}::BIGINT) FILTER (WHERE __sure), 0)" for i in range(len(distinct)))
            row = con.execute(f"SELECT count(*) FILTER (WHERE __sure){sums} FROM {self._judged}").fetchone()
        counted = dict(zip(distinct, (int(v) for v in row[1:]), strict=True))
        everyone = int(row[0]) == self.profile.height  # no suspect: no lookup of the rows among them
        suspects = con.execute(
            f"SELECT * FROM ({self.sql}) WHERE "
            + ("false" if everyone else f"{_P} IN ({self._suspects()}) ORDER BY {_P}"),
            self.params,
        ).pl()
        groups = None
        if query.group_by:
            cols = ", ".join(f"{query.typed[c]} AS \"{c}\"" for c in query.group_by)
            groups = con.execute(
                f"SELECT {cols}, count(*) AS order_lines FROM ({self.scan_sql}) "
                + ("" if everyone else f"WHERE {_P} NOT IN ({self._suspects()}) ")
                + "GROUP BY ALL ORDER BY ALL",
                self.params,
            ).pl()
        self._query, self._kept, self._suspect_rows = query, int(row[0]), suspects.height
        return Split(suspects, int(row[0]), [counted.get(m, 0) for m in query.missing], groups)

    def _one_scan(self, query: ScreenQuery, base: str, distinct: list[str]) -> tuple[int, ...]:
        """Judge a plain scan of one load in one aggregate over its rows: the rows that surely pass, the
        missing counts among them, and for each key whether any value occurs twice (proved by its order,
        :meth:`_ascending`, else its values counted against its distinct values), where separate statements
        read the rows twice (the repeated keys' ``GROUP BY``, then the flags of every row into a table) and a
        third read that table.

        The suspects' positions (a list, usually empty) become the judged table, holding only them. Where a
        key repeats, its repeated values are found (one ``GROUP BY``, as before) and the rows holding one
        are suspects too: added to the judged table and taken out of the counts. Returns ``(kept, *missing
        counts)``.
        """
        con = self.wh.con
        sums = "".join(f", coalesce(sum(({m})::BIGINT) FILTER (WHERE __sure), 0)" for m in distinct)
        repeats = ""
        for key in query.unique:
            k, present = _key(key)
            repeats += (", 0" if self._ascending(k, present, base) else
                        f", count(*) FILTER (WHERE {present}) - count(DISTINCT {k}) FILTER (WHERE {present})")
        scan, held = f"__scan_{self.entity}", f"__held_{self.entity}"
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {scan} AS WITH __base AS ({base}) "
                f"SELECT list({_P}) FILTER (WHERE NOT __sure) AS suspects, count(*) FILTER (WHERE __sure){sums}"
                f"{repeats} FROM (SELECT *, {query.sure} AS __sure FROM __base)",
                self.params,
            )
            row = con.execute(f"SELECT * EXCLUDE (suspects) FROM {scan}").fetchone()
            counts = [int(v) for v in row[:1 + len(distinct)]]
            holding = []  # SQL true on a row holding a key that occurs more than once
            for i, (key, n) in enumerate(zip(query.unique, row[1 + len(distinct):], strict=True)):
                if n:
                    k, present = _key(key)
                    table = f"__dup{i}_{self.entity}"  # dropped by the caller
                    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS WITH __base AS ({base}) "
                                f"SELECT {k} AS k FROM __base WHERE {present} GROUP BY ALL HAVING count(*) > 1",
                                self.params)
                    # and a row lacking a part of the key (a lookup of its key among them gives no verdict)
                    holding.append(f"NOT ({present}) OR {k} IN (SELECT k FROM {table})")
            rows = f"SELECT unnest(suspects) AS {_P} FROM {scan}"
            if holding:  # their positions first (the key alone), then the checks on those rows only
                con.execute(f"CREATE OR REPLACE TEMP TABLE {held} AS WITH __base AS ({base}) SELECT {_P} FROM __base "
                            f"WHERE {' OR '.join(f'({h})' for h in holding)}", self.params)
                taken = con.execute(
                    f"WITH __base AS (SELECT *, {query.columns} FROM ({self.scan_sql}) WHERE {_P} IN (SELECT {_P} FROM "
                    f"{held})) SELECT count(*) FILTER (WHERE __sure){sums} FROM (SELECT *, {query.sure} AS __sure "
                    "FROM __base)",
                    self.params,
                ).fetchone()
                counts = [c - int(t) for c, t in zip(counts, taken, strict=True)]
                rows += f" UNION SELECT {_P} FROM {held}"
            con.execute(f"CREATE OR REPLACE TEMP TABLE {self._judged} AS SELECT {_P}, false AS __sure FROM ({rows})")
            return tuple(counts)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {scan}")
            con.execute(f"DROP TABLE IF EXISTS {held}")

    def _ascending(self, k: str, present: str, base: str) -> bool:
        """Whether the key ``k`` rises strictly from each row holding it to the next, which proves that no
        value occurs twice without counting its distinct values.

        Each row's key is compared with the row's before it in the order the rows come (a streaming ``lag``:
        one pass on one thread, no hash table). A row lacking a part of the key has none (null); a row holding
        it whose predecessor has none or is not smaller is a break, and one break is allowed: the first row
        holding a key. At most one break means one strictly rising run, which holds no value twice, whatever
        the order the rows came in: the order decides only whether the proof succeeds. An extract sorted by
        its key (the big input's, the demo's) passes; otherwise the scan counts the distinct values, as
        before. The count was most of the one scan: ≈ 0.25 of 0.41 CPU-s for 1.1 M order lines, against
        ≈ 0.065 for this pass (docs/contracts-stage.md, stop 28).
        """
        return self._rising(k, present, base, limit=ASCENDING_PREFIX) and self._rising(k, present, base)

    def _rising(self, k: str, present: str, base: str, limit: int | None = None) -> bool:
        """:meth:`_ascending`'s test on the rows, or on their first ``limit`` rows: a cheap gate, so that an
        extract not sorted by its key pays a prefix's pass (≈ 1/100 of the rows) before its exact count, not
        a whole one. The gate decides nothing about distinctness; only the whole pass proves it."""
        rows = f"(SELECT * FROM __base LIMIT {int(limit)})" if limit else "__base"
        (rising,) = self.wh.con.execute(
            f"WITH __base AS ({base}) "
            "SELECT count(*) FILTER (WHERE k IS NOT NULL AND (p IS NULL OR k <= p)) <= 1 FROM (SELECT k, "
            f"lag(k) OVER () AS p FROM (SELECT CASE WHEN {present} THEN {k} END AS k FROM {rows}))",
            self.params,
        ).fetchone()
        return bool(rising)

    def _suspects(self) -> str:
        return f"SELECT {_P} FROM {self._judged} WHERE NOT __sure"

    def stage_clean(self, run_id: str, name: str, clean: pl.DataFrame, positions: pl.Series) -> int:
        """Stage the run's clean table of this entity: the rows that surely passed, cast in SQL, and
        ``clean`` (the suspects polars found clean, at ``positions``), in the raw order. Returns its rows.

        When every row of one load surely passed (no suspect, a plain scan) and the entity's clean table is
        derived (:data:`schema.DERIVED_CLEAN`), nothing is written: the run's clean rows are that load's raw
        rows, cast on read (:meth:`Warehouse.stage_clean_load`)."""
        if self._every_row_kept() and self.entity in schema.DERIVED_CLEAN:
            self.wh.stage_clean_load(run_id, self.entity, self.load_id)
            self.wh.con.execute(f"DROP TABLE IF EXISTS {self._judged}")
            return self._kept
        sql = self._clean_sql(clean, positions, stored=True)
        try:
            self.wh.stage_query(run_id, name, sql, self.params)
        finally:
            self.wh.con.unregister("__clean_suspects")
        self.wh.con.execute(f"DROP TABLE IF EXISTS {self._judged}")
        return self._kept + clean.height

    def clean_frame(self, clean: pl.DataFrame, positions: pl.Series) -> pl.DataFrame:
        """The entity's clean rows as one typed frame (what :meth:`stage_clean` stages, before the warehouse
        writes ``-0.0`` as ``0.0``): for callers that want the frame, such as tests of ``check_inputs``."""
        sql = self._clean_sql(clean, positions, stored=False)
        try:
            return self.wh.con.execute(sql, self.params).pl()
        finally:
            self.wh.con.unregister("__clean_suspects")

    def _every_row_kept(self) -> bool:
        """No suspect, and the rows are one load's read by a plain scan (in the raw order)."""
        if self._query is None:
            raise RuntimeError(f"{self.entity}: clean rows asked for before split")
        return self._suspect_rows == 0 and self.wh.raw_in_order(self.entity, self.load_id, self.snapshot)

    def _clean_sql(self, clean: pl.DataFrame, positions: pl.Series, stored: bool) -> str:
        """The clean rows in the raw order; registers ``clean`` as ``__clean_suspects`` (caller unregisters)."""
        if self._query is None:
            raise RuntimeError(f"{self.entity}: clean rows asked for before split")
        t = self.table
        cast = clean_casts(self.entity, self._query.typed, stored)  # no -0.0 when stored, as Warehouse.stage
        kept = (
            f"SELECT {_P}, " + ", ".join(f'{cast[c]} AS "{c}"' for c in t.columns)
            + f" FROM ({self.scan_sql}) WHERE {_P} NOT IN ({self._suspects()})"
        )
        cols = ", ".join(f'"{c}"' for c in t.columns)
        if self._every_row_kept():
            # every row kept: a plain scan of one load, which keeps the raw order (DuckDB keeps a single
            # table's order; the anti-join and the sort below do not and need not run on millions of rows)
            self.wh.con.register("__clean_suspects", pl.DataFrame({_P: []}, schema={_P: pl.Int64}).to_arrow())
            return ("SELECT " + ", ".join(f'{cast[c]} AS "{c}"' for c in t.columns) + f" FROM ({self.scan_sql})")
        frame = clean.select(list(t.columns))
        frame = (no_negative_zero(frame) if stored else frame).with_columns(positions.alias(_P).cast(pl.Int64))
        self.wh.con.register("__clean_suspects", frame.to_arrow(compat_level=pl.CompatLevel.oldest()))
        return f"SELECT {cols} FROM ({kept} UNION ALL SELECT {_P}, {cols} FROM __clean_suspects) ORDER BY {_P}"


def _key(key: tuple[str, ...]) -> tuple[str, str]:
    """A key's SQL value (a struct of its parts when compound) and the SQL true where every part is present."""
    k = key[0] if len(key) == 1 else "struct_pack(" + ", ".join(f"k{j} := {e}" for j, e in enumerate(key)) + ")"
    return k, " AND ".join(f"{e} IS NOT NULL" for e in key)


def raw_inputs(
    wh: Warehouse, load_ids: dict[str, str], snapshots: frozenset[str] | set[str] | tuple[str, ...] = ()
) -> dict[str, pl.DataFrame | WarehouseRows]:
    """Entity → what the contracts read of a run's loads: the entities they can check in SQL
    (:data:`data_contracts.screen.SCREENED_ENTITIES`) as :class:`WarehouseRows`, the others as frames.

    Args:
        wh: The warehouse holding the loads.
        load_ids: Entity → the run's load.
        snapshots: Event entities whose source declares full extracts (only their own load counts).
    """
    return {
        entity: WarehouseRows(wh, entity, load_id, entity in snapshots)
        if entity in SCREENED_ENTITIES
        else wh.raw_rows(entity, load_id, entity in snapshots)
        for entity, load_id in load_ids.items()
    }
