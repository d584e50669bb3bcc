"""Checks across entities on the supply network: zero-lead-time lane cycles, demand no plant can reach,
cycles of the bill of materials (named by their path).

Graphs are edge frames (``from_site``, ``to_site``); reachability is a transitive closure by repeated
joins until no new pair appears (networks have tens of sites, so a handful of joins).
"""

from __future__ import annotations

import polars as pl

__all__ = ["bom_cycles", "transitive_closure", "zero_lead_cycle_flags", "demand_reachability"]

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
        orders: Clean orders (or counts of them per product, site and status in a column ``order_lines``).
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
        # orders already counted per product, site and status (rows kept in the warehouse) carry ``order_lines``
        .agg((pl.col("order_lines").sum() if "order_lines" in orders.columns else pl.len()).cast(pl.Int64)
             .alias("order_lines"))
    )
    return (
        demand.join(reached, on=["product_id", "site_id"], how="left")
        .with_columns(pl.col("reachable").fill_null(False))
        .sort("product_id", "site_id")
    )


def _shortest_paths(edges: pl.DataFrame) -> pl.DataFrame:
    """One shortest path (fewest edges; ties broken by the path's text) between every connected pair.

    Breadth first by joins: each round extends the pairs reached last round by one edge and keeps the
    pairs not reached before. Returns ``start, end, path`` (``path`` lists the nodes from start to end).
    """
    reached = edges.select(
        pl.col(_FROM).alias("start"), pl.col(_TO).alias("end"), pl.concat_list(_FROM, _TO).alias("path")
    ).unique(["start", "end"], keep="first", maintain_order=True)
    frontier = reached
    while frontier.height:
        step = (
            frontier.join(edges, left_on="end", right_on=_FROM)
            .select("start", pl.col(_TO).alias("end"), pl.col("path").list.concat(pl.concat_list(_TO)))
            .join(reached.select("start", "end"), on=["start", "end"], how="anti")
            .sort("start", "end", pl.col("path").list.join("\x1f"))
            .unique(["start", "end"], keep="first", maintain_order=True)
        )
        reached = pl.concat([reached, step])
        frontier = step
    return reached


def _canonical(nodes: list[str]) -> str:
    """A cycle's text starting at its smallest node: ``A → B → C → A`` (the same cycle, the same text)."""
    k = nodes.index(min(nodes))
    turn = nodes[k:] + nodes[:k]
    return " → ".join([*turn, turn[0]])


def bom_cycles(bom: pl.DataFrame, parent: str = "parent_id", component: str = "component_id") -> pl.DataFrame:
    """Every bill-of-materials row on a cycle (an item that, through its components, needs itself), with
    the cycle it closes, e.g. ``A → B → C → A``.

    A row ``parent → component`` lies on a cycle when the component leads back to the parent (a row whose
    component is its own parent is the cycle ``A → A``); its cycle is the row plus one shortest way back.

    Args:
        bom: Frame with string columns ``parent`` and ``component``; rows with a null end are ignored.

    Returns:
        ``parent, component, cycle`` of the rows on a cycle, sorted by cycle then parent.
    """
    edges = (
        bom.select(pl.col(parent).cast(pl.String).alias(_FROM), pl.col(component).cast(pl.String).alias(_TO))
        .drop_nulls()
        .unique(maintain_order=True)
    )
    back = _shortest_paths(edges).rename({"start": _TO, "end": _FROM})  # component → … → parent
    on_cycle = pl.concat(
        [
            edges.filter(pl.col(_FROM) == pl.col(_TO)).with_columns(path=pl.concat_list(_TO)),
            edges.filter(pl.col(_FROM) != pl.col(_TO)).join(back, on=[_FROM, _TO], how="inner"),
        ]
    )
    # error text for a handful of rows: formatted in Python, the finding above is frame work
    nodes = on_cycle.select(pl.col("path").list.head(pl.col("path").list.len() - 1).alias("n"), _FROM)
    cycles = [_canonical([p, *n]) if n else f"{p} → {p}" for n, p in nodes.iter_rows()]
    return (
        on_cycle.select(pl.col(_FROM).alias(parent), pl.col(_TO).alias(component))
        .with_columns(pl.Series("cycle", cycles, dtype=pl.String))
        .sort("cycle", parent, component)
    )
