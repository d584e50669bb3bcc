"""The shape of a source config file: frozen pydantic models, no I/O.

:mod:`warehouse.source_config` parses a file into these models and reads the source;
:mod:`warehouse.sources_db` reads a database given them. Both import this module, never each other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from data_contracts import schema

__all__ = [
    "DuckDBSource",
    "EntitySource",
    "FolderSource",
    "OrdersOptions",
    "PostgresSource",
    "SourceConfig",
]

_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EntitySource(_Frozen):
    """Where one entity's rows come from: a table (``schema.table``) or a SQL query, not both."""

    table: str | None = Field(None, description="Table or view, optionally schema-qualified.")
    query: str | None = Field(
        None, description="A SELECT returning the entity's columns by their contract names."
    )

    @pydantic.model_validator(mode="after")
    def _one_of(self) -> EntitySource:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of table or query")
        if self.table is not None and not _TABLE_NAME.fullmatch(self.table):
            raise ValueError(
                f"table {self.table!r} is not a plain [schema.]table name; use query for anything else"
            )
        return self

    @property
    def label(self) -> str:
        """Short name of the source in messages and ``_source_file``: the table, or ``query``."""
        return self.table if self.table is not None else "query"

    def select(self, quote: Any) -> str:
        """The SELECT statement reading this entity; ``quote`` quotes one identifier."""
        if self.query is not None:
            return self.query.strip().rstrip(";").strip()
        return "SELECT * FROM " + ".".join(quote(part) for part in self.table.split("."))


class PostgresSource(_Frozen):
    """A PostgreSQL database, read through psycopg 3 in a read-only session."""

    type: Literal["postgres"]
    host: str = "localhost"
    port: int = Field(5432, ge=1, le=65535)
    dbname: str
    user: str
    password_env: str | None = Field(None, description="Environment variable holding the password.")
    password_block: str | None = Field(
        None, description="Name of a Prefect Secret block holding the password."
    )
    sslmode: str | None = Field(
        None, description="libpq sslmode (disable, prefer, require, verify-full, ...)."
    )
    connect_timeout_seconds: int = Field(10, ge=1)
    statement_timeout_seconds: int = Field(
        600, ge=1, description="The server cancels a query running longer (statement_timeout)."
    )

    @pydantic.model_validator(mode="after")
    def _one_credential(self) -> PostgresSource:
        if self.password_env is not None and self.password_block is not None:
            raise ValueError("give at most one of password_env or password_block")
        return self


class DuckDBSource(_Frozen):
    """A DuckDB database file exported by another system, attached read-only."""

    type: Literal["duckdb"]
    path: Path


class FolderSource(_Frozen):
    """A folder of CSV or Parquet files, one per entity (the same rules as ``--input``)."""

    type: Literal["folder"]
    path: Path


class OrdersOptions(_Frozen):
    """How the source delivers order lines.

    ``incremental`` (default): each load holds new and changed lines; a run reads every load up to its
    own and the newest version of each ``order_id`` wins, so a line never disappears. ``snapshot``: each
    load is the full extract of the order book; a run reads its own load only, so a line missing from the
    newest extract is closed (it no longer counts), while the older loads keep it in ``raw_orders``.
    """

    mode: Literal["incremental", "snapshot"] = "incremental"


class SourceConfig(_Frozen):
    """The whole config file: one source, the entity mapping, and how the source writes its values.

    ``decimal`` and ``week_start`` declare the source's conventions (the contracts read ``1,5`` as 1.5
    under ``decimal: ","``, a Sunday as the week of the Monday after under ``week_start: sunday``; see
    :mod:`data_contracts.formats`); unset, the contracts' own settings apply (``.`` and ``monday``).
    """

    source: Annotated[PostgresSource | DuckDBSource | FolderSource, Field(discriminator="type")]
    entities: dict[str, EntitySource] = Field(default_factory=dict)
    decimal: Literal[".", ","] | None = Field(None, description='Decimal mark of the numbers: "." or ",".')
    week_start: Literal["monday", "sunday"] | None = Field(
        None, description="Day each week is labelled by: monday (ISO, the default) or sunday."
    )
    orders: OrdersOptions = Field(default_factory=OrdersOptions)

    def contract_settings(self) -> dict[str, str]:
        """The contracts' settings this source declares (``decimal``, ``week_start``), for
        ``ContractConfig.model_copy(update=...)``: what the source declares wins over a run's parameters."""
        return {k: v for k, v in (("decimal", self.decimal), ("week_start", self.week_start)) if v is not None}

    @pydantic.model_validator(mode="after")
    def _known_entities(self) -> SourceConfig:
        known = [t.name for t in schema.INPUT_ENTITIES]
        unknown = sorted(set(self.entities) - set(known))
        if unknown:
            raise ValueError(f"entities {unknown} are not input entities; known: {', '.join(known)}")
        if self.source.type == "folder" and self.entities:
            raise ValueError(
                "a folder source takes no entity mapping: files are named <entity>.csv or .parquet"
            )
        if self.source.type != "folder" and not self.entities:
            raise ValueError("map at least one entity to a table or query under [entities]")
        if self.decimal == "," and self.source.type != "folder":
            # a database renders its numbers with '.' (10.380): read with ',' they would be thousands, silently
            raise ValueError(
                'decimal: "," applies to CSV files; a database source renders numbers with "." (convert a text '
                "column in the entity's query instead)"
            )
        return self
