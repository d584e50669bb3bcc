"""The planning network's input entities checked, each into the frame the network keeps.

One function per entity (products, bill of materials, storage, sites, resources, routings, lanes, the
calendar's hours, and lots and scheduled receipts as supply): each checks its rules
(:mod:`optimization.validation`: :class:`~optimization.config.PlanInputError` naming the rows) and returns its
frame. Run by :func:`optimization.network.build_network`.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from data_contracts import schema
from data_contracts.network import bom_cycles
from optimization.campaign_network import CAMPAIGN_COLUMNS, check_campaign_resources
from optimization.network_cohorts import cohort_of, life_start
from optimization.timegrid import NEVER
from optimization.validation import check_allowed, check_known, check_monday, check_rule, check_unique

_P, _S, _R = schema.PRODUCTS, schema.SITES, schema.RESOURCES


def _products(df: pl.DataFrame, horizon: int, share: float, exponent: float) -> pl.DataFrame:
    e, key = _P.name, ["product_id"]
    check_unique(df, e, key)
    for col in ("unit_cost", "holding_cost_per_week", "backlog_penalty"):
        check_rule(
            df, e, col, pl.col(col) >= 0, "costs must be >= 0 (a negative cost makes the plan unbounded)", key
        )
    check_rule(
        df, e, "shelf_life_weeks", pl.col("shelf_life_weeks") >= 1, "shelf life must be >= 1 week", key
    )
    check_rule(df, e, "priority", pl.col("priority") >= 1, "priority must be >= 1", key)
    check_allowed(df, e, "shelf_life_from", key)
    check_rule(
        df,
        e,
        "service_level",
        pl.col("service_level").is_between(0, 1, closed="none"),
        "service level must be in (0, 1)",
        key,
    )
    cap = pl.max_horizontal(
        pl.lit(horizon), horizon - 2 + (share * pl.col("shelf_life_weeks")).ceil().cast(pl.Int64)
    )
    return df.with_columns(
        weight=pl.col("priority").cast(pl.Float64).pow(-exponent),
        cohort_cap=pl.when(pl.col("shelf_life_weeks").is_null())
        .then(pl.lit(horizon))
        .otherwise(cap)
        .cast(pl.Int64),
    )


def _bom(df: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.BOM.name, ["parent_id", "component_id"]
    check_unique(df, e, key)
    check_known(df, e, "parent_id", products["product_id"], "product", key)
    check_known(df, e, "component_id", products["product_id"], "product", key)
    check_rule(df, e, "quantity_per", pl.col("quantity_per") > 0, "quantity per parent must be > 0", key)
    check_rule(df, e, "scrap", pl.col("scrap").is_between(0, 1, closed="left"), "scrap must be in [0, 1)", key)
    cycles = bom_cycles(df)
    if cycles.height:
        first = cycles.get_column("cycle")[0]
        on_it = cycles.filter(pl.col("cycle") == first)
        check_rule(
            df,
            e,
            "component_id",
            ~pl.struct(key).is_in(on_it.select(pl.struct(key)).to_series().implode()),
            f"the bill of materials has a cycle {first} (an item cannot need itself)",
            key,
        )
    return df.with_columns(per_start=pl.col("quantity_per") / (1.0 - pl.col("scrap")))


def _storage(df: pl.DataFrame, sites: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.STORAGE.name, ["site_id", "family"]
    check_unique(df, e, key)
    check_known(df, e, "site_id", sites["site_id"], "site", key)
    check_known(df, e, "family", products["family"].unique(), "product family", key)
    check_rule(df, e, "capacity", pl.col("capacity") >= 0, "capacity must be >= 0", key)
    if "overflow_cost" not in df.columns:  # absent: every limit hard
        df = df.with_columns(overflow_cost=pl.lit(None, pl.Float64))
    check_rule(df, e, "overflow_cost", pl.col("overflow_cost").is_null() | (pl.col("overflow_cost") >= 0),
               "overflow_cost must be >= 0 (or empty: a hard limit)", key)
    return df.select(key + ["capacity", pl.col("overflow_cost").cast(pl.Float64)])


def _sites(df: pl.DataFrame) -> pl.DataFrame:
    check_unique(df, _S.name, ["site_id"])
    check_allowed(df, _S.name, "site_type", ["site_id"])
    return df.select("site_id", "site_type")


def _resources(df: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    e, key = _R.name, ["resource_id"]
    check_unique(df, e, key)
    check_known(df, e, "site_id", sites["site_id"], "site", key)
    plants = sites.filter(pl.col("site_type") == "plant")["site_id"]
    check_rule(
        df, e, "site_id", pl.col("site_id").is_in(plants.implode()), "a resource must be at a plant", key
    )
    check_rule(df, e, "hours_per_week", pl.col("hours_per_week") >= 0, "hours must be >= 0", key)
    check_campaign_resources(df)
    return df.select("resource_id", "site_id", "name", "hours_per_week", *CAMPAIGN_COLUMNS)


def _routings(df: pl.DataFrame, products: pl.DataFrame, resources: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.ROUTINGS.name, ["product_id", "resource_id"]
    check_unique(df, e, key)
    check_known(df, e, "product_id", products["product_id"], "product", key)
    check_known(df, e, "resource_id", resources["resource_id"], "resource", key)
    check_rule(df, e, "hours_per_unit", pl.col("hours_per_unit") >= 0, "must be >= 0", key)
    check_rule(df, e, "yield", (pl.col("yield") > 0) & (pl.col("yield") <= 1), "yield must be in (0, 1]", key)
    check_rule(df, e, "cost_per_unit", pl.col("cost_per_unit") >= 0, "costs must be >= 0", key)
    check_rule(df, e, "release_weeks", pl.col("release_weeks") >= 0, "must be >= 0", key)
    check_rule(df, e, "min_batch", pl.col("min_batch") >= 0, "must be >= 0", key)
    check_rule(df, e, "batch_size", pl.col("batch_size") > 0, "must be > 0", key)
    return df.join(resources.select("resource_id", "site_id"), on="resource_id", how="left", validate="m:1")


def _lanes(df: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.LANES.name, ["from_site", "to_site"]
    check_unique(df, e, key)
    check_known(df, e, "from_site", sites["site_id"], "site", key)
    check_known(df, e, "to_site", sites["site_id"], "site", key)
    check_rule(df, e, "to_site", pl.col("to_site") != pl.col("from_site"), "a lane must join two sites", key)
    check_rule(df, e, "lead_time_weeks", pl.col("lead_time_weeks") >= 0, "must be >= 0", key)
    check_rule(df, e, "cost_per_unit", pl.col("cost_per_unit") >= 0, "costs must be >= 0", key)
    check_rule(df, e, "capacity_per_week", pl.col("capacity_per_week") >= 0, "must be >= 0", key)
    return df.sort(key).with_row_index("lane").with_columns(pl.col("lane").cast(pl.Int64))


def _hours(
    calendar: pl.DataFrame, resources: pl.DataFrame, weeks: pl.DataFrame, to_t: pl.Expr
) -> pl.DataFrame:
    e, key = schema.CALENDAR.name, ["resource_id", "week"]
    check_unique(calendar, e, key)
    check_known(calendar, e, "resource_id", resources["resource_id"], "resource", key)
    check_monday(calendar, e, "week", key)
    check_rule(calendar, e, "hours_available", pl.col("hours_available") >= 0, "must be >= 0", key)
    override = calendar.select("resource_id", to_t.alias("t"), "hours_available")
    return (
        resources.select("resource_id", "hours_per_week")
        .join(weeks.select("t"), how="cross")
        .join(override, on=["resource_id", "t"], how="left", validate="1:1")
        .select("resource_id", "t", pl.coalesce("hours_available", "hours_per_week").alias("hours_available"))
    )


def _supply(
    inventory: pl.DataFrame,
    receipts: pl.DataFrame,
    products: pl.DataFrame,
    sites: pl.DataFrame,
    start: date,
    horizon: int,
    to_t: pl.Expr,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    e, key = schema.INVENTORY.name, ["product_id", "site_id", "lot_id"]
    check_unique(inventory, e, key)
    check_known(inventory, e, "product_id", products["product_id"], "product", key)
    check_known(inventory, e, "site_id", sites["site_id"], "site", key)
    check_rule(inventory, e, "quantity", pl.col("quantity") >= 0, "must be >= 0", key)
    check_allowed(inventory, e, "status", key)
    r, rkey = schema.RECEIPTS.name, ["product_id", "site_id", "week", "kind"]
    check_unique(receipts, r, rkey)
    check_known(receipts, r, "product_id", products["product_id"], "product", rkey)
    check_known(receipts, r, "site_id", sites["site_id"], "site", rkey)
    check_monday(receipts, r, "week", rkey)
    check_rule(receipts, r, "quantity", pl.col("quantity") >= 0, "must be >= 0", rkey)
    check_allowed(receipts, r, "kind", rkey)
    attrs = products.select("product_id", "shelf_life_weeks", "cohort_cap", "qc_lag_weeks", "shelf_life_from")
    last_usable = ((pl.col("expiry_date") - pl.lit(start)).dt.total_days() // 7 - 1).cast(pl.Int64)
    lots = inventory.join(attrs, on="product_id", how="left", validate="m:1").with_columns(
        t=pl.when(pl.col("status") == "released").then(0).otherwise(pl.col("qc_lag_weeks")).cast(pl.Int64),
        kind=pl.when(pl.col("status") == "released").then(pl.lit("opening")).otherwise(pl.lit("quarantine")),
        cohort=pl.when(pl.col("expiry_date").is_null() | (last_usable >= pl.col("cohort_cap")))
        .then(NEVER)
        .otherwise(last_usable),
    )
    expired = (
        lots.filter(
            pl.col("cohort") < pl.col("t")
        )  # past expiry before it can be used: written off in week 0
        .group_by("product_id", "site_id")
        .agg(pl.col("quantity").sum())
    )
    fresh = (
        receipts.join(attrs, on="product_id", how="left", validate="m:1")
        .with_columns(t=pl.max_horizontal(to_t, pl.lit(0)))  # overdue receipts arrive in week 0
        .with_columns(
            cohort=pl.max_horizontal(
                cohort_of(
                    pl.when(pl.col("kind") == "production")
                    .then(life_start(pl.col("t") - pl.col("qc_lag_weeks"), pl.col("t")))
                    .otherwise(pl.col("t"))
                ),
                pl.col("t"),
            )
        )
    )
    cols = ["product_id", "site_id", "t", "cohort", "kind", "quantity"]
    supply = (
        pl.concat([lots.filter(pl.col("cohort") >= pl.col("t")).select(cols), fresh.select(cols)])
        .filter(pl.col("t") < horizon)  # arriving after the horizon: outside the plan
        .group_by(cols[:-1])
        .agg(pl.col("quantity").sum())
        .sort(cols[:-1])
    )
    return supply, expired.sort("product_id", "site_id")
