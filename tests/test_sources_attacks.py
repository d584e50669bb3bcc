"""A DuckDB source only reads its own file: every attack through a query or a view, against a real file.

The source file holds a ``secret`` table (to be copied out), a view that reads a local file (the table
path, which no parser sees) and a planted local file (``secret.txt``) no query may read. After every
attempt the source file is unchanged byte for byte, no file was written and nothing was read.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from warehouse.source_config import read_configured_source
from warehouse.source_sql import QueryRefused, check_read_only_query
from warehouse.sources import SourceError

SECRET = "never-leave-this-host"


@pytest.fixture
def export(tmp_path) -> Path:
    (tmp_path / "secret.txt").write_text(f"{SECRET}\n")
    (tmp_path / "secret.csv").write_text(f"order_id\n{SECRET}\n")
    db = tmp_path / "export.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE orders (order_id VARCHAR, quantity DOUBLE)")
    con.execute("INSERT INTO orders VALUES ('O-1', 5), ('O-2', 7)")
    con.execute("CREATE TABLE canary AS SELECT 1 AS n")
    con.execute(f"CREATE VIEW leaky AS SELECT content AS order_id FROM read_text('{tmp_path / 'secret.txt'}')")
    con.close()
    return db


def _config(folder: Path, orders: str) -> Path:
    path = folder / "source.toml"
    path.write_text(f'[source]\ntype = "duckdb"\npath = "export.duckdb"\n\n[entities]\norders = {orders}\n')
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _attacks(folder: Path) -> dict[str, str]:
    out, other, secret = folder / "pwned.csv", folder / "other.duckdb", folder / "secret.txt"
    return {
        "stacked statements": f"SELECT order_id FROM orders; COPY (SELECT 42) TO '{out}'",
        "closing the wrapper": f"SELECT 1) AS src; COPY (SELECT 42) TO '{out}'; SELECT * FROM (SELECT 1",
        "COPY TO a file": f"COPY orders TO '{out}'",
        "COPY TO the warehouse": f"COPY orders TO '{folder / 'warehouse.duckdb'}'",
        "EXPORT DATABASE": f"EXPORT DATABASE '{folder / 'dump'}'",
        "read_text of a local file": f"SELECT content AS order_id FROM read_text('{secret}')",
        "read_csv of a local file": f"SELECT * FROM read_csv('{folder / 'secret.csv'}')",
        "read_blob of a local file": f"SELECT content AS order_id FROM read_blob('{secret}')",
        "a file named as a table": f"SELECT * FROM '{folder / 'secret.csv'}'",
        "glob of a folder": f"SELECT file AS order_id FROM glob('{folder}/*')",
        "ATTACH another file": f"ATTACH '{other}' AS o",
        "turning external access on": "SET enable_external_access = true",
        "a PRAGMA": "PRAGMA enable_profiling",
        "installing an extension": "INSTALL httpfs",
        "loading an extension": "LOAD httpfs",
        "ending the transaction": "SELECT 1; COMMIT; DROP TABLE canary",
        "DML inside a CTE": "WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d",
        "CREATE TABLE AS": "CREATE TABLE stolen AS SELECT * FROM orders",
        "SQL given as text": f"SELECT * FROM query('SELECT content FROM read_text(''{secret}'')')",
        "reading the environment": "SELECT getenv('HOME') AS order_id",
    }


ATTACK_NAMES = list(_attacks(Path("/x")))


@pytest.mark.parametrize("attack", ATTACK_NAMES)
def test_every_attack_through_a_query_is_refused_and_nothing_written_or_read(tmp_path, export, attack):
    before = _digest(export)
    files_before = sorted(p.name for p in tmp_path.iterdir())
    cfg = _config(tmp_path, f"{{ query = '''{_attacks(tmp_path)[attack]}''' }}")
    with pytest.raises(SourceError, match=r"query of entity 'orders' .*\(rule: read_only_query\)"):
        read_configured_source(cfg)
    assert _digest(export) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files_before, "source.toml"])


def test_a_view_reading_a_local_file_is_refused_by_the_session(tmp_path, export):
    """Second wall: a table entity needs no parser; the view behind it reads a file and DuckDB refuses."""
    with pytest.raises(SourceError, match=r"cannot read entity 'orders' \(rule: source_query\).*"):
        read_configured_source(_config(tmp_path, '{ table = "leaky" }'))


def test_the_source_session_cannot_write_read_files_or_unlock_itself(tmp_path, export):
    """The connection a DuckDB source is read with, tried directly (as if the parser were fooled)."""
    from warehouse.sources_db import _open_duckdb_source

    con = _open_duckdb_source(export)
    try:
        for sql in (f"COPY orders TO '{tmp_path / 'pwned.csv'}'", "DROP TABLE canary",
                    f"SELECT * FROM read_text('{tmp_path / 'secret.txt'}')",
                    f"ATTACH '{tmp_path / 'other.duckdb'}' AS o", "SET enable_external_access = true",
                    "SET lock_configuration = false"):
            with pytest.raises(duckdb.Error):
                con.execute(sql).fetchall()
        assert con.execute("SELECT count(*) FROM canary").fetchone() == (1,)
    finally:
        con.close()
    assert not (tmp_path / "pwned.csv").exists() and not (tmp_path / "other.duckdb").exists()


def test_a_plain_read_still_reads(tmp_path, export):
    got = read_configured_source(_config(tmp_path, '{ query = "WITH o AS (SELECT * FROM orders) SELECT * FROM o;" }'))
    assert got[0].frame["order_id"].to_list() == ["O-1", "O-2"]


@pytest.mark.parametrize("query", [
    "SELECT 1", "select a from t where b = 'x; drop table t'", "WITH a AS (SELECT 1) SELECT * FROM a",
    "SELECT 1 UNION ALL SELECT 2", "(SELECT 1)", "SELECT a::text, upper(b) FROM s.t -- trailing; comment",
])
def test_reading_queries_pass_the_check(query):
    assert check_read_only_query(query, "duckdb", "orders", "x") == query.strip()


@pytest.mark.parametrize("query, reason", [
    ("", "it is empty"), ("SELECT 1; SELECT 2", "2 statements"), ("DELETE FROM t", "DELETE statement"),
    ("SELECT * INTO t2 FROM t", "SELECT … INTO"), ("SELECT 1) x", "cannot be parsed"),
    ("SELECT pg_read_file('/etc/passwd')", "calls pg_read_file()"),
])
def test_refusals_name_the_entity_and_the_reason(query, reason):
    with pytest.raises(QueryRefused, match=rf"erp: the query of entity 'orders' is refused: .*{reason}"):
        check_read_only_query(query, "postgres", "orders", "erp")
