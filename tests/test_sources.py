"""Sources: CSV dialects of an input folder, source config files, and a DuckDB export as a source.

PostgreSQL has its own file (tests/test_sources_pg.py): it starts a server.
"""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from data_contracts import schema
from warehouse.db import open_warehouse
from demo.network import demo_network, write_demo
from warehouse.source_config import SourceConfigError, load_source_config, read_configured_source
from warehouse.sources import SourceError, read_folder, read_source_file

ORDERS = schema.ORDERS.name
HEADER = "order_id,order_date,requested_week,product_id,site_id,quantity,status"


def ingest(config: Path, warehouse: Path) -> dict[str, str]:
    """What a run's ingest stage does with a source config: read it, land every entity; entity → load id."""
    with open_warehouse(warehouse) as wh:
        return {s.entity: wh.land(s)[0] for s in read_configured_source(config)}


def _write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---------------------------------------------------------------------------------------------- CSV dialects
def test_quoted_fields_keep_separators_quotes_and_line_breaks(tmp_path):
    text = (
        "product_id,name,family,unit,shelf_life_weeks,unit_cost,holding_cost_per_week,backlog_penalty,"
        "priority,service_level\n"
        'P1,"Vaccine, quadrivalent","vac","doses",52,1.5,0.1,9,1,0.95\n'
        'P2,"The ""good"" mAb","mab",vials,,2,0.2,9,2,0.9\n'
        'P3,"two\nlines",mab,vials,26,3,0.3,9,3,0.9\n'
    )
    src = read_source_file(_write(tmp_path / "products.csv", text), "products")
    assert src.frame["name"].to_list() == ["Vaccine, quadrivalent", 'The "good" mAb', "two\nlines"]
    assert src.frame["shelf_life_weeks"].to_list() == ["52", None, "26"]  # an empty cell is null
    assert src.frame[schema.SOURCE_ROW].to_list() == [1, 2, 3]  # data rows, not physical lines


def test_semicolons_with_quoted_semicolons_and_crlf_line_ends(tmp_path):
    text = HEADER.replace(",", ";") + "\r\n" + 'O1;2026-01-02;2026-01-05;"P;1";DC1;7;open\r\n'
    src = read_source_file(_write(tmp_path / "orders.csv", "\ufeff" + text), ORDERS)
    row = src.frame.row(0, named=True)
    assert row["order_id"] == "O1" and row["product_id"] == "P;1" and row["status"] == "open"


def test_cells_and_header_names_are_stripped_and_dates_kept_as_written(tmp_path):
    text = (
        " order_id , order_date ,requested_week,product_id,site_id,quantity,status\n"
        " O1 , 2026-01-02 ,2026-01-05,P1,DC1, 7 ,  \n"
    )
    src = read_source_file(_write(tmp_path / "orders.csv", text), ORDERS)
    row = src.frame.row(0, named=True)
    assert (row["order_id"], row["order_date"], row["quantity"], row["status"]) == (
        "O1",
        "2026-01-02",
        "7",
        None,
    )
    assert src.missing_columns == () and src.extra_columns == ()


def test_a_header_only_file_reads_as_zero_rows_with_every_column(tmp_path):
    src = read_source_file(_write(tmp_path / "orders.csv", HEADER + "\n"), ORDERS)
    assert src.row_count == 0 and src.missing_columns == ()


def test_non_utf8_names_the_byte_and_line(tmp_path):
    data = HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open\nO2,2026-01-02,2026-01-05,Caf\xe9,DC1,7,open\n"
    with pytest.raises(SourceError, match=r"orders.csv: not UTF-8 text: byte 0xe9 on line 3"):
        read_source_file(_write(tmp_path / "orders.csv", data.encode("latin-1")), ORDERS)


def test_a_ragged_row_is_refused_with_the_file_named(tmp_path):
    # the rows are parsed when they land or are read (tests/test_csv_load.py: the landing refuses it too)
    with pytest.raises(SourceError, match=r"orders.csv: cannot be parsed as CSV \(rule: csv_format\)"):
        read_source_file(
            _write(tmp_path / "orders.csv", HEADER + "\nO1,2026-01-02,2026-01-05,P1,DC1,7,open,x,y\n"), ORDERS
        ).frame


def test_parquet_dates_and_numbers_become_the_same_text_as_csv(tmp_path):
    frames = demo_network(products=5, dcs=1, weeks_history=40)
    csv = read_folder(_folder(frames, tmp_path / "csv", "csv"))
    parquet = read_folder(_folder(frames, tmp_path / "pq", "parquet"))
    assert [s.entity for s in csv] == [s.entity for s in parquet]
    for a, b in zip(csv, parquet, strict=True):
        assert a.frame.equals(b.frame), a.entity


def _folder(frames: dict[str, pl.DataFrame], folder: Path, fmt: str) -> Path:
    write_demo(frames, folder, fmt)
    return folder


# ---------------------------------------------------------------------------------------------- config files
def _config(path: Path, text: str) -> Path:
    return _write(path, textwrap.dedent(text))


PG_TOML = """
    [source]
    type = "postgres"
    host = "db.internal"
    dbname = "erp"
    user = "reader"
    password_env = "PLANTWIN_PG_PASSWORD"

    [entities]
    products = { table = "planning.products" }
    orders = { query = "SELECT * FROM sales.lines;" }
"""

PG_YAML = """
    source:
      type: postgres
      host: db.internal
      dbname: erp
      user: reader
      password_env: PLANTWIN_PG_PASSWORD
    entities:
      products: {table: planning.products}
      orders:
        query: SELECT * FROM sales.lines;
"""


def test_toml_and_yaml_configs_are_the_same_config(tmp_path):
    toml = load_source_config(_config(tmp_path / "src.toml", PG_TOML))
    yaml = load_source_config(_config(tmp_path / "src.yaml", PG_YAML))
    assert toml == yaml
    assert toml.source.port == 5432 and toml.entities["orders"].select(str) == "SELECT * FROM sales.lines"
    assert toml.entities["products"].select(lambda s: f'"{s}"') == 'SELECT * FROM "planning"."products"'


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('password = "hunter2"', "source.password"),
        ('pwd = "hunter2"', "source.pwd"),
        ('dsn = "postgresql://reader:hunter2@db.internal/erp"', "source.dsn"),
        ('options = "host=db password=hunter2"', "source.options"),
        ('secret_key = "hunter2"', "source.secret_key"),
    ],
)
def test_a_config_holding_a_password_is_refused_without_echoing_it(tmp_path, line, where):
    path = _config(tmp_path / "src.toml", PG_TOML.replace('user = "reader"', f'user = "reader"\n    {line}'))
    with pytest.raises(SourceConfigError) as info:
        read_configured_source(path)
    message = str(info.value)
    assert f"src.toml: {where} holds a password" in message and "rule: no_password_in_config" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('host = "db.internal"', 'hots = "db.internal"'),
            "source.postgres.hots: Extra inputs are not permitted",
        ),
        (
            ('products = { table = "planning.products" }', 'products = { table = "t", query = "q" }'),
            "give exactly one of table or query",
        ),
        (
            ('products = { table = "planning.products" }', 'widgets = { table = "w" }'),
            "entities ['widgets'] are not input entities",
        ),
        (
            ('products = { table = "planning.products" }', 'products = { table = "products; drop table x" }'),
            "is not a plain [schema.]table name",
        ),
        (('type = "postgres"', 'type = "oracle"'), "does not match any of the expected tags"),
        (("[entities]", "[entities"), "cannot be parsed"),
    ],
)
def test_config_mistakes_are_named(tmp_path, change, message):
    path = _config(tmp_path / "src.toml", PG_TOML.replace(*change))
    with pytest.raises(SourceConfigError, match="rule: source_config") as info:
        load_source_config(path)
    assert message in str(info.value)


def test_password_env_not_set_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("PLANTWIN_PG_PASSWORD", raising=False)
    with pytest.raises(SourceConfigError, match="password_env names PLANTWIN_PG_PASSWORD, which is not set"):
        read_configured_source(_config(tmp_path / "src.toml", PG_TOML))


def test_missing_config_and_unknown_suffix(tmp_path):
    with pytest.raises(SourceConfigError, match="does not exist"):
        load_source_config(tmp_path / "nope.toml")
    with pytest.raises(SourceConfigError, match=r"\.toml, \.yaml or \.yml"):
        load_source_config(_write(tmp_path / "src.ini", "[source]\n"))


# ---------------------------------------------------------------------------------------------- DuckDB export
_DUCK_TYPES = {
    pl.String: "VARCHAR",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Date: "DATE",
    pl.Boolean: "BOOLEAN",
}


@pytest.fixture(scope="module")
def network() -> dict[str, pl.DataFrame]:
    return demo_network(products=5, dcs=1, weeks_history=40, levels=True, campaigns=True)  # every entity has rows


def _export(frames: dict[str, pl.DataFrame], path: Path) -> Path:
    """Another system's DuckDB export: typed tables, orders under other column names in schema ``sales``."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA sales")
        for t in schema.INPUT_ENTITIES:
            cols = ", ".join(f'"{c}" {_DUCK_TYPES[d]}' for c, d in t.columns.items())
            con.execute(f"CREATE TABLE {t.name} ({cols})")
            con.register("frame", frames[t.name])
            con.execute(f"INSERT INTO {t.name} SELECT * FROM frame")
            con.unregister("frame")
        con.execute(
            "CREATE TABLE sales.lines AS SELECT order_id AS line_no, order_date AS entered, "
            "requested_week AS wanted, product_id AS sku, site_id AS dc, quantity AS qty, status "
            "FROM orders"
        )
    finally:
        con.close()
    return path


_QUERY = (
    "SELECT line_no AS order_id, entered AS order_date, wanted AS requested_week, sku AS product_id, "
    "dc AS site_id, qty AS quantity, status FROM sales.lines"
)


def _duck_config(folder: Path, db_name: str = "export.duckdb") -> Path:
    lines = [f'{t.name} = {{ table = "{t.name}" }}' for t in schema.INPUT_ENTITIES if t.name != ORDERS]
    lines.append(f'orders = {{ query = "{_QUERY}" }}')
    return _write(
        folder / "source.toml",
        f'[source]\ntype = "duckdb"\npath = "{db_name}"\n\n[entities]\n' + "\n".join(lines) + "\n",
    )


def test_a_duckdb_export_reads_as_the_same_text_as_csv_files(tmp_path, network):
    _export(network, tmp_path / "export.duckdb")
    from_db = read_configured_source(_duck_config(tmp_path))  # the path is relative to the config file
    from_csv = read_folder(_folder(network, tmp_path / "csv", "csv"))
    assert [s.entity for s in from_db] == [t.name for t in schema.INPUT_ENTITIES]
    for db, csv in zip(from_db, from_csv, strict=True):
        key = list(schema.table(db.entity).key)
        body = [c for c in db.frame.columns if c != schema.SOURCE_ROW]
        assert db.frame.select(body).sort(key).equals(csv.frame.select(body).sort(key)), db.entity
    orders = from_db[5]
    assert orders.path.name == "orders.query" and orders.path.parent.name == "export.duckdb"


def test_reading_an_unchanged_export_again_is_the_same_load(tmp_path, network):
    _export(network, tmp_path / "export.duckdb")
    config = _duck_config(tmp_path)
    first, again = read_configured_source(config), read_configured_source(config)
    assert [s.content_hash for s in first] == [s.content_hash for s in again]
    assert all(a.frame.equals(b.frame) for a, b in zip(first, again, strict=True))  # same row numbers too
    warehouse = tmp_path / "wh.duckdb"
    assert ingest(config, warehouse) == ingest(config, warehouse)
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        assert wh.con.execute("SELECT count(*) FROM loads").fetchone()[0] == len(schema.INPUT_ENTITIES)
        assert wh.con.execute("SELECT count(*) FROM raw_orders").fetchone()[0] == network[ORDERS].height


def test_changed_cancelled_and_late_orders_are_new_versions_not_overwrites(tmp_path, network):
    db = _export(network, tmp_path / "export.duckdb")
    config, warehouse = _duck_config(tmp_path), tmp_path / "wh.duckdb"
    first = ingest(config, warehouse)
    changed, cancelled = network[ORDERS]["order_id"][0], network[ORDERS]["order_id"][1]
    con = duckdb.connect(str(db))
    con.execute("UPDATE sales.lines SET qty = 999 WHERE line_no = ?", [changed])
    con.execute("UPDATE sales.lines SET status = 'cancelled' WHERE line_no = ?", [cancelled])
    con.execute(
        "INSERT INTO sales.lines VALUES ('LATE-1', DATE '2026-04-01', DATE '2026-04-06', "
        "'VAC-01', 'DC-US-EAST', 5, 'open')"
    )
    con.close()
    second = ingest(config, warehouse)
    assert second[ORDERS] != first[ORDERS]
    assert {e: i for e, i in second.items() if e != ORDERS} == {e: i for e, i in first.items() if e != ORDERS}
    with open_warehouse(warehouse) as wh:
        now = wh.raw_rows(ORDERS, second[ORDERS])
        before = wh.raw_rows(ORDERS, first[ORDERS])
        stored = wh.con.execute("SELECT count(*) FROM raw_orders").fetchone()[0]
    n = network[ORDERS].height
    assert stored == n + n + 1  # both loads kept in full: nothing overwritten
    assert now.height == n + 1 and before.height == n
    version = {r["order_id"]: r for r in now.iter_rows(named=True)}
    assert version[changed]["quantity"] == "999.0" and version[cancelled]["status"] == "cancelled"
    assert version["LATE-1"]["order_date"] == "2026-04-01"
    old = {r["order_id"]: r for r in before.iter_rows(named=True)}
    assert old[changed]["quantity"] != "999.0" and old[cancelled]["status"] != "cancelled"


def test_duckdb_source_errors_name_the_file_entity_and_rule(tmp_path, network):
    with pytest.raises(SourceError, match=r"export.duckdb does not exist \(rule: source_database\)"):
        read_configured_source(_duck_config(tmp_path))
    _write(tmp_path / "export.duckdb", b"not a database at all")
    with pytest.raises(SourceError, match=r"export.duckdb: cannot be opened as a DuckDB database"):
        read_configured_source(_duck_config(tmp_path))
    _export(network, tmp_path / "real.duckdb")
    cfg = _duck_config(tmp_path, "real.duckdb")
    cfg.write_text(cfg.read_text().replace('table = "lanes"', 'table = "transport_lanes"'))
    with pytest.raises(
        SourceError,
        match=r"real.duckdb/transport_lanes: cannot read entity 'lanes' "
        r"\(rule: source_query\)",
    ):
        read_configured_source(cfg)


def test_a_folder_source_is_the_folder_read(tmp_path, network):
    _folder(network, tmp_path / "exports", "parquet")
    cfg = _write(tmp_path / "source.yaml", "source:\n  type: folder\n  path: exports\n")
    got = read_configured_source(cfg)
    assert [s.content_hash for s in got] == [s.content_hash for s in read_folder(tmp_path / "exports")]
    assert date.fromisoformat(got[6].frame["as_of_date"][0]) == date(2026, 5, 4)
