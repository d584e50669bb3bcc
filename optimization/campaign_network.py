"""Campaign inputs checked and resolved for the planning network.

A campaign-run resource (``resources.campaign``) is set up for at most one product a week. Starting a
campaign costs the resource's ``changeover_hours`` (capacity lost in the week it starts) and
``changeover_cost``, unless the optional ``changeovers`` entity names the switch: a row for the
resource, or for every campaign resource of its site (a resource's own row wins over its site's).
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from optimization.validation import check_known, check_rule, check_unique

__all__ = ["CAMPAIGN_COLUMNS", "check_campaign_resources", "resolve_changeovers"]

#: The resources' campaign columns the network keeps.
CAMPAIGN_COLUMNS = ("campaign", "changeover_hours", "changeover_cost", "min_campaign_weeks", "max_campaign_weeks")

_R, _C = schema.RESOURCES, schema.CHANGEOVERS


def check_campaign_resources(resources: pl.DataFrame) -> None:
    """Refuse negative changeovers and campaign lengths that cannot hold (min < 1, max < min).

    Raises:
        PlanInputError: naming the column, the rule and the resources.
    """
    e, key = _R.name, ["resource_id"]
    check_rule(resources, e, "changeover_hours", pl.col("changeover_hours") >= 0, "must be >= 0", key)
    check_rule(resources, e, "changeover_cost", pl.col("changeover_cost") >= 0, "costs must be >= 0", key)
    check_rule(resources, e, "min_campaign_weeks", pl.col("min_campaign_weeks") >= 1, "must be >= 1", key)
    check_rule(
        resources,
        e,
        "max_campaign_weeks",
        pl.col("max_campaign_weeks") >= pl.col("min_campaign_weeks"),
        "min_campaign_weeks is above max_campaign_weeks",
        key,
    )


def resolve_changeovers(
    changeovers: pl.DataFrame, resources: pl.DataFrame, products: pl.DataFrame, sites: pl.DataFrame
) -> pl.DataFrame:
    """The sequence-dependent changeovers per campaign resource.

    Args:
        changeovers: the ``changeovers`` entity (resource or site rows).
        resources: ``resource_id, site_id, campaign`` of every resource.
        products: ``product_id`` of every product.
        sites: ``site_id`` of every site.

    Returns:
        ``resource_id, from_product_id, to_product_id, hours, cost``: one row per campaign resource and
        named switch (site rows spread to the site's campaign resources; a resource's own row wins).

    Raises:
        PlanInputError: an unknown resource, site or product; both or neither of resource and site; a
            switch from a product to itself; negative hours or cost; a row naming a resource that is not
            campaign-run; a duplicate switch.
    """
    e, key = _C.name, list(_C.key)
    check_known(changeovers, e, "resource_id", resources["resource_id"], "resource", key)
    check_known(changeovers, e, "site_id", sites["site_id"], "site", key)
    for col in ("from_product_id", "to_product_id"):
        check_known(changeovers, e, col, products["product_id"], "product", key)
    check_rule(
        changeovers,
        e,
        "resource_id",
        pl.col("resource_id").is_null() != pl.col("site_id").is_null(),
        "give exactly one of resource_id and site_id",
        key,
    )
    check_rule(
        changeovers,
        e,
        "to_product_id",
        pl.col("to_product_id") != pl.col("from_product_id"),
        "a changeover switches between two products",
        key,
    )
    check_rule(changeovers, e, "hours", pl.col("hours") >= 0, "must be >= 0", key)
    check_rule(changeovers, e, "cost", pl.col("cost") >= 0, "costs must be >= 0", key)
    check_unique(changeovers, e, key)
    campaign = resources.filter(pl.col("campaign"))["resource_id"]
    check_rule(
        changeovers,
        e,
        "resource_id",
        pl.col("resource_id").is_null() | pl.col("resource_id").is_in(campaign.implode()),
        "the resource is not campaign-run (resources.campaign)",
        key,
    )
    pair = ["from_product_id", "to_product_id"]
    own = changeovers.filter(pl.col("resource_id").is_not_null()).select("resource_id", *pair, "hours", "cost")
    by_site = (
        changeovers.filter(pl.col("site_id").is_not_null())
        .join(resources.filter(pl.col("campaign")).select("resource_id", "site_id"), on="site_id")
        .select("resource_id", *pair, "hours", "cost")
        .join(own, on=["resource_id", *pair], how="anti")  # the resource's own row wins
    )
    return pl.concat([own, by_site]).sort("resource_id", *pair)
