"""The end-of-horizon condition: what the network must hold when the plan ends so it does not run down.

Without it, stock has no value after the last week and a start released after the horizon earns nothing,
so an optimal plan stops producing near the end and empties the network. The terminal condition values
what the next plan inherits, from the demand *beyond* the horizon:

* **target** per product = over its demand sites with demand beyond the horizon, the demand of the weeks
  ``H .. H + LT - 1`` that production started after the horizon cannot reach (``LT`` = the site's fastest
  replenishment: release lag + transit) plus the site's safety-stock target of the last week;
* **position** per product = closing stock of the last week at every site (cohorts still usable after
  it) + in-transit arrivals after it (none: a shipment arrives within the horizon) + the good output of
  starts released after the horizon (the pipeline);
* ``terminal[p]``: position + end-stock shortfall ≥ target; a unit short costs the product's
  priority-weighted backlog penalty times ``PlanConfig.terminal_penalty_weeks`` (a unit the next plan
  starts without is a unit of demand that will wait).

This is an order-up-to position (stock + pipeline ≥ lead-time demand + safety stock) at the end of the
horizon, per product over the network.

With a bill of materials the upstream items get targets too (:func:`component_targets`), or the plan would
run them down: a parent started in the next plan's first weeks can only use the component left at the
end of this one. A component ``c`` of a parent ``p`` whose target window ends at ``H + L_p`` must cover,
per unit, ``quantity_per / (1 − scrap) / yield_p`` of the parent demand of the weeks ``H + L_p ..
H + L_p + L_c − 1`` (``L_c`` = the component's shortest release lag): the parent starts that new component
cannot feed in time. Its components follow the same way, the window moving by ``L_c``. A unit short costs
what the parent units it would have made cost (penalty × yield / quantity per start). Sites without demand rows beyond the horizon add nothing: with no
forecast there, the target is unknown, not zero (a demand file that stops at the horizon plans as before).
"""

from __future__ import annotations

import polars as pl

from optimization.network import Network
from optimization.network_reach import _transit_weeks  # the network's own shortest-transit rule

__all__ = ["beyond_horizon_weeks", "component_targets", "terminal_targets"]


def beyond_horizon_weeks(
    routings: pl.DataFrame, lanes: pl.DataFrame, sites: pl.DataFrame, bom: pl.DataFrame | None = None
) -> int:
    """Weeks of demand beyond the horizon the terminal condition can use: the longest release lag (with a
    bill of materials, the longest chain of release lags from a component to its top parent) plus
    the longest shortest transit between two sites (an upper bound of every product × site's fastest
    replenishment). Forecast this many weeks past the horizon.

    Args:
        routings, lanes, sites: the input entities (``release_weeks``; ``from_site, to_site,
            lead_time_weeks``; ``site_id``).
        bom: ``parent_id, component_id`` (None or empty = single level).
    """
    release = int(routings["release_weeks"].max() or 0) if routings.height else 0
    if bom is not None and bom.height and routings.height:
        lag = routings.group_by("product_id").agg(pl.col("release_weeks").max().alias("lag"))
        chain = lag  # product → longest chain of lags from it down through its components
        for _ in range(bom.height):  # a path is at most as long as the bom (cycles are refused before)
            deeper = (
                bom.select("parent_id", "component_id")
                .join(chain.rename({"product_id": "component_id", "lag": "below"}), on="component_id")
                .join(lag.rename({"product_id": "parent_id"}), on="parent_id")
                .group_by(pl.col("parent_id").alias("product_id"))
                .agg((pl.col("lag") + pl.col("below")).max().alias("lag"))
            )
            grown = pl.concat([chain, deeper]).group_by("product_id").agg(pl.col("lag").max())
            if grown.sort("product_id").equals(chain.sort("product_id")):
                break
            chain = grown
        release = max(release, int(chain["lag"].max() or 0))
    links = lanes.select("from_site", "to_site", "lead_time_weeks").with_row_index("lane")
    transit = _transit_weeks(sites.select("site_id"), links)
    return release + int(transit["weeks"].max() or 0)


def terminal_targets(net: Network, beyond: pl.DataFrame, safety: pl.DataFrame) -> pl.DataFrame:
    """End-of-horizon stock target per product.

    Args:
        net: the planning network.
        beyond: demand ``product_id, site_id, t, quantity`` in weeks ``t >= horizon``.
        safety: safety-stock targets ``product_id, site_id, t, safety_stock`` inside the horizon.

    Returns:
        ``product_id, lead_time_demand, safety_stock, target`` for products with a positive target.
    """
    h = net.horizon
    pairs = beyond.select("product_id", "site_id").unique()
    reach = net.replenishment_weeks.rename({"weeks": "lt"})
    window = (
        beyond.join(reach, on=["product_id", "site_id"], how="inner", validate="m:1")  # unreachable: no target
        .filter(pl.col("t") < h + pl.col("lt"))
        .group_by("product_id")
        .agg(pl.col("quantity").sum().alias("lead_time_demand"))
    )
    last_ss = (
        safety.filter(pl.col("t") == h - 1)
        .join(pairs.join(reach.select("product_id", "site_id"), on=["product_id", "site_id"]),
              on=["product_id", "site_id"], how="semi")
        .group_by("product_id")
        .agg(pl.col("safety_stock").sum())
    )
    return (
        window.join(last_ss, on="product_id", how="full", coalesce=True, validate="1:1")
        .with_columns(pl.col("lead_time_demand", "safety_stock").fill_null(0.0))  # none of that kind
        .with_columns(target=pl.col("lead_time_demand") + pl.col("safety_stock"))
        .filter(pl.col("target") > 0)
        .sort("product_id")
    )


def component_targets(net: Network, beyond: pl.DataFrame) -> pl.DataFrame:
    """End-of-horizon targets of bill-of-materials components (see the module docstring).

    Args:
        net: the planning network (``bom`` empty: no rows).
        beyond: demand ``product_id, site_id, t, quantity`` in weeks ``t >= horizon``.

    Returns:
        ``product_id, lead_time_demand, safety_stock (0), target, unit_penalty`` per component with a
        positive target; ``unit_penalty`` is the cost of a unit short before ``terminal_penalty_weeks``.
    """
    empty = pl.DataFrame(schema={"product_id": pl.String, "lead_time_demand": pl.Float64,
                                 "safety_stock": pl.Float64, "target": pl.Float64, "unit_penalty": pl.Float64})
    if net.bom.height == 0:
        return empty
    h = net.horizon
    best_yield = net.routings.group_by("product_id").agg(pl.col("yield").max().alias("y"))
    lag = net.products.select("product_id", pl.col("qc_lag_weeks").alias("lag"))
    edges = net.bom.select("parent_id", "component_id", "per_start").join(
        best_yield.rename({"product_id": "parent_id"}), on="parent_id"
    )
    # demand rows beyond the horizon: the weeks from `start` on are beyond reach of the
    # parent's own new production; each level below takes the next `lag` weeks of them
    rows = (
        beyond.join(net.replenishment_weeks.rename({"weeks": "lt"}), on=["product_id", "site_id"])
        .join(net.products.select("product_id", (pl.col("backlog_penalty") * pl.col("weight")).alias("pen")),
              on="product_id")
        .select("product_id", "t", "quantity", "pen", start=h + pl.col("lt"))
    )
    found = []
    for _ in range(net.bom.height):
        rows = (
            rows.join(edges, left_on="product_id", right_on="parent_id")
            .join(lag.rename({"product_id": "component_id"}), on="component_id")
            .select(
                pl.col("component_id").alias("product_id"),
                "t",
                (pl.col("quantity") * pl.col("per_start") / pl.col("y")).alias("quantity"),
                (pl.col("pen") * pl.col("y") / pl.col("per_start")).alias("pen"),
                "start",
                "lag",
            )
        )
        if rows.height == 0:
            break
        found.append(
            rows.filter((pl.col("t") >= pl.col("start")) & (pl.col("t") < pl.col("start") + pl.col("lag")))
            .group_by("product_id")
            .agg(pl.col("quantity").sum().alias("lead_time_demand"), pl.col("pen").max().alias("unit_penalty"))
        )
        rows = rows.with_columns(start=pl.col("start") + pl.col("lag")).drop("lag")
    if not found:
        return empty
    return (
        pl.concat(found)
        .group_by("product_id")
        .agg(pl.col("lead_time_demand").sum(), pl.col("unit_penalty").max())
        .filter(pl.col("lead_time_demand") > 0)
        .select("product_id", "lead_time_demand", pl.lit(0.0).alias("safety_stock"),
                pl.col("lead_time_demand").alias("target"), "unit_penalty")
        .sort("product_id")
    )
