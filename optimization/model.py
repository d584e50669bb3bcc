"""Assemble the planning LP/MIP from a network, demand and safety-stock targets.

Objective (all coefficients ≥ 0, so the model is bounded): production + transport + holding +
priority-weighted backlog (per unit-week) + lost sales + safety-stock shortfall (per unit-week) +
expiry write-off at unit cost (including, as a constant, lots already expired at the start) +
end-of-horizon stock shortfall (the terminal condition, :mod:`optimization.terminal`). Each
variable family carries its cost column, so the reported cost components are ``sum(cost × value)``
per family.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from optimization import campaign_lengths as lengths
from optimization import campaign_links as links
from optimization import campaigns as camp
from optimization import constraints as con
from optimization import variables as var
from optimization.config import PlanConfig
from optimization.lp import ModelBuilder
from optimization.network import Network, dependent_need

__all__ = ["COST_COMPONENTS", "Model", "build_model", "sunk_write_off"]

#: variable family → cost component reported in plan_kpis
COST_COMPONENTS: dict[str, str] = {
    "make": "cost_production",
    "ship": "cost_transport",
    "stock": "cost_holding",
    "backlog": "cost_backlog",
    "lost": "cost_lost_sales",
    "shortfall": "cost_safety_stock",
    "expired": "cost_expiry",
    "terminal": "cost_end_stock_shortfall",
    "switch": "cost_changeover",
    "pair": "cost_changeover",
    "overflow": "cost_storage_overflow",
}


@dataclass
class Model:
    """A built model: the PuLP problem and the index frame of every variable family."""

    builder: ModelBuilder
    network: Network
    config: PlanConfig
    demand: pl.DataFrame
    safety: pl.DataFrame
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: objective of the campaign MIP start handed to the solver (None: no start)
    start_objective: float | None = None
    #: where production and shipments land (``variables.make_releases`` / ``ship_arrivals``; share 1 weekly)
    releases: pl.DataFrame | None = None
    arrivals: pl.DataFrame | None = None

    @property
    def is_mip(self) -> bool:
        """Whether the model has integer variables (lot sizing in MIP mode, campaigns)."""
        return any(f in self.frames and self.frames[f].height > 0 for f in ("batches", "setup", "setup_for"))


def build_model(
    net: Network,
    demand: pl.DataFrame,
    safety: pl.DataFrame,
    scheduled: pl.DataFrame,
    config: PlanConfig,
    builder: ModelBuilder | None = None,
    terminal: pl.DataFrame | None = None,
) -> Model:
    """Create every variable family and constraint family, and the objective.

    Args:
        net: the planning network.
        demand: ``product_id, site_id, t, quantity`` inside the horizon.
        safety: ``product_id, site_id, t, safety_stock`` inside the horizon.
        scheduled: ``product_id, resource_id, t, quantity``: production fixed in the frozen weeks.
        config: planning configuration.
        builder: where variables and constraints go: a PuLP :class:`ModelBuilder` (default) or an
            :class:`~optimization.highs_direct.ArrayBuilder` with the same interface.
        terminal: ``product_id, target``: end-of-horizon stock targets (:mod:`optimization.terminal`);
            None or empty = no terminal condition.
    """
    mb = builder if builder is not None else ModelBuilder()
    m = Model(builder=mb, network=net, config=config, demand=demand, safety=safety)
    pairs = demand.group_by("product_id", "site_id").agg(pl.col("t").min().alias("first_t"))
    f = m.frames
    f["make"] = var.make_vars(mb, net)
    f["stock"] = var.stock_vars(mb, net)
    f["ship"] = var.ship_vars(mb, net, pairs)
    m.releases, m.arrivals = var.make_releases(net, f["make"]), var.ship_arrivals(net, f["ship"])
    f["served"] = var.served_vars(mb, net, pairs)
    f["expired"] = var.expired_vars(mb, net)
    f["backlog"] = var.backlog_vars(mb, net, pairs)
    if config.max_backlog_weeks is not None:
        f["lost"] = var.lost_vars(mb, f["backlog"], config.max_backlog_weeks, config.lost_sale_penalty_weeks)
    f["shortfall"] = var.shortfall_vars(mb, net, safety, config.safety_stock_penalty_share)
    bom_rows = var.bom_rows(net, f["make"])
    if bom_rows.height:
        f["consume"] = var.consume_vars(mb, net, bom_rows)
    if terminal is not None and terminal.height:
        f["terminal"] = var.terminal_vars(mb, net, terminal, config.terminal_penalty_weeks)
    if net.storage.height and net.storage["overflow_cost"].is_not_null().any():
        f["overflow"] = var.overflow_vars(mb, net)
    big_m = _big_m(net, demand, safety) if config.mip or net.has_campaigns else None
    if config.mip or net.has_campaigns:  # campaign resources make whole batches even in an LP plan
        lots = f["make"] if config.mip else f["make"].join(
            net.resources.filter(pl.col("campaign")).select("resource_id"), on="resource_id", how="semi"
        )
        f["batches"] = var.batch_vars(mb, lots, config.frozen_weeks)
        f["setup"] = var.setup_vars(mb, lots, config.frozen_weeks, big_m)
    changeover_hours = None
    if net.has_campaigns:
        f["setup_for"] = camp.campaign_vars(mb, net, f["make"], config.frozen_weeks)
        f["switch"] = camp.switch_vars(mb, f["setup_for"], config.frozen_weeks)
        f["pair"] = camp.pair_vars(mb, camp.switch_pairs(net, f["setup_for"]), f["switch"])
        changeover_hours = camp.campaign_capacity_terms(f["switch"], f["pair"])

    con.stock_balance(
        mb, var.balance_rows(net), net.supply, f["stock"], m.releases, f["ship"], f["served"], f["expired"],
        f.get("consume"), m.arrivals,
    )
    if bom_rows.height:
        con.bom_consumption(mb, bom_rows, f["consume"], f["make"], net.bom)
    if net.storage.height:
        con.storage_limit(mb, net.storage, net.weeks, f["stock"], net.products, f.get("overflow"))
    con.demand_backlog(mb, f["backlog"], demand, f["served"], f.get("lost"))
    con.safety_stock_target(mb, f["shortfall"], f["stock"])
    con.resource_capacity(mb, net.hours, f["make"], changeover_hours)
    lane_weeks = net.grid.length(pl.col("t")) if net.grid.bucketed else None  # a bucket's lane carries its weeks'
    con.lane_capacity(mb, net.lanes, net.weeks, f["ship"], lane_weeks)
    if config.max_backlog_weeks is not None:
        con.backlog_age(mb, f["backlog"], demand, config.max_backlog_weeks)
    if "terminal" in f:
        con.terminal_stock(mb, f["terminal"], f["stock"], m.releases, net.horizon)
    if config.frozen_weeks > 0:
        con.frozen_production(mb, f["make"], scheduled, config.frozen_weeks)
    if "batches" in f:
        con.batch_multiple(mb, f["batches"])
        con.minimum_batch(mb, f["setup"])
    if "setup_for" in f:
        camp.one_product(mb, f["setup_for"])
        need = links.campaign_need(
            net, demand, safety, terminal, f["setup_for"], config.max_backlog_weeks) if config.campaign_need_bound \
            else None
        links.campaign_link(mb, f["setup_for"], big_m, need)
        camp.campaign_switch(mb, f["setup_for"], f["switch"], f["pair"])
        lengths.campaign_length_min(mb, f["setup_for"], f["switch"])
        lengths.campaign_length_max(mb, f["setup_for"], config.frozen_weeks)
        if config.campaign_start_cuts:
            lengths.campaign_start_window(mb, f["setup_for"], f["switch"], config.frozen_weeks)
        if config.campaign_fit_cuts:
            links.campaign_fit(mb, net, f["setup_for"], f["pair"], config.frozen_weeks,
                               config.campaign_fill_rows)
        camp.campaign_order(mb, net, f["setup_for"])
    mb.set_objective(
        pl.concat([frame.select("col", pl.col("cost").alias("coef")) for frame in f.values()]),
        constant=sunk_write_off(net),
    )
    return m


def sunk_write_off(net: Network) -> float:
    """Write-off of lots already past expiry at the start: a constant of the objective (cost_expiry)."""
    frame = net.expired_on_hand.join(
        net.products.select("product_id", "unit_cost"), on="product_id", validate="m:1"
    )
    return float(frame.select((pl.col("quantity") * pl.col("unit_cost")).sum()).item() or 0.0)


def _big_m(net: Network, demand: pl.DataFrame, safety: pl.DataFrame) -> pl.DataFrame:
    """Most that could sensibly start in a week per routing: the resource's best week of hours, or,
    for routings that use no hours, the product's whole demand plus its largest targets, over yield."""
    need = (
        demand.group_by("product_id")
        .agg(pl.col("quantity").sum().alias("d"))
        .join(
            safety.group_by("product_id", "site_id")
            .agg(pl.col("safety_stock").max())
            .group_by("product_id")
            .agg(pl.col("safety_stock").sum().alias("ss")),
            on="product_id",
            how="full",
            coalesce=True,
        )
        .select("product_id", need=pl.col("d").fill_null(0.0) + pl.col("ss").fill_null(0.0) + 1.0)
    )
    need = dependent_need(net, need)
    best = net.hours.group_by("resource_id").agg(pl.col("hours_available").max().alias("h"))
    return (
        net.routings.join(best, on="resource_id", how="left", validate="m:1")
        .join(need, on="product_id", how="left", validate="m:1")
        .select(
            "product_id",
            "resource_id",
            big_m=pl.when(pl.col("hours_per_unit") > 0)
            .then(pl.col("h") / pl.col("hours_per_unit"))
            .otherwise(pl.col("need").fill_null(1.0) / pl.col("yield")),
        )
    )
