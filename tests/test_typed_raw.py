"""The order lines' dates and quantity stored typed in the raw table, their text kept only where it is not the
typed value's canonical text (``schema.TYPED_RAW``), under a ``raw_orders`` view that rebuilds the text.

Every reader of the raw text must see the cells as loaded, byte for byte; the contracts read the typed values
and must reach polars' verdict on every row; a warehouse made before (``raw_orders`` a table of text) keeps its
layout, is read and appended to as before, and gives the same outcome.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ContractConfig
from data_contracts.screen import _CANONICAL_DATE, _CANONICAL_FLOAT, _DATE, _FLOAT
from data_contracts.testing import TINY_RUN_DATE
from data_contracts.validate import validate_inputs
from tests.test_contracts_screen import (
    BROKEN_ORDERS,
    _assert_same,
    _broken_orders,
    _land,
    _orders,
    _raw_inputs,
    _stage_clean,
    _Statements,
    _text,
)
from warehouse.connection import connect
from warehouse.db import Warehouse, open_warehouse
from warehouse.screen import raw_inputs
from warehouse.sources import read_source_file

ORDERS = schema.ORDERS.name
RAW, STORED = schema.raw_table_name(ORDERS), schema.stored_raw_table_name(ORDERS)

#: (quantity, date) cells that must come back byte for byte: canonical, not canonical, not a value at all
CELLS = [
    ("12", "2024-1-5"), ("12.0", "2024-01-05"), (" 12", " 2024-01-05"), ("1,5", "05/01/2024"), ("1e-05", "0999-01-05"),
    ("0.00001", "999-01-05"), ("nan", "10000-01-01"), ("NaN", "2024-02-30"), ("1e+16", "0001-01-01 (BC)"),
    ("0.30000000000000004", "2024-01-05 10:00"), ("-0.0", "2024-12-31"), ("-0", "2024-1-05"), ("inf", "x"),
    ("", ""), (None, None), ("41.0", "2026-02-02"), ("abc", "2026-2-2"), ("1e3", "20260202"),
]


def _cells_frame() -> pl.DataFrame:
    """Order lines (text, as landed from a frame) holding :data:`CELLS` in the quantity and both dates."""
    n = len(CELLS)
    return pl.DataFrame({
        schema.SOURCE_FILE: ["orders.csv"] * n, schema.SOURCE_ROW: list(range(1, n + 1)), "order_id": [f"O{i}" for i in range(n)],
        "order_date": [d for _, d in CELLS], "requested_week": [d for _, d in reversed(CELLS)],
        "product_id": ["P1"] * n, "site_id": ["DC1"] * n, "quantity": [q for q, _ in CELLS], "status": ["open"] * n,
    }, schema={schema.SOURCE_FILE: pl.String, schema.SOURCE_ROW: pl.Int64, **{c: pl.String for c in schema.ORDERS.columns}})


def _older(path: Path) -> None:
    """Create the raw order lines' table as the code before this layout did (text), before the migration."""
    con = duckdb.connect(str(path))
    cols = ", ".join(f'"{c}" {"BIGINT" if c == schema.SOURCE_ROW else "VARCHAR"}' for c in
                     [schema.LOAD_ID, schema.SOURCE_FILE, schema.SOURCE_ROW, *schema.ORDERS.column_names,
                      schema.RAW_EXTRA])
    con.execute(f"CREATE TABLE {RAW} ({cols})")
    con.close()


def test_every_cell_reads_back_byte_for_byte_and_only_the_non_canonical_text_is_kept(tmp_path):
    frame = _cells_frame()
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        assert wh.typed_raw(ORDERS) == schema.TYPED_RAW[ORDERS]
        load_id = _land(wh, {ORDERS: frame})[ORDERS]
        back = wh.raw_rows(ORDERS, load_id)
        view = wh.con.execute(f"SELECT * FROM {RAW} ORDER BY {schema.SOURCE_ROW}").pl()
        kept = wh.con.execute(f"SELECT quantity, quantity_text, order_date, order_date_text FROM {STORED} "
                              f"ORDER BY {schema.SOURCE_ROW}").fetchall()
        kinds = dict(wh.con.execute("SELECT table_name, table_type FROM information_schema.tables WHERE "
                                    f"table_name IN ('{RAW}', '{STORED}')").fetchall())
    for got in (back, view):
        assert got.select(frame.columns).to_dicts() == frame.to_dicts()  # '' stays '', None stays None
    assert kinds == {RAW: "VIEW", STORED: "BASE TABLE"}
    by_cell = {(q, d): row for (q, d), row in zip(CELLS, kept, strict=True)}
    assert by_cell[("12.0", "2024-01-05")][1::2] == (None, None)  # canonical: the typed value alone
    assert by_cell[("12", "2024-1-5")] == (12.0, "12", date(2024, 1, 5), "2024-1-5")
    assert by_cell[("1,5", "05/01/2024")] == (None, "1,5", None, "05/01/2024")  # no value: the text alone
    assert by_cell[("", "")] == (None, "", None, "")
    assert by_cell[(None, None)] == (None, None, None, None)


def test_a_csv_file_reads_back_as_its_text(tmp_path):
    """DuckDB's reader path (the landing's insert, not a frame's): the view gives the file's cells."""
    text = _broken_orders(200)
    path = tmp_path / "orders.csv"
    text.select(list(schema.ORDERS.columns)).write_csv(path)
    with open_warehouse(tmp_path / "new.duckdb") as new:
        rows = new.raw_rows(ORDERS, new.land(read_source_file(path, ORDERS))[0])
    _older(tmp_path / "old.duckdb")
    with open_warehouse(tmp_path / "old.duckdb") as old:
        assert old.typed_raw(ORDERS) == ()
        before = old.raw_rows(ORDERS, old.land(read_source_file(path, ORDERS))[0])
    assert rows.drop(schema.LOAD_ID).to_dicts() == before.drop(schema.LOAD_ID).to_dicts()


def test_a_canonical_value_passes_only_where_its_text_matches_the_pattern():
    """The screen keeps a cell stored as its canonical text on a condition of its value; that condition must
    imply the pattern the text would match (else a row polars rejects could be kept), and hold on most
    ordinary values (else the screen would pass everything to polars)."""
    con = duckdb.connect()
    con.execute("SELECT setseed(0.27)")
    edges = [0.0, -0.0, 1e-4, 9.9e-5, 1e-5, 0.1, 0.3, 0.1 + 0.2, 41.0, 12.5, 1234567.125, 0.1234567, 1e14, 1e15 - 0.5,
             1e15, 1e16, -3.25, float("nan"), float("inf"), -float("inf"), 5e-324, 123456.123456, 99999999999999.9]
    con.execute("CREATE TABLE v AS SELECT unnest(?::DOUBLE[]) AS v UNION ALL SELECT round(random() * 10 ^ "
                "(random() * 20 - 6), (random() * 9)::INT) * CASE WHEN random() < 0.5 THEN -1 ELSE 1 END "
                "FROM range(200000)", [edges])
    cond = _CANONICAL_FLOAT.format(v="v")
    wrong, kept = con.execute(f"SELECT count(*) FILTER (WHERE {cond} AND NOT regexp_full_match(CAST(v AS VARCHAR), "
                              f"'{_FLOAT}')), count(*) FILTER (WHERE {cond}) FROM v").fetchone()
    assert wrong == 0 and kept > 50_000
    days = [date(1000, 1, 1), date(999, 12, 31), date(9999, 12, 31), date(1, 1, 1), date(2026, 2, 2)]
    con.execute("CREATE TABLE d AS SELECT unnest(?::DATE[]) AS v UNION ALL SELECT DATE '1970-01-01' + "
                "(random() * 4000000 - 1000000)::INT FROM range(100000) UNION ALL SELECT "
                "'10000-01-01'::DATE UNION ALL SELECT '0001-01-01 (BC)'::DATE", [days])
    cond = _CANONICAL_DATE.format(v="v")
    wrong, kept, out = con.execute(f"SELECT count(*) FILTER (WHERE {cond} AND NOT regexp_full_match(CAST(v AS VARCHAR), "
                                   f"'{_DATE}')), count(*) FILTER (WHERE {cond}), count(*) FILTER (WHERE NOT {cond}) "
                                   "FROM d").fetchone()
    assert wrong == 0 and kept > 50_000 and out > 1_000


def test_the_screen_reads_the_typed_values_and_gives_polars_verdict_on_the_broken_kinds():
    """The 29 broken kinds and the cells above: the outcome equals polars' on every row (the raw text read
    whole, as before), and the one scan of the order lines casts no typed raw column."""
    text = pl.concat([_broken_orders(300), _cells_frame().select(_broken_orders(1).columns)
                      .with_columns(pl.format("C{}", pl.int_range(pl.len())).alias("order_id"),
                                    (pl.int_range(pl.len()) + 301).alias(schema.SOURCE_ROW))])
    con = _Statements(connect(":memory:"))
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        load_ids = _land(wh, _raw_inputs(text))
        con.sql.clear()
        screened = raw_inputs(wh, load_ids)
        config = ContractConfig(max_reject_share=0.5)
        got = validate_inputs(screened, TINY_RUN_DATE, config)
        (scan,) = [s for s in con.sql if "list(__pos)" in s and STORED in s]
        whole = validate_inputs({e: wh.raw_rows(e, i) for e, i in load_ids.items()}, TINY_RUN_DATE, config)
        _assert_same(whole, got, None, None)
    finally:
        con.close()
    for c in schema.TYPED_RAW[ORDERS]:
        assert f'TRY_CAST("{c}"' not in scan and f'"__t_{c}"' in scan
    assert whole.quarantine.filter(pl.col("entity") == ORDERS).height >= len(BROKEN_ORDERS) + 10
    assert 250 < got.kept[ORDERS] < whole.clean[ORDERS].height  # most rows judged in SQL, some by polars


@pytest.mark.parametrize("rows", ["clean", "broken"])
def test_an_older_warehouse_keeps_its_text_layout_and_gives_the_same_outcome(tmp_path, rows):
    """A warehouse whose ``raw_orders`` is a table of text (the code before): migrated, it gets no stored
    table nor view; its rows are read, appended to (a frame and a later load) and validated and committed as
    a new warehouse's are: the same quarantine, results and clean rows, committed or derived."""
    text = _text(_orders(300), ORDERS) if rows == "clean" else _broken_orders(300)
    _older(tmp_path / "old.duckdb")
    committed = {}
    for name in ("old", "new"):
        with open_warehouse(tmp_path / f"{name}.duckdb") as wh:
            assert wh.typed_raw(ORDERS) == (() if name == "old" else schema.TYPED_RAW[ORDERS])
            load_ids = _land(wh, _raw_inputs(text))
            later = _text(_orders(120), ORDERS).with_columns(pl.lit("7").alias("quantity"))
            runs = []
            for ids in (load_ids, {**load_ids, ORDERS: _land(wh, {ORDERS: later})[ORDERS]}):
                screened = raw_inputs(wh, ids)
                outcome = validate_inputs(screened, TINY_RUN_DATE, ContractConfig(max_reject_share=0.5))
                run = _stage_clean(wh, screened, outcome)
                wh.stage(run, schema.QUARANTINE.name, outcome.quarantine)
                wh.stage(run, schema.CONTRACT_RESULTS.name, outcome.results)
                wh.commit_run(run)
                runs.append(run)
            kinds = dict(wh.con.execute("SELECT table_name, table_type FROM information_schema.tables WHERE "
                                        f"table_name IN ('{RAW}', '{STORED}')").fetchall())
            committed[name] = [  # the load ids differ between the warehouses (a random part)
                [wh.con.execute(f"SELECT * EXCLUDE (run_id{extra}) FROM {t} WHERE run_id = ? ORDER BY ALL", [run]).pl()
                 .to_dicts() for t, extra in ((schema.clean_table_name(ORDERS), ""), (schema.QUARANTINE.name, ", load_id"),
                                              (schema.CONTRACT_RESULTS.name, ""))] for run in runs]
            committed[name].append(wh.con.execute(f"SELECT * EXCLUDE ({schema.LOAD_ID}) FROM {RAW} ORDER BY ALL")
                                   .pl().to_dicts())
        assert kinds == ({RAW: "BASE TABLE"} if name == "old" else {RAW: "VIEW", STORED: "BASE TABLE"})
    assert committed["old"] == committed["new"]
    assert len(committed["new"][-1]) == 420
