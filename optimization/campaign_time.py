"""Blocks with time for the campaign bound: a suite together with its products' echelons (issue 17, stop 27).

The blocks of :mod:`optimization.campaign_bound` and :mod:`optimization.campaign_master` hold a suite's own
columns only (setups, switches, pairs, batches, its routings' starts). A convex combination of their
schedules ("A all quarter", "B all quarter", ... at a third each) runs a suite's products side by side and
never switches, so their Dantzig–Wolfe bound cannot charge what an integer plan pays: one product's stock
and backlog waiting while another holds the suite (docs/campaign-solver.md, stops 24-26).

A block *with time* holds, besides the suite's columns, every column of every item in its products' echelons
(each product made on the suite and everything made from it through the BOM: its starts on other resources,
stock, shipments, service, backlog, shortfall, expiry, consumption, end-of-horizon shortfall). Its own rows
are then the echelon's stock balances, backlog and safety rows, its BOM consumption and the suite's
campaign rows; the rows left *linking* are what the echelon shares with other items: the capacity of the
filling lines and other resources it uses, lanes' capacity, storage. A block solution is a whole plan of one
suite and the items it feeds, so the Lagrangian and the master over such blocks see each product's demand,
stock and backlog together with the suite's schedule.

Two suites whose echelons meet (an item made from the products of both) share one block. Blocks are column
sets only: :func:`~optimization.campaign_bound.lagrangian_bound` and
:func:`~optimization.campaign_master.dantzig_wolfe_bound` take them unchanged, and their bounds stay valid
for any partition of the columns (each block's MIP is solved at gap 0, or gives its dual bound when stopped).

A block with time is solved with its schedule integer and its whole batches continuous
(:func:`schedule_integers`, stop 29): on the demo's four blocks the batches' integrality adds 0.3% of what
the blocks' integers add over their LP (1,688.9 against 1,683.4 M), and most of the branch-and-bound tree and
of its CPU (72.3 against 43.5 CPU-s for the four; docs/campaign-solver.md, "Stop 29"). The bound stays valid: a block with fewer integer columns is a relaxation of the block, so its MIP
value is at most the block's, and the Lagrangian a lower bound still.

Pure logic on the model's frames; no I/O.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from optimization.network import Network

__all__ = ["echelon_of", "schedule_integers", "time_blocks"]

ITEM = "product_id"


def echelon_of(net: Network, products: list[str]) -> list[str]:
    """``products`` and every item made from any of them through the BOM, directly or not (sorted)."""
    bom = net.bom.select("parent_id", "component_id")
    found, level = set(products), set(products)
    while level:
        parents = set(bom.filter(pl.col("component_id").is_in(list(level)))["parent_id"].to_list())
        level = parents - found
        found |= level
    return sorted(found)


def _merged(echelons: dict[str, set[str]]) -> list[tuple[list[str], set[str]]]:
    """Suites whose echelons share an item, merged (each group: its suites, the union of their echelons)."""
    groups: list[tuple[list[str], set[str]]] = []
    for suite, items in echelons.items():
        touching = [g for g in groups if g[1] & items]
        suites, merged = [suite], set(items)
        for g in touching:
            suites += g[0]
            merged |= g[1]
            groups.remove(g)
        groups.append((sorted(suites), merged))
    return groups


def time_blocks(net: Network, frames: dict[str, pl.DataFrame],
                blocks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each suite's block with time (module docstring): its own columns (``blocks``, from
    :func:`~optimization.campaign_bound.block_columns`) and every column of every frame keyed by an item of its
    products' echelons, except another block's columns. Suites whose echelons meet share one block, named
    ``R1+R2``.

    Args:
        net: the network (its BOM).
        frames: the model's index frames; those with ``product_id`` and ``col`` give the echelon's columns.
        blocks: each campaign resource's own columns.
    """
    setup = frames["setup_for"]
    echelons = {
        r: set(echelon_of(net, setup.filter(pl.col("resource_id") == r)[ITEM].unique().to_list()))
        for r in blocks
    }
    keyed = pl.concat([
        f.select(ITEM, pl.col("col").cast(pl.Int64)) for f in frames.values()
        if ITEM in f.columns and "col" in f.columns and f.height
    ])
    suite_cols = np.concatenate(list(blocks.values())) if blocks else np.array([], dtype=np.int64)
    out: dict[str, np.ndarray] = {}
    for suites, items in _merged(echelons):
        own = np.concatenate([blocks[r] for r in suites])
        echelon = keyed.filter(pl.col(ITEM).is_in(sorted(items)))["col"].to_numpy()
        others = np.setdiff1d(suite_cols, own)
        out["+".join(suites)] = np.union1d(own, np.setdiff1d(echelon, others)).astype(np.int64)
    return out


def schedule_integers(frames: dict[str, pl.DataFrame], ints: np.ndarray) -> np.ndarray:
    """``ints`` (per column, whether the MIP has it integer) with the whole batches (``batches``) continuous: the
    integrality the blocks with time are solved with.

    Why the bound stays valid: each block's MIP then has the same rows and columns as before and fewer integer
    columns, a relaxation of it, so its optimum (or dual bound) ``MIP'_b`` is at most the block's ``MIP_b``; the
    block's LP ``LP_b`` is unchanged; so ``relaxation + Σ (MIP'_b − LP_b) ≤ relaxation + Σ (MIP_b − LP_b)``, the
    Lagrangian bound, which is at most the MIP's optimum (:mod:`optimization.campaign_bound`). What is lost is
    the batches' share of the lift: with the schedule integer, a week set up for a product starts at most the
    whole batches it holds (``campaign_fit`` and ``campaign_fill``, in the blocks' rows), only not in whole
    batches. The schedule (``setup_for``) stays integer, so a block's plan is still a schedule for the priced
    start (:func:`~optimization.campaign_bound.priced_setups`); lot sizing's ``setup`` columns stay integer too.
    """
    out = np.asarray(ints, dtype=bool).copy()
    batches = frames.get("batches")
    if batches is not None and batches.height:
        out[batches["col"].to_numpy()] = False
    return out
