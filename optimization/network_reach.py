"""How far stock reaches: the shortest transit between sites, and the earliest week a cohort can be at each.

:func:`_transit_weeks` is the shortest lead time between every pair of connected sites (the network's
``transit_weeks``; the terminal condition takes the same rule); :func:`_presence` is the earliest week each
stock cohort can be at each site, seeded by supply and releases and spread by lanes under the cohort rules
(:mod:`optimization.network_cohorts`). Run by :func:`optimization.network.build_network` and
:func:`~optimization.network.on_grid`.
"""

from __future__ import annotations

import polars as pl

from optimization.network_cohorts import arrive_by, releases
from optimization.timegrid import WEEKLY, TimeGrid


def _transit_weeks(sites: pl.DataFrame, lanes: pl.DataFrame) -> pl.DataFrame:
    """Shortest lead time between every pair of connected sites (Bellman-Ford by joins)."""
    dist = sites.select(
        pl.col("site_id").alias("from_site"),
        pl.col("site_id").alias("to_site"),
        pl.lit(0, pl.Int64).alias("weeks"),
    )
    step = lanes.select(pl.col("from_site").alias("via"), "to_site", pl.col("lead_time_weeks").alias("lt"))
    for _ in range(sites.height):
        longer = dist.join(step, left_on="to_site", right_on="via").select(
            "from_site",
            pl.col("to_site_right").alias("to_site"),
            (pl.col("weeks") + pl.col("lt")).alias("weeks"),
        )
        new = pl.concat([dist, longer]).group_by("from_site", "to_site").agg(pl.col("weeks").min())
        if new.height == dist.height and new["weeks"].sum() == dist["weeks"].sum():
            break
        dist = new
    return dist.sort("from_site", "to_site")


def _presence(
    products: pl.DataFrame,
    sites: pl.DataFrame,
    routings: pl.DataFrame,
    lanes: pl.DataFrame,
    supply: pl.DataFrame,
    horizon: int,
    share: float,
    grid: TimeGrid = WEEKLY,
) -> pl.DataFrame:
    """Earliest week each stock cohort can be at each site: seeded by supply and releases, spread by lanes.

    On a bucketed ``grid`` weeks are buckets and every lag lands where :class:`TimeGrid` rounds it.
    """
    attrs = products.select("product_id", "shelf_life_weeks", "cohort_cap", "shelf_life_from")
    starts = (
        routings.select("product_id", "site_id", "release_weeks")
        .join(pl.DataFrame({"t": range(horizon)}, schema={"t": pl.Int64}), how="cross")  # start bucket t
        .join(attrs, on="product_id", validate="m:1")
    )
    released = (  # expired before its release or released after the horizon (cohort null): never present
        releases(starts, grid, horizon, ["product_id", "site_id"])
        .filter(pl.col("cohort").is_not_null())
        .select("product_id", "site_id", pl.col("release_t").alias("t"), "cohort")
    )
    key = ["product_id", "site_id", "cohort"]
    seeds = pl.concat([supply.select(*key, "t"), released.select(*key, "t")])
    presence = seeds.group_by(key).agg(pl.col("t").min().alias("t_first"))
    hops = lanes.select("from_site", "to_site", "lead_time_weeks").join(
        sites.select(pl.col("site_id").alias("to_site"), "site_type"), on="to_site", validate="m:1"
    )
    for _ in range(sites.height):
        moved = (
            presence.join(hops, left_on="site_id", right_on="from_site")
            .join(attrs, on="product_id", validate="m:1")
            .with_columns(t_first=grid.containing(grid.first(pl.col("t_first")) + pl.col("lead_time_weeks")))
            .filter(pl.col("t_first") <= arrive_by(share, horizon))
            .select("product_id", pl.col("to_site").alias("site_id"), "cohort", "t_first")
        )
        new = pl.concat([presence, moved]).group_by(key).agg(pl.col("t_first").min())
        if new.height == presence.height and new["t_first"].sum() == presence["t_first"].sum():
            break
        presence = new
    return presence.sort(key)
