"""Why demand goes short: one row per product × demand site × week with backlog or lost units, its reason
and a sentence a planner can act on (the plan_shortages table).

:func:`plan_shortages` reads as the table's recipe; each step is a module that reads alone:

* the shortages and their key (:mod:`optimization.shortage_rows`);
* what could have served each one in time and was full: a resource-week of its own routings or of a
  component's, or a lane (:mod:`optimization.shortage_capacity`, through the bill of materials with
  :mod:`optimization.shortage_bom`), or a campaign of another product
  (:mod:`optimization.shortage_campaigns`);
* the extra hours that would recover it, where they fit and what an hour is worth
  (:mod:`optimization.shortage_recovery`);
* the reason, first that applies, and its sentence (:mod:`optimization.shortage_reasons`, which lists the
  reasons), with figures spelled by :mod:`optimization.shortage_text`.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from optimization.network import Network
from optimization.shortage_bom import ran_out, through_bom
from optimization.shortage_campaigns import campaign_candidates
from optimization.shortage_capacity import batch_full, capacity_candidates, lane_candidates, own_windows
from optimization.shortage_recovery import price_ranges, spread_hours
from optimization.shortage_reasons import NAMES_RESOURCE, detail, reason
from optimization.shortage_rows import PST, short_rows, weeks_from_start

__all__ = ["plan_shortages"]


def plan_shortages(
    net: Network,
    backlog: pl.DataFrame,
    capacity: pl.DataFrame,
    lane_duals: pl.DataFrame | None,
    price_range: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    campaigns: pl.DataFrame | None = None,
    inventory: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The shortage table: units backlogged or lost per product × site × week, with reason and detail,
    largest first (units, then value at unit cost).

    Args:
        net: the planning network.
        backlog: the plan_backlog table (``week`` dates).
        capacity: the plan_capacity table (with shadow prices).
        lane_duals: lane capacity constraint keys with ``pi`` (or None).
        price_range: given the named bottlenecks ``resource_id, t``, returns ``resource_id, t,
            price_low, price_high`` (what an hour less costs and an hour more saves); None: the dual only.
        campaigns: the plan_campaigns table (None or empty: no campaign resource).
        inventory: the plan_inventory table (``closing``), to tell a component that ran out (None: not told).
    """
    cap = batch_full(net, capacity.with_columns(t=net.week_index()))
    short = short_rows(net, backlog)
    own = own_windows(net, short)
    through, stuck = through_bom(net, own)
    frame = (
        short.join(capacity_candidates(net, own, through, cap), on=PST, how="left", validate="1:1")
        .join(ran_out(net, stuck, inventory), on=PST, how="left", validate="1:1")
        .join(lane_candidates(net, short, lane_duals), on=PST, how="left", validate="1:1")
        .join(campaign_candidates(net, short, campaigns, through), on=PST, how="left", validate="1:1")
        .join(net.products.select("product_id", "unit_cost"), on="product_id", how="left", validate="m:1")
        .with_columns(
            first_week=net.week_date("replen"),
            lane_week=net.week_date("lane_t"),
            bind_t=weeks_from_start(net, "bind_week"),
        )
    )
    frame = frame.join(price_ranges(frame, price_range), on=["resource_id", "bind_t"], how="left",
                       validate="m:1").join(spread_hours(frame, cap), on=PST, how="left", validate="1:1")
    return (
        frame.with_columns(
            reason=reason(),
            short_value=pl.col("short") * pl.col("unit_cost"),
            # backlog is served oldest first: what is short this week is this week's demand first
            late_units=pl.min_horizontal(pl.col("demand"), pl.col("short")),
        )
        .with_columns(detail=detail())
        .select(
            "product_id",
            "site_id",
            "week",
            pl.col("short").alias("short_quantity"),
            "late_units",
            "short_value",
            "reason",
            pl.when(pl.col("reason").is_in(NAMES_RESOURCE)).then(pl.col("resource_id")).alias("resource_id"),
            "detail",
        )
        .sort(
            "short_quantity", "short_value", "product_id", "site_id", "week",
            descending=[True, True, False, False, False],
        )
    )
