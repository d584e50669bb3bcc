"""``plantwin sql``: the analysts' SQL shell on the published snapshot, without a DuckDB CLI installed.

It opens the published snapshot beside the warehouse read-only (never the warehouse itself, so a query
never blocks a run), runs the query given on the command line, the statements read from standard input,
or, on a terminal, an interactive prompt where a statement ends with ``;``. ``.tables`` lists the tables
and views; ``.quit`` (or end of input) leaves. Results print as a table, or as CSV with ``--csv``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register", "split_statements"]

_TABLES = ("SELECT table_name AS name, lower(table_type) AS kind FROM information_schema.tables "
           "WHERE table_schema = 'main' ORDER BY table_type, table_name")


def split_statements(lines: Iterator[str]) -> Iterator[str]:
    """Statements from lines of text: each ends with ``;`` at the end of a line; dot-commands stand alone."""
    buffer: list[str] = []
    for line in lines:
        text = line.rstrip("\n")
        if not buffer and text.strip().startswith("."):
            yield text.strip()
            continue
        buffer.append(text)
        if text.rstrip().endswith(";"):
            statement = "\n".join(buffer).strip()
            buffer = []
            if statement.strip(";").strip():
                yield statement
    rest = "\n".join(buffer).strip()
    if rest:
        yield rest


def _show(con: Any, statement: str, csv: bool, max_rows: int) -> None:
    import polars as pl

    if statement in (".tables", ".views"):
        statement = _TABLES
    result = con.execute(statement)
    if result.description is None:  # a statement without rows (e.g. SET)
        return
    frame = result.pl()
    if csv:
        typer.echo(frame.write_csv().rstrip("\n"))
        return
    with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200,
                   tbl_hide_dataframe_shape=True, thousands_separator=False):
        typer.echo(frame)
    typer.echo(f"({frame.height} row{'s' if frame.height != 1 else ''})")


def _lines_from_terminal() -> Iterator[str]:
    prompt = "plantwin> "
    while True:
        try:
            line = input(prompt)
        except EOFError:
            typer.echo("")
            return
        yield line
        prompt = "plantwin> " if line.rstrip().endswith(";") or line.strip().startswith(".") else "     ...> "


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add ``plantwin sql`` to ``app``."""

    @app.command("sql")
    @friendly
    def sql_cmd(
        query: Annotated[str | None, typer.Argument(help="SQL to run; default: statements from standard "
                                                         "input, or an interactive prompt.")] = None,
        warehouse: Annotated[Path, typer.Option(
            "--warehouse", help="The warehouse whose published snapshot to query (or that snapshot, "
                                "<name>.published.duckdb, itself).")] = Path(
                "plantwin-demo/warehouse.duckdb"),
        csv: Annotated[bool, typer.Option("--csv", help="Print results as CSV.")] = False,
        max_rows: Annotated[int, typer.Option(min=1, help="Rows shown per result (table output).")] = 40,
    ) -> None:
        """Query the published warehouse with SQL, read-only (the analysts' shell; no DuckDB CLI needed)."""
        import duckdb

        from data_contracts.config import ParameterError
        from warehouse.connection import connect
        from warehouse.publish import published_path

        # the run prints "published: <name>.published.duckdb": that file itself is the snapshot
        is_snapshot = warehouse.name.endswith(".published.duckdb") and warehouse.is_file()
        snapshot = warehouse if is_snapshot else published_path(warehouse)
        if not snapshot.is_file():
            raise ParameterError(f"no published snapshot {snapshot}: run the weekly plan on {warehouse} first")
        con = connect(snapshot, read_only=True)
        failed = False
        try:
            if query is not None:
                statements: Iterator[str] = iter([query])
            elif sys.stdin.isatty():
                typer.echo(f"{snapshot} (read-only). End statements with ';'. .tables lists the tables; "
                           ".quit leaves.")
                statements = split_statements(_lines_from_terminal())
            else:
                statements = split_statements(iter(sys.stdin))
            for statement in statements:
                if statement in (".quit", ".exit"):
                    break
                try:
                    _show(con, statement, csv, max_rows)
                except duckdb.Error as exc:
                    failed = True
                    typer.secho(f"error: {' '.join(str(exc).split())}", fg="red", err=True)
        finally:
            con.close()
        if failed:
            raise typer.Exit(1)
