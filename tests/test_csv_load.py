"""CSV files landed by DuckDB's reader (warehouse.csv_load) against the polars reading they replace.

The reference is what ingest did before: the file's bytes parsed whole by ``pl.read_csv`` (every value as
text) and conformed by ``warehouse.sources._conform``. The DuckDB path must give the same raw rows (values,
``_extra``, record numbers) on every dialect the input folder accepts, land them without a Python frame,
keep record numbers exact over files larger than the reader's buffers, and refuse a file that changed
after it was hashed without landing anything.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ContractConfig
from data_contracts.testing import TINY_RUN_DATE
from data_contracts.validate import validate_inputs
from warehouse import csv_load
from warehouse.arrival import InputChanged
from warehouse.connection import connect
from warehouse.db import Warehouse
from warehouse.sources import SourceError, _conform, _read_csv, read_source_file

from tests.test_contracts_screen import _broken_orders, _raw_inputs

ORDERS = schema.ORDERS.name
PRODUCTS = schema.PRODUCTS.name
HEADER = "order_id,order_date,requested_week,product_id,site_id,quantity,status"


def _reference(path: Path, entity: str) -> pl.DataFrame:
    """The raw rows as ingest read them before: the bytes whole through polars, then ``_conform``."""
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    line = data.split(b"\n", 1)[0].decode()
    sep = ";" if line.count(";") > line.count(",") else ","
    frame = pl.read_csv(data, separator=sep, infer_schema=False, truncate_ragged_lines=False)
    return _conform(frame, path, entity, hashlib.sha256(path.read_bytes()).hexdigest()).frame


def _landed(path: Path, entity: str) -> pl.DataFrame:
    """The raw rows the warehouse holds after landing ``path`` (load id and file dropped)."""
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        load_id, new = wh.land(read_source_file(path, entity))
        assert new
        return wh.raw_rows(entity, load_id).drop(schema.LOAD_ID, schema.SOURCE_FILE).select(
            [*schema.table(entity).columns, schema.RAW_EXTRA, schema.SOURCE_ROW])
    finally:
        con.close()


def _write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


DIALECTS = {
    "quoted separators, quotes and line breaks": (
        HEADER + "\n" + 'O1,2026-01-02,2026-01-05,"P,1",DC1,7,open\n'
        'O2,2026-01-02,2026-01-05,"The ""good"" one",DC1,8,open\n'
        'O3,2026-01-02,2026-01-05,"two\nlines",DC1,"9",open\n'
        'O4,2026-01-02,2026-01-05,"",DC1,9,open\n'
    ),
    "BOM and CRLF": "\ufeff" + HEADER.replace(",", ",") + "\r\n" + "O1,2026-01-02,2026-01-05,P1,DC1,7,open\r\n"
                    "O2,2026-01-02,2026-01-05,P2,DC1,8,open\r\n",
    "semicolons and decimal commas": HEADER.replace(",", ";") + "\n" + "O1;2026-01-02;2026-01-05;P1;DC1;1,5;open\n"
                                     'O2;2026-01-02;2026-01-05;"P;2";DC1;1.234,5;open\n',
    "blanks around cells and names, unicode spaces": (
        " order_id , order_date ,requested_week,product_id,site_id,quantity,status\n"
        " O1 , 2026-01-02 ,2026-01-05,\u00a0P1\u3000,DC1,\t7\t,  \n"
        "O2,2026-01-02,2026-01-05,P\u00a0Q,DC1,8,\u2003\n"
    ),
    "a missing column and extra ones": (
        "order_id,order_date,requested_week,product_id,quantity,note,status,Note 2\n"
        'O1,2026-01-02,2026-01-05,P1,7,"a ""b"", c/é",open,\n'
        "O2,2026-01-02,2026-01-05,P1,7,,open,x\n"
    ),
    "short rows padded with nulls": HEADER + "\nO1,2026-01-02,2026-01-05,P1\nO2,2026-01-02,2026-01-05,P1,DC1,7,open\n",
    "a repeated header name": HEADER + ",quantity\nO1,2026-01-02,2026-01-05,P1,DC1,7,open,8\n",
    "no line end at the end": HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open",
    "a header only": HEADER + "\n",
    "whitespace-only line": HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\n   \nO2,2026-01-02,2026-01-05,P1,DC1,7,open\n",
}


DIALECTS["plain: ASCII without blanks or quotes"] = (
    HEADER + "\r\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\r\nO2,,2026-01-05,P1,DC1,,\r\nO3,2026-01-02\r\n")


@pytest.mark.parametrize("case", list(DIALECTS))
def test_duckdb_reader_lands_what_polars_read(tmp_path, case):
    path = _write(tmp_path / "orders.csv", DIALECTS[case])
    got, want = _landed(path, ORDERS), _reference(path, ORDERS)
    assert got.to_dicts() == want.to_dicts()
    source = read_source_file(path, ORDERS)
    assert source.frame.to_dicts() == want.to_dicts()  # the frame a caller may still ask for
    assert source.row_count == want.height


def test_only_files_without_blanks_quotes_or_other_text_skip_the_stripping(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_load, "CHUNK_BYTES", 32)  # the proof holds chunk by chunk
    plain = {name for name, text in DIALECTS.items()
             if csv_load.scan_csv(_write(tmp_path / "orders.csv", text))[1].plain}
    assert plain == {"plain: ASCII without blanks or quotes", "a repeated header name", "no line end at the end",
                     "a header only", "short rows padded with nulls"}
    for edge in ("O1, 2026-01-02", "O1,2026-01-02\r,x", '"O1"', "O1\t", "O\u00a01"):
        assert not csv_load.scan_csv(_write(tmp_path / "orders.csv", HEADER + "\n" + edge + "\n"))[1].plain, edge


def test_semicolon_file_keeps_the_decimal_comma_text_for_the_contracts(tmp_path):
    rows = _landed(_write(tmp_path / "orders.csv", DIALECTS["semicolons and decimal commas"]), ORDERS)
    assert rows["quantity"].to_list() == ["1,5", "1.234,5"] and rows["product_id"].to_list() == ["P1", "P;2"]


def test_missing_and_extra_columns_are_named(tmp_path):
    source = read_source_file(_write(tmp_path / "orders.csv", DIALECTS["a missing column and extra ones"]), ORDERS)
    assert source.missing_columns == ("site_id",) and source.extra_columns == ("note", "Note 2")
    assert source.frame[schema.RAW_EXTRA].to_list() == ['{"note":"a \\"b\\", c/é","Note 2":null}',
                                                       '{"note":null,"Note 2":"x"}']


def test_blank_lines_are_no_records_and_numbers_count_records(tmp_path):
    # polars read a blank line as a row of nulls (quarantined as such); DuckDB's reader skips it, as Python's csv
    path = _write(tmp_path / "orders.csv", HEADER + "\r\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\r\n\r\n"
                  'O2,2026-01-02,2026-01-05,"P\n\n2",DC1,7,open\r\n\r\n\r\n')
    assert read_source_file(path, ORDERS).csv is not None  # read by DuckDB
    rows = _landed(path, ORDERS)
    assert rows["order_id"].to_list() == ["O1", "O2"] and rows["product_id"].to_list() == ["P1", "P\n\n2"]
    assert rows[schema.SOURCE_ROW].to_list() == [1, 2]


def test_a_file_duckdb_refuses_is_read_by_polars_as_before(tmp_path):
    # line ends mixing LF and CRLF: DuckDB's reader stops; the file is read whole by polars, as before
    path = _write(tmp_path / "orders.csv", HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\r\n\r\n"
                  "O2,2026-01-02,2026-01-05,P2,DC1,8,open\n")
    source = read_source_file(path, ORDERS)
    assert source.csv is not None  # not parsed when read: DuckDB's reader refuses it when it lands
    got, want = _landed(path, ORDERS), _reference(path, ORDERS)
    assert got.to_dicts() == want.to_dicts() and got["order_id"].to_list() == ["O1", None, "O2"]
    assert source.frame.to_dicts() == want.to_dicts() and source.csv is None  # read whole, as landed
    assert read_source_file(path, ORDERS).row_count == 3


def test_a_path_duckdb_would_read_as_a_pattern_is_read_by_polars(tmp_path):
    folder = tmp_path / "export[1]"
    folder.mkdir()
    path = _write(folder / "orders.csv", DIALECTS["quoted separators, quotes and line breaks"])
    (tmp_path / "export1").mkdir()  # what the pattern export[1] would match instead
    _write(tmp_path / "export1" / "orders.csv", HEADER + "\n")
    assert read_source_file(path, ORDERS).csv is None
    assert _landed(path, ORDERS).to_dicts() == _reference(path, ORDERS).to_dicts()


def test_record_numbers_stay_exact_beyond_the_readers_buffers(tmp_path):
    n = 120_000  # ~9 MB with a multi-line cell every 7th row: several of DuckDB's read buffers
    frame = pl.DataFrame({"i": range(1, n + 1)}).select(
        pl.format("O{}", "i").alias("order_id"), pl.lit("2026-01-02").alias("order_date"),
        pl.lit("2026-01-05").alias("requested_week"),
        pl.when(pl.col("i") % 7 == 0).then(pl.format("P,{}\nline two", "i")).otherwise(pl.format("P{}", "i"))
        .alias("product_id"),
        pl.lit("DC1").alias("site_id"), pl.col("i").cast(pl.String).alias("quantity"), pl.lit("open").alias("status"),
    )
    path = tmp_path / "orders.csv"
    frame.write_csv(path)
    got = _landed(path, ORDERS)
    assert got.height == n
    assert (got[schema.SOURCE_ROW] == got["quantity"].cast(pl.Int64)).all()
    assert got["product_id"].to_list() == frame["product_id"].to_list()


def test_the_broken_order_lines_give_the_same_quarantine_as_the_polars_reading(tmp_path):
    raw = _raw_inputs(_broken_orders())
    folder = tmp_path / "in"
    folder.mkdir()
    for entity, text in raw.items():
        text.drop(schema.SOURCE_FILE, schema.SOURCE_ROW, strict=False).write_csv(folder / f"{entity}.csv")
    outcomes = []
    for read in (_reference, _landed):
        rows = {e: read(folder / f"{e}.csv", e).with_columns(pl.lit(f"{e}.csv").alias(schema.SOURCE_FILE),
                                                             pl.lit("ld").alias(schema.LOAD_ID))
                for e in raw}
        outcomes.append(validate_inputs(rows, TINY_RUN_DATE, ContractConfig(max_reject_share=0.5)))
    before, after = outcomes
    assert after.quarantine.height >= 25
    assert after.quarantine.to_dicts() == before.quarantine.to_dicts()
    assert after.results.to_dicts() == before.results.to_dicts()


def test_utf8_is_checked_across_chunks_naming_byte_and_line(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_load, "CHUNK_BYTES", 16)
    ok = _write(tmp_path / "orders.csv", HEADER + "\nO1,2026-01-02,2026-01-05,Café Crème,DC1,7,open\n")
    assert read_source_file(ok, ORDERS).frame["product_id"].to_list() == ["Café Crème"]  # é split over chunks
    assert read_source_file(ok, ORDERS).content_hash == hashlib.sha256(ok.read_bytes()).hexdigest()
    data = (HEADER + "\n" + "O1,2026-01-02,2026-01-05,P1,DC1,7,open\n" * 3 + "O9,2026-01-02,2026-01-05,Caf").encode()
    bad = _write(tmp_path / "o2.csv", data + b"\xe9,DC1,7,open\n")
    with pytest.raises(SourceError, match=r"o2.csv: not UTF-8 text: byte 0xe9 on line 5 \(rule: utf8_encoding\)"):
        read_source_file(bad, ORDERS)


def test_a_row_with_too_many_cells_is_refused_when_landed_with_polars_message_and_lands_nothing(tmp_path):
    path = _write(tmp_path / "orders.csv", HEADER + "\nO1,2,3,4,5,6,7\nO2,2,3,4,5,6,7,8\n")
    refused = r"orders.csv: cannot be parsed as CSV \(rule: csv_format\): .*"
    with pytest.raises(SourceError, match=refused) as said:
        read_source_file(path, ORDERS).frame
    with pytest.raises(SourceError) as before:
        _read_csv(path, path.read_bytes())  # the reading every file had before DuckDB's reader
    assert str(said.value) == str(before.value)  # the same message
    with pytest.raises(SourceError, match=refused):
        read_source_file(path, ORDERS).row_count
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        threads = con.execute("SELECT current_setting('threads')").fetchone()
        with pytest.raises(SourceError, match=refused):
            wh.land(read_source_file(path, ORDERS))
        assert con.execute(f"SELECT count(*) FROM {schema.raw_table_name(ORDERS)}").fetchone() == (0,)
        assert con.execute(f"SELECT count(*) FROM {schema.LOADS.name}").fetchone() == (0,)
        # the thread count is restored after the refusal
        assert con.execute("SELECT current_setting('threads')").fetchone() == threads
    finally:
        con.close()


def test_a_file_is_parsed_once_when_landed_on_one_thread_its_rows_counted_by_it(tmp_path, monkeypatch):
    path = _write(tmp_path / "orders.csv", DIALECTS["quoted separators, quotes and line breaks"])
    seen = []
    select = csv_load.run_select

    def recording(con, *args, **kwargs):
        seen.append(con.execute("SELECT current_setting('threads')").fetchone()[0])
        return select(con, *args, **kwargs)

    def no_count(*_):
        raise AssertionError("the file was parsed to count its records before it landed")

    monkeypatch.setattr(csv_load, "run_select", recording)
    monkeypatch.setattr(csv_load, "count_rows", no_count)
    con = connect(":memory:")
    try:
        con.execute("SET threads = 2")
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        source = read_source_file(path, ORDERS)
        load_id, new = wh.land(source)
        assert new and seen == [1] and source.row_count == 4
        assert con.execute("SELECT current_setting('threads')").fetchone() == (2,)
        again = read_source_file(path, ORDERS)
        assert wh.land(again) == (load_id, False) and again.row_count == 4  # from the load already there
    finally:
        con.close()


def test_a_file_changed_after_hashing_lands_nothing(tmp_path):
    path = _write(tmp_path / "orders.csv", HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\n")
    source = read_source_file(path, ORDERS)
    _write(path, HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\nO2,2026-01-02,2026-01-05,P1,DC1,7,open\n")
    os.utime(path, ns=(source.csv.mtime_ns + 10**9, source.csv.mtime_ns + 10**9))
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        with pytest.raises(InputChanged, match=r"orders.csv: changed after it was hashed.*\(rule: input_unchanged\)"):
            wh.land(source)
        assert con.execute(f"SELECT count(*) FROM {schema.raw_table_name(ORDERS)}").fetchone() == (0,)
        assert con.execute(f"SELECT count(*) FROM {schema.LOADS.name}").fetchone() == (0,)
    finally:
        con.close()


def test_a_file_the_reader_refuses_and_changed_after_hashing_lands_nothing(tmp_path):
    # read whole by polars when landed (line ends mixing LF and CRLF): the bytes read must be those hashed
    mixed = HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\r\nO2,2026-01-02,2026-01-05,P2,DC1,8,open\n"
    path = _write(tmp_path / "orders.csv", mixed)
    source = read_source_file(path, ORDERS)
    _write(path, mixed.replace("P2", "P3"))  # same size
    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        with pytest.raises(InputChanged, match=r"orders.csv: changed after it was hashed.*input_unchanged"):
            wh.land(source)
        assert con.execute(f"SELECT count(*) FROM {schema.raw_table_name(ORDERS)}").fetchone() == (0,)
        assert con.execute(f"SELECT count(*) FROM {schema.LOADS.name}").fetchone() == (0,)
    finally:
        con.close()


def test_a_connection_that_may_reorder_rows_is_refused(tmp_path):
    path = _write(tmp_path / "orders.csv", HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\n")
    source = read_source_file(path, ORDERS)
    con = connect(":memory:")
    try:
        con.execute("SET preserve_insertion_order = false")
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        with pytest.raises(RuntimeError, match="preserve_insertion_order"):
            wh.land(source)
    finally:
        con.close()


def test_a_file_ending_mid_line_is_told_from_one_only_missing_its_last_newline(tmp_path):
    """``CsvLayout.cut_off`` (read from the file's last bytes): a last line without a line end and with fewer
    cells than the header is an export cut off; one with every cell, any file of the dialects, a header alone
    and a last line holding a quote (a quoted cell may span lines: not judged) are not."""
    def cut_off(text: str) -> bool:
        return csv_load.scan_csv(_write(tmp_path / "orders.csv", text))[1].cut_off

    row = "O9,2026-01-02,2026-01-05,P1,DC1,7,open"
    for text in DIALECTS.values():
        assert not cut_off(text), text  # short rows among them, each with its line end
    assert not cut_off(HEADER + "\n" + row) and not cut_off(DIALECTS["BOM and CRLF"].rstrip())
    assert not cut_off(HEADER)
    assert not cut_off(HEADER + "\n" + row + "\n" + 'O10,2026-01-02,"P')
    assert cut_off(HEADER + "\n" + row + "\n" + "O10,2026-01-0")
    assert cut_off(HEADER + "\r\n" + row + "\r\n" + "O10,2026")
    assert cut_off((HEADER + "\n" + row + "\n" + "O10,2026-01-0").replace(",", ";"))
