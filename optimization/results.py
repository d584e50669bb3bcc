"""Turn a solved model into the plan tables (schema ``plan_*`` columns without ``run_id``).

Values below :data:`TOL` are treated as zero and dropped from the sparse tables (production,
shipments, expiry); the dense tables (inventory, backlog, capacity) carry every key and week.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from optimization.campaign_results import campaigns_table, changeover_hours
from optimization.model import COST_COMPONENTS, Model

__all__ = ["TOL", "cost_components", "empty_tables", "plan_tables", "solution_frames", "with_price_range"]

TOL = 1e-7
PST = ["product_id", "site_id", "t"]


def _out(table: schema.Table, frame: pl.DataFrame) -> pl.DataFrame:
    """The table's columns in order, cast; solver round-off below :data:`TOL` (and ``-0.0``) is ``0.0``."""
    cols = [c for c in table.column_names if c != "run_id"]
    return frame.select(pl.col(c).cast(table.columns[c]) for c in cols).with_columns(
        pl.when(pl.col(c).abs() < TOL).then(0.0).otherwise(pl.col(c)).alias(c)
        for c in cols
        if table.columns[c] == pl.Float64
    )


def empty_tables() -> dict[str, pl.DataFrame]:
    """Every plan table, empty (for a model without a solution)."""
    return {t: _out(schema.table(t), schema.table(t).empty()) for t in schema.PLAN_TABLES}


def solution_frames(model: Model) -> dict[str, pl.DataFrame]:
    """Every variable family's index frame with its solution ``value`` (tiny negatives clipped to 0)."""
    return {
        name: model.builder.values(frame).with_columns(
            pl.col("value").fill_null(0.0).clip(lower_bound=0.0) + 0.0
        )
        for name, frame in model.frames.items()
    }


def cost_components(model: Model, sol: dict[str, pl.DataFrame]) -> dict[str, float]:
    """Cost per component (``cost_production`` …) = sum(cost × value) of its variable family."""
    from optimization.model import sunk_write_off

    out = {kpi: 0.0 for kpi in COST_COMPONENTS.values()}
    for family, kpi in COST_COMPONENTS.items():
        if family in sol:
            out[kpi] += float(sol[family].select((pl.col("cost") * pl.col("value")).sum()).item() or 0.0)
    if "switch" not in sol:  # no campaign resource: no changeover component
        del out["cost_changeover"]
    if "overflow" not in sol:  # no soft storage limit: no overflow component
        del out["cost_storage_overflow"]
    out["cost_expiry"] += sunk_write_off(model.network)
    out["cost_total"] = sum(out.values())
    return out


def plan_tables(
    model: Model, sol: dict[str, pl.DataFrame], duals: dict[str, pl.DataFrame]
) -> dict[str, pl.DataFrame]:
    """Production, shipments, inventory, backlog, expiry and capacity tables of a solved model."""
    net = model.network
    date = net.week_date
    make = sol["make"].filter(pl.col("value") > TOL)
    production = make.with_columns(
        week=date("t"),
        release_week=date("t") + pl.duration(weeks=pl.col("release_weeks")),
        quantity=pl.col("value"),
        released_quantity=pl.col("value") * pl.col("yield"),
        batches=pl.col("value") / pl.col("batch_size"),
        hours=pl.col("value") * pl.col("hours_per_unit"),
        cost=pl.col("value") * pl.col("cost_per_unit"),
    ).sort("product_id", "resource_id", "t")
    ship = sol["ship"].filter(pl.col("value") > TOL)
    shipments = (
        ship.group_by("product_id", "from_site", "to_site", "t", "lead_time_weeks")
        .agg(quantity=pl.col("value").sum(), cost=(pl.col("value") * pl.col("cost")).sum())
        .with_columns(week=date("t"), arrival_week=date("t") + pl.duration(weeks=pl.col("lead_time_weeks")))
        .sort("product_id", "from_site", "to_site", "t")
    )
    return {
        schema.PLAN_PRODUCTION.name: _out(schema.PLAN_PRODUCTION, production),
        schema.PLAN_SHIPMENTS.name: _out(schema.PLAN_SHIPMENTS, shipments),
        schema.PLAN_INVENTORY.name: _out(schema.PLAN_INVENTORY, inventory_table(model, sol)),
        schema.PLAN_BACKLOG.name: _out(schema.PLAN_BACKLOG, backlog_table(model, sol)),
        schema.PLAN_EXPIRY.name: _out(schema.PLAN_EXPIRY, expiry_table(model, sol)),
        schema.PLAN_CAPACITY.name: _out(
            schema.PLAN_CAPACITY, capacity_table(model, sol, duals.get("capacity"))
        ),
        schema.PLAN_CAMPAIGNS.name: _out(schema.PLAN_CAMPAIGNS, campaigns_table(sol, net.week_date)),
    }


def _sum_by(
    frame: pl.DataFrame, keys: dict[str, str], name: str, value: pl.Expr | None = None
) -> pl.DataFrame:
    v = pl.col("value") if value is None else value
    return frame.group_by([pl.col(src).alias(dst) for dst, src in keys.items()]).agg(v.sum().alias(name))


def inventory_table(model: Model, sol: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Stock balance per product × site × week (every week of every product × site that can hold stock)."""
    net = model.network
    k = {c: c for c in PST}
    supply = net.supply
    lots = pl.concat(
        [
            supply.filter(pl.col("kind") == "opening").select(*PST, "quantity"),
            net.expired_on_hand.select("product_id", "site_id", pl.lit(0, pl.Int64).alias("t"), "quantity"),
        ]
    )
    parts = [
        _sum_by(lots, k, "opening_lots", pl.col("quantity")),
        _sum_by(
            model.releases.filter(pl.col("cohort").is_not_null()).join(
                sol["make"].select("col", "value"), on="col", validate="m:1"
            ),
            {**k, "t": "release_t"},
            "released",
            pl.col("value") * pl.col("yield") * pl.col("share"),
        ),
        _sum_by(supply.filter(pl.col("kind") != "opening"), k, "receipts", pl.col("quantity")),
        _sum_by(
            model.arrivals.join(sol["ship"].select("col", "value"), on="col", validate="m:1"),
            {**k, "site_id": "to_site", "t": "arrival"},
            "arrivals",
            pl.col("value") * pl.col("share"),
        ),
        _sum_by(sol["ship"], {**k, "site_id": "from_site"}, "departures"),
        _sum_by(sol["served"], k, "served"),
        _sum_by(sol["consume"], k, "consumed") if "consume" in sol else pl.DataFrame(
            schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64, "consumed": pl.Float64}
        ),
        _sum_by(
            pl.concat(
                [
                    sol["expired"].select(*PST, "value"),
                    net.expired_on_hand.select(
                        "product_id",
                        "site_id",
                        pl.lit(0, pl.Int64).alias("t"),
                        pl.col("quantity").alias("value"),
                    ),
                ]
            ),
            k,
            "expired",
        ),
        _sum_by(sol["stock"], k, "closing"),
        model.safety.select(*PST, "safety_stock"),
        sol["shortfall"].select(*PST, pl.col("value").alias("safety_shortfall")),
    ]
    pairs = pl.concat([p.select("product_id", "site_id") for p in parts]).unique()
    frame = pairs.join(net.weeks, how="cross")
    for part in parts:
        frame = frame.join(part, on=PST, how="left", validate="1:1")
    value_cols = [
        "opening_lots",
        "released",
        "receipts",
        "arrivals",
        "departures",
        "served",
        "consumed",
        "expired",
        "closing",
        "safety_stock",
        "safety_shortfall",
    ]
    return (
        frame.with_columns(pl.col(value_cols).fill_null(0.0))  # no flow of that kind that week
        .sort(PST)
        .with_columns(
            opening=pl.col("closing").shift(1).over("product_id", "site_id", order_by="t").fill_null(0.0)
            + pl.col("opening_lots")
        )
    )


def backlog_table(model: Model, sol: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Demand, served, backlog and lost per product × demand site × week (from its first demand week)."""
    k = {c: c for c in PST}
    frame = sol["backlog"].select(*PST, pl.col("value").alias("backlog"))
    frame = frame.join(
        model.demand.select(*PST, pl.col("quantity").alias("demand")), on=PST, how="left", validate="1:1"
    ).join(_sum_by(sol["served"], k, "served"), on=PST, how="left", validate="1:1")
    if "lost" in sol:
        frame = frame.join(
            sol["lost"].select(*PST, pl.col("value").alias("lost")), on=PST, how="left", validate="1:1"
        )
    else:
        frame = frame.with_columns(lost=pl.lit(0.0))
    return frame.with_columns(
        pl.col("demand", "served", "lost").fill_null(0.0),  # no demand row / nothing served that week
        week=model.network.week_date("t"),
    ).sort(PST)


def expiry_table(model: Model, sol: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Units written off per product × site × week, with the write-off at unit cost."""
    net = model.network
    on_hand = net.expired_on_hand.select(
        "product_id", "site_id", pl.lit(0, pl.Int64).alias("t"), pl.col("quantity").alias("value")
    )
    frame = pl.concat([sol["expired"].filter(pl.col("value") > TOL).select(*PST, "value"), on_hand])
    return (
        _sum_by(frame, {c: c for c in PST}, "quantity")
        .join(net.products.select("product_id", "unit_cost"), on="product_id", validate="m:1")
        .with_columns(cost=pl.col("quantity") * pl.col("unit_cost"), week=net.week_date("t"))
        .sort(PST)
    )


def capacity_table(model: Model, sol: dict[str, pl.DataFrame], duals: pl.DataFrame | None) -> pl.DataFrame:
    """Hours used and available per resource × week; shadow price = objective saved per extra hour."""
    net = model.network
    used = _sum_by(
        pl.concat(
            [
                sol["make"].select("resource_id", "t", hours=pl.col("value") * pl.col("hours_per_unit")),
                changeover_hours(sol),  # campaign resources lose hours to changeovers
            ]
        ),
        {"resource_id": "resource_id", "t": "t"},
        "hours_used",
        pl.col("hours"),
    )
    frame = (
        net.hours.join(net.resources.select("resource_id", "site_id"), on="resource_id", validate="m:1")
        .join(used, on=["resource_id", "t"], how="left", validate="1:1")
        .with_columns(pl.col("hours_used").fill_null(0.0))  # no routing on the resource: no hours used
    )
    if duals is not None and duals.height and "pi" in duals.columns:
        # HiGHS reports d(objective)/d(rhs) for a minimisation: <= 0 on a binding <= row.
        frame = frame.join(
            duals.select("resource_id", "t", shadow_price=-pl.col("pi")),
            on=["resource_id", "t"],
            how="left",
            validate="1:1",
        )
    else:
        frame = frame.with_columns(shadow_price=pl.lit(None, pl.Float64))
    return frame.with_columns(
        utilisation=pl.when(pl.col("hours_available") > 0).then(
            pl.col("hours_used") / pl.col("hours_available")
        ),
        shadow_price=pl.col("shadow_price").clip(lower_bound=0.0) + 0.0,
        price_hour_more=pl.lit(None, pl.Float64),
        price_hour_less=pl.lit(None, pl.Float64),
        week=net.week_date("t"),
    ).sort("resource_id", "t")


def with_price_range(net, capacity: pl.DataFrame, measured: list[pl.DataFrame]) -> pl.DataFrame:
    """The capacity table with the re-solved worth of an hour more / less where it was measured."""
    if not measured or all(m.height == 0 for m in measured):
        return capacity
    ranges = pl.concat(measured).unique(["resource_id", "t"]).select(
        "resource_id",
        net.week_date("t").alias("week"),
        pl.col("price_low").alias("more"),
        pl.col("price_high").alias("less"),
    )
    return (
        capacity.join(ranges, on=["resource_id", "week"], how="left", validate="1:1")
        .with_columns(
            price_hour_more=pl.coalesce("more", "price_hour_more"),
            price_hour_less=pl.coalesce("less", "price_hour_less"),
        )
        .select(capacity.columns)
    )
