"""A source config file: where each input entity comes from when it is not a folder of files.

The file (TOML, or YAML with the same shape) names one source and maps entities to its tables or
queries::

    [source]
    type = "postgres"                      # postgres | duckdb | folder
    host = "erp-db.internal"
    port = 5432
    dbname = "erp"
    user = "plantwin_reader"
    password_env = "PLANTWIN_PG_PASSWORD"  # or: password_block = "erp-db-password" (a Prefect Secret)

    [entities]
    products = { table = "planning.products" }
    orders = { query = "SELECT order_id, order_date, ... FROM sales.order_lines" }

A password never goes in the file: a config holding one (a ``password`` key, a URL with credentials) is
refused before anything is read. Paths (a DuckDB file, a folder) are relative to the config file.
Every entity is read as text, like a CSV file, into the same :class:`~warehouse.sources.SourceFile`
contract, so the contracts and the warehouse cannot tell where rows came from.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import pydantic
import yaml

from data_contracts import schema
from data_contracts.config import ContractConfig
from warehouse import sources_db
from warehouse.source_models import (
    DuckDBSource,
    EntitySource,
    FolderSource,
    OrdersOptions,
    PostgresSource,
    SourceConfig,
)
from warehouse.arrival import SETTLE_TIMEOUT_SECONDS, read_complete_folder
from warehouse.sources import SourceError, SourceFile
from warehouse.redact import env_reference

__all__ = [
    "DuckDBSource",
    "EntitySource",
    "FolderSource",
    "PostgresSource",
    "SourceConfig",
    "SourceConfigError",
    "load_source_config",
    "read_configured_source",
    "resolve_password",
    "source_settings",
    "source_write_warnings",
]

#: Keys that may name where a password comes from; any other key looking like a secret is refused.
_CREDENTIAL_REFERENCES = {"password_env", "password_block"}
_SECRET_KEY = re.compile(r"pass(word|wd)?|pwd|secret|token|credential", re.IGNORECASE)
_URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.IGNORECASE)
_CONNINFO_PASSWORD = re.compile(r"\bpassword\s*=", re.IGNORECASE)


class SourceConfigError(SourceError):
    """A source config that is malformed, holds a password, or names credentials that are not there."""


def load_source_config(path: Path | str) -> SourceConfig:
    """Parse and check a source config file (``.toml``, ``.yaml`` or ``.yml``).

    Relative paths inside are resolved against the file's folder.

    Raises:
        SourceConfigError: the file is missing, unparsable, has unknown or missing keys, or holds a password.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceConfigError(f"source config {path} does not exist (rule: source_config).")
    raw = _parse(path)
    _refuse_passwords(raw, path)
    try:
        config = SourceConfig.model_validate(raw)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}{_near_key(e)}" for e in exc.errors()
        )
        raise SourceConfigError(f"{path.name}: {problems} (rule: source_config).") from None
    if config.source.type in ("duckdb", "folder") and not config.source.path.is_absolute():
        source = config.source.model_copy(update={"path": (path.parent / config.source.path).resolve()})
        config = config.model_copy(update={"source": source})
    return config


def source_settings(path: Path | str | None, contracts: ContractConfig) -> tuple[ContractConfig, frozenset[str]]:
    """What a source config declares about its values, applied to a run's contract settings.

    Returns:
        ``(contracts, snapshots)``: the contract settings with the source's ``decimal`` and ``week_start``
        (where declared), and the event entities it delivers as full extracts (``{"orders"}`` under
        ``orders: {mode: snapshot}``). Without a config (an input folder): the settings as given, no snapshots.
    """
    if path is None:
        return contracts, frozenset()
    config = load_source_config(path)
    if config.decimal == "," and config.source.path.is_dir():
        # Parquet numbers come typed and are rendered with "." (10.375): under "," they would read as thousands
        parquet = sorted(p.name for p in config.source.path.glob("*.parquet"))
        if parquet:
            raise SourceConfigError(
                f'{Path(path).name}: decimal: "," applies to CSV files, but {config.source.path} holds '
                f"{', '.join(parquet)}, whose numbers are typed and read with \".\"; export those entities as "
                "CSV or remove the setting (rule: source_config)."
            )
    snapshots = frozenset({schema.ORDERS.name} if config.orders.mode == "snapshot" else ())
    return contracts.model_copy(update=config.contract_settings()), snapshots


def resolve_password(source: PostgresSource, config_name: str = "source config") -> str | None:
    """The database password from the environment or a Prefect Secret block; None if neither is named.

    Raises:
        SourceConfigError: the variable is unset or the block cannot be loaded (the value is never shown).
    """
    if source.password_env is not None:
        value = os.environ.get(source.password_env)
        if not value:
            raise SourceConfigError(
                f"{config_name}: password_env names {env_reference(source.password_env)}, which is not set in the "
                f"environment; export it before running (rule: credentials)."
            )
        return value
    if source.password_block is not None:
        try:
            from prefect.blocks.system import Secret

            return str(Secret.load(source.password_block).get())
        except Exception as exc:  # noqa: BLE001 — any failure to reach or find the block
            raise SourceConfigError(
                f"{config_name}: the Prefect Secret block {source.password_block!r} (password_block) "
                f"cannot be loaded: {type(exc).__name__}: {_first_line(exc)} (rule: credentials)."
            ) from None
    return None


def read_configured_source(
    path: Path | str, settle_seconds: float = 0.0, settle_timeout_seconds: float = SETTLE_TIMEOUT_SECONDS
) -> list[SourceFile]:
    """Read every entity a source config maps, as text, in ``schema.INPUT_ENTITIES`` order.

    A folder source is read once complete (:func:`warehouse.arrival.read_complete_folder`, with the
    settle interval given).

    Raises:
        SourceConfigError: the config is invalid or its credentials are missing.
        SourceError: the source cannot be reached or an entity cannot be read.
    """
    path = Path(path)
    config = load_source_config(path)
    source = config.source
    if source.type == "folder":
        return read_complete_folder(source.path, settle_seconds, settle_timeout_seconds)
    ordered = {t.name: config.entities[t.name] for t in schema.INPUT_ENTITIES if t.name in config.entities}
    if source.type == "duckdb":
        return sources_db.read_duckdb(source.path, ordered)
    return sources_db.read_postgres(source, ordered, resolve_password(source, path.name))


def source_write_warnings(path: Path | str) -> list[str]:
    """What the source's database role could change, one warning each; empty when it can only read.

    A source only ever reads (the query check and the read-only session see to it), but the role is the
    last wall: it should hold SELECT grants only. Only PostgreSQL roles are checked (a DuckDB or folder
    source is opened read-only by plantwin itself).
    """
    path = Path(path)
    config = load_source_config(path)
    source = config.source
    if source.type != "postgres":
        return []
    found = sources_db.role_write_privileges(source, resolve_password(source, path.name))
    return [f"{path.name}: the database role {source.user} can write ({item}); give it SELECT grants only "
            "(rule: read_only_role)." for item in found]


# ---------------------------------------------------------------------------------------------- helpers
def _near_key(error: Any) -> str:
    """For an unknown key of the file, the known key it is likely a misspelling of (``decimals`` →
    ``decimal``), as "; did you mean 'decimal'?"; "" otherwise."""
    if error.get("type") != "extra_forbidden" or not error.get("loc"):
        return ""
    known = {f for model in (SourceConfig, PostgresSource, DuckDBSource, FolderSource, EntitySource, OrdersOptions)
             for f in model.model_fields}
    near = difflib.get_close_matches(str(error["loc"][-1]), sorted(known), n=1, cutoff=0.7)
    return f"; did you mean {near[0]!r}?" if near else ""


def _parse(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise SourceConfigError(
                f"{path.name}: a source config is a .toml, .yaml or .yml file (rule: source_config)."
            )
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        mark = getattr(exc, "problem_mark", None)  # YAML's says where (TOML's message does already)
        if mark is not None:
            first = f"line {mark.line + 1}, column {mark.column + 1}: {exc.problem} ({first})"
        raise SourceConfigError(f"{path.name}: cannot be parsed: {first} (rule: source_config).") from None
    if not isinstance(data, dict):
        raise SourceConfigError(
            f"{path.name}: expected a mapping with [source] and [entities] (rule: source_config)."
        )
    return data


def _refuse_passwords(raw: Any, path: Path, where: str = "") -> None:
    """Raise if any key looks like a secret (other than a reference to one) or a value embeds one."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            here = f"{where}.{key}" if where else str(key)
            if str(key) not in _CREDENTIAL_REFERENCES and _SECRET_KEY.search(str(key)):
                raise SourceConfigError(_password_message(path, here))
            _refuse_passwords(value, path, here)
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            _refuse_passwords(value, path, f"{where}[{i}]")
    elif (
        isinstance(raw, str)
        and where.startswith("source")
        and (_URL_WITH_PASSWORD.search(raw) or _CONNINFO_PASSWORD.search(raw))
    ):
        raise SourceConfigError(_password_message(path, where))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def _password_message(path: Path, where: str) -> str:
    return (
        f"{path.name}: {where} holds a password or secret; passwords never go in the source config. "
        'Name where it comes from instead: password_env = "PLANTWIN_PG_PASSWORD" (an environment '
        'variable) or password_block = "<name>" (a Prefect Secret block) (rule: no_password_in_config).'
    )
