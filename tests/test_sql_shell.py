"""``plantwin sql``: the analysts' shell on the published snapshot, read-only, without a DuckDB CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.sql import split_statements
from warehouse.db import open_warehouse
from warehouse.publish import publish_snapshot, published_path


@pytest.fixture()
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with open_warehouse(path) as wh:
        wh.con.execute("CREATE TABLE notes AS SELECT * FROM (VALUES (1, 'a'), (2, '=b')) t(id, text)")
    publish_snapshot(path)
    return path


def test_split_statements_ends_at_semicolons_and_keeps_dot_commands():
    lines = ["select 1\n", "  + 1;\n", ".tables\n", "select 2; \n", "select 3"]
    assert list(split_statements(iter(lines))) == ["select 1\n  + 1;", ".tables", "select 2;", "select 3"]


def test_a_query_prints_a_table_and_csv(warehouse):
    runner = CliRunner()
    done = runner.invoke(app, ["sql", "select id, text from notes order by id", "--warehouse", str(warehouse)])
    assert done.exit_code == 0, done.output
    assert "(2 rows)" in done.output and "=b" in done.output
    done = runner.invoke(app, ["sql", "--csv", "--warehouse", str(warehouse)],
                         input="select count(*) as n from notes;\n.tables\n")
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[:2] == ["n", "2"]
    assert "notes,base table" in done.output and "runs,base table" in done.output


def test_the_shell_cannot_write_and_reads_only_the_snapshot(warehouse):
    before = published_path(warehouse).read_bytes()
    done = CliRunner().invoke(app, ["sql", "drop table notes", "--warehouse", str(warehouse)])
    assert done.exit_code == 1
    assert "read-only" in done.output
    assert published_path(warehouse).read_bytes() == before
    with open_warehouse(warehouse, read_only=True) as wh:
        assert wh.con.execute("select count(*) from notes").fetchone()[0] == 2


def test_no_snapshot_is_a_clear_error(tmp_path):
    done = CliRunner().invoke(app, ["sql", "select 1", "--warehouse", str(tmp_path / "nope" / "w.duckdb")])
    assert done.exit_code == 2
    assert "no published snapshot" in done.output


def test_the_snapshot_itself_may_be_named(warehouse):
    # the run prints "published: …/warehouse.published.duckdb"; given that path, the shell looked for
    # warehouse.published.published.duckdb and said to run the weekly plan first
    done = CliRunner().invoke(app, ["sql", "select count(*) as n from notes", "--csv",
                                    "--warehouse", str(published_path(warehouse))])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines()[:2] == ["n", "2"]
