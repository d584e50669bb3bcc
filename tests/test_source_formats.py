"""A new user's data as it comes: decimal commas, weeks labelled by their Sunday, batch sizes of 0, and orders
delivered as full extracts. Each is recognised with the fix named, or read through an explicit setting."""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from cli.inputs import EXIT_CLEAN, EXIT_FAILED, EXIT_QUARANTINED, check_inputs
from cli.main import app
from data_contracts import schema
from data_contracts.config import ContractConfig
from demo.network import demo_network, write_demo

RUN_DATE = "2026-05-04"


@pytest.fixture(scope="module")
def valid_input(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("formats") / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    return folder


def _copy(valid_input: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "input"
    shutil.copytree(valid_input, folder)
    return folder


def _config(tmp_path: Path, folder: Path, **settings) -> Path:
    path = tmp_path / "source.yaml"
    path.write_text(yaml.safe_dump({"source": {"type": "folder", "path": folder.name}, **settings}),
                    encoding="utf-8")
    return path


def _validate(*args: str):
    result = CliRunner().invoke(app, ["validate", *args, "--run-date", RUN_DATE])
    return result, " ".join(result.output.split())


def _comma_number(text: pl.Expr) -> pl.Expr:
    """``1364.0`` → ``1.364,0``, ``0.223`` → ``0,223``: numbers as a German spreadsheet exports them."""
    whole, frac = text.str.split_exact(".", 1).struct.field("field_0"), text.str.split_exact(".", 1).struct.field(
        "field_1")
    grouped = (whole.str.reverse().str.replace_all(r"(\d{3})(\d)", "$1.$2").str.reverse())
    return pl.when(text.is_null()).then(None).when(frac.is_null()).then(grouped).otherwise(
        pl.concat_str(grouped, pl.lit(","), frac))


def _to_decimal_comma(folder: Path, entities: list[str] | None = None) -> None:
    """Rewrite entity files with decimal commas (thousands points) and ``;`` as separator."""
    for t in schema.INPUT_ENTITIES:
        path = folder / f"{t.name}.csv"
        if not path.exists() or (entities is not None and t.name not in entities):
            continue
        frame = pl.read_csv(path, infer_schema=False)
        numbers = [c for c, dtype in t.columns.items() if dtype in (pl.Float64, pl.Int64) and c in frame.columns]
        frame.with_columns(_comma_number(pl.col(c)).alias(c) for c in numbers).write_csv(path, separator=";")


# ---------------------------------------------------------------------------------------------- decimal comma
def test_decimal_commas_are_recognised_with_the_fix_named(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    _to_decimal_comma(folder, [schema.ORDERS.name])
    result, out = _validate("--input", str(folder))
    assert result.exit_code == EXIT_FAILED, result.output  # every line rejected: the run would stop
    assert "orders decimal_comma 848" in out  # its own rule, not an anonymous type error
    assert "[type]" not in out
    assert ("orders.csv row 1 [decimal_comma]: quantity '62,0' has a decimal comma, but numbers are read with "
            '"." as decimal point: if the source writes numbers so, declare decimal: "," in its source config') in out
    assert 'How to fix what was recognised: orders.csv: 848 row(s) [decimal_comma]' in out
    assert 'declare it in its source config: decimal: ","' in out
    # the error (a run's message) names the rule and the fix on its first rows
    assert "top rules: decimal_comma (848 rows)" in out
    # a number that is not a decimal comma either stays a type error; a line with both is not "empty"
    frame = pl.read_csv(folder / "orders.csv", separator=";", infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("lots")).otherwise("quantity")
                       .alias("quantity")).write_csv(folder / "orders.csv", separator=";")
    result, out = _validate("--input", str(folder), "--max-reject-share", "1")
    assert "orders.csv row 1 [type]: quantity 'lots' is not a finite number" in out
    assert "[not_null]" not in out


def _old_history(folder: Path) -> None:
    """Orders 1-99 dated 1999 and order 100 dated 1991: the floor the file needs is 1991's, found only on a
    row after the quarantine's first ten."""
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False).with_row_index("i", offset=1)
    old = pl.when(pl.col("i") == 100).then(pl.lit("1991-01-07")).when(pl.col("i") < 100).then(pl.lit("1999-01-04"))
    orders.with_columns(*(old.otherwise(pl.col(c)).alias(c) for c in ("order_date", "requested_week"))).drop(
        "i").write_csv(folder / "orders.csv")


def _day_first(folder: Path) -> None:
    """Orders 1-100 dated day first (04/01/2021), the rest as YYYY-MM-DD."""
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False).with_row_index("i", offset=1)
    day_first = pl.when(pl.col("i") <= 100).then(pl.lit("04/01/2021")).otherwise(pl.col("order_date"))
    orders.with_columns(day_first.alias("order_date")).drop("i").write_csv(folder / "orders.csv")


@pytest.mark.parametrize("spoil, rule, rows, line", [
    (lambda folder: _to_decimal_comma(folder, [schema.ORDERS.name]), "decimal_comma", 848,
     "orders.csv: 848 row(s) [decimal_comma]"),
    (_old_history, "date_range", 100, "orders.csv: 100 row(s) [date_range]: dates before 2000-01-01"),
    (_day_first, "type", 100, "orders.csv: 100 row(s) [type]: dates are written day first"),
])
def test_how_to_fix_counts_every_row_a_rule_broke_not_the_rows_kept(valid_input, tmp_path, spoil, rule, rows,
                                                                    line):
    """A refused file's quarantine keeps its first ``refused_rows_stored`` rows (1,000 by default; 10 here),
    and validate's "How to fix" counted those: a file of 40,000 decimal commas read "1000 row(s)". Every
    line now counts the rows the rule broke (848 decimal commas; 100 early dates; 100 day-first dates), in
    the report and in the refusal; and the early dates' floor is the file's earliest year (1991, on row 100),
    not the first ten rows' (1999). The report's counts of rows quarantined, per entity (with its share) and
    per rule, are counted the same way, and say how many the quarantine keeps."""
    folder = _copy(valid_input, tmp_path)
    spoil(folder)
    params = tmp_path / "params.yaml"
    params.write_text("contracts: {refused_rows_stored: 10}\n", encoding="utf-8")
    result, out = _validate("--input", str(folder), "--params", str(params))
    assert result.exit_code == EXIT_FAILED, result.output
    assert "the quarantine keeps the first 10 of the" in out  # the cap applies
    assert "How to fix what was recognised: " + line in out, out
    assert "how to fix what was recognised: " + line in out, out  # the refusal's words
    assert f"{rows} rows quarantined (the quarantine keeps 10 of them: a refused file's first rows)" in out, out
    assert f"orders {848 - rows} {rows} {rows / 848:.1%}" in out and f"orders {rule} {rows}" in out, out
    if spoil is _old_history:
        assert "min_date: 1991-01-01" in out and "min_date: 1999" not in out, out


def test_declared_decimal_comma_loads_clean_and_equal(valid_input, tmp_path):
    expected, _, _ = check_inputs(valid_input, None, date.fromisoformat(RUN_DATE), ContractConfig())
    folder = _copy(valid_input, tmp_path)
    _to_decimal_comma(folder)
    assert "1.364,0" in (folder / "batches.csv").read_text()  # thousands points, too
    config = _config(tmp_path, folder, decimal=",")
    result, out = _validate("--source", str(config))
    assert result.exit_code == EXIT_CLEAN, result.output
    outcome, _, _ = check_inputs(None, config, date.fromisoformat(RUN_DATE), ContractConfig())
    for entity, frame in expected.clean.items():
        assert outcome.clean[entity].equals(frame), entity
    # declared, a number written with a decimal point is what is wrong: named with the setting
    frame = pl.read_csv(folder / "orders.csv", separator=";", infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("62.5")).otherwise("quantity")
                       .alias("quantity")).write_csv(folder / "orders.csv", separator=";")
    result, out = _validate("--source", str(config))
    assert result.exit_code == EXIT_QUARANTINED, result.output
    assert ("orders.csv row 1 [type]: quantity '62.5' is not a number written with a decimal comma (1,5 or "
            '1.234,5), as the source config declares (decimal: ",")') in out


# ---------------------------------------------------------------------------------------------- Sunday weeks
def _weeks_to_sunday(folder: Path) -> None:
    for entity, column in schema.WEEK_COLUMNS:
        path = folder / f"{entity}.csv"
        if path.exists():
            frame = pl.read_csv(path, infer_schema=False)
            sunday = (pl.col(column).str.to_date() - timedelta(days=1)).dt.strftime("%Y-%m-%d")
            frame.with_columns(sunday.alias(column)).write_csv(path)


def test_weeks_labelled_by_their_sunday_are_recognised_with_the_fix_named(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    _weeks_to_sunday(folder)
    result, out = _validate("--input", str(folder))
    assert result.exit_code == EXIT_FAILED, result.output
    assert "orders sunday_week 848" in out and "week_is_monday" not in out
    assert ("orders.csv row 1 [sunday_week]: requested_week '2025-07-27' is a Sunday, but weeks are identified "
            "by their Monday: if the source labels each week by its Sunday, declare week_start: sunday") in out
    assert "How to fix what was recognised:" in out and "week_start: sunday (each week is read as" in out
    # a Wednesday is still just not a Monday
    frame = pl.read_csv(folder / "orders.csv", infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("2025-07-30"))
                       .otherwise("requested_week").alias("requested_week")).write_csv(folder / "orders.csv")
    result, out = _validate("--input", str(folder), "--max-reject-share", "1", "--rows", "5000")
    assert "orders.csv row 1 [week_is_monday]: requested_week '2025-07-30' is not a Monday" in out


def test_declared_sunday_weeks_load_as_the_monday_after(valid_input, tmp_path):
    expected, _, _ = check_inputs(valid_input, None, date.fromisoformat(RUN_DATE), ContractConfig())
    folder = _copy(valid_input, tmp_path)
    _weeks_to_sunday(folder)
    config = _config(tmp_path, folder, week_start="sunday")
    result, out = _validate("--source", str(config))
    assert result.exit_code == EXIT_CLEAN, result.output
    outcome, _, _ = check_inputs(None, config, date.fromisoformat(RUN_DATE), ContractConfig())
    for entity, frame in expected.clean.items():
        assert outcome.clean[entity].equals(frame), entity  # 2025-07-27 (Sunday) → 2025-07-28 (Monday)
    # declared, a Monday label is the wrong one
    frame = pl.read_csv(folder / "orders.csv", infer_schema=False)
    frame.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("2025-07-28"))
                       .otherwise("requested_week").alias("requested_week")).write_csv(folder / "orders.csv")
    result, out = _validate("--source", str(config))
    assert result.exit_code == EXIT_QUARANTINED, result.output
    assert ("orders.csv row 1 [week_is_monday]: requested_week '2025-07-28' is not a Sunday (the source config "
            "declares week_start: sunday)") in out


def test_a_source_config_refuses_an_unknown_convention(valid_input, tmp_path):
    config = _config(tmp_path, valid_input, decimal=";")
    result, out = _validate("--source", str(config))
    assert result.exit_code == EXIT_FAILED and "decimal" in out and "rule: source_config" in out


# ---------------------------------------------------------------------------------------------- batch size 0
def test_a_batch_size_or_minimum_batch_of_0_means_none(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    routings = pl.read_csv(folder / "routings.csv", infer_schema=False)
    first = pl.int_range(pl.len()) == 0
    routings.with_columns(pl.when(first).then(pl.lit("0")).otherwise(c).alias(c) for c in ("batch_size", "min_batch")
                          ).write_csv(folder / "routings.csv")
    outcome, _, _ = check_inputs(folder, None, date.fromisoformat(RUN_DATE), ContractConfig())
    assert outcome.quarantine.filter(pl.col("entity") == "routings").height == 0
    row = outcome.clean["routings"].row(0, named=True)
    assert row["batch_size"] is None and row["min_batch"] is None  # as an empty cell: continuous production
    # negative is still wrong
    routings.with_columns(pl.when(first).then(pl.lit("-5")).otherwise("batch_size").alias("batch_size")
                          ).write_csv(folder / "routings.csv")
    result, out = _validate("--input", str(folder), "--max-reject-share", "1")
    assert "routings.csv row 1 [positive]: batch_size '-5' is not positive" in out


# ---------------------------------------------------------------------------------------------- README
def test_the_readme_input_table_says_which_columns_may_be_empty():
    """Every entity's row of the README's input table lists its columns, and marks exactly the schema's
    nullable ones (and the 0-means-none ones) as may-be-empty."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.split("## Running on your own data", 1)[1].split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].split("`")[1]] = (cells[1], cells[2])
    assert set(rows) == {t.name for t in schema.INPUT_ENTITIES}
    for t in schema.INPUT_ENTITIES:
        columns, empty = rows[t.name]
        for c in t.columns:
            assert c in columns, (t.name, c)
        named = {c.strip().split(" ")[0].strip("`") for c in empty.split(";") if c.strip() and empty != "none"}
        assert named == set(t.nullable) | set(t.defaults), (t.name, named)
        for e, c in schema.ZERO_MEANS_NONE:
            if e == t.name:
                assert f"`{c}` (empty or 0" in empty


# ---------------------------------------------------------------------------------------------- orders as snapshot
def _contracts_run(config: Path, warehouse: Path) -> tuple[set[str], dict]:
    """Ingest and validate the source into the warehouse as a run does; the order ids the run would use."""
    from flows import stages
    from flows.settings import RunParameters
    from warehouse.db import open_warehouse

    params = RunParameters(source=config, warehouse=warehouse, run_date=date.fromisoformat(RUN_DATE),
                           input_settle_seconds=0)
    run_id = stages.start(params, "weekly_planning")
    load_ids = stages.ingest(params, run_id)
    counts = stages.validate(params, run_id, load_ids, params.run_date)
    with open_warehouse(warehouse) as wh:
        orders = wh.staged(run_id, schema.clean_table_name(schema.ORDERS.name))
        wh.fail_run(run_id, "test: contracts only")
    return set(orders["order_id"]), counts


@pytest.mark.parametrize("mode", ["incremental", "snapshot"])
def test_orders_declared_a_full_snapshot_close_the_lines_missing_from_it(valid_input, tmp_path, mode):
    folder = _copy(valid_input, tmp_path)
    config = _config(tmp_path, folder, orders={"mode": mode})
    warehouse = tmp_path / "w.duckdb"
    first, _ = _contracts_run(config, warehouse)
    # the next extract: two lines gone (closed in the source), one changed, one new
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    gone = set(orders["order_id"].head(2))
    changed = orders.filter(~pl.col("order_id").is_in(list(gone))).with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(pl.lit("7.0")).otherwise("quantity").alias("quantity"))
    new = changed.tail(1).with_columns(pl.lit("SO-NEW").alias("order_id"))
    pl.concat([changed, new]).write_csv(folder / "orders.csv")
    second, counts = _contracts_run(config, warehouse)
    assert first == set(orders["order_id"]) and "SO-NEW" in second
    if mode == "snapshot":
        assert second == (first - gone) | {"SO-NEW"}  # the lines missing from the newest extract no longer count
    else:
        assert second == first | {"SO-NEW"}  # the newest load per order_id wins: a line never disappears
    assert counts["clean_rows"]["orders"] == len(second)
    from warehouse.db import open_warehouse

    with open_warehouse(warehouse) as wh:  # every version stays raw either way
        assert wh.con.execute("SELECT count(*) FROM raw_orders").fetchone()[0] == len(first) + len(first) - 1


def test_a_run_applies_what_its_source_config_declares(valid_input, tmp_path):
    """Through the run's own stages (ingest, contracts), not only `plantwin validate`."""
    folder = _copy(valid_input, tmp_path)
    _weeks_to_sunday(folder)
    _to_decimal_comma(folder)
    config = _config(tmp_path, folder, decimal=",", week_start="sunday")
    ids, counts = _contracts_run(config, tmp_path / "w.duckdb")
    assert counts["quarantined_rows"] == 0 and len(ids) == counts["clean_rows"]["orders"] == 848
    from warehouse.db import open_warehouse

    with open_warehouse(tmp_path / "w.duckdb") as wh:  # the raw rows keep the file's text
        raw = wh.con.execute("SELECT quantity, requested_week FROM raw_orders WHERE _source_row = 1").fetchone()
    assert raw == ("62,0", "2025-07-27")


def test_a_decimal_comma_is_refused_where_numbers_come_typed(valid_input, tmp_path):
    """A database or a Parquet file renders 10.375 with a point: read under decimal "," it would be 10375."""
    db = tmp_path / "src.yaml"
    db.write_text('source: {type: duckdb, path: x.duckdb}\nentities: {products: {table: p}}\ndecimal: ","\n',
                  encoding="utf-8")
    result, out = _validate("--source", str(db))
    assert result.exit_code == EXIT_FAILED and 'decimal: "," applies to CSV files' in out
    folder = _copy(valid_input, tmp_path)
    pl.read_csv(folder / "lanes.csv").write_parquet(folder / "lanes.parquet")
    (folder / "lanes.csv").unlink()
    result, out = _validate("--source", str(_config(tmp_path, folder, decimal=",")))
    assert result.exit_code == EXIT_FAILED, result.output
    assert "holds lanes.parquet, whose numbers are typed" in out
