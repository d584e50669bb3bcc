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
horizon, per product over the network. Sites without demand rows beyond the horizon add nothing: with no
forecast there, the target is unknown, not zero (a demand file that stops at the horizon plans as before).
"""

from __future__ import annotations

import polars as pl

from optimization.network import Network, _transit_weeks  # the network's own shortest-transit rule

__all__ = ["beyond_horizon_weeks", "terminal_targets"]


def beyond_horizon_weeks(routings: pl.DataFrame, lanes: pl.DataFrame, sites: pl.DataFrame) -> int:
    """Weeks of demand beyond the horizon the terminal condition can use: the longest release lag plus
    the longest shortest transit between two sites (an upper bound of every product × site's fastest
    replenishment). Forecast this many weeks past the horizon.

    Args:
        routings, lanes, sites: the input entities (``release_weeks``; ``from_site, to_site,
            lead_time_weeks``; ``site_id``).
    """
    release = int(routings["release_weeks"].max() or 0) if routings.height else 0
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
