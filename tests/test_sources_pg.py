"""PostgreSQL as a source, against a real server the tests start (tests/pg.py) on 127.0.0.1.

The demo network is loaded into typed PostgreSQL tables (orders under other column names, read by a
query); reading it through a source config must give the rows a CSV folder gives, loads must be
idempotent and order changes versioned, credentials must come from the environment or a Prefect Secret
block and never show in a message.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pg  # tests/pg.py (the test folder is on sys.path)
import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ContractConfig
from data_contracts.validate import validate_inputs
from warehouse.db import open_warehouse
from demo.network import DEMO_RUN_DATE, demo_network, write_demo
from warehouse.dry_run import raw_frames
from warehouse.source_config import SourceConfigError, read_configured_source
from warehouse.sources import SourceError, read_folder
from warehouse.sources_db import SourceUnavailable

pytestmark = pytest.mark.skipif(pg.skip_reason() is not None, reason=str(pg.skip_reason()))

ORDERS = schema.ORDERS.name
PW_ENV = "PLANTWIN_TEST_PG_PASSWORD"
_PG_TYPES = {
    pl.String: "text",
    pl.Float64: "double precision",
    pl.Int64: "integer",
    pl.Date: "date",
    pl.Boolean: "boolean",
}
# Costs as numeric: PostgreSQL writes them with their scale ("10.3800"), which must still read as numbers.
_NUMERIC = {"unit_cost", "holding_cost_per_week", "backlog_penalty", "cost_per_unit"}
_QUERY = (
    "SELECT line_no AS order_id, entered AS order_date, wanted AS requested_week, sku AS product_id, "
    "dc AS site_id, qty AS quantity, status FROM sales.order_lines"
)


def ingest(config: Path, warehouse: Path) -> dict[str, str]:
    """What a run's ingest stage does with a source config: read it, land every entity; entity → load id."""
    with open_warehouse(warehouse) as wh:
        return {s.entity: wh.land(s)[0] for s in read_configured_source(config)}


@pytest.fixture(scope="module")
def network() -> dict[str, pl.DataFrame]:
    return demo_network(products=5, dcs=1, weeks_history=40)


@pytest.fixture(scope="module")
def server(network):
    with pg.running_postgres() as srv:
        with srv.connect() as con:
            con.execute("CREATE SCHEMA planning")
            con.execute("CREATE SCHEMA sales")
            for t in schema.INPUT_ENTITIES:
                cols = ", ".join(
                    f'"{c}" {"numeric(16,4)" if c in _NUMERIC else _PG_TYPES[d]}'
                    for c, d in t.columns.items()
                )
                con.execute(f"CREATE TABLE planning.{t.name} ({cols})")
                with con.cursor().copy(f"COPY planning.{t.name} FROM STDIN WITH (FORMAT csv, HEADER)") as cp:
                    cp.write(network[t.name].write_csv(date_format="%Y-%m-%d"))
            con.execute(
                "CREATE TABLE sales.order_lines AS SELECT order_id AS line_no, order_date AS entered, "
                "requested_week AS wanted, product_id AS sku, site_id AS dc, quantity AS qty, status "
                "FROM planning.orders"
            )
        yield srv


@pytest.fixture
def password(server, monkeypatch):
    monkeypatch.setenv(PW_ENV, server.password)
    return server.password


def _config(
    folder: Path,
    server: pg.PgServer,
    credential: str = f'password_env = "{PW_ENV}"',
    orders: str = f'{{ query = "{_QUERY}" }}',
    extra: str = "",
) -> Path:
    lines = [
        f'{t.name} = {{ table = "planning.{t.name}" }}' for t in schema.INPUT_ENTITIES if t.name != ORDERS
    ]
    path = folder / f"source-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(
        f'[source]\ntype = "postgres"\nhost = "{server.host}"\nport = {server.port}\n'
        f'dbname = "{server.dbname}"\nuser = "{server.user}"\n{credential}\n\n[entities]\n'
        + "\n".join(lines)
        + f"\norders = {orders}\n{extra}"
    )
    return path


def _sorted_clean(raw: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    out = validate_inputs(raw, DEMO_RUN_DATE, ContractConfig())
    assert out.quarantine.height == 0, out.quarantine
    return {e: f.sort(list(schema.table(e).key)) for e, f in out.clean.items()}


def test_postgres_rows_validate_to_exactly_the_csv_folders_rows(tmp_path, server, password, network):
    from_pg = read_configured_source(_config(tmp_path, server))
    assert [s.entity for s in from_pg] == [t.name for t in schema.INPUT_ENTITIES]
    assert from_pg[0].frame["unit_cost"].str.contains(r"\.\d{4}$").all()  # numeric(16,4) text: "10.3800"
    assert from_pg[5].path.name == "orders.query" and from_pg[1].path.name == "planning.sites"
    write_demo(network, tmp_path / "csv")
    clean_pg = _sorted_clean(raw_frames(from_pg))
    clean_csv = _sorted_clean(raw_frames(read_folder(tmp_path / "csv")))
    for entity, frame in clean_csv.items():
        assert clean_pg[entity].equals(frame), entity


def test_unchanged_tables_are_the_same_load_and_changed_orders_a_new_version(
    tmp_path, server, password, network
):
    config, warehouse = _config(tmp_path, server), tmp_path / "wh.duckdb"
    first = ingest(config, warehouse)
    assert ingest(config, warehouse) == first  # nothing changed: every load id reused, nothing stored twice
    changed, cancelled = network[ORDERS]["order_id"][0], network[ORDERS]["order_id"][1]
    with server.connect() as con:
        con.execute("UPDATE sales.order_lines SET qty = 999 WHERE line_no = %s", [changed])
        con.execute("UPDATE sales.order_lines SET status = 'cancelled' WHERE line_no = %s", [cancelled])
        con.execute(
            "INSERT INTO sales.order_lines VALUES ('LATE-1', '2026-04-01', '2026-04-06', 'VAC-01', "
            "'DC-US-EAST', 5, 'open')"
        )
    try:
        second = ingest(config, warehouse)
    finally:
        with server.connect() as con:  # the module's tables back to the network for the other tests
            con.execute("DELETE FROM sales.order_lines WHERE line_no = 'LATE-1'")
            con.execute(
                "UPDATE sales.order_lines s SET qty = o.quantity, status = o.status FROM planning.orders o "
                "WHERE s.line_no = o.order_id"
            )
    assert second[ORDERS] != first[ORDERS]
    assert {e: i for e, i in second.items() if e != ORDERS} == {e: i for e, i in first.items() if e != ORDERS}
    n = network[ORDERS].height
    with open_warehouse(warehouse) as wh:
        assert wh.con.execute("SELECT count(*) FROM raw_orders").fetchone()[0] == 2 * n + 1
        now = {r["order_id"]: r for r in wh.raw_rows(ORDERS, second[ORDERS]).iter_rows(named=True)}
        before = {r["order_id"]: r for r in wh.raw_rows(ORDERS, first[ORDERS]).iter_rows(named=True)}
    assert len(now) == n + 1 and len(before) == n
    assert now[changed]["quantity"] == "999" and now[cancelled]["status"] == "cancelled" and "LATE-1" in now
    assert before[changed]["quantity"] != "999" and before[cancelled]["status"] != "cancelled"


def test_a_wrong_password_is_refused_without_showing_it(tmp_path, server, monkeypatch):
    monkeypatch.setenv(PW_ENV, "not-the-password")
    with pytest.raises(SourceUnavailable, match=r"cannot connect \(rule: source_database\)") as info:
        read_configured_source(_config(tmp_path, server))
    assert f"{server.user}@127.0.0.1:{server.port}/erp" in str(info.value)
    assert "not-the-password" not in str(info.value)


def test_a_missing_table_names_the_entity(tmp_path, server, password):
    cfg = _config(tmp_path, server, orders='{ table = "sales.no_such_table" }')
    with pytest.raises(
        SourceError,
        match=r"sales.no_such_table: cannot read entity 'orders' \(rule: source_query\): "
        r".*does not exist",
    ):
        read_configured_source(cfg)


def test_a_query_that_writes_is_refused_before_it_is_sent(tmp_path, server, password):
    cfg = _config(
        tmp_path,
        server,
        orders="{ query = \"INSERT INTO sales.order_lines (line_no) VALUES ('x') "
        'RETURNING line_no AS order_id" }',
    )
    with pytest.raises(SourceError, match="query of entity 'orders' is refused: it is a INSERT statement"):
        read_configured_source(cfg)
    with server.connect() as con:
        assert con.execute("SELECT count(*) FROM sales.order_lines WHERE line_no = 'x'").fetchone()[0] == 0


# ------------------------------------------------------------------ a source only reads: every attack
_WRITE_FILE = "/tmp/plantwin-pg-attack-{}.csv"
_ATTACKS = {
    "stacked statements": "SELECT line_no AS order_id FROM sales.order_lines; DROP TABLE sales.canary",
    "closing the wrapper": "SELECT 1) AS src ORDER BY 1) TO STDOUT; DROP TABLE sales.canary; COPY (SELECT 1",
    "ending the read-only transaction": "SELECT 1 AS order_id; COMMIT; DROP TABLE sales.canary",
    "transaction control alone": "COMMIT",
    "turning read-only off": "SELECT set_config('default_transaction_read_only', 'off', false) AS order_id",
    "read-write transaction": "SET TRANSACTION READ WRITE",
    "DML inside a CTE": "WITH d AS (DELETE FROM sales.canary RETURNING *) SELECT * FROM d",
    "SELECT INTO a new table": "SELECT * INTO sales.stolen FROM sales.canary",
    "locking rows": "SELECT * FROM sales.canary FOR UPDATE",
    "COPY to a server file": "COPY (SELECT 1) TO '{file}'",
    "large object export": "SELECT lo_export(lo_from_bytea(0, 'x'), '{file}') AS order_id",
    "reading a server file": "SELECT pg_read_file('/etc/hostname') AS order_id",
    "listing a server folder": "SELECT * FROM pg_ls_dir('.') AS order_id",
    "SQL given as text": "SELECT query_to_xml('DELETE FROM sales.canary', true, false, '') AS order_id",
    "a procedure call": "CALL sales.nothing()",
    "a sequence step": "SELECT nextval('sales.canary_seq') AS order_id",
}


@pytest.fixture
def canary(server):
    """A table and sequence any successful attack would change; a clean slate for every case."""
    with server.connect() as con:
        con.execute("DROP TABLE IF EXISTS sales.canary, sales.stolen")
        con.execute("DROP SEQUENCE IF EXISTS sales.canary_seq")
        con.execute("CREATE TABLE sales.canary AS SELECT g AS n FROM generate_series(1, 3) g")
        con.execute("CREATE SEQUENCE sales.canary_seq")
        con.execute(
            "CREATE OR REPLACE FUNCTION sales.sneaky_write() RETURNS SETOF text LANGUAGE sql AS "
            "$$ INSERT INTO sales.canary VALUES (99) RETURNING n::text $$"
        )
    yield
    with server.connect() as con:
        con.execute("DROP TABLE IF EXISTS sales.canary, sales.stolen")
        con.execute("DROP SEQUENCE IF EXISTS sales.canary_seq")


def _untouched(server, file: Path) -> None:
    with server.connect() as con:
        assert con.execute("SELECT count(*) FROM sales.canary").fetchone()[0] == 3
        assert con.execute("SELECT to_regclass('sales.stolen')").fetchone()[0] is None
        assert con.execute("SELECT last_value, is_called FROM sales.canary_seq").fetchone() == (1, False)
    assert not file.exists()


@pytest.mark.parametrize("attack", list(_ATTACKS))
def test_every_attack_through_a_query_is_refused_and_nothing_written_or_read(
    tmp_path, server, password, canary, attack
):
    file = Path(_WRITE_FILE.format(uuid.uuid4().hex[:8]))
    query = _ATTACKS[attack].format(file=file).replace('"', '\\"')
    cfg = _config(tmp_path, server, orders=f'{{ query = "{query}" }}')
    with pytest.raises(SourceError, match=r"query of entity 'orders' is refused: .*\(rule: read_only_query\)"):
        read_configured_source(cfg)
    _untouched(server, file)


def test_the_session_refuses_a_write_the_parser_cannot_see(tmp_path, server, password, canary):
    """Second wall: a SELECT of a function that writes passes the parser; the read-only session refuses it."""
    cfg = _config(tmp_path, server, orders='{ query = "SELECT * FROM sales.sneaky_write() AS order_id" }')
    with pytest.raises(SourceError, match=r"cannot read entity 'orders' \(rule: source_query\): .*read-only"):
        read_configured_source(cfg)
    _untouched(server, Path(_WRITE_FILE.format("none")))


def test_the_statement_is_sent_alone_even_past_the_parser(server, password, canary):
    """Third wall: were the parser fooled, the server still refuses a second statement in the text."""
    from warehouse.source_config import EntitySource, PostgresSource
    from warehouse.sources_db import _pg_session, _read_pg_entity

    source = PostgresSource(type="postgres", host=server.host, port=server.port, dbname=server.dbname,
                            user=server.user)
    spec = EntitySource(query="SELECT 1")
    with _pg_session(source, server.password, "pg") as con:
        with pytest.raises(SourceError, match="cannot insert multiple commands"):
            _read_pg_entity(con, Path("pg"), "pg", ORDERS, spec,
                            "SELECT 1 AS order_id; DROP TABLE sales.canary", server.password)
        with con.cursor() as cur:
            cur.execute("SHOW transaction_read_only")
            assert cur.fetchone()[0] == "on"
        con.rollback()
    _untouched(server, Path(_WRITE_FILE.format("none")))


def test_validate_warns_when_the_role_can_write_and_not_when_it_only_reads(server, canary):
    from warehouse.source_config import PostgresSource
    from warehouse.sources_db import role_write_privileges

    owner = PostgresSource(type="postgres", host=server.host, port=server.port, dbname=server.dbname,
                           user=server.user)
    found = role_write_privileges(owner, server.password)
    assert f"role {server.user} is a superuser" in found
    with server.connect() as con:
        con.execute("DROP ROLE IF EXISTS plantwin_reader")
        con.execute("CREATE ROLE plantwin_reader LOGIN PASSWORD 'reader-pw'")
        con.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        con.execute("GRANT USAGE ON SCHEMA sales TO plantwin_reader")
        con.execute("GRANT SELECT ON ALL TABLES IN SCHEMA sales TO plantwin_reader")
    reader = owner.model_copy(update={"user": "plantwin_reader"})
    with server.connect() as con:
        con.execute(f"REVOKE CREATE, TEMPORARY ON DATABASE {server.dbname} FROM PUBLIC")
    assert role_write_privileges(reader, "reader-pw") == []
    with server.connect() as con:
        con.execute("GRANT INSERT, DELETE ON sales.canary TO plantwin_reader")
    assert role_write_privileges(reader, "reader-pw") == ["INSERT, DELETE on sales.canary"]
    with server.connect() as con:
        con.execute("REVOKE ALL ON ALL TABLES IN SCHEMA sales FROM plantwin_reader")
        con.execute("REVOKE ALL ON SCHEMA sales FROM plantwin_reader")
        con.execute("DROP ROLE plantwin_reader")


@pytest.mark.slow  # starts Prefect's temporary server (shared with the other flow tests of the session)
def test_the_password_can_come_from_a_prefect_secret_block(tmp_path, server, monkeypatch):
    from prefect.blocks.system import Secret

    monkeypatch.delenv(PW_ENV, raising=False)
    name = f"plantwin-test-pg-{uuid.uuid4().hex[:8]}"
    missing = _config(tmp_path, server, credential=f'password_block = "{name}"')
    with pytest.raises(
        SourceConfigError, match=f"Prefect Secret block '{name}' \\(password_block\\) cannot be loaded"
    ):
        read_configured_source(missing)
    Secret(value=server.password).save(name)  # into the test session's throwaway Prefect home
    got = read_configured_source(missing)
    assert {s.entity: s.row_count for s in got}[ORDERS] > 0


def test_plantwin_validate_reads_the_database_and_writes_nothing(tmp_path, server, password):
    from typer.testing import CliRunner

    from cli.main import app

    cfg = _config(tmp_path, server)
    result = CliRunner().invoke(app, ["validate", "--source", str(cfg)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert "planning.products (5 rows)" in out and "orders.query (848 rows)" in out
    assert "run date 2026-05-04" in out and "Verdict: every row passes the contracts (exit 0)" in out
    assert f"Warning: {cfg.name}: the database role {server.user} can write (role {server.user} is a superuser)" in out
    assert [p.suffix for p in tmp_path.iterdir()] == [".toml"]


@pytest.mark.slow  # a whole weekly run through Prefect
def test_a_weekly_run_plans_from_the_database(tmp_path, server, password):
    import duckdb

    from flows.settings import RunParameters
    from flows.weekly import weekly_planning
    from optimization import PlanConfig

    params = RunParameters(
        source=_config(tmp_path, server),
        warehouse=tmp_path / "wh.duckdb",
        run_date=DEMO_RUN_DATE,
        plan=PlanConfig(horizon_weeks=4),
    )
    run_id = weekly_planning(params)
    con = duckdb.connect(str(params.warehouse), read_only=True)
    try:
        assert con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone() == ("success",)
        files = con.execute("SELECT DISTINCT _source_file FROM raw_orders").fetchall()
        assert files == [(f"postgres:127.0.0.1:{server.port}/erp/orders.query",)]
        assert con.execute("SELECT count(*) FROM plan_kpis WHERE run_id = ?", [run_id]).fetchone()[0] > 0
    finally:
        con.close()
