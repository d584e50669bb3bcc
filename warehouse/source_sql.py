"""Check that a source query only reads: exactly one ``SELECT`` / ``WITH … SELECT``, before it is sent.

The text is parsed with a real SQL parser (sqlglot, in the source's dialect), never searched with a
pattern: a query must be one statement whose root is a ``SELECT`` (or a set operation of them), with no
data-modifying part anywhere inside it (``INSERT``/``UPDATE``/``DELETE`` in a CTE, ``SELECT … INTO``,
``FOR UPDATE``, ``COPY``, ``ATTACH``, ``PRAGMA``, ``SET``, transaction control, …) and no call of a function
that reads or writes files, changes settings, runs SQL text or reaches another server. Anything else is
refused naming the entity and the reason (rule ``read_only_query``).

This is the first of three walls: the session is also read-only (PostgreSQL ``default_transaction_read_only``
and ``BEGIN READ ONLY``; DuckDB ``read_only`` with external access disabled and the configuration locked),
and the statement is sent alone (PostgreSQL's extended protocol refuses a second statement; DuckDB's own
parser must see exactly one ``SELECT``). The database role should hold SELECT grants only.
"""

from __future__ import annotations

import logging
import re

import duckdb
import sqlglot
from sqlglot import exp

from warehouse.sources import SourceError

__all__ = ["QueryRefused", "check_duckdb_statement", "check_read_only_query"]

#: Node kinds that change data, schema, settings or the session, or reach files: never in a source query.
_WRITES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterColumn", "TruncateTable",
        "Command", "Into", "Lock", "Copy", "Attach", "Detach", "Pragma", "Set", "Transaction", "Commit",
        "Rollback", "Use", "LoadData", "Grant", "Export", "Install", "Kill", "Refresh", "Cache", "Uncache",
    ) if hasattr(exp, name)
)
#: Functions a reading query has no business calling: files, settings, other servers, SQL given as text,
#: sessions of other users, sequences and locks (PostgreSQL and DuckDB names).
_FORBIDDEN_FUNCTION = re.compile(
    r"(pg_read_file|pg_read_binary_file|pg_ls_\w+|pg_stat_file|pg_file_\w+|lo_\w+|dblink\w*|set_config"
    r"|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_rotate_logfile|pg_sleep\w*|pg_advisory\w*"
    r"|pg_try_advisory\w*|pg_notify|pg_switch_wal|pg_promote|pg_create_\w+|pg_drop_\w+|pg_logical_\w+"
    r"|nextval|setval|query_to_xml\w*|cursor_to_xml\w*|query_to_json|current_setting|getenv"
    r"|read_\w+|\w+_scan|sniff_csv|glob|query|query_table|parquet_\w+|duckdb_secrets|load|install)",
    re.IGNORECASE,
)
#: A quoted table name DuckDB would read as a file (``FROM 'orders.csv'``, ``FROM "s3://…"``).
_PATH_LIKE = re.compile(r"[/\\:.]")
_SELECTS = (exp.Select, exp.Union, exp.Intersect, exp.Except)


class QueryRefused(SourceError):
    """A source query that is not exactly one read-only SELECT; names the entity and the reason."""


def check_read_only_query(text: str, dialect: str, entity: str, where: str) -> str:
    """The query without a trailing ``;`` if it is exactly one read-only SELECT, else raise.

    Args:
        text: the query as the source config gives it.
        dialect: ``postgres`` or ``duckdb``.
        entity: the entity the query reads, for the message.
        where: the source (database, file) for the message.

    Raises:
        QueryRefused: the text is not one statement, not a SELECT, writes, or calls a forbidden function.
    """
    query = text.strip()
    while query.endswith(";"):
        query = query[:-1].rstrip()

    def refuse(reason: str) -> QueryRefused:
        return QueryRefused(f"{where}: the query of entity {entity!r} is refused: {reason}; a source query "
                            "is exactly one read-only SELECT or WITH … SELECT (rule: read_only_query).")

    if not query:
        raise refuse("it is empty")
    sqlglot_logger = logging.getLogger("sqlglot")
    level = sqlglot_logger.level
    sqlglot_logger.setLevel(logging.ERROR)  # "falling back to Command" is refused below, not logged
    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).strip().splitlines()
        raise refuse(f"it cannot be parsed as SQL ({first[0] if first else type(exc).__name__})") from None
    finally:
        sqlglot_logger.setLevel(level)
    if len(statements) != 1:
        raise refuse(f"it holds {len(statements)} statements")
    root = statements[0]
    inner = root.unnest() if isinstance(root, exp.Subquery) else root
    if not isinstance(inner, _SELECTS):
        raise refuse(f"it is a {_kind(inner)} statement, not a SELECT")
    for node in root.walk():
        if isinstance(node, _WRITES):
            raise refuse(f"it contains {_kind(node)}")
        if isinstance(node, exp.Table) and _PATH_LIKE.search(node.name or ""):
            raise refuse(f"it names a file as a table ({node.name!r})")
        if isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
            if _FORBIDDEN_FUNCTION.fullmatch(name or ""):
                raise refuse(f"it calls {name.lower()}(), which reaches files, settings or other sessions")
    return query


def check_duckdb_statement(sql: str, entity: str, where: str) -> None:
    """DuckDB's own parser must see exactly one SELECT in the text about to be sent.

    Raises:
        QueryRefused: DuckDB reads more than one statement, or one that is not a SELECT.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused(f"{where}: the query of entity {entity!r} cannot be parsed by DuckDB "
                           f"({str(exc).strip().splitlines()[0]}) (rule: read_only_query).") from None
    kinds = [s.type for s in statements]
    if kinds != [duckdb.StatementType.SELECT]:
        raise QueryRefused(f"{where}: the query of entity {entity!r} is refused: DuckDB reads it as "
                           f"{', '.join(k.name for k in kinds) or 'no statement'}, not one SELECT "
                           "(rule: read_only_query).")


def _kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return {"Into": "SELECT … INTO", "Lock": "FOR UPDATE/SHARE"}.get(type(node).__name__, type(node).__name__.upper())
