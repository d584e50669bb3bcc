"""The bounds of the input entities' columns, as tables: allowed values, references, the quantity,
non-negative and positive columns, plausible maxima, bounded ratios, week columns and the dates that cannot
lie after the run date; and a date column's plausible dates (:func:`date_bounds`).

The checks of :mod:`data_contracts.rules` are built from them; :mod:`data_contracts.screen` writes the same
references and dates as SQL.
"""

from __future__ import annotations

from datetime import date

from data_contracts import schema
from data_contracts.config import SUPPORTED_MAX_DATE, SUPPORTED_MIN_DATE, ContractConfig

__all__ = ["ALLOWED_VALUES", "MAXIMA", "QUANTITY_COLUMNS", "REFERENCES", "date_bounds"]

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



def _max_date(run_date: date, config: ContractConfig) -> date:
    year = run_date.year + config.max_years_ahead
    if year > SUPPORTED_MAX_DATE.year:
        return SUPPORTED_MAX_DATE
    try:
        return run_date.replace(year=year)
    except ValueError:  # 29 February
        return run_date.replace(year=year, day=28)


def date_bounds(entity: str, column: str, run_date: date, config: ContractConfig) -> tuple[date, date]:
    """The plausible dates of a date column (rule ``date_range``): past events and snapshots up to the
    run date, other dates up to ``max_years_ahead`` after it; never outside what the contracts can hold."""
    past = column in _PAST_DATES.get(entity, ())
    hi = min(run_date if past else _max_date(run_date, config), SUPPORTED_MAX_DATE)
    return max(config.min_date, SUPPORTED_MIN_DATE), hi
