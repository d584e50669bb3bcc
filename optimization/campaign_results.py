"""Campaigns of a solved plan: ``plan_campaigns``, the changeover hours per resource-week and the KPIs."""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["campaign_kpis", "campaigns_table", "changeover_hours", "is_changeover"]

RT = ["resource_id", "t"]


def changeover_hours(sol: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``resource_id, t, hours``: hours lost to changeovers per campaign resource-week (empty without)."""
    if "switch" not in sol:
        return pl.DataFrame(schema={"resource_id": pl.String, "t": pl.Int64, "hours": pl.Float64})
    parts = [
        sol["switch"].select(*RT, hours=pl.col("value") * pl.col("changeover_hours")),
        sol["pair"].select(*RT, hours=pl.col("value") * pl.col("d_hours")),
    ]
    return pl.concat(parts).group_by(RT).agg(pl.col("hours").sum()).sort(RT)


def is_changeover() -> pl.Expr:
    """The one definition of a changeover, over ``plan_campaigns`` rows: a campaign that follows another
    product's (``from_product_id``) or whose start cost hours or money (after idle weeks). The KPI
    ``changeovers`` and ``scenario compare``'s count per resource both count these rows
    (``warehouse.reads.comparison_frames`` writes it in SQL). The MIP's switch variables differ only where a
    switch is free (no hours, no cost): a planner sees no changeover there, and they are not counted."""
    return (pl.col("from_product_id").is_not_null() | (pl.col("changeover_hours") > 0)
            | (pl.col("changeover_cost") > 0))


def campaigns_table(sol: dict[str, pl.DataFrame], week_date) -> pl.DataFrame:
    """One row per campaign: consecutive weeks a resource is set up for one product.

    Args:
        sol: solution frames (``setup_for``, ``switch``, ``pair``, ``make`` with ``value``).
        week_date: expression maker turning a week index column into its Monday.

    Returns:
        ``plan_campaigns`` columns without ``run_id`` (empty without campaign resources).
    """
    cols = [c for c in schema.PLAN_CAMPAIGNS.column_names if c != "run_id"]
    if "setup_for" not in sol:
        return schema.PLAN_CAMPAIGNS.empty().select(cols)
    on = sol["setup_for"].filter(pl.col("value") > 0.5).select("product_id", "resource_id", "site_id", "t")
    prev = on.select("resource_id", pl.col("t") + 1, pl.col("product_id").alias("from_product_id"))
    runs = (
        on.join(prev, on=RT, how="left", validate="1:1")
        .sort(RT)
        .with_columns(new=pl.col("from_product_id").is_null() | (pl.col("from_product_id") != pl.col("product_id")))
        .with_columns(n=pl.col("new").cast(pl.Int64).cum_sum().over("resource_id", order_by="t"))
        .group_by("resource_id", "n")
        .agg(
            pl.col("product_id").first(),
            pl.col("site_id").first(),
            pl.col("from_product_id").first(),
            first_t=pl.col("t").min(),
            last_t=pl.col("t").max(),
        )
    )
    made = (
        runs.join(sol["make"].select("product_id", "resource_id", "t", "value", "batch_size"),
                  on=["product_id", "resource_id"])
        .filter(pl.col("t").is_between(pl.col("first_t"), pl.col("last_t")))
        .group_by("resource_id", "n")
        .agg(
            quantity=pl.col("value").sum(),
            batches=pl.when(pl.col("batch_size").is_not_null().all())
            .then((pl.col("value") / pl.col("batch_size")).round(6).sum()),
        )
    )
    start = sol["switch"].filter(pl.col("value") > 0.5).select(
        "product_id", "resource_id", pl.col("t").alias("first_t"), "changeover_hours", c0=pl.col("cost")
    )
    pair = sol["pair"].filter(pl.col("value") > 0.5).select(
        "resource_id", "from_product_id", pl.col("to_product_id").alias("product_id"), pl.col("t").alias("first_t"),
        "d_hours", d_cost=pl.col("cost"),
    )
    return (
        runs.join(made, on=["resource_id", "n"], how="left", validate="1:1")
        .join(start, on=["product_id", "resource_id", "first_t"], how="left", validate="1:1")
        .join(pair, on=["resource_id", "from_product_id", "product_id", "first_t"], how="left", validate="1:1")
        .with_columns(
            pl.col("quantity").fill_null(0.0),  # set up, nothing started
            pl.col("d_hours", "d_cost").fill_null(0.0),  # no named switch: the default changeover
        )
        .with_columns(
            changeover_hours=(pl.col("changeover_hours") + pl.col("d_hours")).fill_null(0.0),  # no switch
            changeover_cost=(pl.col("c0") + pl.col("d_cost")).fill_null(0.0),
            first_week=week_date("first_t"),
            last_week=week_date("last_t"),
            weeks=pl.col("last_t") - pl.col("first_t") + 1,
        )
        .sort("resource_id", "first_t")
        .select(cols)
    )


def campaign_kpis(
    sol: dict[str, pl.DataFrame], campaigns: pl.DataFrame, capacity: pl.DataFrame, campaign_resources: pl.Series
) -> list[tuple]:
    """``(kpi, value, unit)`` rows: campaigns, changeovers, changeover hours, campaign-resource utilisation."""
    if campaign_resources.len() == 0 or "switch" not in sol:
        return []
    util = capacity.filter(
        pl.col("resource_id").is_in(campaign_resources.implode()) & pl.col("utilisation").is_not_null()
    )
    rows = [
        ("campaigns", float(campaigns.height), "count"),
        ("changeovers", float(campaigns.filter(is_changeover()).height), "count"),
        ("changeover_hours", float(campaigns["changeover_hours"].sum()), "hours"),
    ]
    if util.height:
        rows.append(("utilisation_campaign_resources", float(util["utilisation"].mean()), "share"))
    return rows
