"""Shortages explained by full capacity: a resource-week (the product's own, or a component's through the
bill of materials) or a capacity-limited lane that was binding while it could still have served in time.

Binding means a positive shadow price (the capacity duals), or, without a dual, every hour used, or a
campaign resource's week whose free hours hold no whole batch (:func:`batch_full`). For a shortage in week
``t`` only the start weeks ``[lo, hi]`` count: late enough that the output is still usable (shelf life),
early enough to be released and shipped by ``t``. Of the binding weeks in that window the dearest is named.
"""

from __future__ import annotations

import polars as pl

from optimization.network import Network
from optimization.shortage_rows import PST

__all__ = ["batch_full", "capacity_candidates", "lane_candidates", "own_windows"]

#: a dual below this is no price
_EPS = 1e-9


def own_windows(net: Network, short: pl.DataFrame) -> pl.DataFrame:
    """Each shortage's own routings whose output could still reach the site in time, with the window
    ``[lo, hi]`` of start weeks that could serve it: released and shipped by its week ``t``, and (with a shelf
    life) not made so early that it expires first; ``q``: units started per unit short.

    Args:
        short: the shortage rows (:func:`optimization.shortage_rows.short_rows`).

    Returns:
        ``PST, short, resource_id, plant, release_weeks, hours_per_unit, yield, weeks, shelf_life_weeks,
        hi, lo, item, q, component_id, via``: the rows :func:`optimization.shortage_bom.through_bom` follows
        down the bill of materials (``item``: the product; no component, no items between).
    """
    return (
        short.select(*PST, "short")
        .join(
            net.routings.select(
                "product_id",
                "resource_id",
                pl.col("site_id").alias("plant"),
                "release_weeks",
                "hours_per_unit",
                "yield",
            ),
            on="product_id",
        )
        .join(net.transit_weeks, left_on=["plant", "site_id"], right_on=["from_site", "to_site"])
        .join(net.products.select("product_id", "shelf_life_weeks"), on="product_id", validate="m:1")
        .with_columns(hi=pl.col("t") - pl.col("release_weeks") - pl.col("weeks"))
        .filter(pl.col("hi") >= 0)
        .with_columns(
            lo=pl.max_horizontal(
                pl.lit(0),
                (pl.col("t") - pl.col("release_weeks") - pl.col("shelf_life_weeks") + 1).fill_null(0),
            ).cast(pl.Int64),
            item=pl.col("product_id"),
            q=1.0 / pl.col("yield"),  # units started per unit short
            component_id=pl.lit(None, pl.String),
            via=pl.lit("", pl.String),
        )
        .filter(pl.col("lo") <= pl.col("hi"))
    )


def capacity_candidates(net: Network, own: pl.DataFrame, through: pl.DataFrame,
                        capacity: pl.DataFrame) -> pl.DataFrame:
    """For each shortage, the best binding resource-week that could have served it (if any): on one of the
    product's own routings (``own``: :func:`own_windows`), or on one of its components' through the bill of
    materials (``through``: :func:`optimization.shortage_bom.through_bom`).

    The dearest binding week wins (an own routing before a component at the same price; then by
    component, the most hours, resource, week, path, plant and window, so a tie picks the same row on every
    run), with the hours it would need for the units short; ``slack_before`` marks a product whose shelf life forbade the free hours
    of earlier weeks.

    Args:
        capacity: the plan_capacity table with ``t`` and :func:`batch_full`'s columns.
    """
    h = net.horizon
    cand = pl.concat([own, through], how="diagonal_relaxed")
    best = cand.join(_best_window(capacity, h), on=["resource_id", "lo", "hi"]).join(
        _slack_before(capacity, h), on=["resource_id", "lo"], how="left"
    )
    return (
        best.with_columns(extra_hours=pl.col("short") * pl.col("q") * pl.col("hours_per_unit"))
        # every column kept below is in the key, so a tie (a component reaching the same bottleneck week
        # through two parent plants or routings) picks the same row whatever order the joins left
        .sort("bind_price", "component_id", "extra_hours", "resource_id", "bind_t", "via", "plant", "hi", "lo",
              descending=[True, False, True, False, False, False, False, False, False],
              nulls_last=False, maintain_order=True)
        .group_by(PST)
        .first()
        .with_columns(
            pl.col("slack_before").fill_null(False) & pl.col("shelf_life_weeks").is_not_null()
            & pl.col("component_id").is_null(),
        )
        .select(*PST, "resource_id", "plant", "bind_week", "bind_price", "slack_before", "extra_hours",
                "component_id", "via", "bind_free", "bind_batch", "lo", "hi")
    )


def _best_window(capacity: pl.DataFrame, horizon: int) -> pl.DataFrame:
    """Per resource and start-week window ``[lo, hi]``: the most valuable binding week in it.

    Binding: a positive shadow price, or (no dual) every hour used, or ``batch_full``: a campaign
    resource's week whose free hours hold no whole batch (:func:`batch_full`). There the LP with every
    integer fixed leaves the hours slack and prices them at 0, yet nothing more could be started."""
    weeks = pl.DataFrame({"lo": range(horizon)}, schema={"lo": pl.Int64})
    full = pl.col("batch_full") if "batch_full" in capacity.columns else pl.lit(False)
    cap = capacity.with_columns(
        binding=(pl.col("shadow_price") > _EPS)
        | (pl.col("shadow_price").is_null() & (pl.col("utilisation") >= 1 - 1e-6))
        | full,
        score=pl.col("shadow_price").fill_null(0.0),
    ).filter("binding")
    return (
        cap.join(weeks, how="cross")
        .filter(pl.col("lo") <= pl.col("t"))
        .with_columns(hi=pl.int_ranges(pl.col("t"), horizon))
        .explode("hi")
        .sort("score", "t", descending=[True, False], maintain_order=True)
        .group_by("resource_id", "lo", "hi")
        .first()
        .select(
            "resource_id",
            "lo",
            "hi",
            pl.col("t").alias("bind_t"),
            pl.col("score").alias("bind_price"),
            pl.col("week").alias("bind_week"),
            # a week full for whole batches only: its free hours and the smallest batch's hours
            bind_free=pl.when(full).then(pl.col("hours_available") - pl.col("hours_used")),
            bind_batch=pl.when(full).then(pl.col("batch_hours") if "batch_hours" in capacity.columns
                                          else pl.lit(None, pl.Float64)),
        )
    )


def _slack_before(capacity: pl.DataFrame, horizon: int) -> pl.DataFrame:
    """Per resource and week ``lo``: whether some earlier week had free hours."""
    weeks = pl.DataFrame({"lo": range(horizon)}, schema={"lo": pl.Int64})
    free = capacity.filter((pl.col("hours_available") > 0) & (pl.col("utilisation") < 1 - 1e-6))
    return (
        free.join(weeks, how="cross")
        .filter(pl.col("t") < pl.col("lo"))
        .group_by("resource_id", "lo")
        .agg(pl.lit(True).alias("slack_before"))
    )


def batch_full(net: Network, capacity: pl.DataFrame) -> pl.DataFrame:
    """``capacity`` with ``batch_hours`` (the hours of the smallest whole batch of a campaign resource's
    routings; null elsewhere or where a routing has no batch size) and ``batch_full``: a week of such a
    resource whose free hours (after production and changeovers) hold no whole batch."""
    none = capacity.with_columns(batch_hours=pl.lit(None, pl.Float64), batch_full=pl.lit(False))
    if "campaign" not in net.resources.columns:
        return none
    lots = (
        net.routings.join(net.resources.filter(pl.col("campaign")).select("resource_id"), on="resource_id")
        .group_by("resource_id")
        .agg(batch_hours=pl.when(pl.col("batch_size").is_not_null().all())
             .then((pl.col("batch_size") * pl.col("hours_per_unit")).min()))
    )
    if lots.height == 0:
        return none
    return capacity.join(lots, on="resource_id", how="left").with_columns(
        batch_full=((pl.col("hours_available") > 0)
                    & (pl.col("hours_available") - pl.col("hours_used") < pl.col("batch_hours") - 1e-6))
        .fill_null(False)
    )


def lane_candidates(net: Network, short: pl.DataFrame, lane_duals: pl.DataFrame | None) -> pl.DataFrame:
    """For each shortage, a binding capacity-limited lane into the site that could have served it: the
    dearest, then the first by origin and week, so a tie picks the same lane on every run."""
    if lane_duals is None or lane_duals.height == 0 or "pi" not in lane_duals.columns:
        return pl.DataFrame(
            schema={
                **{c: short.schema[c] for c in PST},
                "from_site": pl.String,
                "lane_t": pl.Int64,
                "lane_price": pl.Float64,
            }
        )
    bind = lane_duals.filter(pl.col("pi").abs() > _EPS).select(
        "from_site", "to_site", pl.col("t").alias("lane_t"), (-pl.col("pi")).alias("lane_price")
    )
    return (
        short.select(PST)
        .join(
            net.lanes.select("from_site", "to_site", "lead_time_weeks"), left_on="site_id", right_on="to_site"
        )
        .join(bind, left_on=["from_site", "site_id"], right_on=["from_site", "to_site"])
        .filter(pl.col("lane_t") + pl.col("lead_time_weeks") <= pl.col("t"))
        .sort("lane_price", "from_site", "lane_t", descending=[True, False, False], maintain_order=True)
        .group_by(PST)
        .first()
        .select(*PST, "from_site", "lane_t", "lane_price")
    )
