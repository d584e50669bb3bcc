"""Read input entities from a database as text: PostgreSQL (through a Python driver) or a DuckDB file.

Each entity's table or query is read in full, every value as the database itself renders it as text
(ISO dates, ``12.50`` for a numeric, null for NULL), in a canonical row order (sorted by the row's text)
so that reading unchanged rows again gives the same content hash and the same row numbers: the
warehouse then recognises the load as one it already has. The text frame goes through the same
conforming step as a CSV file (:class:`~warehouse.sources.SourceFile`: schema columns, ``_extra``,
``_source_row``).

PostgreSQL is read with psycopg 3 (or psycopg2) via ``COPY (...) TO STDOUT`` in CSV form, in a
read-only session. DuckDB's ``postgres`` extension is not used: it is downloaded on first use, and
plantwin must run offline.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from warehouse.db import connect
from warehouse.source_models import EntitySource, PostgresSource
from warehouse.sources import SourceError, SourceFile, SourceUnavailable, _conform

__all__ = ["SourceUnavailable", "postgres_driver", "read_duckdb", "read_postgres"]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _text_frame(data: bytes, label: str) -> pl.DataFrame:
    try:
        return pl.read_csv(data, infer_schema=False, truncate_ragged_lines=False)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()
        raise SourceError(
            f"{label}: the rows read cannot be parsed (rule: csv_format): {first[0] if first else exc}"
        )


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
        con = connect(path, read_only=True)
    except duckdb.Error as exc:
        raise SourceError(
            f"{path.name}: cannot be opened as a DuckDB database (rule: source_database): {_first_line(exc)}"
        ) from None
    try:
        return [_read_duckdb_entity(con, path, entity, spec) for entity, spec in entities.items()]
    finally:
        con.close()


def _read_duckdb_entity(
    con: duckdb.DuckDBPyConnection, path: Path, entity: str, spec: EntitySource
) -> SourceFile:
    label = f"{path.name}/{spec.label}"
    try:
        columns = con.sql(f"SELECT * FROM ({spec.select(_quote)}) AS src LIMIT 0").columns
        as_text = ", ".join(f"CAST({_quote(c)} AS VARCHAR) AS {_quote(c)}" for c in columns)
        frame = con.sql(f"SELECT {as_text} FROM ({spec.select(_quote)}) AS src ORDER BY ALL").pl()
    except duckdb.Error as exc:
        raise SourceError(
            f"{label}: cannot read entity {entity!r} (rule: source_query): {_first_line(exc)}"
        ) from None
    digest = hashlib.sha256(frame.write_csv().encode("utf-8")).hexdigest()
    return _conform(frame, path / _leaf(entity, spec), entity, digest)


# ---------------------------------------------------------------------------------------------- Postgres
def postgres_driver() -> str | None:
    """Name of the installed PostgreSQL driver plantwin uses (``psycopg`` or ``psycopg2``), or None."""
    for name in ("psycopg", "psycopg2"):
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    return None


def read_postgres(
    source: PostgresSource, entities: Mapping[str, EntitySource], password: str | None
) -> list[SourceFile]:
    """Read each entity's table or query from PostgreSQL in one read-only session.

    Raises:
        SourceError: no driver is installed, the server cannot be reached or refuses the login, or a
            table or query fails; the message names the entity and the database, never the password.
    """
    driver = postgres_driver()
    if driver is None:
        raise SourceError(
            "reading PostgreSQL needs a driver: install psycopg (uv add 'psycopg[binary]') "
            "(rule: source_driver)."
        )
    where = f"postgres {source.user}@{source.host}:{source.port}/{source.dbname}"
    module = __import__(driver)
    kwargs: dict[str, Any] = {
        "host": source.host,
        "port": source.port,
        "dbname": source.dbname,
        "user": source.user,
        "connect_timeout": source.connect_timeout_seconds,
        "client_encoding": "UTF8",
        "application_name": "plantwin",
    }
    if password is not None:
        kwargs["password"] = password
    if source.sslmode is not None:
        kwargs["sslmode"] = source.sslmode
    try:
        con = module.connect(**kwargs)
    except module.Error as exc:
        raise SourceUnavailable(
            f"{where}: cannot connect (rule: source_database): {_scrub(exc, password)}"
        ) from None
    try:
        with con.cursor() as cur:
            cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            cur.execute("SET DateStyle = 'ISO, YMD'")
            cur.execute("SET TimeZone = 'UTC'")  # timestamptz text independent of the server's zone
            cur.execute("SET extra_float_digits = 1")  # shortest exact text of a double
        con.commit()
        base = Path(f"postgres:{source.host}:{source.port}") / source.dbname
        return [
            _read_pg_entity(con, driver, base, where, entity, spec, password)
            for entity, spec in entities.items()
        ]
    finally:
        con.close()


def _read_pg_entity(
    con: Any, driver: str, base: Path, where: str, entity: str, spec: EntitySource, password: str | None
) -> SourceFile:
    sql = (
        f"COPY (SELECT * FROM ({spec.select(_quote)}) AS src ORDER BY src::text) "
        "TO STDOUT WITH (FORMAT csv, HEADER true)"
    )
    buffer = io.BytesIO()
    try:
        with con.cursor() as cur:
            if driver == "psycopg":
                with cur.copy(sql) as copy:
                    for chunk in copy:
                        buffer.write(chunk)
            else:
                cur.copy_expert(sql, buffer)
        con.rollback()  # read-only: nothing to keep; ends the transaction
    except Exception as exc:  # noqa: BLE001 — driver errors differ between psycopg and psycopg2
        con.rollback()
        raise SourceError(
            f"{where} {spec.label}: cannot read entity {entity!r} (rule: source_query): "
            f"{_scrub(exc, password)}"
        ) from None
    data = buffer.getvalue()
    frame = _text_frame(data, f"{where} {spec.label}")
    return _conform(frame, base / _leaf(entity, spec), entity, hashlib.sha256(data).hexdigest())


def _leaf(entity: str, spec: EntitySource) -> str:
    """Last part of a row's ``_source_file``, the name messages show: the table, or ``<entity>.query``."""
    return spec.table if spec.table is not None else f"{entity}.query"


def _scrub(exc: BaseException, password: str | None) -> str:
    text = _first_line(exc)
    return text.replace(password, "***") if password else text


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
