"""Checks across entities on the supply network: zero-lead-time lane cycles, demand no plant can reach.

Graphs are edge frames (``from_site``, ``to_site``); reachability is a transitive closure by repeated
joins until no new pair appears (networks have tens of sites, so a handful of joins).
"""

from __future__ import annotations

import polars as pl

__all__ = ["transitive_closure", "zero_lead_cycle_flags", "demand_reachability"]

_FROM, _TO = "from_site", "to_site"


def transitive_closure(edges: pl.DataFrame, src: str = _FROM, dst: str = _TO) -> pl.DataFrame:
    """Every pair (src, dst) joined by a path of one or more edges.

    Args:
        edges: Frame with string columns ``src`` and ``dst``; rows with a null end are ignored.
        src: Source column.
        dst: Destination column.

    Returns:
        Distinct pairs with columns ``src``, ``dst``.
    """
    base = edges.select(pl.col(src).cast(pl.String), pl.col(dst).cast(pl.String)).drop_nulls().unique()
    reach = base
    while True:
        step = reach.join(base.rename({src: "_mid", dst: "_next"}), left_on=dst, right_on="_mid").select(
            pl.col(src), pl.col("_next").alias(dst)
        )
        grown = pl.concat([reach, step]).unique()
        if grown.height == reach.height:
            return reach
        reach = grown


def zero_lead_cycle_flags(lanes: pl.DataFrame) -> pl.Series:
    """True for each lane (between two different sites) on a cycle of lanes that all have zero lead time.

    Such a cycle lets stock circle within one week; self-loops are a separate rule.

    Args:
        lanes: Typed lanes frame (``from_site``, ``to_site``, ``lead_time_weeks``).

    Returns:
        Boolean series aligned with ``lanes``.
    """
    zero = lanes.filter((pl.col("lead_time_weeks") == 0) & (pl.col(_FROM) != pl.col(_TO)))
    back = transitive_closure(zero).select(
        pl.col(_TO).alias(_FROM), pl.col(_FROM).alias(_TO), pl.lit(True).alias("_cycle")
    )
    flagged = lanes.select(_FROM, _TO, "lead_time_weeks").join(
        back, on=[_FROM, _TO], how="left", maintain_order="left"
    )
    return flagged.select(
        (
            pl.col("_cycle").fill_null(False)
            & (pl.col("lead_time_weeks") == 0)
            & (pl.col(_FROM) != pl.col(_TO))
        )
        .fill_null(False)
        .alias("zero_lead_cycle")
    ).to_series()


def demand_reachability(
    orders: pl.DataFrame, routings: pl.DataFrame, resources: pl.DataFrame, lanes: pl.DataFrame
) -> pl.DataFrame:
    """Each product × site with (not cancelled) orders and whether a plant making the product reaches it.

    A site is reached from a plant when it is the plant itself or a lane path leads there.

    Args:
        orders: Clean orders.
        routings: Clean routings.
        resources: Clean resources (their ``site_id`` is the plant).
        lanes: Clean lanes.

    Returns:
        Frame ``product_id, site_id, order_lines, reachable`` sorted by product and site.
    """
    makers = (
        routings.join(
            resources.select("resource_id", pl.col("site_id").alias("plant")), on="resource_id", how="inner"
        )
        .select("product_id", "plant")
        .unique()
    )
    sites = pl.concat(
        [
            lanes.select(pl.col(_FROM).alias("s")),
            lanes.select(pl.col(_TO).alias("s")),
            makers.select(pl.col("plant").alias("s")),
        ]
    ).unique()
    paths = pl.concat(
        [transitive_closure(lanes), sites.select(pl.col("s").alias(_FROM), pl.col("s").alias(_TO))]
    )
    reached = (
        makers.join(paths.unique(), left_on="plant", right_on=_FROM, how="inner")
        .select("product_id", pl.col(_TO).alias("site_id"), pl.lit(True).alias("reachable"))
        .unique()
    )
    demand = (
        orders.filter(pl.col("status") != "cancelled")
        .group_by("product_id", "site_id")
        .agg(pl.len().cast(pl.Int64).alias("order_lines"))
    )
    return (
        demand.join(reached, on=["product_id", "site_id"], how="left")
        .with_columns(pl.col("reachable").fill_null(False))
        .sort("product_id", "site_id")
    )
