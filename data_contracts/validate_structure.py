"""The structure of a run's raw inputs, checked for all entities at once before any row is (step 1 of
:func:`data_contracts.validate.validate_inputs`): every required entity and column is present, master data
and orders have rows; and what those checks read of a raw frame (:class:`data_contracts.screen.Profile`:
its height, the columns filled, the file's name, the columns the contract does not know).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath

import polars as pl

from data_contracts import schema
from data_contracts.screen import Profile

__all__ = ["MASTER_ENTITIES"]

#: Entities that must have rows.
MASTER_ENTITIES = (
    schema.PRODUCTS.name,
    schema.SITES.name,
    schema.RESOURCES.name,
    schema.ROUTINGS.name,
    schema.LANES.name,
)

_META = (*schema.RAW_META_COLUMNS, schema.RAW_EXTRA)


def _file_label(frame: pl.DataFrame, entity: str) -> str:
    if schema.SOURCE_FILE in frame.columns and frame.height:
        first = frame.get_column(schema.SOURCE_FILE).drop_nulls()
        if first.len():
            return PurePath(first[0]).name
    return entity


def _profile(frame: pl.DataFrame, t: schema.Table) -> Profile:
    """What the structure checks and results read of a raw frame (see :class:`data_contracts.screen.Profile`)."""
    return Profile(
        height=frame.height,
        filled={c: frame.get_column(c).null_count() < frame.height for c in frame.columns if c in t.columns},
        label=_file_label(frame, t.name),
        extra=_extra_columns(frame, t),
    )


def _structure_errors(raw: Mapping[str, object], profiles: dict[str, Profile]) -> list[str]:
    known = {t.name for t in schema.INPUT_ENTITIES}
    errors = [
        f"{name}: not an input entity; known: {', '.join(sorted(known))} (rule: known_entities)"
        for name in sorted(set(raw) - known)
    ]
    for t in schema.INPUT_ENTITIES:
        p = profiles.get(t.name)
        if p is None:
            if not t.optional:
                errors.append(f"{t.name}: no input file (rule: required_entities)")
            continue
        label = p.label
        tabbed = [e for e in p.extra if "\t" in e]
        if tabbed and not all(p.filled.get(c, False) for c in t.required_columns):
            errors.append(f"{label}: the header {_column_shown(tabbed[0])} holds tabs: write the file with ',' or "
                          "';' between the columns (rule: required_columns)")
            continue
        for c in t.required_columns:
            if c not in p.filled:
                errors.append(f"{label}: missing column {c!r}{_header_hint(c, p.extra)} (rule: required_columns)")
            elif c not in t.nullable and p.height and not p.filled[c]:
                errors.append(
                    f"{label}: missing column {c!r}: not in the header, or empty in all {p.height} rows"
                    f"{_header_hint(c, p.extra)} (rule: required_columns)"
                )
        if t.name in MASTER_ENTITIES and p.height == 0:
            errors.append(f"{label}: master data {t.name} has no rows (rule: master_data_not_empty)")
        elif t.name == schema.ORDERS.name and p.height == 0:
            errors.append(f"{label}: no order lines, so there is no demand history to forecast from "
                          "(rule: orders_not_empty)")
    return errors


def _header_hint(column: str, extra: list[str]) -> str:
    """What the file's unknown columns say about a missing one: a name in other letters, or the unknown
    names to look through ("" when the file has none)."""
    near = [e for e in extra if e.strip().lower() == column]
    if near:
        return f"; the header has {_column_shown(near[0])}: name it {column!r} (column names are matched exactly)"
    if extra:
        names = ", ".join(_column_shown(e) for e in extra[:8]) + (", ..." if len(extra) > 8 else "")
        return f"; columns the contract does not know: {names}: if one of them is {column!r}, rename it"
    return ""


def _column_shown(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "...")


def _extra_columns(frame: pl.DataFrame, t: schema.Table) -> list[str]:
    extra = [c for c in frame.columns if c not in t.columns and c not in _META]
    if schema.RAW_EXTRA in frame.columns:
        js = frame.get_column(schema.RAW_EXTRA).drop_nulls()
        if js.len():
            decoded = js.str.json_decode(infer_schema_length=None)
            if isinstance(decoded.dtype, pl.Struct):
                extra += [f.name for f in decoded.dtype.fields if f.name not in extra]
    return extra
