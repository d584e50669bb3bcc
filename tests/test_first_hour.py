"""A new user's first hour (stop 23): what an export from another system looks like, and what plantwin says.

Each case is a defect met by trying the README's input contract on real public data (pharmacy sales as
orders): the run date read from a timestamp or a day-first date, a header in capitals or separated by tabs,
a renamed column, a comma that groups thousands. Generated data only (the demo network, 5 products).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from test_sources_validate import _copy, valid_input  # noqa: F401 (the small demo input, a copy of it per test)
from warehouse.dry_run import inferred_run_date


def _as_of(folder: Path) -> date:
    text = pl.read_csv(folder / "inventory.csv", infer_schema=False)
    return date.fromisoformat(text["as_of_date"].max())


def _rewrite_header(folder: Path, entity: str, header: str, separator: str = ",") -> None:
    path = folder / f"{entity}.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    body = [line.replace(",", separator) for line in lines[1:]] if separator != "," else lines[1:]
    path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")


def _validate(folder: Path, *args: str):
    result = CliRunner().invoke(app, ["validate", "--input", str(folder), *args])
    return result, " ".join(result.output.split())


def test_a_day_first_date_never_becomes_the_run_date():
    """polars' inferring date parser read '10/09/2019' as 10 September and ISO values after it as null: the
    run date came from a value the contracts refuse. Now only what the contracts read as a date counts."""
    inventory = pl.DataFrame({"as_of_date": ["10/09/2019", "2019-10-01", " 2019-10-02 "]})
    assert inferred_run_date({"inventory": inventory}) == date(2019, 10, 2)
    only_refused = pl.DataFrame({"as_of_date": ["10/09/2019"]})
    assert inferred_run_date({"inventory": only_refused}, today=date(2026, 1, 5)) == date(2026, 1, 5)


def test_a_timestamped_snapshot_gives_its_date_as_the_run_date(valid_input, tmp_path):
    """An ERP writes the snapshot's time too ('2026-05-04 08:00:00'): the contracts take its date, and so does
    the run date; it used to fall back to today, years away from the history, without a word."""
    folder = _copy(valid_input, tmp_path)
    as_of = _as_of(folder)
    inv = pl.read_csv(folder / "inventory.csv", infer_schema=False)
    inv.with_columns(pl.col("as_of_date") + " 08:00:00").write_csv(folder / "inventory.csv")
    result, out = _validate(folder)
    assert result.exit_code == 0, result.output
    assert f"run date {as_of.isoformat()}." in out, out


def test_a_run_takes_the_run_date_of_a_timestamped_snapshot(valid_input, tmp_path):
    """The same through ``plantwin run`` (``flows.stages.resolve_run_date``): the run row's date."""
    folder = _copy(valid_input, tmp_path)
    as_of = _as_of(folder)
    inv = pl.read_csv(folder / "inventory.csv", infer_schema=False)
    inv.with_columns(pl.col("as_of_date") + "T08:00:00").write_csv(folder / "inventory.csv")
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse),
                                      "--horizon", "4", "--no-prefect"])
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.output, result.output  # data as of the run date: nothing stale
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT run_date FROM runs").fetchall() == [(as_of,)]


def test_a_run_date_far_past_the_data_is_said_in_the_summary(valid_input, tmp_path):
    """--run-date years after the extract planned from the old stock with every series inactive (a zero
    forecast), exit 0 and nothing said. The summary now says how far the stock and the demand lie behind."""
    folder = _copy(valid_input, tmp_path)
    as_of = _as_of(folder)
    late = as_of + timedelta(weeks=60)
    late -= timedelta(days=late.weekday())
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(tmp_path / "w.duckdb"),
                                      "--horizon", "4", "--run-date", late.isoformat(), "--no-prefect"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert (f"warning: the inventory snapshot is of {as_of}, {(late - as_of).days // 7} weeks before the run date "
            f"{late}: the plan starts from that stock" in out), out
    assert "warning: the last demand is in the week of " in out, out
    assert f"weeks before the run date {late}: a series without demand in 13 weeks is forecast as zero" in out


def test_a_header_in_capitals_names_the_column_to_rename(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    header = (folder / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    _rewrite_header(folder, "orders", header.upper())
    result, out = _validate(folder)
    assert result.exit_code == 2, result.output
    assert ("error: orders.csv: missing column 'order_id': not in the header, or empty in all "
            in out), out
    assert "the header has 'ORDER_ID': name it 'order_id' (column names are matched exactly) " \
           "(rule: required_columns)" in out, out
    assert "Traceback" not in result.output


def test_a_renamed_column_is_named_beside_the_missing_one(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    header = (folder / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    _rewrite_header(folder, "orders", header.replace("quantity", "qty"))
    result, out = _validate(folder)
    assert result.exit_code == 2, result.output
    assert ("orders.csv: missing column 'quantity': not in the header, or empty in all" in out
            and "columns the contract does not know: 'qty': if one of them is 'quantity', rename it "
                "(rule: required_columns)" in out), out


def test_a_tab_separated_file_is_named_once_with_its_fix(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    header = (folder / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    _rewrite_header(folder, "orders", header.replace(",", "\t"), separator="\t")
    result, out = _validate(folder)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].count("(rule: required_columns)") == 1, result.output
    assert "orders.csv: the header 'order_id\\torder_date" in errors[0], errors[0]
    assert "holds tabs: write the file with ',' or ';' between the columns" in errors[0]


@pytest.mark.parametrize(("written", "hint"), [
    ("%d/%m/%Y", "dates are written day first (31/12/2026) where plantwin reads YYYY-MM-DD"),
    ("%G-W%V", "weeks are written as ISO weeks (2026-W05) where plantwin reads the date of the week's "
               "Monday"),
])
def test_a_file_of_day_first_dates_or_iso_weeks_gets_a_fix_hint(valid_input, tmp_path,  # noqa: F811
                                                                 written, hint):
    """Every order line's week written day first (28/07/2025) or as an ISO week (2025-W31): each row was
    refused as ``type`` and validate's "How to fix" said nothing. Now it names the export to change (no
    setting reads another date format); a file with one other refused date gets no such hint."""
    folder = _copy(valid_input, tmp_path)
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    week = pl.col("requested_week").str.to_date().dt.strftime(written)
    orders.with_columns(week).write_csv(folder / "orders.csv")
    result, out = _validate(folder)
    assert result.exit_code == 2, result.output
    assert "How to fix what was recognised: orders.csv: 848 row(s) [type]: " + hint in out, out
    assert "no setting reads" in out and "(the source config has none)" in out
    orders.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("soon")).otherwise(week)
                        .alias("requested_week")).write_csv(folder / "orders.csv")
    result, out = _validate(folder)
    assert result.exit_code == 2 and "[type]" in out and hint not in out, out


def test_a_thousands_comma_is_not_only_called_a_decimal_comma(valid_input, tmp_path):
    """'3,670' in a ','-separated export is 3670 with a thousands separator far more often than 3.67: the
    reason and the fix name both, since declaring decimal: "," would read it as 3.67."""
    folder = _copy(valid_input, tmp_path)
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    orders.with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("3,670")).otherwise("quantity").alias("quantity")
    ).write_csv(folder / "orders.csv")
    result, out = _validate(folder)
    assert result.exit_code == 1, result.output
    assert "orders.csv row 1 [decimal_comma]: quantity '3,670' has a decimal comma" in out, out
    assert "if the comma groups thousands (1,500), export without it" in out, out
    assert 'A comma that groups thousands (1,500 for fifteen hundred) is no decimal comma' in out, out


def test_an_absent_optional_column_reads_under_a_decimal_comma(valid_input, tmp_path):
    """A resources file without the campaign columns under ``decimal: ","``: the contract's default
    (changeover_hours 0) was filled in as the text '0.0' and then refused as not a decimal-comma number, a
    value the user never wrote, so the whole resources file (and the run) was refused."""
    folder = _copy(valid_input, tmp_path)
    number = r"^-?\d+\.\d+$"
    for path in folder.glob("*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        frame = frame.with_columns(
            pl.when(pl.col(c).str.contains(number)).then(pl.col(c).str.replace(".", ",", literal=True))
            .otherwise(pl.col(c)).alias(c) for c in frame.columns)
        if path.stem == "resources":
            frame = frame.select("resource_id", "site_id", "name", "hours_per_week")
        frame.write_csv(path, separator=";")
    config = tmp_path / "source.yaml"
    config.write_text(f'source: {{type: folder, path: {folder.name}}}\ndecimal: ","\n', encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--source", str(config)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "resources 5 0 0.0%" in out, out


def test_dates_in_a_demand_or_series_file_are_iso_never_guessed(tmp_path):
    """polars' inferring parser took a day-first '04/05/2026' as 4 May (and a month-first file by its first
    value): a consensus demand or a series file in another date order was read, by a guess, where the
    contract says ISO. Now such a file is refused with its rows as written; a timestamp's date still reads."""
    from warehouse.sources import SourceError, read_demand_file, read_series_file

    products, sites = pl.DataFrame({"product_id": ["P1"]}), pl.DataFrame({"site_id": ["DC1"]})
    demand = tmp_path / "demand.csv"
    demand.write_text("product_id,site_id,week,quantity\nP1,DC1,04/05/2026,10\nP1,DC1,11/05/2026,12\n")
    with pytest.raises(SourceError, match=r"2 row\(s\) break rule type; first rows as written: .*'04/05/2026'"):
        read_demand_file(demand, products, sites)
    demand.write_text("product_id,site_id,week,quantity\nP1,DC1,2026-05-04 00:00:00,10\nP1,DC1,2026-05-11,12\n")
    assert read_demand_file(demand, products, sites).sort("week")["week"].to_list() == [
        date(2026, 5, 4), date(2026, 5, 11)]

    series = tmp_path / "series.csv"
    series.write_text("unique_id,ds,y\nA,05/01/2014,3\nA,12/01/2014,4\n")
    with pytest.raises(SourceError, match=r"2 row\(s\) break rule iso_date in column ds"):
        read_series_file(series)
    series.write_text("unique_id,ds,y\nA,2014-01-05T00:00:00,3\nA,2014-01-12,4\n")
    assert read_series_file(series)["ds"].to_list() == [date(2014, 1, 5), date(2014, 1, 12)]



def test_a_spreadsheet_separator_line_is_named_with_its_fix(valid_input, tmp_path):
    """Excel writes 'sep=,' above the header: it used to be polars' "found more fields than defined in
    'Schema'" (rule csv_format); now the line, the rule and the fix. Nothing is landed."""
    folder = _copy(valid_input, tmp_path)
    path = folder / "orders.csv"
    path.write_bytes(b"sep=,\n" + path.read_bytes())
    result, out = _validate(folder)
    assert result.exit_code == 2, result.output
    assert ("error: orders.csv: the first line 'sep=,' is a spreadsheet's separator hint, not the header "
            "(rule: header); remove that line" in out), out


def test_a_utf16_file_is_named_as_such(valid_input, tmp_path):
    """A spreadsheet's "Unicode text" is UTF-16 with a byte-order mark: say so beside the byte."""
    folder = _copy(valid_input, tmp_path)
    path = folder / "products.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    result, out = _validate(folder)
    assert result.exit_code == 2, result.output
    assert "error: products.csv: not UTF-8 text: byte 0xff on line 1 (rule: utf8_encoding)" in out, out
    assert 'it starts with a UTF-16 byte-order mark, as a spreadsheet\'s "Unicode text" does: save it as ' \
           '"CSV UTF-8"' in out, out



def _thousands_points(folder: Path) -> None:
    """Order quantities as a European export writes whole numbers: ``62.0`` → ``62.240``-like, one point
    grouping thousands and no decimal comma anywhere (values 1 … 999 thousand and 240)."""
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    whole = (pl.col("quantity").cast(pl.Float64).cast(pl.Int64) % 999 + 1).cast(pl.String)
    orders.with_columns(pl.concat_str(whole, pl.lit(".240")).alias("quantity")).write_csv(
        folder / "orders.csv", separator=";")


def test_thousands_grouped_by_a_point_are_warned_of(valid_input, tmp_path):
    """'3.240' for 3240 in a ';' export passes every row rule and is read as 3.24: nothing in one row tells
    the two apart. When every value with a point in a number column looks so, validate warns (exit 0, as
    for every warning) and names the setting; a run's summary says the same."""
    folder = _copy(valid_input, tmp_path)
    _thousands_points(folder)
    result, out = _validate(folder)
    assert result.exit_code == 0, result.output
    assert "1 warnings" in out, out
    assert ("orders [thousands_point] quantity: orders.csv: every one of the 848 quantity values with a point "
            "looks like thousands grouped by a point (3.240 for 3240), and is read with \".\" as decimal point "
            "(3.24): if the source groups thousands so, declare decimal: \",\" in its source config "
            "(rule: thousands_point)") in out, out
    run = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(tmp_path / "w.duckdb"),
                                   "--horizon", "4", "--no-prefect"])
    assert run.exit_code == 0, run.output
    assert "warning: orders.csv: every one of the 848 quantity values with a point looks like thousands" in \
        " ".join(run.output.split()), run.output
    # declared, the same file reads as thousands and nothing is warned of
    config = tmp_path / "source.yaml"
    config.write_text(f'source: {{type: folder, path: {folder.name}}}\ndecimal: ","\n', encoding="utf-8")
    declared = CliRunner().invoke(app, ["validate", "--source", str(config)])
    assert "thousands_point" not in declared.output, declared.output


def test_a_column_with_decimals_is_not_taken_for_thousands(tmp_path):
    """One value that is no thousands group (0.125, 12.5, 1234.567) in the column: no warning; nor under
    fewer than three such values."""
    from warehouse.dry_run import landed
    from warehouse.reads import thousands_points
    from warehouse.sources import read_source_file

    def found(values: list[str]) -> list:
        path = tmp_path / "orders.csv"
        rows = [f"SO-{i},2026-04-01,2026-05-04,P1,DC1,{v}" for i, v in enumerate(values)]
        path.write_text("order_id,order_date,requested_week,product_id,site_id,quantity\n" + "\n".join(rows) + "\n")
        with landed([read_source_file(path, "orders")]) as (wh, load_ids):
            return thousands_points(wh.con, load_ids)

    assert found(["3.240", "12.500", "1.000.000", "7"]) == [("orders", "quantity", str(tmp_path / "orders.csv"), 3)]
    for other in ("0.125", "12.5", "1234.567"):
        assert found(["3.240", "12.500", "1.000.000", other]) == [], other
    assert found(["3.240", "12.500", "7"]) == []


# ---------------------------------------------------------------------------------------------- mends
def test_a_run_row_is_read_one_way(tmp_path):
    """``Warehouse.run`` and the report's ``reads.run_rows`` read the same ``runs`` row: one query."""
    from warehouse.connection import connect
    from warehouse.db import UnknownRun, Warehouse
    from warehouse.reads import run_rows

    con = connect(":memory:")
    try:
        wh = Warehouse(con, tmp_path / "w.duckdb")
        wh.migrate()
        run_id = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2026, 5, 4),
                              parameters={"horizon": 4}, code_version="test")
        row = wh.run(run_id)
        assert row == run_rows(con, run_id)[run_id]
        assert row["run_date"] == date(2026, 5, 4) and row["status"] == "running"
        with pytest.raises(UnknownRun, match="no run 'run-none'"):
            wh.run("run-none")
        assert run_rows(con, "run-none", None) == {}
    finally:
        con.close()


def test_landing_records_the_rows_on_the_source_file(valid_input, tmp_path):
    """``Warehouse.land`` tells the source file its rows (``SourceFile.landed``), also for a content loaded
    before: ``row_count`` is then known without reading the file again."""
    from warehouse.connection import connect
    from warehouse.db import Warehouse
    from warehouse.sources import read_folder

    folder = _copy(valid_input, tmp_path)
    lines = len((folder / "orders.csv").read_text(encoding="utf-8").splitlines()) - 1
    con = connect(":memory:")
    try:
        wh = Warehouse(con, tmp_path / "w.duckdb")
        wh.migrate()
        first = next(s for s in read_folder(folder) if s.entity == "orders")
        load_id, new = wh.land(first)
        assert new and first.row_count == lines
        again = next(s for s in read_folder(folder) if s.entity == "orders")
        (folder / "orders.csv").unlink()  # the count must come from the load, not from the file
        assert wh.land(again) == (load_id, False)
        assert again.row_count == lines
    finally:
        con.close()


def test_a_run_says_which_contract_checks_failed(valid_input, tmp_path):
    """One product's routings removed: its demand is reached by no plant. ``validate`` warned; the run
    planned it as shortage, exit 0, and its summary never said why. It now names the failed check and how
    many product × site pairs it found, from ``contract_results``."""
    folder = _copy(valid_input, tmp_path)
    routings = pl.read_csv(folder / "routings.csv", infer_schema=False)
    gone = routings["product_id"][0]
    routings.filter(pl.col("product_id") != gone).write_csv(folder / "routings.csv")
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    pairs = orders.filter(pl.col("product_id") == gone).select("product_id", "site_id").unique().height
    assert pairs > 0
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse),
                                      "--horizon", "4", "--no-prefect"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert (f"contract checks failed: network.demand_reachable(product_id, site_id) ({pairs} row(s)); "
            "see table contract_results (`plantwin validate` lists the rows)") in out, out
