"""Checks on planning inputs, run before any model is built.

Every failed rule raises :class:`~optimization.config.PlanInputError` naming the entity, the
column(s), the rule and up to five offending keys, so a planner can find the rows.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from data_contracts import schema
from optimization.config import PlanInputError

__all__ = [
    "check_allowed", "check_columns", "check_known", "check_monday", "check_rule", "check_unique", "require_frame",
]

_MAX_KEYS_SHOWN = 5


def _keys_text(bad: pl.DataFrame, key: list[str]) -> str:
    rows = bad.select(key).unique(maintain_order=True).head(_MAX_KEYS_SHOWN).rows()
    shown = "; ".join(", ".join(f"{k}={v}" for k, v in zip(key, r)) for r in rows)
    more = bad.height - min(bad.height, _MAX_KEYS_SHOWN)
    return shown + (f" (and {more} more)" if more > 0 else "")


def require_frame(inputs: dict[str, pl.DataFrame], entity: schema.Table) -> pl.DataFrame:
    """The frame of a required entity, checked for columns; optional entities default to empty."""
    frame = inputs.get(entity.name)
    if frame is None:
        if entity.optional:
            return entity.empty()
        raise PlanInputError(f"{entity.name}: required input entity is missing")
    if frame.width == 0:  # an empty frame without columns: no rows of this entity
        return entity.empty()
    return check_columns(frame, entity)


def check_columns(frame: pl.DataFrame, entity: schema.Table) -> pl.DataFrame:
    """Select the entity's columns in order, cast to its schema, and reject nulls where not allowed."""
    missing = [c for c in entity.required_columns if c not in frame.columns]
    if missing:
        raise PlanInputError(f"{entity.name}: missing column(s) {', '.join(missing)}")
    frame = frame.with_columns(  # a defaulted column absent or empty means its default (as in the contracts)
        (
            pl.col(c).fill_null(entity.defaults[c])
            if c in frame.columns
            else pl.lit(entity.defaults[c], dtype=entity.columns[c])
        ).alias(c)
        for c in entity.defaults
        if c not in frame.columns or entity.defaults[c] is not None
    )
    try:
        frame = frame.select(pl.col(c).cast(t) for c, t in entity.columns.items())
    except pl.exceptions.PolarsError as err:
        raise PlanInputError(f"{entity.name}: column types do not match the schema: {err}") from err
    for col in entity.columns:
        if col in entity.nullable:
            continue
        bad = frame.filter(pl.col(col).is_null())
        if bad.height:
            key = [k for k in entity.key if k != col] or [col]
            raise PlanInputError(
                f"{entity.name}.{col}: null values are not allowed; rows {_keys_text(bad, key)}"
            )
    return frame


def check_rule(frame: pl.DataFrame, entity: str, column: str, ok: pl.Expr, rule: str, key: list[str]) -> None:
    """Raise if any row breaks ``ok`` (null outcomes pass: nullability is checked separately)."""
    bad = frame.filter(~ok.fill_null(True))
    if bad.height:
        raise PlanInputError(f"{entity}.{column}: {rule}; rows {_keys_text(bad, key)}")


def check_allowed(frame: pl.DataFrame, entity: str, column: str, key: list[str]) -> None:
    """Raise if a coded column holds a value outside ``schema.ALLOWED_VALUES`` (the contracts' own list)."""
    values = schema.ALLOWED_VALUES[(entity, column)]
    check_rule(frame, entity, column, pl.col(column).is_in(values), f"must be {' or '.join(values)}", key)


def check_unique(frame: pl.DataFrame, entity: str, key: list[str]) -> None:
    """Raise if the key is duplicated."""
    bad = frame.filter(pl.struct(key).is_duplicated())
    if bad.height:
        raise PlanInputError(f"{entity}: duplicate key ({', '.join(key)}); rows {_keys_text(bad, key)}")


def check_known(
    frame: pl.DataFrame, entity: str, column: str, known: pl.Series, known_entity: str, key: list[str]
) -> None:
    """Raise if ``frame[column]`` holds values not in ``known`` (a foreign key check)."""
    bad = frame.filter(~pl.col(column).is_in(known.implode()))
    if bad.height:
        raise PlanInputError(
            f"{entity}.{column}: unknown {known_entity} "
            f"{sorted(set(bad[column].to_list()))[:_MAX_KEYS_SHOWN]}; "
            f"rows {_keys_text(bad, key)}"
        )


def check_monday(frame: pl.DataFrame, entity: str, column: str, key: list[str]) -> None:
    """Raise if a week column holds a date that is not a Monday (weeks are identified by their Monday)."""
    check_rule(frame, entity, column, pl.col(column).dt.weekday() == 1, "week must be a Monday", key)


def check_start_week(start_week: date) -> None:
    """The plan starts on a Monday."""
    if start_week.weekday() != 0:
        raise PlanInputError(f"start_week {start_week} is not a Monday")
