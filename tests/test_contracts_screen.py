"""Checks in SQL where the rows are (data_contracts.screen, warehouse.screen) against polars on every row.

Each case lands raw rows in an in-memory warehouse and validates them twice: once read whole into polars
(the frames ``validate_inputs`` always took) and once as ``WarehouseRows``, where only the rows the SQL is
unsure of are read. The quarantine, the results, the warnings and the staged clean tables must be equal,
and the screen must have kept rows in the warehouse (else the case would test nothing).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ContractConfig, ContractError
from data_contracts.testing import TINY_RUN_DATE, as_raw, tiny_inputs
from data_contracts.validate import validate_inputs
from warehouse.connection import connect
from warehouse.db import Warehouse, open_warehouse
from warehouse.screen import WarehouseRows, raw_inputs
from warehouse.sources import SourceFile, read_source_file

ORDERS = schema.ORDERS.name


def _orders(n: int) -> pl.DataFrame:
    """``n`` clean order lines of the tiny network (ids O1 …)."""
    base = tiny_inputs()[ORDERS]
    rows = pl.concat([base] * (n // base.height + 1)).head(n)
    return rows.with_columns(pl.format("O{}", pl.int_range(1, n + 1)).alias("order_id"))


def _raw_inputs(orders_text: pl.DataFrame | None = None, **text: pl.DataFrame) -> dict[str, pl.DataFrame]:
    frames = tiny_inputs()
    raw = {e: as_raw(f, e).drop(schema.LOAD_ID) for e, f in frames.items()}
    if orders_text is not None:
        raw[ORDERS] = orders_text
    raw.update(text)
    return raw


def _text(frame: pl.DataFrame, entity: str) -> pl.DataFrame:
    return as_raw(frame, entity).drop(schema.LOAD_ID)


def _land(wh: Warehouse, raw: dict[str, pl.DataFrame]) -> dict[str, str]:
    load_ids = {}
    for entity, frame in raw.items():
        if schema.RAW_EXTRA not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(schema.RAW_EXTRA))
        t = schema.table(entity)
        frame = frame.with_columns(pl.lit(None, pl.String).alias(c) for c in t.columns if c not in frame.columns)
        source = SourceFile(entity, Path(f"{entity}.csv"), f"hash-{entity}-{frame.hash_rows().sum()}",
                            frame.drop(schema.SOURCE_FILE), (), ())
        load_ids[entity] = wh.land(source)[0]
    return load_ids


def _both(raw: dict[str, pl.DataFrame], config: ContractConfig = ContractConfig(), loads: int = 1):
    """(outcome read whole, outcome screened, staged clean tables of each) or the two ContractErrors."""
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        load_ids = _land(wh, raw)
        for k in range(1, loads):  # later loads of the orders: a changed quantity, so a new content
            later = raw[ORDERS].head(raw[ORDERS].height // 2 + 1).with_columns(pl.lit(str(k + 1)).alias("quantity"))
            load_ids.update({ORDERS: _land(wh, {ORDERS: later})[ORDERS]})
        whole = {e: wh.raw_rows(e, i) for e, i in load_ids.items()}
        screened = raw_inputs(wh, load_ids)
        out = []
        for rows in (whole, screened):
            try:
                out.append(validate_inputs(rows, TINY_RUN_DATE, config))
            except ContractError as exc:
                out.append(exc)
        if isinstance(out[0], ContractError):
            return out[0], out[1], None, None
        tables = []
        for rows, outcome in ((whole, out[0]), (screened, out[1])):
            run = _stage_clean(wh, rows, outcome)
            tables.append({e: wh.staged(run, schema.clean_table_name(e)) for e in outcome.clean})
        return out[0], out[1], tables[0], tables[1]
    finally:
        con.close()


def _stage_clean(wh: Warehouse, rows: dict, outcome) -> str:
    """A new run with the outcome's clean tables staged (those the screen kept from the warehouse rows)."""
    run = wh.start_run(kind="test", scenario="base", run_date=TINY_RUN_DATE, parameters={}, code_version="test")
    for entity, frame in outcome.clean.items():
        name = schema.clean_table_name(entity)
        if entity in outcome.kept:
            rows[entity].stage_clean(run, name, frame, outcome.positions[entity])
        else:
            wh.stage(run, name, frame)
    return run


def _assert_same(whole, screened, clean_whole, clean_screened):
    if isinstance(whole, ContractError):
        assert isinstance(screened, ContractError)
        assert str(screened) == str(whole)
        whole, screened = whole.outcome, screened.outcome
        if whole is None:
            assert screened is None
            return
    assert screened.quarantine.to_dicts() == whole.quarantine.to_dicts()
    assert screened.results.to_dicts() == whole.results.to_dicts()
    assert screened.warnings.to_dicts() == whole.warnings.to_dicts()
    assert {e: screened.clean_rows(e) for e in screened.clean} == {e: whole.clean_rows(e) for e in whole.clean}
    if clean_whole is not None:
        for entity, frame in clean_whole.items():
            assert clean_screened[entity].schema == frame.schema, entity
            assert clean_screened[entity].to_dicts() == frame.to_dicts(), entity


BROKEN_ORDERS = [
    # (column, value) written over one row each; every kind the contracts know, and texts the SQL is unsure of
    ("quantity", "abc"), ("quantity", "1,5"), ("quantity", " 7"), ("quantity", "1e3"), ("quantity", "-0"),
    ("quantity", "-5"), ("quantity", "20000000"), ("quantity", None), ("quantity", "inf"), ("quantity", "+4"),
    ("quantity", "12.50"), ("order_date", "2026-02-30"), ("order_date", "2030-01-01"), ("order_date", "0001-01-01"),
    ("order_date", "2026-01-05 10:00"), ("order_date", None), ("requested_week", "2026-02-03"),
    ("requested_week", "2026-02-08"), ("requested_week", "2300-01-05"), ("product_id", "PX"),
    ("product_id", None), ("site_id", "PL9"), ("status", "lost"), ("status", None), ("order_id", None),
    ("order_id", "O3"), ("order_id", "o5"), ("order_id", " O6 "), ("site_id", "D" * 1200),
]


def _broken_orders(n: int = 300) -> pl.DataFrame:
    text = _text(_orders(n), ORDERS)
    for k, (column, value) in enumerate(BROKEN_ORDERS):
        row = 10 + 7 * k
        text = text.with_columns(
            pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, pl.String)).otherwise(pl.col(column))
            .alias(column)
        )
    return text


def test_broken_order_lines_give_what_polars_gives_on_every_row():
    whole, screened, a, b = _both(_raw_inputs(_broken_orders()), ContractConfig(max_reject_share=0.5))
    _assert_same(whole, screened, a, b)
    assert whole.quarantine.filter(pl.col("entity") == ORDERS).height >= len(BROKEN_ORDERS) - 2
    assert 0 < screened.kept[ORDERS] < 300 and screened.clean[ORDERS].height < 60  # most rows stayed in SQL
    assert screened.kept[ORDERS] + screened.clean[ORDERS].height == whole.clean[ORDERS].height


def test_clean_orders_stay_in_the_warehouse_and_match():
    whole, screened, a, b = _both(_raw_inputs(_text(_orders(500), ORDERS)))
    _assert_same(whole, screened, a, b)
    assert screened.kept[ORDERS] == 500 and screened.clean[ORDERS].height == 0
    assert screened.quarantine.height == 0


def test_too_many_broken_lines_are_refused_with_the_same_message():
    text = _text(_orders(100), ORDERS).with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 0).then(pl.lit("x")).otherwise(pl.col("quantity")).alias("quantity"))
    whole, screened, _, _ = _both(_raw_inputs(text))
    assert isinstance(whole, ContractError)
    _assert_same(whole, screened, None, None)


def test_batches_receipts_and_calendar_broken_are_the_same():
    frames = tiny_inputs()
    batches = _text(pl.concat([frames[schema.BATCHES.name]] * 40).with_columns(
        pl.format("B{}", pl.int_range(1, 41)).alias("batch_id")), schema.BATCHES.name)
    batches = batches.with_columns(
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("5000")).otherwise(pl.col("actual_qty")).alias("actual_qty"),
        pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("2025-09-01")).otherwise(pl.col("release_date"))
        .alias("release_date"),
        pl.when(pl.int_range(pl.len()) == 7).then(pl.lit("maybe")).when(pl.int_range(pl.len()) == 9)
        .then(pl.lit("No")).otherwise(pl.col("qc_passed")).alias("qc_passed"),
    )
    calendar = _text(pl.DataFrame({"resource_id": ["R1", "R1", "RX", "R2"],
                                   "week": [date(2026, 3, 9), date(2026, 3, 16), date(2026, 3, 9), date(2026, 3, 11)],
                                   "hours_available": [0.0, 50.0, 10.0, 10.0]}), schema.CALENDAR.name)
    whole, screened, a, b = _both(
        _raw_inputs(**{schema.BATCHES.name: batches, schema.CALENDAR.name: calendar}),
        ContractConfig(max_reject_share=0.6),
    )
    _assert_same(whole, screened, a, b)
    assert screened.kept[schema.BATCHES.name] > 30


def test_an_extra_column_is_noted_the_same():
    text = _text(_orders(50), ORDERS).with_columns(
        pl.format('{{"channel": "web{}", "note": null}}', pl.int_range(pl.len())).alias(schema.RAW_EXTRA))
    whole, screened, a, b = _both(_raw_inputs(text))
    _assert_same(whole, screened, a, b)
    notes = screened.results.filter(pl.col("expectation").str.starts_with("extra_column_dropped"))
    assert notes.get_column("expectation").to_list() == [
        "extra_column_dropped(channel)", "extra_column_dropped(note)"]
    assert json.loads(text[0, schema.RAW_EXTRA])["channel"] == "web0"


def test_keys_beyond_ascii_are_read_whole():
    text = _text(_orders(40), ORDERS).with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(pl.lit("O\u212a1")).otherwise(pl.col("order_id")).alias("order_id"))
    whole, screened, a, b = _both(_raw_inputs(text))
    _assert_same(whole, screened, a, b)
    assert ORDERS not in screened.kept  # Kelvin sign: lower case in SQL and polars may differ


def test_later_loads_take_the_newest_version_the_same():
    whole, screened, a, b = _both(_raw_inputs(_broken_orders(120)), ContractConfig(max_reject_share=0.5), loads=3)
    _assert_same(whole, screened, a, b)
    assert screened.kept[ORDERS] > 0


def test_a_missing_column_is_refused_the_same():
    text = _text(_orders(20), ORDERS).with_columns(pl.lit(None, pl.String).alias("quantity"))
    whole, screened, _, _ = _both(_raw_inputs(text))
    assert isinstance(whole, ContractError) and "missing column 'quantity'" in str(whole)
    _assert_same(whole, screened, None, None)


@pytest.mark.parametrize("setting", [{"decimal": ","}, {"week_start": "sunday"}])
def test_declared_formats_are_read_whole(setting):
    whole, screened, a, b = _both(_raw_inputs(_text(_orders(30), ORDERS)), ContractConfig(**setting))
    _assert_same(whole, screened, a, b)
    outcome = screened.outcome if isinstance(screened, ContractError) else screened  # "." refused under ","
    assert ORDERS in outcome.clean and ORDERS not in outcome.kept


class _Statements:
    """A DuckDB connection that keeps the text of every statement it executes."""

    def __init__(self, con) -> None:
        self._con, self.sql = con, []

    def execute(self, sql, *args, **kwargs):
        self.sql.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._con, name)


_KEY_BREAKERS = {("order_id", "O3"), ("order_id", "o5"), ("order_id", " O6 ")}


@pytest.mark.parametrize("case", ["clean", "broken", "repeated key"])
def test_a_load_is_judged_in_one_scan_unless_a_key_repeats(case):
    """A plain scan of one load is judged by one aggregate over its rows (the sure rows, their missing counts,
    and whether a key repeats): no separate ``GROUP BY`` of the keys, and the judged table holds only the
    suspects. A load whose key repeats also finds the repeated keys, and the rows holding one join the
    suspects. Either way the outcome is what polars gives on every row."""
    text = _text(_orders(300), ORDERS)
    if case == "broken":  # every broken kind but a repeated key
        for k, (column, value) in enumerate(b for b in BROKEN_ORDERS if b not in _KEY_BREAKERS):
            text = text.with_columns(pl.when(pl.int_range(pl.len()) == 10 + 7 * k).then(pl.lit(value, pl.String))
                                     .otherwise(pl.col(column)).alias(column))
    elif case == "repeated key":
        text = text.with_columns(pl.when(pl.int_range(pl.len()) == 20).then(pl.lit("o5")).otherwise(pl.col("order_id"))
                                 .alias("order_id"))
    config = ContractConfig(max_reject_share=0.5)
    whole, screened, a, b = _both(_raw_inputs(text), config)
    _assert_same(whole, screened, a, b)
    quarantined = whole.quarantine.filter(pl.col("entity") == ORDERS).get_column("source_row").n_unique()
    assert quarantined == {"clean": 0, "repeated key": 2}[case] if case != "broken" else quarantined >= 15
    outcome, statements, judged = _screened(text, config)
    grouped = [s for s in statements if "HAVING count(*) > 1" in s and "raw_orders" in s]
    assert bool(grouped) == (case == "repeated key")
    suspects = 300 - outcome.kept[ORDERS]  # rows polars judged (more than it quarantined: " 7", "+4")
    assert suspects >= quarantined and (suspects > 0) == (case != "clean")
    assert judged == suspects  # the judged table holds only the suspects (it held every row)


def _screened(text: pl.DataFrame, config: ContractConfig):
    """Order lines ``text`` validated as warehouse rows of a new warehouse: the outcome, the statements the
    validation ran and the rows the judged table holds."""
    con = _Statements(connect(":memory:"))
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        rows = raw_inputs(wh, _land(wh, _raw_inputs(text)))
        con.sql.clear()
        outcome = validate_inputs(rows, TINY_RUN_DATE, config)
        statements = list(con.sql)
        (judged,) = con.execute(f"SELECT count(*) FROM __judged_{ORDERS}").fetchone()
        return outcome, statements, judged
    finally:
        con.close()


@pytest.mark.parametrize(("case", "counted"), [
    ("sorted", False), ("repeated next to itself", True), ("alike but for case", True),
    ("repeated across a missing key", True), ("missing keys between rising ones", True), ("unsorted", True),
])
@pytest.mark.parametrize("prefix", [None, 10])
def test_sorted_keys_are_proved_distinct_without_counting_them(case, counted, prefix, monkeypatch):
    """Keys that rise strictly from row to row hold no value twice: the one scan then counts no distinct
    keys (the count was most of its CPU). A key next to its repeat (or its lookalike in another case), one
    repeated across a row lacking its key, and keys out of order are counted as before. Every case gives
    what polars gives on every row. With the prefix gate shorter than the rows (10 of 60, the defects at
    rows 21-30), the gate passes and the whole pass must still find them: the gate proves nothing alone."""
    if prefix is not None:
        import warehouse.screen

        monkeypatch.setattr(warehouse.screen, "ASCENDING_PREFIX", prefix)
    ids = pl.format("O{}", pl.int_range(1, 61).cast(pl.String).str.zfill(3))  # O001 ... O060: rising
    text = _text(_orders(60), ORDERS).with_columns(ids.alias("order_id"))
    at = pl.int_range(pl.len())
    changed = {
        "sorted": None,
        "repeated next to itself": pl.when(at == 21).then(pl.lit("O021")),
        "alike but for case": pl.when(at == 21).then(pl.lit("o021")),
        "repeated across a missing key": pl.when(at == 21).then(None).when(at == 22).then(pl.lit("O021")),
        "missing keys between rising ones": pl.when(at.is_in([5, 30])).then(None),
        "unsorted": pl.when(at == 0).then(pl.lit("O999")),
    }[case]
    if changed is not None:
        text = text.with_columns(changed.otherwise(pl.col("order_id")).alias("order_id"))
    config = ContractConfig(max_reject_share=0.5)
    whole, screened, a, b = _both(_raw_inputs(text), config)
    _assert_same(whole, screened, a, b)
    quarantined = whole.quarantine.filter(pl.col("entity") == ORDERS).get_column("source_row").n_unique()
    # the repeated key's two rows, and the row lacking its key
    assert quarantined == {"sorted": 0, "unsorted": 0, "repeated across a missing key": 3}.get(case, 2)
    _, statements, _ = _screened(text, config)
    scans = [s for s in statements if "__scan_orders AS" in s]
    assert len(scans) == 1 and ("count(DISTINCT" in scans[0]) == counted


def test_rows_left_in_the_warehouse_are_profiled_without_reading_them():
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        ids = _land(wh, {ORDERS: _text(_orders(25), ORDERS)})
        rows = WarehouseRows(wh, ORDERS, ids[ORDERS])
        assert rows.profile.height == 25 and rows.profile.label == "orders.csv"
        assert rows.profile.filled["status"] and rows.profile.ascii_keys
        assert rows.frame().equals(wh.raw_rows(ORDERS, ids[ORDERS]))
    finally:
        con.close()


def test_a_column_empty_in_every_row_is_found_by_a_probe_not_a_count():
    """The structure checks ask only whether some row holds a value in each column: the profile probes for
    one row holding it (a probe stops there) instead of counting the values of every column on every row.
    A required column empty in all rows is refused as polars refuses it."""
    text = _text(_orders(25), ORDERS).with_columns(pl.lit(None, pl.String).alias("product_id"))
    con = _Statements(connect(":memory:"))
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        ids = _land(wh, {ORDERS: text})
        con.sql.clear()
        profile = WarehouseRows(wh, ORDERS, ids[ORDERS]).profile
        assert profile.height == 25 and not profile.filled["product_id"] and profile.filled["order_id"]
        assert not any('count("' in s for s in con.sql)
    finally:
        con.close()
    whole, screened, _, _ = _both(_raw_inputs(text))
    assert isinstance(whole, ContractError) and "missing column 'product_id'" in str(whole)
    _assert_same(whole, screened, None, None)


@pytest.mark.parametrize("entity", [ORDERS, schema.BATCHES.name])
def test_the_screen_casts_each_typed_value_once(entity):
    """Each typed value is cast once, in the select list the checks read (``ScreenQuery.columns``): the
    checks that a date casts read that column instead of casting the text again (a cast per row is most of
    the flags' CPU)."""
    from data_contracts.rules import entity_checks
    from data_contracts.screen import screen_query

    t, refs = schema.table(entity), tiny_inputs()
    assert any(d == pl.Date for d in t.columns.values())  # else the case would test nothing
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        ids = _land(wh, {entity: _text(refs[entity], entity)})
        profile = WarehouseRows(wh, entity, ids[entity]).profile
    finally:
        con.close()
    query = screen_query(t, entity_checks(t, refs, TINY_RUN_DATE, ContractConfig()), refs, TINY_RUN_DATE,
                         ContractConfig(), profile)
    assert query is not None
    for c, typed in query.typed.items():
        if typed.startswith("TRY_CAST("):
            assert query.columns.count(typed) == 1 and typed not in query.sure, c
    assert "TRY_CAST(" not in query.sure


@pytest.mark.parametrize("keys", [("o5", "O7"), ("o5", " O6 "), ("O 8",), ("O3",)])
def test_keys_alike_but_for_case_or_blanks_are_found_the_same(keys):
    """A key repeated in lower case, or with blanks: the SQL folds keys without blanks only where some key
    holds one (the profile says so), and finds the same repeated keys either way."""
    text = _text(_orders(60), ORDERS)
    for k, key in enumerate(keys):
        text = text.with_columns(
            pl.when(pl.int_range(pl.len()) == 20 + 9 * k).then(pl.lit(key)).otherwise(pl.col("order_id"))
            .alias("order_id"))
    whole, screened, a, b = _both(_raw_inputs(text), ContractConfig(max_reject_share=0.5))
    _assert_same(whole, screened, a, b)
    assert whole.quarantine.filter(pl.col("entity") == ORDERS).height >= 2  # the key and its lookalike
    assert 0 < screened.kept[ORDERS] <= 60 - 2 * len(keys)
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        ids = _land(wh, {ORDERS: text})
        assert WarehouseRows(wh, ORDERS, ids[ORDERS]).profile.blank_keys == any(" " in k for k in keys)
    finally:
        con.close()


@pytest.mark.parametrize(("key", "ascii_only"), [("O\u00e91", False), ("O\u00a01", False), ("O\U0001f6001", False),
                                                 ("O~\x7f1", True)])
def test_the_profile_tells_keys_beyond_ascii(key, ascii_only):
    text = _text(_orders(10), ORDERS).with_columns(
        pl.when(pl.int_range(pl.len()) == 4).then(pl.lit(key)).otherwise(pl.col("order_id")).alias("order_id"))
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        ids = _land(wh, {ORDERS: text})
        assert WarehouseRows(wh, ORDERS, ids[ORDERS]).profile.ascii_keys is ascii_only
    finally:
        con.close()


def _land_csv(wh: Warehouse, text: pl.DataFrame, path: Path) -> str:
    """Land ``text``'s order columns as the CSV file ``path`` by DuckDB's reader (an empty cell is null)."""
    text.select(list(schema.ORDERS.columns)).write_csv(path)
    return wh.land(read_source_file(path, ORDERS))[0]


@pytest.mark.parametrize("blanks", [False, True])
def test_a_plain_file_is_profiled_without_looking_for_blanks(tmp_path, blanks):
    """The ingest's scan records whether a file held only ASCII text without blanks, tabs or quotes
    (``loads.plain``). A run reading only such loads skips the profile's tests of its keys (ASCII, blanks:
    the regex was two thirds of the statement); one reading a load not known plain (a blank in a cell, a
    frame, a load made before the column) runs them. Either way the outcome is polars' on every row: plain
    broken lines (keys alike but for case, bad numbers and dates), and the 29 broken kinds with blanks, each
    followed by a later plain load (the newest-version window reads both loads)."""
    # without blanks: no value holding a blank, nor a comma (the file would quote it)
    broken = [(c, v) for c, v in BROKEN_ORDERS if blanks or v is None or not set(v) & {" ", ","}]
    broken += [("order_id", "O 7")] if blanks else []  # a blank the landing keeps (" O6 " is trimmed)
    text = _text(_orders(300), ORDERS)
    for k, (column, value) in enumerate(broken):
        text = text.with_columns(pl.when(pl.int_range(pl.len()) == 10 + 7 * k).then(pl.lit(value, pl.String))
                                 .otherwise(pl.col(column)).alias(column))
    config = ContractConfig(max_reject_share=0.5)
    con = _Statements(connect(":memory:"))
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        load_ids = _land(wh, {e: f for e, f in _raw_inputs().items() if e != ORDERS})
        first = _land_csv(wh, text, tmp_path / "orders.csv")
        later = _text(_orders(150), ORDERS).with_columns(pl.lit("3.0").alias("quantity"))  # a plain file
        (tmp_path / "later").mkdir()
        last = _land_csv(wh, later, tmp_path / "later" / "orders.csv")
        plain = dict(con.execute(f"SELECT load_id, plain FROM {schema.LOADS.name} WHERE entity = ?",
                                 [ORDERS]).fetchall())
        assert plain == {first: not blanks, last: True}
        for load_id in (first, last):
            con.sql.clear()
            rows = raw_inputs(wh, {**load_ids, ORDERS: load_id})
            (profile,) = [s for s in con.sql if "arg_min(" in s and '"order_id" IS NOT NULL' in s]
            assert ("regexp_matches" in profile) == blanks and ("strlen" in profile) == blanks
            assert (rows[ORDERS].profile.ascii_keys, rows[ORDERS].profile.blank_keys) == (True, blanks)
            screened = validate_inputs(rows, TINY_RUN_DATE, config)
            whole = validate_inputs({e: wh.raw_rows(e, i) for e, i in {**load_ids, ORDERS: load_id}.items()},
                                    TINY_RUN_DATE, config)
            _assert_same(whole, screened, None, None)
            assert screened.quarantine.filter(pl.col("entity") == ORDERS).height >= (3 if load_id == last else 20)
        con.execute(f"UPDATE {schema.LOADS.name} SET plain = NULL")  # loads made before the column
        con.sql.clear()
        assert WarehouseRows(wh, ORDERS, first).profile.blank_keys is blanks
        assert any("regexp_matches" in s for s in con.sql)
    finally:
        con.close()


def test_an_older_warehouse_gets_loads_plain_unknown_and_keeps_profiling_its_loads(tmp_path):
    """A warehouse made before ``loads.plain``: the migration adds the column, null (not known) on its loads,
    which are profiled with the tests as before; a plain file appended records ``true``, and a run reading
    both loads (the newest-version window) still tests the keys."""
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path) as wh:
        old = _land_csv(wh, _text(_orders(40), ORDERS), tmp_path / "orders.csv")
        wh.con.execute(f"ALTER TABLE {schema.LOADS.name} DROP COLUMN plain")  # the older layout of loads
        wh.con.execute(f"COMMENT ON TABLE {schema.RUNS.name} IS NULL")  # and no schema mark of this code
    (tmp_path / "later").mkdir()
    with open_warehouse(path) as wh:
        assert wh.con.execute(f"SELECT plain FROM {schema.LOADS.name}").fetchall() == [(None,)]
        assert WarehouseRows(wh, ORDERS, old).profile.height == 40 and not wh.plain_loads(ORDERS, old)
        new = _land_csv(wh, _text(_orders(60), ORDERS), tmp_path / "later" / "orders.csv")
        assert wh.con.execute(f"SELECT plain FROM {schema.LOADS.name} WHERE load_id = ?", [new]).fetchone() == (True,)
        assert not wh.plain_loads(ORDERS, new) and wh.plain_loads(ORDERS, new, snapshot=True)
        assert WarehouseRows(wh, ORDERS, new).profile.height == 60


# ---------------------------------------------------------------- clean order lines derived from their load
CLEAN_ORDERS = schema.clean_table_name(ORDERS)
STORED_ORDERS = schema.stored_clean_table_name(ORDERS)


def _commit_both(wh: Warehouse, load_ids: dict[str, str], config: ContractConfig = ContractConfig()):
    """Validate the loads read whole and screened, stage and commit each as a run: (whole run, screened run)."""
    runs = []
    for rows in ({e: wh.raw_rows(e, i) for e, i in load_ids.items()}, raw_inputs(wh, load_ids)):
        outcome = validate_inputs(rows, TINY_RUN_DATE, config)
        run = _stage_clean(wh, rows, outcome)
        wh.stage(run, schema.QUARANTINE.name, outcome.quarantine)
        wh.stage(run, schema.CONTRACT_RESULTS.name, outcome.results)
        wh.commit_run(run)
        runs.append(run)
    return runs


def _committed(wh: Warehouse, table: str, run: str) -> list[dict]:
    return wh.con.execute(f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ?", [run]).pl().to_dicts()


def _stored_rows(wh: Warehouse, run: str) -> int:
    return wh.con.execute(f"SELECT count(*) FROM {STORED_ORDERS} WHERE run_id = ?", [run]).fetchone()[0]


@pytest.fixture
def wh():
    """A migrated in-memory warehouse."""
    con = connect(":memory:")
    try:
        warehouse = Warehouse(con, Path(":memory:"))
        warehouse.migrate()
        yield warehouse
    finally:
        con.close()


def test_a_clean_load_of_order_lines_is_not_copied_and_reads_the_same(wh):
    """Every line of one load passed: the run stores no typed copy, one ``clean_loads`` row; the view shows
    the same rows, types and values as the run that stored them (read whole). The view promises no order
    (its join runs on DuckDB's threads), so rows are compared by order id."""
    con = wh.con
    text = _text(_orders(400), ORDERS).with_columns(  # -0.0 is stored as 0.0 both ways
        pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("-0.0")).otherwise(pl.col("quantity")).alias("quantity"))
    ids = _land(wh, _raw_inputs(text))
    whole, screened = _commit_both(wh, ids)
    assert _stored_rows(wh, whole) == 400 and _stored_rows(wh, screened) == 0
    assert con.execute(f"SELECT run_id, entity, load_id FROM {schema.CLEAN_LOADS.name}").fetchall() == [
        (screened, ORDERS, ids[ORDERS])]
    a, b = (wh.read(CLEAN_ORDERS, run).drop("run_id").sort("order_id") for run in (whole, screened))
    assert b.schema == a.schema and b.to_dicts() == a.to_dicts()
    zero = b.filter(pl.col("order_id") == "O4")["quantity"]
    assert zero.to_list() == [0.0] and str(zero[0]) == "0.0"
    for table in (schema.QUARANTINE.name, schema.CONTRACT_RESULTS.name):
        assert _committed(wh, table, screened) == _committed(wh, table, whole)
    # a later load: the next run reads the newest versions (stored), the past run's rows stay as they were
    later = _text(_orders(150), ORDERS).with_columns(pl.lit("9").alias("quantity"))
    ids[ORDERS] = _land(wh, {ORDERS: later})[ORDERS]
    whole2, screened2 = _commit_both(wh, ids)
    assert _stored_rows(wh, screened2) == 400 and _committed(wh, CLEAN_ORDERS, screened2) == _committed(
        wh, CLEAN_ORDERS, whole2)  # both stored: the order kept
    assert wh.read(CLEAN_ORDERS, screened).drop("run_id").sort("order_id").to_dicts() == a.to_dicts()
    assert con.execute(f"SELECT count(*) FROM {CLEAN_ORDERS}").fetchone()[0] == 4 * 400


def test_broken_order_lines_are_committed_the_same(wh):
    con = wh.con
    ids = _land(wh, _raw_inputs(_broken_orders()))
    whole, screened = _commit_both(wh, ids, ContractConfig(max_reject_share=0.5))
    assert _stored_rows(wh, screened) == _stored_rows(wh, whole) > 200  # suspects: the typed rows stored
    assert con.execute(f"SELECT count(*) FROM {schema.CLEAN_LOADS.name}").fetchone()[0] == 0
    for table in (CLEAN_ORDERS, schema.QUARANTINE.name, schema.CONTRACT_RESULTS.name):
        assert _committed(wh, table, screened) == _committed(wh, table, whole), table


def test_a_failed_or_restaged_run_leaves_no_derived_rows(wh):
    con = wh.con
    ids = _land(wh, _raw_inputs(_text(_orders(50), ORDERS)))
    run = wh.start_run(kind="test", scenario="base", run_date=TINY_RUN_DATE, parameters={}, code_version="t")
    wh.stage_clean_load(run, ORDERS, ids[ORDERS])
    assert wh.staged(run, CLEAN_ORDERS).height == 50
    wh.fail_run(run, "boom")
    assert con.execute(f"SELECT count(*) FROM {schema.CLEAN_LOADS.name}").fetchone()[0] == 0
    assert wh.read(CLEAN_ORDERS, run).height == 0
    # staged derived, then staged again as typed rows (a retried stage): only the typed rows commit
    run = wh.start_run(kind="test", scenario="base", run_date=TINY_RUN_DATE, parameters={}, code_version="t")
    wh.stage_clean_load(run, ORDERS, ids[ORDERS])
    typed = wh.staged(run, CLEAN_ORDERS).head(7)
    wh.stage(run, CLEAN_ORDERS, typed)
    wh.commit_run(run)
    assert con.execute(f"SELECT count(*) FROM {schema.CLEAN_LOADS.name}").fetchone()[0] == 0
    assert wh.read(CLEAN_ORDERS, run).drop("run_id").to_dicts() == typed.to_dicts()
    with pytest.raises(ValueError, match="stored, not derived"):
        wh.stage_clean_load(run, schema.PRODUCTS.name, ids[schema.PRODUCTS.name])


def test_an_older_warehouse_keeps_its_clean_order_lines_under_the_view(tmp_path):
    """A warehouse whose ``clean_orders`` is a table (written before the view): migrated, its rows are the
    stored rows the view shows, and a new run derived from a load shows beside them."""
    path = tmp_path / "old.duckdb"
    con = connect(path)
    try:
        wh = Warehouse(con, path)
        wh.migrate()
        ids = _land(wh, _raw_inputs(_text(_orders(30), ORDERS)))
        whole, _ = _commit_both(wh, ids)
        before = wh.read(CLEAN_ORDERS, whole)
        con.execute(f"DROP VIEW {CLEAN_ORDERS}")  # the layout of the code before: a table of that name
        con.execute(f"ALTER TABLE {STORED_ORDERS} RENAME TO {CLEAN_ORDERS}")
        con.execute(f"COMMENT ON TABLE {schema.RUNS.name} IS 'plantwin-schema older'")
        wh.migrate()
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables WHERE table_name "
                                 f"IN ('{CLEAN_ORDERS}', '{STORED_ORDERS}')").fetchall())
        assert kinds == {CLEAN_ORDERS: "VIEW", STORED_ORDERS: "BASE TABLE"}
        assert wh.read(CLEAN_ORDERS, whole).to_dicts() == before.to_dicts()
        _, screened = _commit_both(wh, ids)
        assert (wh.read(CLEAN_ORDERS, screened).drop("run_id").sort("order_id").to_dicts()
            == before.drop("run_id").sort("order_id").to_dicts())
    finally:
        con.close()
