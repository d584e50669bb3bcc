"""Shortages explained through the bill of materials: which components could still have fed a short
product's production in time, and which could not be made in time at all and ran out.

A fill line idle while its drug substance waits for the bioreactor is not the fill line's fault: the
bioreactor's week, found among these components' routings (:func:`through_bom`), is what
:mod:`optimization.shortage_capacity` and :mod:`optimization.shortage_campaigns` name. A component none of
whose routings could make it in time (none, or too long a release lag) is served by its stock alone;
:func:`ran_out` names it where that stock was gone.
"""

from __future__ import annotations

import polars as pl

from optimization.network import Network
from optimization.shortage_rows import PST

__all__ = ["ran_out", "through_bom"]


def through_bom(net: Network, own: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The shortages' components, level by level down the bill of materials, each with the window of start
    weeks that could still have fed the parent's latest start in time and the units to start per unit short.

    A component made at plant ``c`` for a parent started at plant ``p`` in week ``hi_p`` at the latest must
    start by ``hi_p − release_weeks − transit(c → p)``, and (shelf life from manufacture) no earlier than
    ``hi_p − release_weeks − shelf_life + 1``. Per unit of the parent started it takes ``per_start`` units,
    ``per_start / yield`` started.

    Args:
        own: the shortages' own routing rows (``PST, short, item, plant, hi, q``).

    Returns:
        ``(found, stuck)``: the components' routing rows that could have served in time, and the
        components none of whose routings could (none, or too slow) — ``PST, component_id, via,
        parent_plant, parent_hi``: only their stock at the parent's plant could feed it.
    """
    none = pl.DataFrame(schema={**{c: own.schema[c] for c in PST}, "component_id": pl.String,
                                "via": pl.String, "parent_plant": pl.String, "parent_hi": pl.Int64,
                                "in_time": pl.Boolean})
    if net.bom.height == 0 or own.height == 0:
        return own.clear(), none
    routings = net.routings.select(
        pl.col("product_id").alias("component_id"), "resource_id", pl.col("site_id").alias("plant"),
        "release_weeks", "hours_per_unit", "yield",
    )
    life = net.products.select(pl.col("product_id").alias("component_id"), "shelf_life_weeks")
    found, stuck, level = [], [], own
    for _ in range(net.bom.height):  # at most as many levels as rows (cycles are refused)
        level = _components(net, level, routings, life)
        stuck.append(level.group_by(*PST, "component_id", "via", "parent_plant", "parent_hi")
                     .agg(pl.col("in_time").fill_null(False).any()).filter(~pl.col("in_time")))
        level = level.filter(pl.col("in_time").fill_null(False)).drop("in_time")
        if level.height == 0:
            break
        found.append(level)
    return (pl.concat(found, how="diagonal_relaxed") if found else own.clear()), pl.concat([none, *stuck])


def ran_out(net: Network, stuck: pl.DataFrame, inventory: pl.DataFrame | None) -> pl.DataFrame:
    """For each shortage, a component that could not be made in time for it and had no stock left at the
    parent's plant at the end of the parent's latest start week (the first by name, then by path)."""
    out = {**{c: stuck.schema[c] for c in PST}, "out_component": pl.String, "out_via": pl.String,
           "out_plant": pl.String, "out_week": pl.Date}
    if inventory is None or stuck.height == 0:
        return pl.DataFrame(schema=out)
    closing = inventory.select(
        pl.col("product_id").alias("component_id"), pl.col("site_id").alias("parent_plant"),
        net.week_index().alias("parent_hi"), "closing",
    )
    return (
        stuck.join(closing, on=["component_id", "parent_plant", "parent_hi"], how="left", validate="m:1")
        .filter(pl.col("closing").fill_null(0.0) <= 1e-6)  # never held there: none
        .sort(*PST, "component_id", "via", maintain_order=True)
        .group_by(PST)
        .first()
        .select(*PST, out_component="component_id", out_via="via", out_plant="parent_plant",
                out_week=net.week_date("parent_hi"))
    )


def _components(net: Network, level: pl.DataFrame, routings: pl.DataFrame,
                life: pl.DataFrame) -> pl.DataFrame:
    """One level down the bill of materials: each row's components on each of their routings (a component
    without one: a row with null routing columns), with the window ``[lo, hi]`` of start weeks that could
    still feed the parent's latest start ``parent_hi``, the units to start per unit short ``q``, the items
    between the product and the component ``via``, and ``in_time``: whether the window holds a week.

    Args:
        level: the parents' rows (``PST, short, item, via, plant, hi, q``).
        routings: the routings as components' (``component_id, resource_id, plant, release_weeks, ...``).
        life: ``component_id, shelf_life_weeks``.
    """
    return (
        level.select(*PST, "short", "item", "via", pl.col("plant").alias("parent_plant"),
                     pl.col("hi").alias("parent_hi"), pl.col("q").alias("parent_q"))
        .join(net.bom.select(pl.col("parent_id").alias("item"), "component_id", "per_start"), on="item")
        .join(routings, on="component_id", how="left")  # a component without a routing: stock only
        .join(net.transit_weeks, left_on=["plant", "parent_plant"], right_on=["from_site", "to_site"],
              how="left")
        .join(life, on="component_id", validate="m:1")
        .with_columns(
            hi=pl.col("parent_hi") - pl.col("release_weeks") - pl.col("weeks"),
            lo=pl.max_horizontal(
                pl.lit(0),
                (pl.col("parent_hi") - pl.col("release_weeks") - pl.col("shelf_life_weeks") + 1)
                .fill_null(0),
            ).cast(pl.Int64),
            q=pl.col("parent_q") * pl.col("per_start") / pl.col("yield"),
        )
        .with_columns(
            # the items between the product and this component, for the reason's text
            via=pl.when(pl.col("item") == pl.col("product_id")).then(pl.lit(""))
            .when(pl.col("via") == "").then(pl.col("item"))
            .otherwise(pl.concat_str(pl.col("via"), pl.lit(" → "), pl.col("item"))),
            item=pl.col("component_id"),
            # no routing, no lane from its plant, or too little time: none can be made for the parent
            in_time=(pl.col("hi") >= 0) & (pl.col("lo") <= pl.col("hi")),
        )
    )
