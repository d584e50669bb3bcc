"""The bill of materials in the twin: a parent's start draws its components from the site's stock.

A production row of a parent (an item with components in ``bom``) started in week ``t`` at a site needs,
per unit started, ``quantity_per / (1 − scrap)`` of each component (the plan's ``per_start``). In the
twin the start takes that from the site's stock of the component that is still usable in week ``t``,
first-expiry-first-out, on every path. Where a path holds less than the week's starts need:

* the component's stock is shared among the parent rows that need it in proportion to their need;
* a row starts the share its scarcest component allows, cut down to whole batches where the routing
  makes batches (a batch is not started half-filled), continuously otherwise;
* the row draws only what it starts (what it cannot use stays in stock), and its release on that path is
  scaled by the share started: a failed drug-substance batch shows downstream as drug product not made.

Rows are started, released and shipped level by level, components before their parents (``level`` = the
longest chain of components below an item), so within a week a component released or moved that week
(a lane without lead time) can feed its parent, as in the plan's stock balance.
"""

from __future__ import annotations

import numpy as np
import polars as pl

__all__ = ["BomArrays", "bom_arrays", "item_levels", "start_rows"]

#: a start within this share of a whole batch counts as that batch (float noise, not a lost batch)
_WHOLE_TOL = 1e-6


class BomArrays:
    """What the week loop needs to start parents (``J`` production rows, ``K`` row × component pairs,
    ``S`` shipments).

    Attributes:
        level: (J,) the row's product's level (0 = no components); ship_level: (S,) the shipped product's.
        levels: the distinct levels of both, ascending.
        row: (K,) production row of each pair; ``node``: (K,) the component's node at the row's site;
        per: (K,) component units per unit started.
    """

    __slots__ = ("level", "ship_level", "levels", "row", "node", "per")

    def __init__(self, level: np.ndarray, ship_level: np.ndarray, row: np.ndarray, node: np.ndarray,
                 per: np.ndarray) -> None:
        self.level, self.ship_level, self.row, self.node, self.per = level, ship_level, row, node, per
        self.levels = np.unique(np.concatenate([level, ship_level])).astype(np.int64)


def item_levels(bom: pl.DataFrame) -> pl.DataFrame:
    """``product_id, level``: the longest chain of components below each parent (items not listed: 0).

    Args:
        bom: ``parent_id, component_id`` (acyclic: the network refuses cycles).
    """
    level = bom.select(pl.col("parent_id").alias("product_id")).unique().with_columns(
        level=pl.lit(1, pl.Int64))
    for _ in range(bom.height):  # a chain is at most as long as the bom
        below = (
            bom.join(level.rename({"product_id": "component_id"}), on="component_id")
            .group_by(pl.col("parent_id").alias("product_id")).agg((pl.col("level").max() + 1).alias("below"))
        )
        nxt = level.join(below, on="product_id", how="left").select(
            "product_id", pl.max_horizontal("level", pl.col("below").fill_null(0)).alias("level"))
        if nxt.sort("product_id").equals(level.sort("product_id")):
            break
        level = nxt
    return level


def bom_arrays(bom: pl.DataFrame, prod: pl.DataFrame, ship: pl.DataFrame, node_of) -> BomArrays:
    """Index the row × component pairs of the plan's production rows, and the levels of rows and shipments.

    Args:
        bom: ``parent_id, component_id, per_start`` (empty = single level).
        prod: the production rows in row order: ``product_id, site_id``.
        ship: the shipments in row order: ``product_id``.
        node_of: maps a frame with ``product_id, site_id`` to node numbers (raises on an unknown pair).
    """
    j = prod.height
    if bom.height == 0:
        empty = np.zeros(0, np.int64)
        return BomArrays(np.zeros(j, np.int64), np.zeros(ship.height, np.int64), empty, empty, np.zeros(0))
    levels = item_levels(bom)

    def level_of(frame: pl.DataFrame) -> np.ndarray:
        return (frame.select("product_id").with_row_index("_r")
                .join(levels, on="product_id", how="left", validate="m:1").sort("_r")["level"]
                .fill_null(0).to_numpy().astype(np.int64))  # not a parent: level 0

    rows = prod.select("product_id", "site_id").with_row_index("_r")
    pairs = (
        rows.join(bom.select(pl.col("parent_id").alias("product_id"), "component_id", "per_start"),
                  on="product_id")
        .sort("_r", "component_id")
    )
    nodes = node_of(pairs.select(pl.col("component_id").alias("product_id"), "site_id")) if pairs.height \
        else np.zeros(0, np.int64)
    return BomArrays(level_of(prod), level_of(ship), pairs["_r"].to_numpy().astype(np.int64), nodes,
                     pairs["per_start"].to_numpy().astype(float))


def start_rows(
    stock: np.ndarray, t: int, rows: np.ndarray, qty: np.ndarray, batches: np.ndarray, whole: np.ndarray,
    bom: BomArrays, take_fefo,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start production rows in week ``t``: draw their components, return the share each started.

    Args:
        stock: (C, N, P) stock by slot (modified: components drawn).
        t: the week (slots below it are empty: expired).
        rows: (R,) production rows starting this week (one level).
        qty, batches: (J,) units and batches the plan starts per row; whole: (J,) cut to whole batches.
        bom: the row × component pairs.
        take_fefo: ``(stock (C, K, P), amount (K, P), first) -> left`` taking oldest first in place.

    Returns:
        ``(share, nodes, drawn)``: (R, P) share of each row started, and the component nodes (U,) with the
        units drawn from each (U, P).
    """
    p = stock.shape[2]
    share = np.ones((len(rows), p))
    pick = np.flatnonzero(np.isin(bom.row, rows))
    if pick.size == 0:
        return share, np.zeros(0, np.int64), np.zeros((0, p))
    pos = np.searchsorted(rows, bom.row[pick])  # rows sorted
    nodes, inv = np.unique(bom.node[pick], return_inverse=True)
    need = qty[bom.row[pick]] * bom.per[pick]  # (k,) per pair, the plan's start
    total = np.zeros(len(nodes))
    np.add.at(total, inv, need)
    sub = stock[t:, nodes, :]  # (C - t, U, P) a copy: fancy index
    avail = sub.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cover = np.where(total[:, None] > 0, np.minimum(avail / total[:, None], 1.0), 1.0)  # (U, P)
    np.minimum.at(share, pos, cover[inv])
    # whole batches: a batch routing starts floor(share × batches) of them (all of them when covered)
    r_batches = batches[rows][:, None]
    cut = np.floor(share * r_batches + _WHOLE_TOL) / np.where(r_batches > 0, r_batches, 1.0)
    share = np.where(whole[rows][:, None] & (share < 1.0 - _WHOLE_TOL), np.minimum(cut, share), share)
    drawn = np.zeros((len(nodes), p))
    np.add.at(drawn, inv, need[:, None] * share[pos])
    drawn = np.minimum(drawn, avail)  # float noise of the shares
    left = take_fefo(sub, drawn, 0)
    stock[t:, nodes, :] = sub
    return share, nodes, drawn - left
