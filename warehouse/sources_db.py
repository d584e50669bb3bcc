"""Read input entities from a database as text: PostgreSQL (through psycopg 3) or a DuckDB file.

Each entity's table or query is read in full, every value as the database itself renders it as text
(ISO dates, ``12.50`` for a numeric, null for NULL), in a canonical row order (sorted by the row's text)
so that reading unchanged rows again gives the same content hash and the same row numbers: the
warehouse then recognises the load as one it already has. The text frame goes through the same
conforming step as a CSV file (:class:`~warehouse.sources.SourceFile`: schema columns, ``_extra``,
``_source_row``).

A source only reads (see :mod:`warehouse.source_sql`): a query must parse as exactly one read-only
SELECT before it is sent. PostgreSQL is read in a session whose every transaction is read-only
(``default_transaction_read_only`` and ``BEGIN READ ONLY``) with a ``statement_timeout``, and the query
is sent alone through the extended protocol, which refuses a second statement. A DuckDB file is opened
read-only with external access disabled and the configuration locked, so no query reaches another file.
DuckDB's ``postgres`` extension is not used: it is downloaded on first use, and plantwin must run offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from warehouse.source_models import EntitySource, PostgresSource
from warehouse.source_sql import check_duckdb_statement, check_read_only_query
from warehouse.sources import SourceError, SourceFile, SourceUnavailable, _conform

__all__ = ["SourceUnavailable", "postgres_driver", "read_duckdb", "read_postgres", "role_write_privileges"]

#: A DuckDB source reaches nothing but its own file: no other file, no extension download, no setting change.
_DUCKDB_SOURCE_CONFIG = {
    "enable_external_access": False,
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
}


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------- DuckDB
def read_duckdb(path: Path, entities: Mapping[str, EntitySource]) -> list[SourceFile]:
    """Read each entity's table or query from a DuckDB file opened read-only.

    Raises:
        SourceError: the file is missing or not a DuckDB database, or a table or query fails.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"DuckDB source {path} does not exist (rule: source_database).")
    try:
        con = _open_duckdb_source(path)
    except duckdb.Error as exc:
        raise SourceError(
            f"{path.name}: cannot be opened as a DuckDB database (rule: source_database): {_first_line(exc)}"
        ) from None
    try:
        return [_read_duckdb_entity(con, path, entity, spec) for entity, spec in entities.items()]
    finally:
        con.close()


def _open_duckdb_source(path: Path) -> duckdb.DuckDBPyConnection:
    """The source file read-only, with no access to any other file, and settings no query can change."""
    con = duckdb.connect(str(path), read_only=True, config=_DUCKDB_SOURCE_CONFIG)
    con.execute("SET enable_progress_bar = false")
    con.execute("SET lock_configuration = true")  # no query can turn external access back on
    return con


def _read_duckdb_entity(
    con: duckdb.DuckDBPyConnection, path: Path, entity: str, spec: EntitySource
) -> SourceFile:
    label = f"{path.name}/{spec.label}"
    select = _checked_select(spec, "duckdb", entity, label)
    try:
        probe = f"SELECT * FROM ({select}) AS src LIMIT 0"
        check_duckdb_statement(probe, entity, label)
        columns = con.sql(probe).columns
        as_text = ", ".join(f"CAST({_quote(c)} AS VARCHAR) AS {_quote(c)}" for c in columns)
        read = f"SELECT {as_text} FROM ({select}) AS src ORDER BY ALL"
        check_duckdb_statement(read, entity, label)
        frame = con.sql(read).pl()
    except duckdb.Error as exc:
        raise SourceError(
            f"{label}: cannot read entity {entity!r} (rule: source_query): {_first_line(exc)}"
        ) from None
    digest = hashlib.sha256(frame.write_csv().encode("utf-8")).hexdigest()
    return _conform(frame, path / _leaf(entity, spec), entity, digest)


# ---------------------------------------------------------------------------------------------- Postgres
def postgres_driver() -> str | None:
    """Name of the installed PostgreSQL driver plantwin uses (``psycopg``, version 3), or None.

    psycopg2 is not used: it sends every statement through the simple protocol, where a text can carry
    a second statement.
    """
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None
    return "psycopg"


def read_postgres(
    source: PostgresSource, entities: Mapping[str, EntitySource], password: str | None
) -> list[SourceFile]:
    """Read each entity's table or query from PostgreSQL in a read-only session.

    Raises:
        QueryRefused: a query is not exactly one read-only SELECT (checked before connecting).
        SourceError: no driver is installed, the server cannot be reached or refuses the login, or a
            table or query fails; the message names the entity and the database, never the password.
    """
    where = f"postgres {source.user}@{source.host}:{source.port}/{source.dbname}"
    selects = {entity: _checked_select(spec, "postgres", entity, f"{where} {spec.label}")
               for entity, spec in entities.items()}
    with _pg_session(source, password, where) as con:
        base = Path(f"postgres:{source.host}:{source.port}") / source.dbname
        return [
            _read_pg_entity(con, base, where, entity, spec, selects[entity], password)
            for entity, spec in entities.items()
        ]


def role_write_privileges(source: PostgresSource, password: str | None) -> list[str]:
    """What the source's role could change: superuser or role attributes, CREATE on the database or a
    schema, INSERT/UPDATE/DELETE/TRUNCATE on a table. Empty when the role can only read.

    ``plantwin validate --source`` warns with this list: the role should hold SELECT grants only.
    """
    where = f"postgres {source.user}@{source.host}:{source.port}/{source.dbname}"
    with _pg_session(source, password, where) as con, con.cursor() as cur:
        cur.execute(_ROLE_WRITES_SQL, prepare=True)
        found = [row[0] for row in cur.fetchall()]
        con.rollback()
    return found


_ROLE_WRITES_SQL = """
SELECT 'role ' || rolname || ' is a superuser' FROM pg_roles WHERE rolname = current_user AND rolsuper
UNION ALL
SELECT 'role ' || rolname || ' may create roles' FROM pg_roles WHERE rolname = current_user AND rolcreaterole
UNION ALL
SELECT 'CREATE on database ' || current_database() WHERE has_database_privilege(current_database(), 'CREATE')
UNION ALL
(SELECT 'CREATE on schema ' || nspname FROM pg_namespace
 WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
   AND has_schema_privilege(oid, 'CREATE') ORDER BY nspname)
UNION ALL
(SELECT concat_ws(', ',
            CASE WHEN has_table_privilege(c.oid, 'INSERT') THEN 'INSERT' END,
            CASE WHEN has_table_privilege(c.oid, 'UPDATE') THEN 'UPDATE' END,
            CASE WHEN has_table_privilege(c.oid, 'DELETE') THEN 'DELETE' END,
            CASE WHEN has_table_privilege(c.oid, 'TRUNCATE') THEN 'TRUNCATE' END)
        || ' on ' || n.nspname || '.' || c.relname
 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
   AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
        OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
 ORDER BY n.nspname, c.relname)
"""


@contextmanager
def _pg_session(source: PostgresSource, password: str | None, where: str) -> Iterator[Any]:
    """A psycopg connection whose every transaction is read-only, with a statement timeout, ISO dates,
    UTC timestamps and shortest exact floats (text independent of the server's settings)."""
    if postgres_driver() is None:
        raise SourceError(
            "reading PostgreSQL needs a driver: install psycopg (uv add 'psycopg[binary]') "
            "(rule: source_driver)."
        )
    import psycopg

    settings = {
        "default_transaction_read_only": "on",
        "statement_timeout": f"{source.statement_timeout_seconds * 1000}",
        "DateStyle": "ISO,YMD",
        "TimeZone": "UTC",
        "extra_float_digits": "1",
    }
    kwargs: dict[str, Any] = {
        "host": source.host,
        "port": source.port,
        "dbname": source.dbname,
        "user": source.user,
        "connect_timeout": source.connect_timeout_seconds,
        "client_encoding": "UTF8",
        "application_name": "plantwin",
        "options": " ".join(f"-c {k}={v}" for k, v in settings.items()),
    }
    if password is not None:
        kwargs["password"] = password
    if source.sslmode is not None:
        kwargs["sslmode"] = source.sslmode
    try:
        con = psycopg.connect(**kwargs)
    except psycopg.Error as exc:
        raise SourceUnavailable(
            f"{where}: cannot connect (rule: source_database): {_scrub(exc, password)}"
        ) from None
    try:
        con.read_only = True  # every transaction starts with BEGIN READ ONLY, whatever a query changed
        yield con
    finally:
        con.close()


def _read_pg_entity(
    con: Any, base: Path, where: str, entity: str, spec: EntitySource, select: str, password: str | None
) -> SourceFile:
    try:
        with con.cursor() as cur:
            # prepare=True: the extended protocol, where the server refuses a second statement in the text.
            cur.execute(select, prepare=True)
            result = cur.pgresult
            names = [d.name for d in cur.description or []]
            columns = [
                [None if (v := result.get_value(r, c)) is None else bytes(v).decode("utf-8")
                 for r in range(result.ntuples)]
                for c in range(len(names))
            ]
        con.rollback()  # read-only: nothing to keep; ends the transaction
    except Exception as exc:  # noqa: BLE001 — any driver or server error names the entity
        con.rollback()
        raise SourceError(
            f"{where} {spec.label}: cannot read entity {entity!r} (rule: source_query): "
            f"{_scrub(exc, password)}"
        ) from None
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise SourceError(f"{where} {spec.label}: entity {entity!r} has column(s) {duplicated} more than "
                          "once (rule: csv_format).")
    frame = pl.DataFrame([pl.Series(n, col, dtype=pl.String) for n, col in zip(names, columns)])
    if frame.width:
        frame = frame.sort(frame.columns, nulls_last=True)  # canonical order: same rows, same hash
    digest = hashlib.sha256(frame.write_csv().encode("utf-8")).hexdigest()
    return _conform(frame, base / _leaf(entity, spec), entity, digest)


def _checked_select(spec: EntitySource, dialect: str, entity: str, where: str) -> str:
    """The entity's SELECT: a table read, or its query once it is proven one read-only SELECT."""
    if spec.query is not None:
        return check_read_only_query(spec.query, dialect, entity, where)
    return spec.select(_quote)


def _leaf(entity: str, spec: EntitySource) -> str:
    """Last part of a row's ``_source_file``, the name messages show: the table, or ``<entity>.query``."""
    return spec.table if spec.table is not None else f"{entity}.query"


def _scrub(exc: BaseException, password: str | None) -> str:
    text = _first_line(exc)
    return text.replace(password, "***") if password else text


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
