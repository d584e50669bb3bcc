"""Shortages explained by campaigns: no full resource is to blame, but a campaign resource that could have
made the product (or, through the bill of materials, one of its components) in time was set up for another
product.

The reason then turns on the campaign that held the resource (:mod:`optimization.shortage_reasons`): at its
minimum length it could not switch sooner (``campaign_length``); longer, switching would have cost a
changeover that serving the shortage does not repay (``changeover``), whose hours and cost are the
changeovers table's switch where it names one, else the resource's default.
"""

from __future__ import annotations

import polars as pl

from optimization.network import Network
from optimization.shortage_rows import PST, weeks_from_start

__all__ = ["campaign_candidates"]


def campaign_candidates(
    net: Network, short: pl.DataFrame, campaigns: pl.DataFrame | None, through: pl.DataFrame | None = None
) -> pl.DataFrame:
    """For each shortage, a campaign of another product on a campaign resource that held the resource in a
    week that could have made it, or one of its components (``through``:
    :func:`optimization.shortage_bom.through_bom`'s rows), in time (within its shelf life): the longest such
    campaign, with whether it was at its minimum length (and not the plan's first campaign, which may be
    shorter) and the component it kept from being made."""
    out_schema = {**{c: short.schema[c] for c in PST}, "camp_resource": pl.String, "camp_product": pl.String,
                  "camp_first": pl.Date, "camp_last": pl.Date, "camp_weeks": pl.Int64, "at_min": pl.Boolean,
                  "co_hours": pl.Float64, "co_cost": pl.Float64, "camp_component": pl.String,
                  "camp_via": pl.String}
    if campaigns is None or campaigns.height == 0:
        return pl.DataFrame(schema=out_schema)
    res = net.resources.filter(pl.col("campaign")).select(
        "resource_id", "changeover_hours", "changeover_cost", "min_campaign_weeks"
    )
    parts = [_own_windows(net, short, res)]
    named = net.changeovers.select("resource_id", camp_product="from_product_id", made="to_product_id",
                                   named_hours="hours", named_cost="cost")
    # a sold item whose component (drug substance) waits for the suite: the component's windows
    if through is not None and through.height:
        parts.append(through.select(*PST, "resource_id", "lo", "hi", made=pl.col("component_id"),
                                    camp_component=pl.col("component_id"), camp_via=pl.col("via")))
    return (
        pl.concat(parts, how="vertical_relaxed")
        .join(res, on="resource_id")
        .join(_runs(net, campaigns), on="resource_id")
        .filter((pl.col("camp_product") != pl.col("made")) & (pl.col("f") <= pl.col("hi")))
        .filter(pl.col("l") >= pl.col("lo"))  # held the resource in a week that could have served in time
        .join(named, on=["resource_id", "camp_product", "made"], how="left")  # the changeovers table's switch
        # the longest campaign; a tie goes to the first by resource, product, start and item served
        .sort("camp_weeks", "resource_id", "camp_product", "camp_first", "made",
              descending=[True, False, False, False, False], maintain_order=True)
        .group_by(PST)
        .first()
        .select(
            *PST,
            pl.col("resource_id").alias("camp_resource"),
            "camp_product",
            "camp_first",
            "camp_last",
            "camp_weeks",
            at_min=(pl.col("camp_weeks") <= pl.col("min_campaign_weeks"))
            & (pl.col("min_campaign_weeks") > 1)
            & (pl.col("f") > 0),
            co_hours=pl.coalesce("named_hours", "changeover_hours"),
            co_cost=pl.coalesce("named_cost", "changeover_cost"),
            camp_component="camp_component",
            camp_via="camp_via",
        )
    )


def _runs(net: Network, campaigns: pl.DataFrame) -> pl.DataFrame:
    """The plan's campaigns, with their first and last week as week indexes ``f`` and ``l``."""
    return campaigns.select(
        "resource_id",
        pl.col("product_id").alias("camp_product"),
        pl.col("first_week").alias("camp_first"),
        pl.col("last_week").alias("camp_last"),
        pl.col("weeks").alias("camp_weeks"),
        f=weeks_from_start(net, "first_week"),
        l=weeks_from_start(net, "last_week"),
    )


def _own_windows(net: Network, short: pl.DataFrame, res: pl.DataFrame) -> pl.DataFrame:
    """Each shortage's own routings on a campaign resource (``res``), with the window ``[lo, hi]`` of start
    weeks that could have served it: released and shipped by its week, within its shelf life."""
    return (
        short.select(PST)
        .join(net.routings.select("product_id", "resource_id", pl.col("site_id").alias("plant"), "release_weeks"),
              on="product_id")
        .join(res.select("resource_id"), on="resource_id")
        .join(net.transit_weeks, left_on=["plant", "site_id"], right_on=["from_site", "to_site"])
        .join(net.products.select("product_id", "shelf_life_weeks"), on="product_id", validate="m:1")
        .with_columns(hi=pl.col("t") - pl.col("release_weeks") - pl.col("weeks"))
        .with_columns(lo=(pl.col("hi") - pl.col("shelf_life_weeks") + 1).fill_null(0))
        .filter(pl.col("hi") >= 0)
        .select(*PST, "resource_id", "lo", "hi", made=pl.col("product_id"),
                camp_component=pl.lit(None, pl.String), camp_via=pl.lit("", pl.String))
    )
