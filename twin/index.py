"""The twin's numeric index: a stored plan and its network turned into numpy arrays over nodes and slots.

A *node* is a product × site that can hold stock or has demand; a *slot* is a stock cohort, indexed by
its last usable week ``u`` (slot ``u``), with one last slot for stock that does not expire within the
horizon (:data:`optimization.network.NEVER`). The cohort rules are the planning network's
(:func:`optimization.network_cohorts.cohort_of`, :func:`optimization.network_cohorts.arrive_by`), so the twin
and the plan age, expire and ship stock alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from optimization.network import NEVER, Network
from twin.bom import BomArrays, bom_arrays

__all__ = ["TwinIndex", "build_index", "PlanTables"]

PS = ["product_id", "site_id"]


@dataclass(frozen=True)
class PlanTables:
    """The stored plan the twin replays (plan table columns; ``run_id`` may be present or not).

    Attributes:
        production: ``plan_production``.
        shipments: ``plan_shipments``.
        inventory: ``plan_inventory``.
        backlog: ``plan_backlog`` (its ``demand`` is what the plan planned against).
        expiry: ``plan_expiry``.
    """

    production: pl.DataFrame
    shipments: pl.DataFrame
    inventory: pl.DataFrame
    backlog: pl.DataFrame
    expiry: pl.DataFrame


@dataclass(frozen=True)
class TwinIndex:
    """Arrays of one replay (``N`` nodes, ``C`` slots, ``H`` weeks, ``J`` production rows, ``S`` shipments).

    Attributes:
        nodes: ``node, product_id, site_id`` (node = row number).
        horizon: ``H``.
        slots: ``C``; slot ``C - 1`` never expires in the horizon.
        unit_cost: (N,) unit cost of the node's product.
        release_slot: (N, H) slot of a unit whose shelf life starts at the node in week t.
        life_from_release: (N,) whether the node's product counts shelf life from QC release (else
            from manufacture: a released unit's slot is ``release_slot`` at its start week).
        supply: (H,) per week ``(node, slot, quantity)`` arrays of exogenous stock (lots, receipts).
        expired_on_hand: (N,) lots already past expiry at the start, written off in week 0.
        prod_keys: ``product_id, resource_id`` of each production row, in row order.
        prod_node, prod_t, prod_qty: (J,) node, start week and units started of each production row.
        prod_release_t, prod_released: (J,) the plan's release week and released units.
        prod_batches: (J,) batches in the row (at least 1; a continuous row is one batch).
        prod_full, prod_part: (J,) whole batches in the row and the share of a batch a last, partial
            batch is (an LP plan may start 2.5 batches; a campaign plan starts whole ones); a continuous
            row is one whole batch.
        prod_whole: (J,) whether the routing makes batches (a start cut for want of components is cut to
            whole batches).
        bom: the production rows' components (:mod:`twin.bom`; empty arrays for a single-level plan).
        ship_from, ship_to, ship_t, ship_arrival, ship_qty, ship_min_slot, ship_rank: (S,) shipments;
            ``ship_min_slot`` is the lowest slot allowed to travel (it must arrive usable, and with its
            minimum shelf-life share at a DC); ``ship_sell_cap`` (C, S) how much of slots up to each
            slot the destination's planned backlog and demand from the arrival on use up before they
            expire (sent first);
            ``ship_rank`` orders the shipments of one node and week; ``ship_lane`` numbers the shipment's
            product × origin × destination (``0 … L-1``).
        demand_nodes: (D,) nodes with demand: the first D nodes, ``0 … D-1``.
        plan_demand: (D, H) the demand the plan planned against.
        plan_served: (D, H) units the plan serves.
        plan_need: (D, H) the plan's backlog of the previous week plus its demand: what it could serve.
        plan_lost: (D, H) units the plan gives up (lost) each week.
    """

    nodes: pl.DataFrame
    horizon: int
    slots: int
    unit_cost: np.ndarray
    release_slot: np.ndarray
    life_from_release: np.ndarray
    supply: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    expired_on_hand: np.ndarray
    prod_keys: pl.DataFrame
    prod_node: np.ndarray
    prod_t: np.ndarray
    prod_qty: np.ndarray
    prod_release_t: np.ndarray
    prod_released: np.ndarray
    prod_batches: np.ndarray
    ship_from: np.ndarray
    ship_to: np.ndarray
    ship_t: np.ndarray
    ship_arrival: np.ndarray
    ship_qty: np.ndarray
    ship_min_slot: np.ndarray
    ship_sell_cap: np.ndarray
    ship_rank: np.ndarray
    ship_lane: np.ndarray
    demand_nodes: np.ndarray
    plan_demand: np.ndarray
    plan_served: np.ndarray
    plan_need: np.ndarray
    plan_lost: np.ndarray
    prod_full: np.ndarray
    prod_part: np.ndarray
    prod_whole: np.ndarray
    bom: BomArrays

    @property
    def n_nodes(self) -> int:
        return self.nodes.height


def _node_of(
    nodes: pl.DataFrame, frame: pl.DataFrame, product: str = "product_id", site: str = "site_id"
) -> np.ndarray:
    keyed = frame.select(pl.col(product).alias("product_id"), pl.col(site).alias("site_id")) \
        .with_row_index("_r")
    found = keyed.join(nodes, on=PS, how="left", validate="m:1").sort("_r")["node"]
    if found.null_count():
        raise KeyError("twin: rows of a product × site outside the plan's nodes")
    return found.to_numpy().astype(np.int64)


def _slot(cohort: pl.Expr, slots: int) -> pl.Expr:
    return pl.when(cohort >= NEVER).then(slots - 1).otherwise(cohort).cast(pl.Int64)


def build_index(net: Network, plan: PlanTables, demand_pairs: pl.DataFrame) -> TwinIndex:
    """Index the network and the stored plan.

    Args:
        net: the planning network the plan was solved on (rebuilt from the run's inputs).
        plan: the stored plan tables.
        demand_pairs: ``product_id, site_id`` with a forecast (demand nodes beyond the plan's).
    """
    h = net.horizon
    to_t = net.week_index
    prod = plan.production.filter(pl.col("quantity") > 0)
    ship = plan.shipments.filter(pl.col("quantity") > 0)
    demand_keys = pl.concat([plan.backlog.select(PS), demand_pairs.select(PS)]).unique()
    # a parent's components at its production site (a plan that draws from none still has the node)
    components = prod.select(pl.col("product_id").alias("parent_id"), "site_id").join(
        net.bom.select("parent_id", pl.col("component_id").alias("product_id")), on="parent_id").select(PS)
    nodes = (
        pl.concat([
            net.presence.select(PS), plan.inventory.select(PS), demand_keys, components,
            prod.select(PS), ship.select("product_id", pl.col("from_site").alias("site_id")),
            ship.select("product_id", pl.col("to_site").alias("site_id")),
        ])
        .unique()
        .join(demand_keys.with_columns(_other=pl.lit(False)), on=PS, how="left")
        # demand nodes first: their stock is one slice of the stock array (a view, not a copy)
        .sort(pl.col("_other").fill_null(True), *PS).drop("_other")
        .with_row_index("node").with_columns(pl.col("node").cast(pl.Int64))
    )
    slots = int(net.products["cohort_cap"].max()) + 1
    attrs = nodes.join(
        net.products.select("product_id", "shelf_life_weeks", "cohort_cap", "unit_cost", "shelf_life_from"),
        on="product_id", how="left", validate="m:1",
    ).join(net.sites, on="site_id", how="left", validate="m:1").sort("node")
    if attrs["cohort_cap"].null_count():
        raise KeyError("twin: the plan names products the network does not have")
    life = attrs["shelf_life_weeks"].fill_null(NEVER).to_numpy()[:, None]
    cap = attrs["cohort_cap"].to_numpy()[:, None]
    u = np.arange(h)[None, :] + life - 1
    release_slot = np.where(u >= cap, slots - 1, u).astype(np.int64)

    supply_rows = (
        net.supply.join(nodes, on=PS, how="left", validate="m:1")
        .group_by("t", "node", _slot(pl.col("cohort"), slots).alias("slot")).agg(pl.col("quantity").sum())
        .sort("t", "node", "slot")
    )
    supply = tuple(
        tuple(part.to_numpy() for part in (f["node"], f["slot"], f["quantity"]))
        for f in (supply_rows.filter(pl.col("t") == t) for t in range(h))
    )
    on_hand = np.zeros(nodes.height)
    if net.expired_on_hand.height:
        np.add.at(on_hand, _node_of(nodes, net.expired_on_hand), net.expired_on_hand["quantity"].to_numpy())

    prod = prod.with_columns(t=to_t("week"), release_t=to_t("release_week")) \
        .sort("product_id", "resource_id", "t")
    plan_batches = prod["batches"].fill_null(1.0).to_numpy()  # continuous: the row is one batch
    batches = np.ceil(plan_batches - 1e-6)
    full = np.floor(plan_batches + 1e-6)

    share = net.min_shelf_life_share_at_dc
    ship = (
        ship.with_columns(t=to_t("week"), arrival=to_t("arrival_week"))
        .join(net.sites.rename({"site_id": "to_site"}), on="to_site", how="left", validate="m:1")
        .join(net.products.select("product_id", "shelf_life_weeks"), on="product_id", how="left",
              validate="m:1")
        .with_columns(
            min_slot=pl.when((pl.col("site_type") == "dc") & pl.col("shelf_life_weeks").is_not_null())
            .then(pl.max_horizontal(pl.col("arrival"),
                                    (pl.col("arrival") - 1 + share * pl.col("shelf_life_weeks")).ceil()))
            .otherwise(pl.col("arrival")).cast(pl.Int64),
        )
        .sort("from_site", "product_id", "t", "to_site")
        .with_columns(rank=pl.int_range(pl.len()).over("product_id", "from_site", "t"),
                      lane=pl.struct("product_id", "from_site", "to_site").rank("dense") - 1)
    )
    backlog = plan.backlog.with_columns(t=to_t("week"))
    dem_nodes = np.arange(demand_keys.height)  # nodes 0 .. D-1
    pos = np.full(nodes.height, -1)
    pos[dem_nodes] = np.arange(len(dem_nodes))
    plan_demand = np.zeros((len(dem_nodes), h))
    inside = backlog.filter(pl.col("t").is_between(0, h - 1))
    plan_demand[pos[_node_of(nodes, inside)], inside["t"].to_numpy()] = inside["demand"].to_numpy()
    plan_backlog = np.zeros_like(plan_demand)
    plan_backlog[pos[_node_of(nodes, inside)], inside["t"].to_numpy()] = inside["backlog"].to_numpy()
    plan_served = np.zeros_like(plan_demand)
    plan_served[pos[_node_of(nodes, inside)], inside["t"].to_numpy()] = inside["served"].to_numpy()
    plan_lost = np.zeros_like(plan_demand)
    plan_lost[pos[_node_of(nodes, inside)], inside["t"].to_numpy()] = inside["lost"].to_numpy()
    plan_need = plan_demand + np.concatenate([np.zeros((len(dem_nodes), 1)), plan_backlog[:, :-1]], axis=1)
    return TwinIndex(
        nodes=nodes, horizon=h, slots=slots, unit_cost=attrs["unit_cost"].to_numpy().astype(float),
        release_slot=release_slot, life_from_release=(attrs["shelf_life_from"] == "release").to_numpy(),
        supply=supply, expired_on_hand=on_hand,
        prod_keys=prod.select("product_id", "resource_id"),
        prod_node=_node_of(nodes, prod), prod_t=prod["t"].to_numpy(), prod_qty=prod["quantity"].to_numpy(),
        prod_release_t=prod["release_t"].to_numpy(), prod_released=prod["released_quantity"].to_numpy(),
        prod_batches=np.maximum(batches, 1.0),
        ship_from=_node_of(nodes, ship, site="from_site"), ship_to=_node_of(nodes, ship, site="to_site"),
        ship_t=ship["t"].to_numpy(), ship_arrival=ship["arrival"].to_numpy(),
        ship_qty=ship["quantity"].to_numpy(),
        ship_min_slot=ship["min_slot"].to_numpy(), ship_rank=ship["rank"].to_numpy(),
        ship_lane=ship["lane"].to_numpy().astype(np.int64),
        ship_sell_cap=_sell_cap(ship, nodes, dem_nodes, plan_demand, plan_backlog, slots,
                                _node_of(nodes, ship, site="to_site")),
        demand_nodes=dem_nodes, plan_demand=plan_demand, plan_served=plan_served, plan_need=plan_need,
        plan_lost=plan_lost, prod_full=full, prod_part=np.maximum(plan_batches - full, 0.0),
        prod_whole=prod["batches"].is_not_null().to_numpy(),
        bom=bom_arrays(net.bom, prod, ship, lambda f: _node_of(nodes, f)),
    )


def _sell_cap(ship: pl.DataFrame, nodes: pl.DataFrame, dem_nodes: np.ndarray, plan_demand: np.ndarray,
              plan_backlog: np.ndarray, slots: int, to_node: np.ndarray) -> np.ndarray:
    """(C, S): units of cohorts up to each slot a shipment's destination uses before they expire.

    For a shipment arriving in week ``a`` and slot ``u`` within the horizon: the plan's backlog at the
    end of week ``a - 1`` plus its demand of weeks ``a … u``; unlimited for cohorts that outlive the
    horizon and for destinations without demand (a transfer between plants).
    """
    h = plan_demand.shape[1]
    pos = np.full(nodes.height, -1)
    pos[dem_nodes] = np.arange(len(dem_nodes))
    p = pos[to_node]
    arrival = np.clip(ship["arrival"].to_numpy(), 0, h)
    cap = np.full((slots, len(p)), np.inf)
    rows = np.flatnonzero(p >= 0)
    cum = np.concatenate([np.zeros((plan_demand.shape[0], 1)), np.cumsum(plan_demand, axis=1)], axis=1)
    carried = np.where(arrival[rows] > 0, plan_backlog[p[rows], np.maximum(arrival[rows] - 1, 0)], 0.0)
    upto = cum[p[rows], 1:] - cum[p[rows], arrival[rows]][:, None] + carried[:, None]  # (R, H): a .. u
    cap[:h, rows] = np.maximum(upto, 0.0).T
    return cap
