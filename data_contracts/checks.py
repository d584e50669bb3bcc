"""A check: one Great Expectations expectation named without GX, the quarantine rule it enforces and the
reason given for a row that breaks it, and its verdict computed in polars.

:class:`Expectation` (made with ``E``) names an expectation by its class and arguments; :class:`Check` pairs
it with its rule and reason; :func:`flag` makes a check of a boolean expression computed in polars;
:func:`broken` is the rows a check's expectation fails, as GX would judge them. The input entities' checks
are built in :mod:`data_contracts.rules`, the plan's in :mod:`data_contracts.plan`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

import polars as pl

__all__ = ["Check", "E", "Expectation", "broken", "flag"]


class Expectation:
    """A Great Expectations expectation by its class name and arguments, made a GX object only where GX runs
    (:meth:`to_gx`, in :mod:`data_contracts.gx_runner`): building the checks, computing them in polars or
    SQL and counting their results need no GX import (3 CPU-s in a fresh process).

    Arguments read as attributes (``exp.column``, ``exp.min_value``), with GX's defaults for the bounds.
    """

    _DEFAULTS: dict[str, Any] = {"min_value": None, "max_value": None, "strict_min": False, "strict_max": False,
                                 "or_equal": False}

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        self.kwargs = kwargs

    def __getattr__(self, name: str) -> Any:
        if name in ("kind", "kwargs"):
            raise AttributeError(name)
        if name in self.kwargs:
            return self.kwargs[name]
        if name in self._DEFAULTS:
            return self._DEFAULTS[name]
        raise AttributeError(f"{self.kind} has no argument {name!r}")

    def to_gx(self) -> Any:
        """The GX expectation (imports Great Expectations)."""
        import great_expectations as gx

        return getattr(gx.expectations, self.kind)(**self.kwargs)

    def __repr__(self) -> str:
        return f"{self.kind}({', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


class _Expectations:
    """``E.ExpectColumnValuesToBeBetween(column=..., ...)`` as in GX's ``gx.expectations``, without GX."""

    def __getattr__(self, kind: str) -> Any:
        if not kind.startswith("Expect"):
            raise AttributeError(kind)
        return partial(Expectation, kind)


E = _Expectations()


@dataclass(frozen=True)
class Check:
    """One expectation and the quarantine rule it enforces.

    Attributes:
        rule: Quarantine rule name.
        columns: Columns the rule is about; their raw values are shown in the reason.
        expectation: The GX expectation (on the typed frame plus ``derive`` columns).
        reason: Words after the shown values, e.g. ``"is negative"``.
        derive: Helper columns (name → polars expression on the typed frame) the expectation reads.
        unless: Rules which, broken by the same row (for ``type`` and ``date_range``: in the same column),
            make this hit redundant, so it is not reported twice (a garbled number is a ``type`` break, not
            also a null; a date GX cannot hold is a ``date_range`` break, not also a null).
    """

    rule: str
    columns: tuple[str, ...]
    expectation: Expectation
    reason: str
    derive: dict[str, pl.Expr] = field(default_factory=dict)
    unless: tuple[str, ...] = ()
    #: what the expectation names instead of its columns, where one rule has several checks (one per cycle)
    label: str = ""

    @property
    def name(self) -> str:
        """Expectation name in the results: ``rule(col, ...)`` (``rule(label)`` when labelled)."""
        return f"{self.rule}({self.label or ', '.join(self.columns)})"


def broken(check: Check) -> pl.Expr:
    """True on the rows that break ``check``, computed in polars from its expectation's configuration.

    Read on the frame Great Expectations would see (helper columns derived, dates GX cannot hold as
    null: :func:`data_contracts.gx_runner.gx_view`), with GX's semantics: a null passes every
    expectation but ``not_null`` (GX counts it as missing), ``unique`` flags every row sharing a value,
    a compound key or a column pair with a missing value is ignored. The contracts hand GX only the rows
    some check breaks, and GX's verdict on them must be the same (see ``GxValidator.validate``).

    Raises:
        TypeError: an expectation type this function does not know (teach it here before using it).
    """
    exp = check.expectation
    if exp.kind == "ExpectColumnValuesToNotBeNull":
        return pl.col(exp.column).is_null()
    if exp.kind == "ExpectColumnValuesToBeInSet":
        return pl.col(exp.column).is_not_null() & ~pl.col(exp.column).is_in(list(exp.value_set))
    if exp.kind == "ExpectColumnValuesToBeBetween":
        c = pl.col(exp.column)
        ok = pl.lit(True)
        if exp.min_value is not None:
            ok = ok & (c > exp.min_value if exp.strict_min else c >= exp.min_value)
        if exp.max_value is not None:
            ok = ok & (c < exp.max_value if exp.strict_max else c <= exp.max_value)
        return c.is_not_null() & ~ok
    if exp.kind == "ExpectColumnValuesToBeUnique":
        return pl.col(exp.column).is_not_null() & pl.col(exp.column).is_duplicated()
    if exp.kind == "ExpectCompoundColumnsToBeUnique" and exp.ignore_row_if == "any_value_is_missing":
        present = pl.all_horizontal(pl.col(c).is_not_null() for c in exp.column_list)
        return present & pl.struct(exp.column_list).is_duplicated()
    if (
        exp.kind == "ExpectColumnPairValuesAToBeGreaterThanB"
        and exp.ignore_row_if == "either_value_is_missing"
    ):
        a, b = pl.col(exp.column_A), pl.col(exp.column_B)
        return a.is_not_null() & b.is_not_null() & ~(a >= b if exp.or_equal else a > b)
    raise TypeError(f"{check.name}: no polars verdict for {exp.kind} (teach rules.broken)")


def flag(
    name: str, rule: str, columns: tuple[str, ...], expr: pl.Expr, reason: str, unless: tuple[str, ...] = (),
    null_breaks: bool = False, label: str = "",
) -> Check:
    """A check on a helper boolean column computed in polars: rows where ``expr`` is true break it.

    Where ``expr`` is null (a value it needs is missing) the row passes, unless ``null_breaks``.
    """
    col = f"__{name}"
    return Check(
        rule,
        columns,
        E.ExpectColumnValuesToBeInSet(column=col, value_set=[False]),
        reason,
        derive={col: expr.fill_null(null_breaks)},
        unless=unless,
        label=label,
    )
