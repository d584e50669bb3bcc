"""The row-level rules of every input entity, built in code from ``schema`` as GX expectations.

A :class:`Check` pairs one Great Expectations expectation with the quarantine rule it enforces and the
reason given for a row that breaks it. :func:`entity_checks` builds an entity's checks from its schema
table (nullability, key), the bound tables below (ranges, allowed values, references) and the clean
frames of the entities validated before it (so a product rejected in ``products`` is unknown to
``orders``).

Rules (the ``rule`` column of the quarantine): ``type``, ``not_null``, ``unique``, ``non_negative``,
``positive``, ``range``, ``max_quantity``, ``allowed_values``, ``known_product``, ``known_site``,
``known_resource``, ``resource_at_plant``, ``date_range``, ``week_is_monday``, ``sunday_week`` (a week
labelled by its Sunday), ``decimal_comma`` (a number written ``1,5``), ``not_expired``,
``date_order``, ``lane_self_loop``, ``zero_lead_cycle``, ``bom_cycle`` (a bill of materials whose item needs
itself, named by its path ``A → B → A``), ``known_family``, ``max_value`` (plausible maxima of costs,
hours and weeks), ``max_length`` (text), ``unique_ignoring_case`` (ids equal but for letter case or
whitespace, e.g. ``MAB-01`` and ``mab-01``), ``campaign_length_order`` (min campaign above max),
``resource_or_site`` (a changeover row names exactly one of them), ``changeover_self`` (a switch from a
product to itself), ``changeover_campaign_resource`` (a changeover of a resource that is not campaign-run),
``expires_before_release`` (a routing whose product expires before its release), ``family_spelling`` (a
family spelt two ways but for letter case or blanks), ``storage_below_stock`` (a hard storage limit below the
stock on hand).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from functools import partial
from typing import Any

import polars as pl

from data_contracts import schema
from data_contracts.config import SUPPORTED_MAX_DATE, SUPPORTED_MIN_DATE, ContractConfig
from data_contracts.formats import DECIMAL_COMMA_RULE, SUNDAY_WEEK_RULE, sunday_week_words

#: Rules whose ``unless`` applies per column, not per row.
COLUMN_RULES = ("type", DECIMAL_COMMA_RULE, "date_range")

__all__ = [
    "COLUMN_RULES",
    "Check",
    "E",
    "Expectation",
    "entity_checks",
    "ALLOWED_VALUES",
    "REFERENCES",
    "QUANTITY_COLUMNS",
    "MAXIMA",
    "lookalike_key",
    "broken",
    "date_bounds",
]



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

#: Allowed values of coded columns (defined with the tables).
ALLOWED_VALUES = schema.ALLOWED_VALUES

#: (entity, column) → (referenced entity, referenced column, rule).
REFERENCES: dict[tuple[str, str], tuple[str, str, str]] = {
    (schema.RESOURCES.name, "site_id"): (schema.SITES.name, "site_id", "known_site"),
    (schema.ROUTINGS.name, "product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.ROUTINGS.name, "resource_id"): (schema.RESOURCES.name, "resource_id", "known_resource"),
    (schema.LANES.name, "from_site"): (schema.SITES.name, "site_id", "known_site"),
    (schema.LANES.name, "to_site"): (schema.SITES.name, "site_id", "known_site"),
    (schema.ORDERS.name, "product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.ORDERS.name, "site_id"): (schema.SITES.name, "site_id", "known_site"),
    (schema.INVENTORY.name, "product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.INVENTORY.name, "site_id"): (schema.SITES.name, "site_id", "known_site"),
    (schema.RECEIPTS.name, "product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.RECEIPTS.name, "site_id"): (schema.SITES.name, "site_id", "known_site"),
    (schema.CALENDAR.name, "resource_id"): (schema.RESOURCES.name, "resource_id", "known_resource"),
    (schema.BATCHES.name, "product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.BATCHES.name, "resource_id"): (schema.RESOURCES.name, "resource_id", "known_resource"),
    (schema.BOM.name, "parent_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.BOM.name, "component_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.STORAGE.name, "site_id"): (schema.SITES.name, "site_id", "known_site"),
    (schema.STORAGE.name, "family"): (schema.PRODUCTS.name, "family", "known_family"),
    (schema.CHANGEOVERS.name, "resource_id"): (schema.RESOURCES.name, "resource_id", "known_resource"),
    (schema.CHANGEOVERS.name, "site_id"): (schema.SITES.name, "site_id", "known_site"),
    (schema.CHANGEOVERS.name, "from_product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
    (schema.CHANGEOVERS.name, "to_product_id"): (schema.PRODUCTS.name, "product_id", "known_product"),
}

#: Quantity columns: ≥ 0 and at most ``ContractConfig.max_quantity``.
QUANTITY_COLUMNS: dict[str, tuple[str, ...]] = {
    schema.ROUTINGS.name: ("min_batch",),
    schema.ORDERS.name: ("quantity",),
    schema.INVENTORY.name: ("quantity",),
    schema.RECEIPTS.name: ("quantity",),
    schema.BATCHES.name: ("planned_qty", "actual_qty"),
    schema.LANES.name: ("capacity_per_week",),
    schema.STORAGE.name: ("capacity",),
}

#: Columns that must be ≥ 0 (costs, hours, lags) beyond the quantity columns.
_NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    schema.PRODUCTS.name: ("unit_cost", "holding_cost_per_week", "backlog_penalty"),
    schema.RESOURCES.name: ("hours_per_week", "changeover_hours", "changeover_cost"),
    schema.ROUTINGS.name: ("hours_per_unit", "cost_per_unit", "release_weeks"),
    schema.CHANGEOVERS.name: ("hours", "cost"),
    schema.LANES.name: ("lead_time_weeks", "cost_per_unit"),
    schema.CALENDAR.name: ("hours_available",),
    schema.STORAGE.name: ("overflow_cost",),
}

#: (entity, column) → (``ContractConfig`` field holding the column's plausible maximum, unit in messages).
#: Quantities have their own bound (``QUANTITY_COLUMNS``); ratios theirs (``_RANGES``).
MAXIMA: dict[tuple[str, str], tuple[str, str]] = {
    (schema.PRODUCTS.name, "unit_cost"): ("max_cost", "per unit"),
    (schema.PRODUCTS.name, "holding_cost_per_week"): ("max_cost", "per unit and week"),
    (schema.PRODUCTS.name, "backlog_penalty"): ("max_cost", "per unit and week"),
    (schema.PRODUCTS.name, "shelf_life_weeks"): ("max_weeks", "weeks"),
    (schema.RESOURCES.name, "hours_per_week"): ("max_hours_per_week", "hours"),
    (schema.RESOURCES.name, "changeover_hours"): ("max_hours_per_week", "hours"),
    (schema.RESOURCES.name, "changeover_cost"): ("max_cost", "per changeover"),
    (schema.RESOURCES.name, "min_campaign_weeks"): ("max_weeks", "weeks"),
    (schema.RESOURCES.name, "max_campaign_weeks"): ("max_weeks", "weeks"),
    (schema.CHANGEOVERS.name, "hours"): ("max_hours_per_week", "hours"),
    (schema.CHANGEOVERS.name, "cost"): ("max_cost", "per changeover"),
    (schema.ROUTINGS.name, "hours_per_unit"): ("max_hours_per_unit", "hours"),
    (schema.ROUTINGS.name, "cost_per_unit"): ("max_cost", "per unit"),
    (schema.ROUTINGS.name, "release_weeks"): ("max_weeks", "weeks"),
    (schema.ROUTINGS.name, "batch_size"): ("max_quantity", "units"),
    (schema.LANES.name, "lead_time_weeks"): ("max_weeks", "weeks"),
    (schema.LANES.name, "cost_per_unit"): ("max_cost", "per unit"),
    (schema.CALENDAR.name, "hours_available"): ("max_hours_per_week", "hours"),
    (schema.STORAGE.name, "overflow_cost"): ("max_cost", "per unit and week"),
}

#: Columns that must be > 0 (null allowed where the schema says so).
_POSITIVE: dict[str, tuple[str, ...]] = {
    schema.PRODUCTS.name: ("shelf_life_weeks",),
    schema.ROUTINGS.name: ("batch_size",),
    schema.BOM.name: ("quantity_per",),
    schema.RESOURCES.name: ("min_campaign_weeks", "max_campaign_weeks"),
}

#: (entity, column) → (min, max, strict_min, strict_max, words) for bounded ratios and codes.
_RANGES: dict[tuple[str, str], tuple[float, float | None, bool, bool, str]] = {
    (schema.PRODUCTS.name, "service_level"): (0.0, 1.0, True, True, "in (0, 1)"),
    (schema.PRODUCTS.name, "priority"): (1, None, False, False, "≥ 1"),
    (schema.ROUTINGS.name, "yield"): (0.0, 1.0, True, False, "in (0, 1]"),
    (schema.BOM.name, "scrap"): (0.0, 1.0, False, True, "in [0, 1)"),
}

#: Week columns: the Monday of an ISO week.
_WEEK_COLUMNS: dict[str, tuple[str, ...]] = {
    e: tuple(c for en, c in schema.WEEK_COLUMNS if en == e) for e, _ in schema.WEEK_COLUMNS
}

#: Date columns that cannot lie after the run date (past events and snapshots).
_PAST_DATES: dict[str, tuple[str, ...]] = {
    schema.ORDERS.name: ("order_date",),
    schema.INVENTORY.name: ("as_of_date",),
    schema.BATCHES.name: ("start_date", "release_date"),
}


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


def _max_date(run_date: date, config: ContractConfig) -> date:
    year = run_date.year + config.max_years_ahead
    if year > SUPPORTED_MAX_DATE.year:
        return SUPPORTED_MAX_DATE
    try:
        return run_date.replace(year=year)
    except ValueError:  # 29 February
        return run_date.replace(year=year, day=28)


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




def lookalike_key(t: schema.Table) -> list[pl.Expr]:
    """``t``'s key with text columns folded: lower case, every whitespace character removed."""
    return [
        pl.col(c).str.to_lowercase().str.replace_all(r"\s", "").alias(c)
        if t.columns[c] == pl.String
        else pl.col(c)
        for c in t.key
    ]


def _number(x: float) -> str:
    """A bound as people read it: ``1,000,000,000``, ``0.5``."""
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,g}"


def _basic_checks(t: schema.Table, config: ContractConfig) -> list[Check]:
    checks = [
        Check(
            "not_null",
            (c,),
            E.ExpectColumnValuesToNotBeNull(column=c),
            "is empty",
            unless=("type", DECIMAL_COMMA_RULE, "date_range"),
        )
        for c in t.columns
        if c not in t.nullable
    ]
    if len(t.key) == 1:
        exp = E.ExpectColumnValuesToBeUnique(column=t.key[0])
    else:
        exp = E.ExpectCompoundColumnsToBeUnique(column_list=list(t.key), ignore_row_if="any_value_is_missing")
    checks.append(Check("unique", t.key, exp, "is not unique: every row with this key is rejected"))
    if any(t.columns[c] == pl.String for c in t.key):
        # Quarantined, like exact duplicates: which spelling is right is for an operator to decide.
        checks.append(
            flag(
                "lookalike_key",
                "unique_ignoring_case",
                t.key,
                (key[0] if len(key := lookalike_key(t)) == 1 else pl.struct(key)).is_duplicated()
                & pl.all_horizontal(pl.col(c).is_not_null() for c in t.key),
                "differs from another row's key only in letter case or whitespace: every such row is "
                "rejected",
                unless=("unique",),
            )
        )
    checks += [
        flag(
            f"too_long_{c}",
            "max_length",
            (c,),
            pl.col(c).str.len_chars() > config.max_text_length,
            f"is longer than the {config.max_text_length:,} characters allowed (setting max_text_length)",
        )
        for c, dtype in t.columns.items()
        if dtype == pl.String
    ]
    return checks


def _bound_checks(t: schema.Table, config: ContractConfig) -> list[Check]:
    e = t.name
    checks = []
    for c in (*QUANTITY_COLUMNS.get(e, ()), *_NON_NEGATIVE.get(e, ())):
        checks.append(
            Check("non_negative", (c,), E.ExpectColumnValuesToBeBetween(column=c, min_value=0), "is negative")
        )
    for c in QUANTITY_COLUMNS.get(e, ()):
        checks.append(
            Check(
                "max_quantity",
                (c,),
                E.ExpectColumnValuesToBeBetween(column=c, max_value=config.max_quantity),
                f"exceeds the sanity bound of {config.max_quantity:,.0f} units",
            )
        )
    for (ent, c), (setting, unit) in MAXIMA.items():
        if ent == e:
            bound = getattr(config, setting)
            checks.append(
                Check(
                    "max_value",
                    (c,),
                    E.ExpectColumnValuesToBeBetween(column=c, max_value=bound),
                    f"exceeds the plausible maximum of {_number(bound)} {unit} (setting {setting})",
                )
            )
    for c in _POSITIVE.get(e, ()):
        checks.append(
            Check(
                "positive",
                (c,),
                E.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True),
                "is not positive",
            )
        )
    for (ent, c), (lo, hi, smin, smax, words) in _RANGES.items():
        if ent == e:
            checks.append(
                Check(
                    "range",
                    (c,),
                    E.ExpectColumnValuesToBeBetween(
                        column=c, min_value=lo, max_value=hi, strict_min=smin, strict_max=smax
                    ),
                    f"is not {words}",
                )
            )
    for (ent, c), values in ALLOWED_VALUES.items():
        if ent == e:
            checks.append(
                Check(
                    "allowed_values",
                    (c,),
                    E.ExpectColumnValuesToBeInSet(column=c, value_set=list(values)),
                    f"is not one of {', '.join(values)}",
                )
            )
    return checks


def _not_in(column: str, values: pl.Series) -> pl.Expr:
    # Membership is computed in polars and GX checks the flag: a value set of thousands of ids inside an
    # expectation's configuration is re-serialised by GX on every access (seconds per suite).
    return pl.col(column).is_not_null() & ~pl.col(column).is_in(values.implode())


def _fold(text: pl.Expr) -> pl.Expr:
    """A text folded as :func:`lookalike_key` folds keys: lower case, every whitespace character removed."""
    return text.str.to_lowercase().str.replace_all(r"\s", "")


def _reference_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    checks = []
    for (ent, c), (ref_entity, ref_col, rule) in REFERENCES.items():
        if ent != t.name:
            continue
        values = refs[ref_entity].get_column(ref_col).unique()
        # an id written another way but for letter case or blanks ('ds-a' for DS-A) gets its own words
        folded = _fold(pl.col(c)).is_in(values.to_frame().select(_fold(pl.col(ref_col))).to_series().implode())
        checks.append(
            flag(
                f"unknown_{c}",
                rule,
                (c,),
                _not_in(c, values) & ~folded,
                f"is not a valid {ref_entity} {ref_col} (unknown, or rejected in {ref_entity})",
            )
        )
        checks.append(
            flag(
                f"case_of_{c}",
                rule,
                (c,),
                _not_in(c, values) & folded,
                f"is not a valid {ref_entity} {ref_col}, but one differs from it only in letter case or blanks: "
                f"ids are matched exactly, write it as {ref_entity} does",
                label=f"{c}, letter case",
            )
        )
    if t.name == schema.RESOURCES.name:
        sites = refs[schema.SITES.name]
        plants = sites.filter(pl.col("site_type") == "plant").get_column("site_id")
        checks.append(
            flag(
                "not_at_plant",
                "resource_at_plant",
                ("site_id",),
                _not_in("site_id", plants),
                "is not a plant: production resources must sit at a plant",
                unless=("known_site",),
            )
        )
    return checks


def date_bounds(entity: str, column: str, run_date: date, config: ContractConfig) -> tuple[date, date]:
    """The plausible dates of a date column (rule ``date_range``): past events and snapshots up to the
    run date, other dates up to ``max_years_ahead`` after it; never outside what the contracts can hold."""
    past = column in _PAST_DATES.get(entity, ())
    hi = min(run_date if past else _max_date(run_date, config), SUPPORTED_MAX_DATE)
    return max(config.min_date, SUPPORTED_MIN_DATE), hi


def _date_checks(t: schema.Table, run_date: date, config: ContractConfig) -> list[Check]:
    e = t.name
    checks = []
    for c, dtype in t.columns.items():
        if dtype != pl.Date:
            continue
        past = c in _PAST_DATES.get(e, ())
        lo, hi = date_bounds(e, c, run_date, config)
        words = (
            f"is before {lo} or after the run date {run_date}"
            if past
            else f"is outside the plausible range {lo} … {hi}"
        )
        # Computed in polars on the date itself: a date outside what pandas can hold (9999-12-31,
        # 0001-01-01) must be judged here, before the frame reaches GX (see gx_runner._to_pandas).
        checks.append(flag(f"date_range_{c}", "date_range", (c,), ~pl.col(c).is_between(lo, hi), words))
    checks += _week_checks(t, config)
    if e == schema.INVENTORY.name:
        checks.append(
            Check(
                "not_expired",
                ("expiry_date", "as_of_date"),
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="expiry_date", column_B="as_of_date", ignore_row_if="either_value_is_missing"
                ),
                "is already expired at the as-of date",
            )
        )
    if e == schema.BATCHES.name:
        checks.append(
            Check(
                "date_order",
                ("release_date", "start_date"),
                E.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A="release_date",
                    column_B="start_date",
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",
                ),
                "is released before it started",
            )
        )
    return checks


def _week_checks(t: schema.Table, config: ContractConfig) -> list[Check]:
    """Week columns name a week by its Monday; a Sunday is recognised (rule ``sunday_week``, with the fix).

    Under ``week_start: sunday`` the values were moved to the Monday after before the checks
    (:func:`data_contracts.formats.week_start_monday`), so a value that was not a Sunday is not a Monday now.
    """
    checks = []
    for c in _WEEK_COLUMNS.get(t.name, ()):
        if config.week_start == "sunday":
            checks.append(flag(f"not_monday_{c}", "week_is_monday", (c,), pl.col(c).dt.weekday() != 1,
                               "is not a Sunday (the source config declares week_start: sunday)", unless=("type",)))
            continue
        checks.append(flag(f"not_monday_{c}", "week_is_monday", (c,), ~pl.col(c).dt.weekday().is_in([1, 7]),
                           "is not a Monday (weeks are identified by their Monday)", unless=("type",)))
        checks.append(flag(f"sunday_{c}", SUNDAY_WEEK_RULE, (c,), pl.col(c).dt.weekday() == 7,
                           sunday_week_words(), unless=("type",)))
    return checks


def _lane_checks(t: schema.Table, zero_lead_cycle: pl.Expr | None) -> list[Check]:
    if t.name != schema.LANES.name:
        return []
    checks = [
        flag(
            "self_loop",
            "lane_self_loop",
            ("from_site", "to_site"),
            pl.col("from_site") == pl.col("to_site"),
            "is a lane from a site to itself",
        )
    ]
    if zero_lead_cycle is not None:
        checks.append(
            flag(
                "zero_lead_cycle",
                "zero_lead_cycle",
                ("from_site", "to_site", "lead_time_weeks"),
                zero_lead_cycle,
                "lies on a cycle of lanes with zero lead time",
                unless=("lane_self_loop",),
            )
        )
    return checks


def entity_checks(
    t: schema.Table,
    refs: dict[str, pl.DataFrame],
    run_date: date,
    config: ContractConfig,
    zero_lead_cycle: pl.Expr | None = None,
    bom_cycles: pl.DataFrame | None = None,
) -> list[Check]:
    """Every row-level check of entity ``t``.

    Args:
        t: The entity's schema table.
        refs: Clean frames of the entities validated before it (the referenced ones must be there).
        run_date: Date the run plans from.
        config: Contract configuration.
        zero_lead_cycle: For lanes, a boolean expression true on lanes that lie on a zero-lead-time cycle.
        bom_cycles: For the bill of materials, its rows on a cycle (``parent_id, component_id, cycle``, as
            :func:`data_contracts.network.bom_cycles` finds them).

    Returns:
        The checks, in a stable order.
    """
    return [
        *_basic_checks(t, config),
        *_bound_checks(t, config),
        *_reference_checks(t, refs),
        *_date_checks(t, run_date, config),
        *_lane_checks(t, zero_lead_cycle),
        *_batch_checks(t),
        *_bom_checks(t, bom_cycles),
        *_campaign_checks(t, refs),
        *_shelf_life_checks(t, refs),
        *_family_checks(t),
        *_storage_checks(t, refs),
    ]


def _bom_checks(t: schema.Table, cycles: pl.DataFrame | None) -> list[Check]:
    """One ``bom_cycle`` check per cycle of the bill of materials, naming its path; every row on it breaks it.

    An item that needs itself has no finite dependent demand: which row is wrong is for an operator to decide.
    """
    if t.name != schema.BOM.name or cycles is None or cycles.height == 0:
        return []
    checks = []
    for k, cycle in enumerate(cycles.get_column("cycle").unique(maintain_order=True).to_list()):
        on_it = cycles.filter(pl.col("cycle") == cycle)
        checks.append(
            flag(
                f"bom_cycle_{k}",
                "bom_cycle",
                ("parent_id", "component_id"),
                pl.struct("parent_id", "component_id").is_in(
                    on_it.select(pl.struct("parent_id", "component_id")).to_series().implode()
                ),
                f"lies on the cycle {cycle}: an item cannot need itself",
                unless=("unique",),
                label=cycle,
            )
        )
    return checks


def _campaign_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    """A campaign whose minimum length exceeds its maximum; a changeover row naming both or neither of
    a resource and a site, a switch from a product to itself, or a resource that is not campaign-run
    (the planning model refuses all three, so the contracts say so first, with the row)."""
    if t.name == schema.RESOURCES.name:
        return [flag("campaign_min_above_max", "campaign_length_order", ("min_campaign_weeks", "max_campaign_weeks"),
                     pl.col("min_campaign_weeks") > pl.col("max_campaign_weeks"),
                     "is a minimum above the maximum: lower min_campaign_weeks or raise max_campaign_weeks")]
    if t.name == schema.CHANGEOVERS.name:
        resources = refs[schema.RESOURCES.name]
        free = resources.filter(~pl.col("campaign").fill_null(False)).get_column("resource_id")
        return [flag("changeover_scope", "resource_or_site", ("resource_id", "site_id"),
                     pl.col("resource_id").is_null() == pl.col("site_id").is_null(),
                     "names both or neither of resource_id and site_id: give exactly one"),
                flag("changeover_to_itself", "changeover_self", ("from_product_id", "to_product_id"),
                     pl.col("from_product_id") == pl.col("to_product_id"),
                     "is a switch from a product to itself: a campaign goes on without one; remove the row"),
                flag("changeover_not_campaign", "changeover_campaign_resource", ("resource_id",),
                     _in("resource_id", free),
                     "is not campaign-run, so it has no changeovers: set campaign to true in resources or "
                     "remove the row", unless=("known_resource",))]
    return []


def _in(column: str, values: pl.Series) -> pl.Expr:
    return pl.col(column).is_not_null() & pl.col(column).is_in(values.implode())


def _shelf_life_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    """A routing whose product's shelf life, counted from manufacture, ends before its QC release: every
    unit it makes would expire unreleased (the plan could only waste it), so the row is refused."""
    if t.name != schema.ROUTINGS.name:
        return []
    products = refs[schema.PRODUCTS.name]
    from_release = (
        pl.col("shelf_life_from") == "release" if "shelf_life_from" in products.columns else pl.lit(False)
    )
    short = products.filter(pl.col("shelf_life_weeks").is_not_null() & ~from_release.fill_null(False))
    life = pl.col("product_id").replace_strict(
        short.get_column("product_id"), short.get_column("shelf_life_weeks"), default=None,
        return_dtype=pl.Int64,
    )
    return [flag("expires_before_release", "expires_before_release", ("product_id", "release_weeks"),
                 life <= pl.col("release_weeks"),
                 "is released no sooner than the product's shelf_life_weeks (counted from manufacture) "
                 "ends: every unit would expire before its release; raise shelf_life_weeks in products "
                 "(or set shelf_life_from to release) or lower release_weeks",
                 unless=("known_product",))]


def _storage_checks(t: schema.Table, refs: dict[str, pl.DataFrame]) -> list[Check]:
    """A hard storage limit below what the site already holds of the family (every lot of the latest
    inventory snapshot, released or in quarantine): the plan cannot keep it (Infeasible) or, where a lane
    leads away, ships the stock off to be held elsewhere. A soft limit (``overflow_cost``) pays for it."""
    inventory, products = refs.get(schema.INVENTORY.name), refs.get(schema.PRODUCTS.name)
    if t.name != schema.STORAGE.name or inventory is None or products is None or inventory.height == 0:
        return []
    held = (
        inventory.filter(pl.col("as_of_date") == pl.col("as_of_date").max())
        .join(products.select("product_id", "family"), on="product_id")
        .group_by("site_id", "family")
        .agg(pl.col("quantity").sum())
        .select(key=pl.concat_str("site_id", pl.lit("\x1f"), "family"), held="quantity")
    )
    on_hand = pl.concat_str("site_id", pl.lit("\x1f"), "family").replace_strict(
        held.get_column("key"), held.get_column("held"), default=0.0, return_dtype=pl.Float64)
    return [flag("storage_below_stock", "storage_below_stock", ("site_id", "family", "capacity"),
                 pl.col("overflow_cost").is_null() & (pl.col("capacity") < on_hand - 1e-6),
                 "is below what the site holds of the family in the inventory snapshot: raise capacity to "
                 "at least that, or give an overflow_cost (a soft limit)",
                 unless=("known_site", "known_family", "non_negative"))]


def _family_checks(t: schema.Table) -> list[Check]:
    """Product families spelt two ways but for letter case (``drug_substance``, ``Drug_Substance``): a
    storage limit names one spelling and would silently not hold the other's products. Every row of
    every spelling is refused: which one is meant is for an operator to decide."""
    if t.name != schema.PRODUCTS.name:
        return []
    folded = pl.col("family").str.to_lowercase().str.replace_all(r"\s", "")
    return [flag("family_spellings", "family_spelling", ("family",),
                 pl.col("family").n_unique().over(folded) > 1,
                 "is spelt another way in other rows (letter case or blanks differ): families are matched "
                 "exactly (storage limits name them), so write every product's family the same way")]


def _batch_checks(t: schema.Table) -> list[Check]:
    """Batch records whose actual quantity is implausible next to the plan (a typo, a unit mix-up)."""
    if t.name != schema.BATCHES.name:
        return []
    return [flag("actual_over_planned", "actual_above_planned", ("actual_qty", "planned_qty"),
                  pl.col("actual_qty") > 2 * pl.col("planned_qty"), "is more than twice the planned quantity")]
