"""The warehouse: raw loads are append-only and idempotent, runs are all or nothing, one writer at a time."""

from __future__ import annotations

import multiprocessing
import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data_contracts import schema
from warehouse.db import open_warehouse
from warehouse.lock import WarehouseBusy, warehouse_lock
from warehouse.publish import publish_snapshot, published_path
from warehouse.sources import SourceError, read_demand_file, read_folder, read_source_file

ORDERS_CSV = """order_id,order_date,requested_week,product_id,site_id,quantity,status
O1,2026-01-02,2026-01-05,P1,DC1,10,open
O2,2026-01-03,2026-01-12,P1,DC1,5,open
"""


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_csv_is_read_as_text_with_row_numbers_and_extra_columns(tmp_path):
    path = _write(tmp_path / "orders.csv", ORDERS_CSV.replace("status\n", "status,comment\n")
                  .replace("open\n", "open,rush\n", 1).replace("5,open\n", "5,open,\n"))
    src = read_source_file(path, "orders")
    assert src.frame.columns == [*schema.ORDERS.column_names, schema.RAW_EXTRA, schema.SOURCE_ROW]
    assert src.frame.schema["quantity"] == pl.String
    assert src.frame["quantity"].to_list() == ["10", "5"]
    assert src.frame[schema.SOURCE_ROW].to_list() == [1, 2]
    assert src.extra_columns == ("comment",)
    assert src.frame[schema.RAW_EXTRA].to_list() == ['{"comment":"rush"}', '{"comment":null}']


def test_bom_semicolons_and_missing_optional_column(tmp_path):
    text = "\ufefforder_id;order_date;requested_week;product_id;site_id;quantity\nO1;2026-01-02;2026-01-05;P1;DC1;7\n"
    src = read_source_file(_write(tmp_path / "orders.csv", text), "orders")
    assert src.frame["order_id"].to_list() == ["O1"]
    assert src.frame["quantity"].to_list() == ["7"]
    assert src.missing_columns == ("status",)


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"order_id,quantity\nO1,caf\xe9\n", "not UTF-8"), (b"PAR1garbage", "Parquet")],
)
def test_unreadable_files_name_the_file_and_rule(tmp_path, content, message):
    name = "orders.parquet" if content.startswith(b"PAR1") else "orders.csv"
    path = _write(tmp_path / name, content)
    with pytest.raises(SourceError, match=message) as info:
        read_source_file(path, "orders")
    assert name in str(info.value) and "rule:" in str(info.value)


def test_two_files_for_one_entity_is_an_error(tmp_path):
    _write(tmp_path / "orders.csv", ORDERS_CSV)
    pl.read_csv(tmp_path / "orders.csv").write_parquet(tmp_path / "orders.parquet")
    with pytest.raises(SourceError, match="one_file_per_entity"):
        read_folder(tmp_path)


def test_landing_the_same_content_twice_adds_nothing(tmp_path):
    path = _write(tmp_path / "in" / "orders.csv", ORDERS_CSV)
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        first, new1 = wh.land(read_source_file(path, "orders"))
        second, new2 = wh.land(read_source_file(path, "orders"))
        assert (new1, new2) == (True, False) and first == second
        assert wh.con.execute("SELECT count(*) FROM raw_orders").fetchone()[0] == 2
        assert wh.con.execute("SELECT count(*) FROM loads").fetchone()[0] == 1


def test_order_versions_latest_load_wins_and_duplicates_inside_a_load_stay(tmp_path):
    path = tmp_path / "in" / "orders.csv"
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        _write(path, ORDERS_CSV)
        wh.land(read_source_file(path, "orders"))
        time.sleep(0.01)
        # later export: O1 cancelled, O3 new and entered twice by mistake
        _write(path, ORDERS_CSV.replace("10,open", "10,cancelled")
               + "O3,2026-01-04,2026-01-12,P1,DC1,1,open\nO3,2026-01-04,2026-01-12,P1,DC1,2,open\n")
        load2, _ = wh.land(read_source_file(path, "orders"))
        rows = wh.raw_rows("orders", load2)
    assert sorted(rows["order_id"].to_list()) == ["O1", "O2", "O3", "O3"]
    assert rows.filter(pl.col("order_id") == "O1")["status"].item() == "cancelled"
    assert set(rows[schema.LOAD_ID].to_list()) == {load2}


def _run_with_outputs(wh, fail: bool) -> str:
    run_id = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 1, 5), parameters={},
                          code_version="test")
    frame = pl.DataFrame({"product_id": ["P1"], "site_id": ["DC1"], "week": [date(2026, 1, 5)],
                          "quantity": [3.0]})
    wh.stage(run_id, schema.DEMAND_HISTORY.name, frame)
    if fail:
        wh.fail_run(run_id, "boom")
    else:
        wh.commit_run(run_id)
    return run_id


def test_a_run_is_all_or_nothing(tmp_path):
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        ok = _run_with_outputs(wh, fail=False)
        bad = _run_with_outputs(wh, fail=True)
        history = wh.read(schema.DEMAND_HISTORY.name)
        assert history["run_id"].to_list() == [ok]
        assert wh.run(bad)["status"] == "failed" and wh.run(bad)["error"] == "boom"
        assert wh.run(ok)["status"] == "success"
        assert not [s for (s,) in wh.con.execute("SELECT schema_name FROM information_schema.schemata")
                    .fetchall() if s.startswith("stage_")]


def _hold_lock(path: str, seconds: float) -> None:
    with warehouse_lock(path):
        time.sleep(seconds)


def test_a_second_writer_is_refused_clearly(tmp_path):
    path = str(tmp_path / "wh.duckdb")
    proc = multiprocessing.get_context("spawn").Process(target=_hold_lock, args=(path, 3))
    proc.start()
    try:
        deadline = time.monotonic() + 10
        while not Path(path + ".lock").exists() or not Path(path + ".lock").read_text():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with pytest.raises(WarehouseBusy, match=f"process {proc.pid}"):
            with warehouse_lock(path, wait_seconds=0.2, poll_seconds=0.05):
                pass
    finally:
        proc.join()
    with warehouse_lock(path):  # released when the holder ends
        pass


def test_published_snapshot_is_readable_while_a_reader_holds_the_old_one(tmp_path):
    wh_path = tmp_path / "wh.duckdb"
    with open_warehouse(wh_path) as wh:
        first = _run_with_outputs(wh, fail=False)
    publish_snapshot(wh_path)
    reader = duckdb.connect(str(published_path(wh_path)), read_only=True)
    with open_warehouse(wh_path) as wh:
        _run_with_outputs(wh, fail=False)
    publish_snapshot(wh_path)
    assert reader.execute("SELECT run_id FROM demand_history").fetchall() == [(first,)]
    reader.close()
    fresh = duckdb.connect(str(published_path(wh_path)), read_only=True)
    assert fresh.execute("SELECT count(*) FROM demand_history").fetchone()[0] == 2
    fresh.close()


def test_demand_file_errors_name_the_rule(tmp_path):
    products = pl.DataFrame({"product_id": ["P1"]})
    sites = pl.DataFrame({"site_id": ["DC1"]})
    good = _write(tmp_path / "d.csv", "product_id,site_id,week,quantity\nP1,DC1,2026-01-05,4\nP1,DC1,2026-01-05,1\n")
    assert read_demand_file(good, products, sites)["quantity"].to_list() == [5.0]
    bad = _write(tmp_path / "e.csv", "product_id,site_id,week,quantity\nP9,DC1,2026-01-05,4\n")
    with pytest.raises(SourceError, match="known_product"):
        read_demand_file(bad, products, sites)
    tuesday = _write(tmp_path / "f.csv", "product_id,site_id,week,quantity\nP1,DC1,2026-01-06,4\n")
    with pytest.raises(SourceError, match="monday_week"):
        read_demand_file(tuesday, products, sites)


def test_a_run_left_running_by_a_dead_process_is_marked_abandoned(tmp_path):
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        dead = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 1, 5), parameters={},
                            code_version="test")
        wh.stage(dead, schema.DEMAND_HISTORY.name, pl.DataFrame({"product_id": ["P1"]}))
    with open_warehouse(tmp_path / "wh.duckdb") as wh:  # the next run, under the lock
        assert wh.abandon_unfinished_runs() == [dead]
        row = wh.run(dead)
        assert row["status"] == "failed" and row["error"].startswith("abandoned")
        assert not wh.staged_names(dead)
        assert wh.abandon_unfinished_runs() == []


def test_connections_draw_no_progress_bar(tmp_path):
    # DuckDB draws a progress bar on the console for queries over 2 s; the CLI's output stays clean
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        assert wh.con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0] is False


def test_no_output_table_holds_negative_zero(tmp_path):
    """A stage's -0.0 (e.g. a twin's or forecast's subtraction) is stored as 0.0; NaN and null are kept."""
    import math

    from warehouse.frames import no_negative_zero

    frame = pl.DataFrame({"id": ["a", "b", "c", "d"], "x": [-0.0, 1.5, None, float("nan")],
                          "y": pl.Series([-0.0, -2.0, 0.0, 3.0], dtype=pl.Float32)})
    with open_warehouse(tmp_path / "w.duckdb") as wh:
        run_id = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 1, 5), parameters={},
                              code_version="test")
        wh.stage(run_id, "t", frame)
        back = wh.staged(run_id, "t")
    assert [math.copysign(1, v) for v in back["x"].to_list()[:2]] == [1.0, 1.0]
    assert back["x"][2] is None and math.isnan(back["x"][3])
    assert [math.copysign(1, v) for v in back["y"].to_list()] == [1.0, -1.0, 1.0, 1.0]
    assert math.copysign(1, no_negative_zero(frame)["x"][0]) == 1.0


def test_an_unknown_run_is_a_parameter_error_with_a_plain_message(tmp_path):
    """Every caller (replan, scenario, twin, report) shows it as a bad parameter, without converting it."""
    from data_contracts.config import ParameterError

    path = tmp_path / "wh.duckdb"
    with open_warehouse(path) as wh:
        with pytest.raises(ParameterError) as info:
            wh.run("run-nope")
    assert isinstance(info.value, KeyError)  # a failed lookup too, for those that catch one
    assert str(info.value) == f"no run 'run-nope' in {path}"


def _varied_orders(n: int) -> str:
    """``n`` order lines whose text DuckDB would store otherwise by its own choice: few quantities, one
    status; and cells that must come back byte for byte (blanks inside, quotes, beyond ASCII, a long id)."""
    lines = [",".join(schema.ORDERS.column_names)]
    for i in range(n):
        oid = f"SO-{i:07d}" if i % 97 else f"SO-{i:07d}-{'x' * 300}"
        product = ["P1", "P 2", "Pé3", '"P,4"'][i % 4]
        lines.append(f"{oid},2026-01-{1 + i % 28:02d},2026-02-02,{product},DC{i % 3},{(i % 5) * 2.5},shipped")
    return "\n".join(lines) + "\n"


def _storage(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, set[str]]:
    rows = con.execute(f"SELECT column_name, compression FROM pragma_storage_info('{table}') "
                       "WHERE segment_type = 'VARCHAR'").fetchall()
    found: dict[str, set[str]] = {}
    for column, compression in rows:
        found.setdefault(column, set()).add(compression.lower())
    return found


def test_raw_text_is_stored_with_the_chosen_compression_and_reads_back_as_loaded(tmp_path):
    """Each raw column is stored with the compression :func:`raw_compression` names (DuckDB's own choice
    would be dictionary for these few quantities), and every cell reads back as the file's text."""
    from warehouse.layout import raw_compression

    path = _write(tmp_path / "in" / "orders.csv", _varied_orders(3000))
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        load_id, _ = wh.land(read_source_file(path, "orders"))
        wh.con.execute("CHECKPOINT")
        # the text columns of the table storing them; the typed ones (schema.TYPED_RAW) are dates and numbers
        stored = _storage(wh.con, schema.stored_raw_table_name("orders"))
        types = dict(wh.con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE "
                                    "table_name = ?", [schema.stored_raw_table_name("orders")]).fetchall())
        rows = wh.raw_rows("orders", load_id)
    chosen = raw_compression("orders")
    assert chosen["order_id"] == "fsst" and chosen["quantity"] == "fsst" and chosen["product_id"] == "dictionary"
    text = {c: m for c, m in chosen.items() if c not in schema.TYPED_RAW["orders"]}
    assert {c: stored[c] for c in text} == {c: {m} for c, m in text.items()}
    assert [types[c] for c in schema.TYPED_RAW["orders"]] == ["DATE", "DATE", "DOUBLE"]
    # their kept text, null here (every cell canonical), is a dictionary: FSST would store the nulls uncompressed
    assert {stored[schema.kept_text_column(c)] == {"dictionary"} for c in schema.TYPED_RAW["orders"]} == {True}
    text = pl.read_csv(path, infer_schema=False)
    assert rows.select(schema.ORDERS.column_names).equals(text)
    assert rows[schema.SOURCE_ROW].to_list() == list(range(1, 3001))


def test_an_older_raw_table_keeps_its_storage_and_its_loads_read_the_same(tmp_path):
    """A raw table created before the chosen compressions (DuckDB's choice) is migrated as it is; a new load
    lands in it and reads back the same rows as in a new warehouse."""
    path = _write(tmp_path / "in" / "orders.csv", _varied_orders(3000))
    old = tmp_path / "old.duckdb"
    con = duckdb.connect(str(old))
    cols = ", ".join(f'"{c}" {"BIGINT" if c == schema.SOURCE_ROW else "VARCHAR"}' for c in
                     [schema.LOAD_ID, schema.SOURCE_FILE, schema.SOURCE_ROW, *schema.ORDERS.column_names,
                      schema.RAW_EXTRA])
    con.execute(f"CREATE TABLE {schema.raw_table_name('orders')} ({cols})")  # the DDL of the code before
    con.close()
    read = {}
    for name in ("old", "new"):
        with open_warehouse(tmp_path / f"{name}.duckdb") as wh:
            load_id, _ = wh.land(read_source_file(path, "orders"))
            wh.con.execute("CHECKPOINT")
            read[name] = wh.raw_rows("orders", load_id).drop(schema.LOAD_ID)
            if name == "old":  # not rewritten: the few quantities stay in DuckDB's dictionary
                assert _storage(wh.con, schema.raw_table_name("orders"))["quantity"] == {"dictionary"}
    assert read["old"].equals(read["new"])
