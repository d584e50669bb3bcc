"""The bad-input matrix: each broken input as a user meets it, through ``plantwin run`` in-process.

Every case copies a tiny valid network (5 products, 1 DC, 40 weeks of orders) as CSV files, breaks it
the way a person or an export would, runs the real CLI and checks four things:

* the exit code and the message (one paragraph naming the file, column, rule and rows; no traceback);
* the quarantine: exactly the (entity, rule, data row) triples expected, stored with the run;
* every raw row is still in the warehouse (rejected ones included), or, for a file that cannot be read
  at all, that nothing was landed;
* no partial run output: a failed run has its ``runs`` row marked ``failed`` with the error and no row in
  any clean, forecast or plan table; a successful run has its forecast and plan.

Prefect's temporary server starts once for the module (~20 s); each case then runs in seconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from data_contracts import schema
from cli.main import app
from demo.network import DEMO_RUN_DATE, demo_network, write_demo
from warehouse.sources import read_folder

pytestmark = pytest.mark.slow

ROW = 10  # the data row a case breaks (1-based, as in messages and the quarantine)
RUN_OUTPUTS = [schema.clean_table_name(t.name) for t in schema.INPUT_ENTITIES] + [
    t.name for t in schema.OUTPUT_TABLES
]


# ---------------------------------------------------------------------------------------------- editing files
def _text(folder: Path, entity: str) -> pl.DataFrame:
    return pl.read_csv(folder / f"{entity}.csv", infer_schema=False)


def _save(folder: Path, entity: str, frame: pl.DataFrame) -> None:
    frame.write_csv(folder / f"{entity}.csv")


def edit(entity: str, row: int = ROW, **values: str | None) -> Callable[[Path], None]:
    """Set cells of data row ``row`` (1-based) of ``<entity>.csv``; None empties the cell."""

    def apply(folder: Path) -> None:
        frame = _text(folder, entity).with_row_index("__i", offset=1)
        frame = frame.with_columns(
            pl.when(pl.col("__i") == row).then(pl.lit(v, pl.String)).otherwise(pl.col(c)).alias(c)
            for c, v in values.items()
        )
        _save(folder, entity, frame.drop("__i"))

    return apply


def append(entity: str, **values: str) -> Callable[[Path], None]:
    """Add a row at the end of ``<entity>.csv``."""

    def apply(folder: Path) -> None:
        frame = _text(folder, entity)
        _save(folder, entity, pl.concat([frame, pl.DataFrame([values], schema=frame.schema)]))

    return apply


def copy_cell(entity: str, column: str, source_row: int, target_row: int) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        value = _text(folder, entity)[column][source_row - 1]
        edit(entity, target_row, **{column: value})(folder)

    return apply


def drop_column(entity: str, column: str) -> Callable[[Path], None]:
    return lambda folder: _save(folder, entity, _text(folder, entity).drop(column))


def add_column(entity: str, column: str, value: str) -> Callable[[Path], None]:
    return lambda folder: _save(
        folder, entity, _text(folder, entity).with_columns(pl.lit(value).alias(column))
    )


def write_bytes(entity: str, make: Callable[[bytes], bytes], suffix: str = "csv") -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        path = folder / f"{entity}.{suffix}"
        path.write_bytes(make(path.read_bytes()))

    return apply


def header_only(data: bytes) -> bytes:
    return data.split(b"\n", 1)[0] + b"\n"


def latin1_name(data: bytes) -> bytes:
    # An export from a spreadsheet in Windows-1252: "é" is the single byte 0xe9.
    return data.replace(b"Influenza quadrivalent", "Vaccin grippe quadrivalent été".encode("cp1252"), 1)


def bom_semicolons(data: bytes) -> bytes:
    frame = pl.read_csv(data, infer_schema=False)
    return b"\xef\xbb\xbf" + frame.write_csv(separator=";").replace("\n", "\r\n").encode()


def truncated_parquet(entity: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        frame = demo_network(products=5, dcs=1, weeks_history=40)[entity]
        (folder / f"{entity}.csv").unlink()
        path = folder / f"{entity}.parquet"
        frame.write_parquet(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])  # a copy that stopped half way

    return apply


def every(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        for step in steps:
            step(folder)

    return apply


def bad_share_of_orders(share: float) -> Callable[[Path], None]:
    """Make ``share`` of the order lines negative (an export that flipped the sign of returns)."""

    def apply(folder: Path) -> None:
        frame = _text(folder, "orders").with_row_index("__i", offset=1)
        n = int(frame.height * share)
        frame = frame.with_columns(
            pl.when(pl.col("__i") <= n).then(pl.lit("-1.0")).otherwise(pl.col("quantity")).alias("quantity")
        )
        _save(folder, "orders", frame.drop("__i"))

    return apply


# ---------------------------------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Case:
    """A broken input and what a user must see.

    Attributes:
        mutate: Breaks the copied input folder.
        code: Expected exit code.
        says: Texts the output must contain (whitespace-normalised).
        status: The run's status (``success``/``failed``), or None for an input that cannot be read at
            all: then no raw row of any file may be landed (a run opened before ingest must be ``failed``).
        quarantined: (entity, rule, data row) triples the run's quarantine must hold, exactly.
        also: A further check on the warehouse (connection, run id).
    """

    mutate: Callable[[Path], None]
    code: int
    says: tuple[str, ...]
    status: str | None
    quarantined: frozenset[tuple[str, str, int]] = frozenset()
    also: Callable[[duckdb.DuckDBPyConnection, str], None] | None = None


def extra_kept_raw_and_noted(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    assert con.execute("SELECT DISTINCT _extra FROM raw_orders").fetchall() == [('{"sales_rep":"jdoe"}',)]
    assert con.execute(
        "SELECT success FROM contract_results WHERE run_id = ? AND expectation = "
        "'extra_column_dropped(sales_rep)'",
        [run_id],
    ).fetchall() == [(True,)]


def same_orders_as_written(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    got = con.execute(
        "SELECT * EXCLUDE (run_id) FROM clean_orders WHERE run_id = ? ORDER BY order_id", [run_id]
    ).pl()
    assert got.equals(demo_network(products=5, dcs=1, weeks_history=40)["orders"].sort("order_id"))


QUARANTINED_ONE = "1 input row(s) quarantined"
MAX_SHARE = "(rule: max_reject_share)"

CASES: dict[str, Case] = {
    "missing_column": Case(
        drop_column("orders", "quantity"),
        2,
        ("error: orders.csv: missing column 'quantity'", "(rule: required_columns)"),
        "failed",
    ),
    "extra_column": Case(
        add_column("orders", "sales_rep", "jdoe"), 0, ("run run-",), "success", also=extra_kept_raw_and_noted
    ),
    "text_in_number_column": Case(
        edit("orders", quantity="12 boxes"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "type", ROW)}),
    ),
    "null_key": Case(
        edit("orders", order_id=None),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "not_null", ROW)}),
    ),
    "duplicate_order_id": Case(
        copy_cell("orders", "order_id", ROW, ROW + 1),
        0,
        ("2 input row(s) quarantined",),
        "success",
        frozenset({("orders", "unique", ROW), ("orders", "unique", ROW + 1)}),
    ),
    "negative_quantity": Case(
        edit("orders", quantity="-40"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "non_negative", ROW)}),
    ),
    "unknown_product": Case(
        edit("orders", product_id="VAC-99"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "known_product", ROW)}),
    ),
    "unknown_site": Case(
        edit("orders", site_id="DC-NOWHERE"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "known_site", ROW)}),
    ),
    "order_dated_in_the_future": Case(
        edit("orders", order_date="2026-06-15"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "date_range", ROW)}),
    ),
    "inventory_lot_already_expired": Case(
        edit("inventory", row=3, expiry_date="2026-04-30"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("inventory", "not_expired", 3)}),
    ),
    "yield_of_1_5": Case(
        edit("routings", row=1, **{"yield": "1.5"}),
        2,
        (
            "error: routings.csv: 1 of 7 routings rows rejected (14.3%)",
            MAX_SHARE,
            "top rules: range (1 rows)",
            "routings.csv row 1: yield '1.5' is not in (0, 1]",
        ),
        "failed",
        frozenset({("routings", "range", 1)}),
    ),
    "empty_file": Case(
        write_bytes("orders", lambda _: b""),
        2,
        ("error: orders.csv: the file is empty, not even a header row (rule: header)",),
        None,
    ),
    "header_only_master_data": Case(
        write_bytes("products", header_only),
        2,
        ("error: products: master data products has no rows (rule: master_data_not_empty)",),
        "failed",
    ),
    "header_only_orders": Case(
        write_bytes("orders", header_only),
        2,
        ("error: orders: no order lines", "(rule: orders_not_empty)"),
        "failed",
    ),
    "not_utf8": Case(
        write_bytes("products", latin1_name),
        2,
        ("error: products.csv: not UTF-8 text: byte 0xe9 on line 2 (rule: utf8_encoding)",),
        None,
    ),
    "bom_and_semicolons": Case(
        write_bytes("orders", bom_semicolons), 0, ("run run-",), "success", also=same_orders_as_written
    ),
    "lane_to_unknown_site": Case(
        append(
            "lanes",
            from_site="PL-BE",
            to_site="DC-ATLANTIS",
            lead_time_weeks="1",
            cost_per_unit="0.3",
            capacity_per_week="",
        ),
        2,
        (
            "error: lanes.csv: 1 of 5 lanes rows rejected (20.0%)",
            MAX_SHARE,
            "lanes.csv row 5: to_site 'DC-ATLANTIS' is not a valid sites site_id",
        ),
        "failed",
        frozenset({("lanes", "known_site", 5)}),
    ),
    "routing_to_a_resource_at_a_dc": Case(
        every(
            append(
                "resources",
                resource_id="DC-FILL01",
                site_id="DC-EU-N",
                name="Repack line",
                hours_per_week="40",
            ),
            append(
                "routings",
                product_id="VAC-01",
                resource_id="DC-FILL01",
                hours_per_unit="0.01",
                cost_per_unit="1",
                release_weeks="1",
                min_batch="",
                batch_size="",
                **{"yield": "0.99"},
            ),
        ),
        2,
        (
            "error: resources.csv: 1 of 6 resources rows rejected",
            MAX_SHARE,
            "resources.csv row 6: site_id 'DC-EU-N' is not a plant",
        ),
        "failed",
        frozenset({("resources", "resource_at_plant", 6)}),
    ),
    "ten_million_quantity": Case(
        edit("orders", quantity="12000000"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "max_quantity", ROW)}),
    ),
    "exactly_the_quantity_bound_is_kept": Case(
        edit("orders", quantity="10000000"), 0, ("run run-",), "success"
    ),
    "truncated_parquet": Case(
        truncated_parquet("orders"),
        2,
        ("error: orders.parquet: cannot be read as Parquet (rule: parquet_format)",),
        None,
    ),
    "status_not_allowed": Case(
        edit("orders", status="pending"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "allowed_values", ROW)}),
    ),
    "us_date_format": Case(
        edit("orders", order_date="06/24/2025"),
        0,
        (QUARANTINED_ONE,),
        "success",
        frozenset({("orders", "type", ROW)}),
    ),
    "required_file_missing": Case(
        lambda folder: (folder / "lanes.csv").unlink(),
        2,
        ("error: lanes: no input file (rule: required_entities)",),
        "failed",
    ),
    "too_many_bad_orders": Case(
        bad_share_of_orders(0.10),
        2,
        ("error: orders.csv: 84 of 848 orders rows rejected (9.9%)", MAX_SHARE, "orders.csv row 1: quantity"),
        "failed",
        frozenset(("orders", "non_negative", r) for r in range(1, 85)),
    ),
}


# ------------------------------------------------------------------ the same matrix, `plantwin validate`
# Cheaper cases: `plantwin validate --input` reads the files exactly as a run does and runs the same
# contracts, without Prefect or a warehouse on disk. Each case names the one line the report must hold:
# "<file> row <row> [<rule>]: ... <column> ...", and the exit code (1: quarantined, 2: a run would fail).
def to_parquet(
    entity: str, change: Callable[[pl.DataFrame], pl.DataFrame] = lambda f: f
) -> Callable[[Path], None]:
    """Replace ``<entity>.csv`` by a typed Parquet file of the same rows, changed by ``change``."""

    def apply(folder: Path) -> None:
        frame = demo_network(products=5, dcs=1, weeks_history=40)[entity]
        (folder / f"{entity}.csv").unlink()
        change(frame.with_row_index("__i", offset=1)).drop("__i").write_parquet(folder / f"{entity}.parquet")

    return apply


def lower_copy(entity: str, column: str, source_row: int, target_row: int) -> Callable[[Path], None]:
    """Row ``target_row`` gets row ``source_row``'s ``column`` in lower case (``MAB-01`` → ``mab-01``)."""

    def apply(folder: Path) -> None:
        edit(entity, target_row, **{column: _text(folder, entity)[column][source_row - 1].lower()})(folder)

    return apply


def spaced_copy(entity: str, column: str, source_row: int, target_row: int) -> Callable[[Path], None]:
    """Row ``target_row`` gets row ``source_row``'s ``column`` with a space inside (``SO-0001 1``)."""

    def apply(folder: Path) -> None:
        value = _text(folder, entity)[column][source_row - 1]
        edit(entity, target_row, **{column: value[:-1] + " " + value[-1]})(folder)

    return apply


def blank_copy(entity: str, column: str, source_row: int, target_row: int) -> Callable[[Path], None]:
    """Row ``target_row`` gets row ``source_row``'s ``column`` with a tab and blanks around it."""

    def apply(folder: Path) -> None:
        edit(entity, target_row, **{column: "\t" + _text(folder, entity)[column][source_row - 1] + "  "})(folder)

    return apply


def duplicate_row_lowercase(entity: str, column: str, row: int) -> Callable[[Path], None]:
    """Append a copy of data row ``row`` whose ``column`` is in lower case."""

    def apply(folder: Path) -> None:
        frame = _text(folder, entity)
        copy = frame.slice(row - 1, 1).with_columns(pl.col(column).str.to_lowercase())
        _save(folder, entity, pl.concat([frame, copy]))

    return apply


@dataclass(frozen=True)
class Quick:
    """A broken input checked with ``plantwin validate``.

    Attributes:
        mutate: Breaks the copied input folder.
        code: Expected exit code.
        file: File the message names.
        column: Column the message names.
        rule: Rule the message names.
        row: Data row the message names (1-based); None for a file-level refusal.
        says: Further texts the output must contain.
    """

    mutate: Callable[[Path], None]
    code: int
    file: str
    column: str
    rule: str
    row: int | None
    says: tuple[str, ...] = ()


NEVER = "9999-12-31"
ORD, INV = "orders.csv", "inventory.csv"
QUICK: dict[str, Quick] = {
    # dates outside what the contracts can hold (ERP "never" and "unknown" dates)
    "order_dated_year_1": Quick(edit("orders", order_date="0001-01-01"), 1, ORD, "order_date", "date_range", ROW),
    "order_dated_9999": Quick(edit("orders", order_date=NEVER), 1, ORD, "order_date", "date_range", ROW),
    "requested_week_9999": Quick(edit("orders", requested_week="9999-12-27"), 1, ORD, "requested_week",
                                 "date_range", ROW),
    "requested_week_year_1": Quick(edit("orders", requested_week="0001-01-01"), 1, ORD, "requested_week",
                                   "date_range", ROW),
    "snapshot_dated_1066": Quick(edit("inventory", row=3, as_of_date="1066-10-14"), 1, INV, "as_of_date",
                                 "date_range", 3),
    "expiry_unknown_year_1": Quick(edit("inventory", row=3, expiry_date="0001-01-01"), 1, INV, "expiry_date",
                                   "date_range", 3),
    "expiry_year_3000": Quick(edit("inventory", row=3, expiry_date="3000-01-01"), 1, INV, "expiry_date",
                              "date_range", 3, ("is outside the plausible range 2000-01-01 … 2036-05-04",)),
    "receipt_week_2300": Quick(edit("receipts", row=1, week="2300-01-05"), 2, "receipts.csv", "week",
                               "date_range", 1),
    "calendar_week_9999": Quick(edit("calendar", row=2, week="9999-12-27"), 1, "calendar.csv", "week",
                                "date_range", 2),
    "batch_started_1600": Quick(edit("batches", row=4, start_date="1600-01-03"), 1, "batches.csv", "start_date",
                                "date_range", 4),
    "batch_released_9999": Quick(edit("batches", row=4, release_date=NEVER), 1, "batches.csv", "release_date",
                                 "date_range", 4),
    "february_30": Quick(edit("orders", order_date="2025-02-30"), 1, ORD, "order_date", "type", ROW),
    "five_digit_year": Quick(edit("orders", order_date="99999-01-01"), 1, ORD, "order_date", "type", ROW),
    # numbers beyond plausible bounds: refused by the contract, not "Infeasible" in the solver
    "unit_cost_1e308": Quick(edit("products", row=2, unit_cost="1e308"), 2, "products.csv", "unit_cost",
                             "max_value", 2, ("maximum of 1,000,000,000 per unit (setting max_cost)",)),
    "backlog_penalty_1e300": Quick(edit("products", row=2, backlog_penalty="1e300"), 2, "products.csv",
                                   "backlog_penalty", "max_value", 2),
    "holding_cost_infinite": Quick(edit("products", row=2, holding_cost_per_week="inf"), 2, "products.csv",
                                   "holding_cost_per_week", "type", 2, ("is not a finite number",)),
    "shelf_life_100000_weeks": Quick(edit("products", row=2, shelf_life_weeks="100000"), 2, "products.csv",
                                     "shelf_life_weeks", "max_value", 2),
    "service_level_1": Quick(edit("products", row=2, service_level="1"), 2, "products.csv", "service_level",
                             "range", 2),
    "priority_0": Quick(edit("products", row=2, priority="0"), 2, "products.csv", "priority", "range", 2),
    "hours_per_week_1e300": Quick(edit("resources", row=1, hours_per_week="1e300"), 2, "resources.csv",
                                  "hours_per_week", "max_value", 1, ("(setting max_hours_per_week)",)),
    "hours_per_unit_1e300": Quick(edit("routings", row=3, hours_per_unit="1e300"), 2, "routings.csv",
                                  "hours_per_unit", "max_value", 3, ("(setting max_hours_per_unit)",)),
    "routing_cost_1e308": Quick(edit("routings", row=3, cost_per_unit="1e308"), 2, "routings.csv",
                                "cost_per_unit", "max_value", 3),
    "release_weeks_100000": Quick(edit("routings", row=3, release_weeks="100000"), 2, "routings.csv",
                                  "release_weeks", "max_value", 3, ("(setting max_weeks)",)),
    "batch_size_1e300": Quick(edit("routings", row=1, batch_size="1e300"), 2, "routings.csv", "batch_size",
                              "max_value", 1),
    "lane_lead_time_99999": Quick(edit("lanes", row=2, lead_time_weeks="99999"), 2, "lanes.csv",
                                  "lead_time_weeks", "max_value", 2),
    "lane_cost_1e308": Quick(edit("lanes", row=2, cost_per_unit="1e308"), 2, "lanes.csv", "cost_per_unit",
                             "max_value", 2),
    "lane_capacity_1e300": Quick(edit("lanes", row=2, capacity_per_week="1e300"), 2, "lanes.csv",
                                 "capacity_per_week", "max_quantity", 2),
    "calendar_hours_1e300": Quick(edit("calendar", row=2, hours_available="1e300"), 1, "calendar.csv",
                                  "hours_available", "max_value", 2),
    "quantity_overflows_to_infinity": Quick(edit("orders", quantity="1e400"), 1, ORD, "quantity", "type", ROW),
    "quantity_nan": Quick(edit("orders", quantity="NaN"), 1, ORD, "quantity", "type", ROW),
    "negative_stock": Quick(edit("inventory", row=3, quantity="-5"), 1, INV, "quantity", "non_negative", 3),
    "batch_actual_ten_times_planned": Quick(edit("batches", row=4, actual_qty="99999"), 1, "batches.csv",
                                            "actual_qty", "actual_above_planned", 4),
    # ids equal but for letter case or whitespace: every such row quarantined (like exact duplicates)
    "product_id_in_lower_case_too": Quick(duplicate_row_lowercase("products", "product_id", 2), 2,
                                          "products.csv", "product_id", "unique_ignoring_case", 2),
    "site_id_in_lower_case_too": Quick(duplicate_row_lowercase("sites", "site_id", 3), 2, "sites.csv", "site_id",
                                       "unique_ignoring_case", 4),
    "order_id_case_only": Quick(lower_copy("orders", "order_id", ROW + 1, ROW), 1, ORD, "order_id",
                                "unique_ignoring_case", ROW + 1, ("2 rows quarantined",)),
    "order_id_whitespace_only": Quick(spaced_copy("orders", "order_id", ROW + 1, ROW), 1, ORD, "order_id",
                                      "unique_ignoring_case", ROW),
    "order_id_trailing_blank": Quick(blank_copy("orders", "order_id", ROW + 1, ROW), 1, ORD, "order_id",
                                     "unique", ROW),
    "lot_id_case_only": Quick(lower_copy("inventory", "lot_id", 1, 2), 2, INV, "lot_id", "unique_ignoring_case", 1),
    # text: a maximum length; data printed as data
    "two_million_character_name": Quick(edit("products", row=2, name="x" * 2_000_000), 2, "products.csv",
                                        "name", "max_length", 2, ("(2000000 characters)",)),
    "long_status": Quick(edit("orders", status="open" * 500), 1, ORD, "status", "max_length", ROW),
    "terminal_escape_in_an_id": Quick(edit("orders", product_id="\x1b[2J\x1b[31mVAC-01"), 1, ORD, "product_id",
                                      "known_product", ROW, ("\ufffd[2J\ufffd[31mVAC-01",)),
    # Parquet: typed files
    "parquet_nested_column": Quick(
        to_parquet("orders", lambda f: f.with_columns(pl.concat_list("quantity").alias("quantity"))),
        2, "orders.parquet", "quantity", "parquet_column_type", None),
    "parquet_binary_column": Quick(
        to_parquet("products", lambda f: f.with_columns(pl.col("name").cast(pl.Binary))),
        2, "products.parquet", "name", "parquet_column_type", None),
    "parquet_date_9999": Quick(
        to_parquet("orders", lambda f: f.with_columns(
            pl.when(pl.col("__i") == ROW).then(pl.date(9999, 12, 27)).otherwise("requested_week")
            .alias("requested_week"))),
        1, "orders.parquet", "requested_week", "date_range", ROW),
}


def _validate(folder: Path):
    return CliRunner().invoke(app, ["validate", "--input", str(folder), "--run-date", DEMO_RUN_DATE.isoformat()])


@pytest.mark.parametrize("name", list(QUICK))
def test_bad_input_validate(name, valid_input, tmp_path):
    case = QUICK[name]
    folder, _ = _prepare(valid_input, tmp_path, case.mutate)
    result = _validate(folder)
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output and "\x1b" not in result.output
    assert len(result.output) < 20_000, "a message carries a value whole"
    if case.row is None:
        error = [line for line in result.output.splitlines() if line.startswith("error: ")]
        assert error and case.file in error[0] and case.column in error[0], result.output
        assert f"(rule: {case.rule})" in error[0], result.output
    else:
        named = f"{case.file} row {case.row} [{case.rule}]: "
        lines = [line for line in result.output.splitlines() if named in line]
        assert lines and f"{case.column} " in lines[0], (named, result.output)
    for text in case.says:
        assert text in " ".join(result.output.split()), (text, result.output)


def test_never_expires_sentinel_is_no_expiry(valid_input, tmp_path):
    """ERP exports write 9999-12-31 for "never expires": the lot is kept, with no expiry date."""
    folder, _ = _prepare(valid_input, tmp_path, edit("inventory", row=3, expiry_date=NEVER))
    result = _validate(folder)
    assert result.exit_code == 0, result.output
    from data_contracts.config import ContractConfig
    from cli.inputs import check_inputs

    outcome, _, _ = check_inputs(folder, None, DEMO_RUN_DATE, ContractConfig())
    assert outcome.clean["inventory"]["expiry_date"][2] is None
    with pytest.raises(Exception, match="date_range"):  # without the sentinel it is out of range
        check_inputs(folder, None, DEMO_RUN_DATE, ContractConfig(never_expires=None, max_reject_share=0.0))


def test_a_snapshot_dated_9999_does_not_become_the_run_date_silently(valid_input, tmp_path):
    """Given no run date, a run takes the latest inventory as_of_date: 9999-12-31 stops it clearly."""
    folder, _ = _prepare(valid_input, tmp_path, edit("inventory", row=3, as_of_date=NEVER))
    result = CliRunner().invoke(app, ["validate", "--input", str(folder)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    output = " ".join(result.output.split())
    assert "error: the run date 9999-12-31 is outside the supported dates" in output
    assert "inventory as_of_date" in output and "(rule: run_date_range)" in output


def test_a_million_junk_lines_keep_a_bounded_quarantine(valid_input, tmp_path):
    """A refused entity's quarantine holds its first refused_rows_stored rows, once per rule and row."""
    from data_contracts.config import ContractConfig, ContractError
    from cli.inputs import check_inputs

    def junk(folder: Path) -> None:
        n = 5_000
        i = pl.int_range(0, n, eager=True).cast(pl.String)
        pl.DataFrame({c: "junk" + i for c in schema.ORDERS.columns}).write_csv(folder / "orders.csv")

    folder, _ = _prepare(valid_input, tmp_path, junk)
    with pytest.raises(ContractError, match="keeps the first 300 of the 5,000 rows rejected") as info:
        check_inputs(folder, None, DEMO_RUN_DATE, ContractConfig(refused_rows_stored=300))
    q = info.value.outcome.quarantine.filter(pl.col("entity") == "orders")
    assert q.select(pl.col("source_row").n_unique()).item() == 300
    assert q.select(pl.col("source_row").max()).item() == 300
    assert q.select(pl.struct("source_row", "rule").is_unique().all()).item()


# ---------------------------------------------------------------------------------------------- running
@pytest.fixture(scope="module")
def valid_input(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("valid") / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    return folder


def _run(folder: Path, warehouse: Path):
    return CliRunner().invoke(
        app,
        [
            "run",
            "--input",
            str(folder),
            "--warehouse",
            str(warehouse),
            "--horizon",
            "4",
            "--run-date",
            DEMO_RUN_DATE.isoformat(),
        ],
    )


def _prepare(valid_input: Path, tmp_path: Path, mutate: Callable[[Path], None]) -> tuple[Path, Path]:
    folder = tmp_path / "input"
    shutil.copytree(valid_input, folder)
    mutate(folder)
    return folder, tmp_path / "warehouse.duckdb"


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> int:
    return con.execute(sql, params or []).fetchone()[0]


def _assert_nothing_landed(warehouse: Path) -> None:
    """A file that cannot be read: no raw row of any file is stored, and a run opened for it failed."""
    if not warehouse.exists():
        return
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        for t in schema.INPUT_ENTITIES:
            raw = schema.raw_table_name(t.name)
            assert raw not in tables or _count(con, f"SELECT count(*) FROM {raw}") == 0, raw
        runs = con.execute("SELECT run_id, status, error FROM runs").fetchall() if "runs" in tables else []
        for run_id, status, error in runs:
            assert status == "failed" and error.startswith("SourceError: "), (status, error)
            for t in RUN_OUTPUTS:
                assert _count(con, f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]) == 0, t
    finally:
        con.close()


def _assert_run(case: Case, folder: Path, warehouse: Path, output: str) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        run_id, status, error = con.execute(
            "SELECT run_id, status, error FROM runs ORDER BY started_at DESC LIMIT 1"
        ).fetchone()
        assert status == case.status, (status, error)
        quarantined = set(
            con.execute(
                "SELECT entity, rule, source_row FROM quarantine WHERE run_id = ?", [run_id]
            ).fetchall()
        )
        assert quarantined == set(case.quarantined)
        # Every raw row is kept, the rejected ones too.
        for source in read_folder(folder):
            raw = schema.raw_table_name(source.entity)
            assert _count(con, f"SELECT count(*) FROM {raw}") == source.row_count, raw
        for entity, load_id, row in con.execute(
            "SELECT entity, load_id, source_row FROM quarantine WHERE run_id = ?", [run_id]
        ).fetchall():
            raw = schema.raw_table_name(entity)
            assert (
                _count(
                    con, f"SELECT count(*) FROM {raw} WHERE _load_id = ? AND _source_row = ?", [load_id, row]
                )
                == 1
            )
        outputs = {
            t: _count(con, f"SELECT count(*) FROM {t} WHERE run_id = ?", [run_id]) for t in RUN_OUTPUTS
        }
        if case.status == "failed":
            assert error and error.startswith("ContractError: "), error
            assert not any(outputs.values()), {t: n for t, n in outputs.items() if n}
            staged = [
                r[0]
                for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()
                if r[0].startswith("stage_")
            ]
            assert staged == []
        else:
            assert outputs[schema.FORECAST.name] > 0 and outputs[schema.PLAN_KPIS.name] > 0
        if case.also is not None:
            case.also(con, run_id)
    finally:
        con.close()


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, valid_input, tmp_path):
    case = CASES[name]
    folder, warehouse = _prepare(valid_input, tmp_path, case.mutate)
    result = _run(folder, warehouse)
    output = " ".join(result.output.split())
    assert result.exit_code == case.code, result.output
    assert "Traceback" not in result.output
    for text in case.says:
        assert text in output, (text, result.output)
    if case.status is None:
        _assert_nothing_landed(warehouse)
    else:
        _assert_run(case, folder, warehouse, output)


def test_loading_the_same_files_twice_stores_them_once(valid_input, tmp_path):
    folder, warehouse = _prepare(valid_input, tmp_path, lambda _: None)
    first, second = _run(folder, warehouse), _run(folder, warehouse)
    assert (first.exit_code, second.exit_code) == (0, 0), second.output
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        runs = con.execute("SELECT status, input_load_ids FROM runs ORDER BY started_at").fetchall()
        assert [r[0] for r in runs] == ["success", "success"] and runs[0][1] == runs[1][1]
        # one load per file read (an optional entity without a file has none), whatever was loaded twice
        entities = sorted(r[0] for r in con.execute("SELECT entity FROM loads").fetchall())
        assert entities == sorted(source.entity for source in read_folder(folder))
        for source in read_folder(folder):
            raw = schema.raw_table_name(source.entity)
            assert _count(con, f"SELECT count(*) FROM {raw}") == source.row_count, raw
    finally:
        con.close()
