"""Index frames of the planning LP's variables, one function per variable family.

Each function returns the family's index frame with ``col`` (the variable) and ``cost`` (its
objective coefficient). Shelf life is enforced by these domains, the way linopy masks variables:
a stock variable exists for a cohort only up to the week before its last usable week, a sale or
shipment only while the cohort is usable, and a shipment into a DC only when the cohort arrives with
at least ``min_shelf_life_share_at_dc`` of its life left; whatever is left in a cohort at the end of
its last usable week is written off by its ``expired`` variable.
"""

from __future__ import annotations

import polars as pl

from optimization.lp import ModelBuilder
from optimization.network import Network
from optimization.network_cohorts import arrivals, arrive_by, cohort_of, life_start, releases
from optimization.safety_stock import dependent_penalty

__all__ = [
    "backlog_vars",
    "balance_rows",
    "batch_vars",
    "bom_rows",
    "consume_vars",
    "expired_vars",
    "lost_vars",
    "make_releases",
    "make_vars",
    "overflow_vars",
    "served_vars",
    "setup_vars",
    "ship_arrivals",
    "ship_vars",
    "shortfall_vars",
    "stock_vars",
    "terminal_vars",
]

PC = ["product_id", "site_id", "cohort"]


def _expand(frame: pl.DataFrame, first: pl.Expr, last: pl.Expr) -> pl.DataFrame:
    """One row per week ``t`` in ``[first, last]`` (rows with an empty range vanish)."""
    return (
        frame.with_columns(t=pl.int_ranges(first, last + 1, dtype=pl.Int64))
        .explode("t")
        .filter(pl.col("t").is_not_null())
    )


def make_vars(mb: ModelBuilder, net: Network) -> pl.DataFrame:
    """Production started per product × resource × week, with its release week and cohort.

    The cohort counts the shelf life from the start or the release (``shelf_life_from``); it is null for
    starts released beyond the horizon (they release nothing in the plan; the terminal condition counts
    them as pipeline) and for output that would expire before its release. On a bucketed grid these
    columns are those of the bucket's first week; where the output lands is :func:`make_releases`.
    """
    attrs = net.products.select("product_id", "shelf_life_weeks", "cohort_cap", "shelf_life_from")
    start, grid = net.grid.first(pl.col("t")), net.grid  # the start's (first) week
    frame = (
        net.routings.join(net.weeks.select("t"), how="cross")
        .join(attrs, on="product_id", validate="m:1")
        .with_columns(release_t=grid.containing(start + pl.col("release_weeks")))
        .with_columns(u=grid.usable_through(cohort_of(life_start(start, start + pl.col("release_weeks")))))
        .with_columns(
            cohort=pl.when((pl.col("release_t") < net.horizon) & (pl.col("u") >= pl.col("release_t"))).then("u"),
            pipeline=(pl.col("release_t") >= net.horizon) & (pl.col("u") >= pl.col("release_t")),
            cost=pl.col("cost_per_unit"),
        )
        .drop("shelf_life_weeks", "cohort_cap", "u")
        .sort("product_id", "resource_id", "t")
    )
    return mb.add_variables("make", frame, ["product_id", "resource_id", "t"])


def make_releases(net: Network, make: pl.DataFrame) -> pl.DataFrame:
    """Where each start's good output lands (:func:`~optimization.network_cohorts.releases`): ``col,
    product_id, site_id, yield, release_t, cohort, pipeline, share`` (on the weekly grid one row per start,
    share 1)."""
    attrs = net.products.select("product_id", "shelf_life_weeks", "cohort_cap", "shelf_life_from")
    frame = make.select("col", "product_id", "site_id", "yield", "t", "release_weeks").join(
        attrs, on="product_id", validate="m:1"
    )
    return releases(frame, net.grid, net.horizon, ["col", "product_id", "site_id", "yield"])


def ship_arrivals(net: Network, ship: pl.DataFrame) -> pl.DataFrame:
    """Where each shipment arrives (:func:`~optimization.network_cohorts.arrivals`): ``col, product_id,
    to_site, cohort, arrival, share`` (on the weekly grid one row per shipment, share 1)."""
    frame = ship.select("col", "product_id", "to_site", "cohort", "t", "lead_time_weeks")
    return arrivals(frame, net.grid, ["col", "product_id", "to_site", "cohort"])


def bom_rows(net: Network, make: pl.DataFrame) -> pl.DataFrame:
    """Dependent demand rows: every component × production site × week in which a parent can start there.

    Returns:
        ``product_id`` (the component), ``site_id``, ``t`` (unique).
    """
    return (
        make.select(pl.col("product_id").alias("parent_id"), "site_id", "t")
        .unique()
        .join(net.bom.select("parent_id", "component_id"), on="parent_id")
        .select(pl.col("component_id").alias("product_id"), "site_id", "t")
        .unique()
        .sort("product_id", "site_id", "t")
    )


def consume_vars(mb: ModelBuilder, net: Network, rows: pl.DataFrame) -> pl.DataFrame:
    """Component used per component × site × cohort × week: from the cohorts usable at the production site
    that week (a cohort past its last usable week cannot feed production: shelf life of intermediates).

    Args:
        rows: :func:`bom_rows`.
    """
    frame = (
        rows.join(net.presence, on=["product_id", "site_id"])
        .filter((pl.col("t") >= pl.col("t_first")) & (pl.col("t") <= pl.col("cohort")))
        .select(*PC, "t", cost=pl.lit(0.0))
        .sort(*PC, "t")
    )
    return mb.add_variables("consume", frame, [*PC, "t"])


def batch_vars(mb: ModelBuilder, make: pl.DataFrame, frozen_weeks: int) -> pl.DataFrame:
    """Whole batches started (MIP only) where the routing has a batch size, outside the frozen weeks."""
    frame = make.filter(pl.col("batch_size").is_not_null() & (pl.col("t") >= frozen_weeks)).select(
        "product_id", "resource_id", "t", pl.col("col").alias("make_col"), "batch_size", cost=pl.lit(0.0)
    )
    return mb.add_variables("batches", frame, ["product_id", "resource_id", "t"], integer=True)


def setup_vars(mb: ModelBuilder, make: pl.DataFrame, frozen_weeks: int, big_m: pl.DataFrame) -> pl.DataFrame:
    """Binary 'anything started' per routing × week (MIP only) where a minimum batch applies.

    Routings whose minimum batch is at most their batch size need none: one whole batch already is it.

    Args:
        big_m: ``product_id, resource_id, big_m``: most that could ever be started in a week.
    """
    frame = (
        make.filter(
            (pl.col("min_batch") > pl.col("batch_size").fill_null(0.0)) & (pl.col("t") >= frozen_weeks)
        )
        .join(big_m, on=["product_id", "resource_id"], how="left", validate="m:1")
        .select(
            "product_id",
            "resource_id",
            "t",
            pl.col("col").alias("make_col"),
            "min_batch",
            "big_m",
            cost=pl.lit(0.0),
        )
    )
    return mb.add_variables("setup", frame, ["product_id", "resource_id", "t"], integer=True, upper=1)


def _with_site_attrs(net: Network, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.join(
        net.products.select("product_id", "shelf_life_weeks", "unit_cost", "holding_cost_per_week"),
        on="product_id",
        validate="m:1",
    )


def balance_rows(net: Network) -> pl.DataFrame:
    """Stock-balance rows: every cohort at every site from its first week to its last usable week."""
    last = pl.min_horizontal(pl.col("cohort"), pl.lit(net.horizon - 1))
    return _expand(net.presence, pl.col("t_first"), last).select(*PC, "t").sort(*PC, "t")


def stock_vars(mb: ModelBuilder, net: Network) -> pl.DataFrame:
    """Closing stock per product × site × cohort × week, while the cohort outlives the week."""
    last = pl.min_horizontal(pl.col("cohort") - 1, pl.lit(net.horizon - 1))
    frame = (
        _with_site_attrs(net, _expand(net.presence, pl.col("t_first"), last))
        .select(
            *PC,
            "t",
            cost=pl.col("holding_cost_per_week") * net.grid.level_weeks(pl.col("t")),  # weeks it is held
            unit_cost=pl.col("unit_cost"),
        )
        .sort(*PC, "t")
    )
    return mb.add_variables("stock", frame, [*PC, "t"])


def ship_vars(mb: ModelBuilder, net: Network, demand_pairs: pl.DataFrame | None = None) -> pl.DataFrame:
    """Shipments per product × lane × cohort × departure week that arrive usable within the horizon.

    A component of the bill of materials (drug substance, filled bulk) goes to a DC only where it has
    demand of its own (``demand_pairs``): a DC neither consumes it nor has a storage limit for it, so
    without this a full freezer's stock was shipped to a DC to be held there all horizon.
    """
    dest = net.sites.select(pl.col("site_id").alias("to_site"), "site_type")
    frame = (
        net.presence.join(net.lanes, left_on="site_id", right_on="from_site")
        .rename({"site_id": "from_site"})
        .join(dest, on="to_site", validate="m:1")
    )
    if demand_pairs is not None and net.bom.height:
        sold = demand_pairs.select("product_id", pl.col("site_id").alias("to_site")).unique()
        idle = (  # a component shipped to a DC that does not sell it
            frame.join(net.bom.select(pl.col("component_id").alias("product_id")).unique(), on="product_id")
            .filter(pl.col("site_type") == "dc")
            .join(sold, on=["product_id", "to_site"], how="anti")
            .select("product_id", "to_site")
            .unique()
        )
        frame = frame.join(idle, on=["product_id", "to_site"], how="anti")
    frame = (
        frame
        .join(net.products.select("product_id", "shelf_life_weeks"), on="product_id", validate="m:1")
        .with_columns(last_arrival=arrive_by(net.min_shelf_life_share_at_dc, net.horizon))
    )
    grid = net.grid
    last_departure = (
        pl.col("last_arrival") - pl.col("lead_time_weeks") if not grid.bucketed else pl.col("last_arrival")
    )
    first, last = grid.first(pl.col("t")), grid.first(pl.col("t")) + grid.length(pl.col("t")) - 1
    frame = (
        _expand(frame, pl.col("t_first"), last_departure)
        .with_columns(
            arrival=grid.containing(first + pl.col("lead_time_weeks")),  # its first week's (all, weekly)
            _last=grid.containing(last + pl.col("lead_time_weeks")),
        )
        .filter(pl.col("_last") <= pl.col("last_arrival"))  # every week of it arrives usable
        .select(
            "product_id",
            "lane",
            "from_site",
            "to_site",
            "cohort",
            "t",
            "arrival",
            "lead_time_weeks",
            cost=pl.col("cost_per_unit"),
        )
        .sort("product_id", "lane", "cohort", "t")
    )
    return mb.add_variables("ship", frame, ["product_id", "from_site", "to_site", "cohort", "t"])


def served_vars(mb: ModelBuilder, net: Network, demand_pairs: pl.DataFrame) -> pl.DataFrame:
    """Demand served per product × site × cohort × week, from the pair's first demand week on.

    Args:
        demand_pairs: ``product_id, site_id, first_t`` of every product × site with demand.
    """
    last = pl.min_horizontal(pl.col("cohort"), pl.lit(net.horizon - 1))
    frame = net.presence.join(demand_pairs, on=["product_id", "site_id"], validate="m:1")
    frame = _expand(frame, pl.max_horizontal("t_first", "first_t"), last).select(*PC, "t", cost=pl.lit(0.0))
    return mb.add_variables("served", frame.sort(*PC, "t"), [*PC, "t"])


def expired_vars(mb: ModelBuilder, net: Network) -> pl.DataFrame:
    """Units written off at the end of a cohort's last usable week, when that falls in the horizon."""
    frame = _with_site_attrs(net, net.presence.filter(pl.col("cohort") < net.horizon)).select(
        *PC, t=pl.col("cohort"), cost=pl.col("unit_cost")
    )
    return mb.add_variables("expired", frame.sort(*PC), PC)


def backlog_vars(mb: ModelBuilder, net: Network, demand_pairs: pl.DataFrame) -> pl.DataFrame:
    """Unmet demand carried at the end of each week, per product × site, from the first demand week."""
    frame = (
        _expand(demand_pairs, pl.col("first_t"), pl.lit(net.horizon - 1))
        .join(net.products.select("product_id", "backlog_penalty", "weight"), on="product_id", validate="m:1")
        .select(
            "product_id",
            "site_id",
            "t",
            cost=pl.col("backlog_penalty") * pl.col("weight") * net.grid.level_weeks(pl.col("t")),  # unit-weeks
        )
    )
    return mb.add_variables(
        "backlog", frame.sort("product_id", "site_id", "t"), ["product_id", "site_id", "t"]
    )


def lost_vars(
    mb: ModelBuilder, backlog: pl.DataFrame, max_backlog_weeks: int, extra_weeks: float
) -> pl.DataFrame:
    """Demand lost per product × site × week (only with a maximum backlog age)."""
    frame = backlog.select(
        "product_id", "site_id", "t", cost=pl.col("cost") * (max_backlog_weeks + extra_weeks)
    )
    return mb.add_variables("lost", frame, ["product_id", "site_id", "t"])


def shortfall_vars(mb: ModelBuilder, net: Network, safety: pl.DataFrame, share: float) -> pl.DataFrame:
    """Safety-stock shortfall per product × site × week with a positive target.

    Args:
        safety: ``product_id, site_id, t, safety_stock``.
        share: penalty per unit-week as a share of the weighted backlog penalty.
    """
    frame = (
        safety.filter(pl.col("safety_stock") > 0)
        # a component's buffer is priced by its parents' penalty (it has no demand of its own)
        .join(dependent_penalty(net), on="product_id", validate="m:1")
        .select(
            "product_id",
            "site_id",
            "t",
            "safety_stock",
            cost=share * pl.col("penalty") * net.grid.level_weeks(pl.col("t")),
        )
        .sort("product_id", "site_id", "t")
    )
    return mb.add_variables("shortfall", frame, ["product_id", "site_id", "t"])


def overflow_vars(mb: ModelBuilder, net: Network) -> pl.DataFrame:
    """Units held over a soft storage limit per site × family × week, at the limit's ``overflow_cost`` per
    unit-week. Each belongs to the family's first product (by id) for the blocks path; the storage row links
    the family's products at the site anyway."""
    first = net.products.group_by("family").agg(pl.col("product_id").min())
    frame = (
        net.storage.filter(pl.col("overflow_cost").is_not_null())
        .join(net.weeks.select("t"), how="cross")
        .join(first, on="family", validate="m:1")
        .select("site_id", "family", "t", "product_id",
                cost=pl.col("overflow_cost") * net.grid.level_weeks(pl.col("t")))
        .sort("site_id", "family", "t")
    )
    return mb.add_variables("overflow", frame, ["site_id", "family", "t"])


def terminal_vars(mb: ModelBuilder, net: Network, targets: pl.DataFrame, weeks: float) -> pl.DataFrame:
    """End-of-horizon stock shortfall per product with a terminal target.

    Args:
        targets: ``product_id, target`` and optionally ``unit_penalty`` (see :mod:`optimization.terminal`).
        weeks: penalty per unit as weeks of the product's weighted backlog penalty.
    """
    if "unit_penalty" not in targets.columns:
        targets = targets.with_columns(unit_penalty=pl.lit(None, pl.Float64))
    frame = (
        targets.join(net.products.select("product_id", "backlog_penalty", "weight"), on="product_id", validate="1:1")
        .select(
            "product_id",
            "target",
            # a component's unit short costs what its parents' units would (its own penalty is for demand)
            cost=weeks * pl.coalesce("unit_penalty", pl.col("backlog_penalty") * pl.col("weight")),
        )
        .sort("product_id")
    )
    return mb.add_variables("terminal", frame, ["product_id"])
