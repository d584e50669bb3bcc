"""The row-level rules of every input entity, built in code from ``schema`` as GX expectations.

A :class:`Check` pairs one Great Expectations expectation with the quarantine rule it enforces and the
reason given for a row that breaks it. :func:`entity_checks` builds an entity's checks from its schema
table (nullability, key), the bound tables (ranges, allowed values, references) and the clean
frames of the entities validated before it (so a product rejected in ``products`` is unknown to
``orders``).

Its parts: :mod:`data_contracts.checks` (``Check``, ``E``, ``flag`` and a check's verdict in polars,
``broken``), :mod:`data_contracts.rules_bounds` (the bound tables, a date column's plausible dates) and
:mod:`data_contracts.rules_entities` (the checks particular to one entity); this module builds the checks
every entity has and puts them all in order.

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

from datetime import date

import polars as pl

from data_contracts import schema
from data_contracts.checks import Check, E, Expectation, broken, flag
from data_contracts.config import ContractConfig
from data_contracts.formats import DECIMAL_COMMA_RULE, SUNDAY_WEEK_RULE, sunday_week_words
from data_contracts.rules_bounds import (
    _NON_NEGATIVE,
    _PAST_DATES,
    _POSITIVE,
    _RANGES,
    _WEEK_COLUMNS,
    ALLOWED_VALUES,
    MAXIMA,
    QUANTITY_COLUMNS,
    REFERENCES,
    date_bounds,
)
from data_contracts.rules_entities import (
    _batch_checks,
    _bom_checks,
    _campaign_checks,
    _family_checks,
    _lane_checks,
    _shelf_life_checks,
    _storage_checks,
)

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
