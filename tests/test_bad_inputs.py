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
        assert _count(con, "SELECT count(*) FROM loads") == len(schema.INPUT_ENTITIES)
        for source in read_folder(folder):
            raw = schema.raw_table_name(source.entity)
            assert _count(con, f"SELECT count(*) FROM {raw}") == source.row_count, raw
    finally:
        con.close()
