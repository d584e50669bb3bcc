"""The twin's week loop: stock by cohort on every path at once (paths are an array axis).

Each week, in this order (the plan's stock balance, with the plan's shelf-life rules):

1. exogenous stock arrives (opening lots in week 0, quarantine lots, scheduled receipts);
2. shipments arriving this week enter the destination's stock with the cohorts they left with;
3. production starts draw their components from the plant's usable stock, first-expiry-first-out (a
   start short of a component is cut, to whole batches: :mod:`twin.bom`), and production released this
   week enters the plant's stock in the cohort of a fresh unit (scaled by the share of its start that
   went ahead);
4. planned shipments leave, as planned where stock allows (on a lane without lead time they arrive at
   once, before demand is served); what one could not take leaves with the next planned shipment on
   its lane (:attr:`TwinConfig.catch_up_shipments`). Steps 3 and 4 run item level by item level,
   components first, so a component released or moved this week feeds its parent's start this week.
   Cohorts must arrive usable (and with the minimum shelf-life share at a DC); first, oldest first,
   what the destination's planned backlog and demand use up before it expires, then the freshest stock
   (the plan does not store which cohorts it ships; this is how it would choose them). When a site
   cannot ship all, its shipments of the week are filled in the order of their destination;
5. demand and backlog are served from the site's stock, first-expiry-first-out: as much as the plan
   serves that week plus whatever need the plan did not foresee (more demand or backlog than it
   planned), as stock allows (:attr:`TwinConfig.follow_plan_service`; off: all the stock allows);
6. stock whose last usable week this is, is written off;
7. unserved demand is carried as backlog, and what is older than the plan's maximum backlog age is lost
   (following the plan, also what the plan itself gives up that week, as far as it is still open).

The paths are cut into seeded blocks (:func:`path_blocks`, :data:`BLOCK_PATHS` paths each): block ``b``
draws its demand and process from streams seeded by ``(seed, b)`` alone, and :func:`simulate` runs one
block. :func:`simulate_blocks` maps the blocks (in this process, or on an executor the caller hands over,
e.g. a Dask cluster's) and :func:`combine_blocks` joins them in block order: per-path figures are
concatenated, the stock fan's percentiles are taken over every path's closing stock at the end, and
the weekly means are block sums in block order divided by the paths. So which process runs which block
never changes a figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from twin.bom import start_rows
from twin.demand import DemandSampler
from twin.index import TwinIndex

__all__ = ["BLOCK_PATHS", "BlockOutcome", "PathBlock", "SimOutcome", "combine_blocks", "path_blocks", "simulate",
           "simulate_blocks"]

FAN = (5, 25, 50, 75, 95)
#: paths per seeded block: with the seed, it defines the paths (another value draws other paths)
BLOCK_PATHS = 250
#: the weekly figures summed over paths (node-level, then demand-node-level)
_NODE_SUMS = ("closing", "served", "expired", "arrivals", "departures", "released", "receipts", "consumed")
_DEMAND_SUMS = ("backlog", "lost", "demand")


@dataclass(frozen=True)
class PathBlock:
    """Paths ``first … first + paths - 1``, the ``number``-th block of a replay seeded by ``seed``."""

    number: int
    first: int
    paths: int
    seed: int

    def generators(self, streams: int) -> list[np.random.Generator]:
        """``streams`` independent generators of this block, seeded by ``(seed, number)`` alone."""
        seq = np.random.SeedSequence(self.seed, spawn_key=(self.number,))
        return [np.random.default_rng(s) for s in seq.spawn(streams)]


def path_blocks(paths: int, seed: int, size: int = BLOCK_PATHS) -> list[PathBlock]:
    """The replay's ``paths`` cut into blocks of ``size`` (the last one may be smaller)."""
    return [PathBlock(number=b, first=first, paths=min(size, paths - first), seed=seed)
            for b, first in enumerate(range(0, paths, size))]


@dataclass(frozen=True)
class BlockOutcome:
    """What the loop records on one block of ``B`` paths (``N`` nodes, ``D`` demand nodes, ``H`` weeks).

    Attributes:
        demand, on_time, short_weeks, demand_weeks, served_weeks, above_plan: (B, D) as in
            :class:`SimOutcome`.
        short_count: (D, H) paths short in each week.
        expired_units, expired_value, released_sold, unserved: (B,).
        end_stock: (B, N).
        closing: (N, H, B) closing stock of every node and week on every path (the fan's input).
        sums: name → (N, H) or (D, H) sums over the block's paths (:class:`SimOutcome`'s ``mean``).
    """

    demand: np.ndarray
    on_time: np.ndarray
    short_weeks: np.ndarray
    demand_weeks: np.ndarray
    served_weeks: np.ndarray
    above_plan: np.ndarray
    short_count: np.ndarray
    expired_units: np.ndarray
    expired_value: np.ndarray
    released_sold: np.ndarray
    unserved: np.ndarray
    end_stock: np.ndarray
    closing: np.ndarray
    sums: dict[str, np.ndarray]


@dataclass(frozen=True)
class SimOutcome:
    """What the loop records (``P`` paths, ``N`` nodes, ``D`` demand nodes, ``H`` weeks).

    Attributes:
        demand, on_time: (P, D) demand and units served in the week requested, summed over the horizon.
        short_weeks: (P, D) weeks with backlog or lost units.
        demand_weeks, served_weeks: (P, D) weeks with demand, and of those, weeks served in full.
        above_plan: (P, D) demand above the plan's quantity, summed over the weeks (Σ max(d − planned, 0)):
            need the plan did not plan for, served only from stock it holds for later, or short.
        released_sold: (P,) units of sold items (products with demand) released within the horizon:
            the plan's releases less failed batches, lower yields, releases late beyond the horizon and
            starts cut for want of components.
        unserved: (P,) demand never served in the horizon: lost, or still in backlog at its end.
        short_prob: (D, H) share of paths short in each week.
        expired_units, expired_value: (P,) written off over the horizon (lots expired at the start included).
        end_stock: (P, N) closing stock of the last week.
        fan: (len(FAN), N, H) percentiles of closing stock over the paths.
        mean: name → (N, H) mean over paths of ``closing, served, expired, arrivals, departures, released,
            receipts, consumed`` and (D, H) of ``backlog, lost, demand``.
    """

    demand: np.ndarray
    on_time: np.ndarray
    short_weeks: np.ndarray
    demand_weeks: np.ndarray
    served_weeks: np.ndarray
    above_plan: np.ndarray
    short_prob: np.ndarray
    expired_units: np.ndarray
    expired_value: np.ndarray
    released_sold: np.ndarray
    unserved: np.ndarray
    end_stock: np.ndarray
    fan: np.ndarray
    mean: dict[str, np.ndarray]


def _take_fefo(stock: np.ndarray, amount: np.ndarray, first: int) -> np.ndarray:
    """Remove up to ``amount`` (K, P) from ``stock`` (C, K, P), oldest slot first; returns what is left.

    Slots below ``first`` hold nothing (already expired). A loop over slots, not paths: it stops as soon
    as nothing is left to take.
    """
    remaining = amount.copy()
    for s in range(first, stock.shape[0]):
        if not remaining.any():
            break
        if not stock[s].any():
            continue
        take = np.minimum(stock[s], remaining)
        stock[s] -= take
        remaining -= take
    return remaining


def _ship(
    avail: np.ndarray, want: np.ndarray, first: int, min_slot: np.ndarray, sell_cap: np.ndarray
) -> np.ndarray:
    """Take shipments (R, P) from their origin's stock ``avail`` (C, R, P); returns what left, by slot.

    First, oldest first, what the destination can use up before it expires: at most ``sell_cap[s]``
    (C, R) units of slots up to ``s`` in all. Then, if the shipment is not full, the freshest stock
    allowed to travel (slots from ``min_slot`` (R,) on): what the destination cannot use in time is not
    the stock sent.
    """
    taken = np.zeros_like(avail)
    remaining = want.copy()
    sent = np.zeros_like(want)
    for s in range(first, avail.shape[0]):
        if not remaining.any():
            break
        if not avail[s].any():
            continue
        room = np.maximum(sell_cap[s][:, None] - sent, 0.0)
        take = np.where((s >= min_slot)[:, None], np.minimum(np.minimum(avail[s], remaining), room), 0.0)
        avail[s] -= take
        taken[s] += take
        remaining -= take
        sent += take
    for s in range(avail.shape[0] - 1, first - 1, -1):
        if not remaining.any():
            break
        if not avail[s].any():
            continue
        take = np.where((s >= min_slot)[:, None], np.minimum(avail[s], remaining), 0.0)
        avail[s] -= take
        taken[s] += take
        remaining -= take
    return taken


def _add(stock: np.ndarray, nodes: np.ndarray, slots: np.ndarray, qty: np.ndarray) -> None:
    """``stock[slot, node, :] += qty`` for (R, P) quantities whose (node, slot) may repeat."""
    if nodes.size == 0:
        return
    key = slots * stock.shape[1] + nodes
    order = np.argsort(key, kind="stable")
    key = key[order]
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    summed = np.add.reduceat(qty[order], first, axis=0) if len(first) < len(key) else qty[order]
    u = key[first]
    stock[u // stock.shape[1], u % stock.shape[1], :] += summed


def simulate(
    index: TwinIndex, release_t: np.ndarray, released: np.ndarray, demand: DemandSampler,
    max_backlog_weeks: int | None, tolerance: float, follow_plan: bool = True, catch_up: bool = True,
) -> SimOutcome:
    """Run the week loop on every path of one block (``P`` = the rows of ``release_t``).

    Args:
        index: the twin index.
        release_t, released: (P, J) release week and units of each production row.
        demand: draws each week's demand (P, D).
        max_backlog_weeks: the plan's maximum backlog age (None = backlog never lapses).
        tolerance: backlog or lost units at or below it do not make a week short.
        follow_plan: serve what the plan serves plus the need it did not foresee (the plan may hold
            stock back on purpose, e.g. for its safety-stock targets); False serves all it can.
        catch_up: what a planned shipment could not take is added to the next planned shipment on its
            lane (False: it is not shipped).

    Returns:
        The block's per-path figures and weekly sums (:func:`combine_blocks` joins blocks).
    """
    p, n, c, h = release_t.shape[0], index.n_nodes, index.slots, index.horizon
    dn = index.demand_nodes
    d = len(dn)
    # slot-major, paths last: a node's stock of one slot on every path is one contiguous row
    stock = np.zeros((c, n, p))
    rel_t, rel_q = np.ascontiguousarray(release_t.T), np.ascontiguousarray(released.T)  # (J, P)
    backlog = np.zeros((d, p))
    recent: list[np.ndarray] = []  # demand of the last max_backlog_weeks weeks (newest last)
    # (arrival, to_node, first slot, taken (C - first, R, P)): slots below the departure week are empty
    in_transit: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []
    tot = {k: np.zeros((d, p)) for k in ("demand", "on_time", "short_weeks", "demand_weeks", "served_weeks",
                                         "above_plan")}
    sold_products = index.nodes["product_id"].gather(dn.tolist()).unique().implode()
    sold_row = index.nodes["product_id"].is_in(sold_products).to_numpy()[index.prod_node]
    released_sold = np.zeros(p)
    lost_total = np.zeros(p)
    owed = np.zeros((int(index.ship_lane.max()) + 1 if index.ship_lane.size else 0, p))  # (L, P) not shipped
    short_count = np.zeros((d, h), dtype=np.int64)
    expired_units = np.full(p, index.expired_on_hand.sum())
    expired_value = np.full(p, float(index.expired_on_hand @ index.unit_cost))
    closing_paths = np.zeros((n, h, p))
    sums = {k: np.zeros((n, h)) for k in _NODE_SUMS} | {k: np.zeros((d, h)) for k in _DEMAND_SUMS}
    bom, batches = index.bom, index.prod_full + index.prod_part
    levels = bom.levels if bom.levels.size else np.zeros(1, np.int64)
    # (J, P) share of each row's start its components allowed (none to draw: all of it)
    started = np.ones_like(rel_q) if bom.row.size else None
    sums["expired"][:, 0] += index.expired_on_hand * p
    for t in range(h):
        # 1. exogenous supply
        s_node, s_slot, s_qty = index.supply[t]
        stock[s_slot, s_node, :] += s_qty[:, None]  # (node, slot) unique within a week
        np.add.at(sums["receipts"][:, t], s_node, s_qty * p)
        # 2. arrivals
        keep = []
        for arrival, to_node, first, taken in in_transit:
            now = arrival == t
            if now.any():
                got = taken[:, now, :]  # (C - first, R, P)
                slots = np.flatnonzero(got.any(axis=(1, 2)))  # most slots carry nothing
                k, r = len(slots), int(now.sum())
                _add(stock, np.tile(to_node[now], k), np.repeat(slots + first, r),
                     got[slots].reshape(k * r, p))
                np.add.at(sums["arrivals"][:, t], to_node[now], got.sum(axis=(0, 2)))
            if (~now).any():
                keep.append((arrival[~now], to_node[~now], first, taken[:, ~now, :]))
        in_transit = keep
        # 3-4. production, then shipments, level by level (twin.bom): an item's starts draw its components,
        # what is released this week enters stock, and the item's shipments leave; components come first,
        # so a component released or moved this week (a lane without lead time) can feed its parent, as
        # in the plan's stock balance
        releasing = np.flatnonzero((rel_t == t).any(axis=1))
        this_week = np.flatnonzero(index.ship_t == t)
        for level in levels:
            starting = (np.flatnonzero((index.prod_t == t) & (bom.level == level)) if bom.row.size
                        else releasing[:0])
            if starting.size:
                share, c_nodes, drawn = start_rows(stock, t, starting, index.prod_qty, batches,
                                                   index.prod_whole, bom, _take_fefo)
                started[starting] = share
                np.add.at(sums["consumed"][:, t], c_nodes, drawn.sum(axis=1))
            rows = releasing[bom.level[releasing] == level] if len(levels) > 1 else releasing
            if rows.size:
                got = rel_q[rows] if started is None else rel_q[rows] * started[rows]
                rel = np.where(rel_t[rows] == t, got, 0.0)
                node = index.prod_node[rows]
                # life from manufacture: the start week's slot (at least this week's: it arrives expiring)
                slot = np.where(index.life_from_release[node], index.release_slot[node, t],
                                np.maximum(index.release_slot[node, index.prod_t[rows]], t))
                _add(stock, node, slot, rel)
                released_sold += rel[sold_row[rows]].sum(axis=0)
                np.add.at(sums["released"][:, t], index.prod_node[rows], rel.sum(axis=1))
            # 4. departures, rank by rank (a node ships at most once per rank)
            ships = this_week[bom.ship_level[this_week] == level] if len(levels) > 1 else this_week
            for rank in np.unique(index.ship_rank[ships]):
                rows = ships[index.ship_rank[ships] == rank]
                frm = index.ship_from[rows]
                avail = stock[t:, frm, :]  # slots below t are empty (expired)
                want = np.broadcast_to(index.ship_qty[rows][:, None], (len(rows), p))
                lane = index.ship_lane[rows]  # a lane ships at most once per rank
                if catch_up:
                    want = want + owed[lane]
                taken = _ship(avail, want, 0, index.ship_min_slot[rows] - t, index.ship_sell_cap[t:, rows])
                if catch_up:
                    owed[lane] = np.maximum(want - taken.sum(axis=0), 0.0)
                stock[t:, frm, :] = avail
                np.add.at(sums["departures"][:, t], frm, taken.sum(axis=(0, 2)))
                now = index.ship_arrival[rows] == t
                if now.any():  # a lane without lead time: it arrives this week, before demand is served
                    to, got = index.ship_to[rows][now], taken[:, now, :]
                    slots = np.flatnonzero(got.any(axis=(1, 2)))
                    k = len(slots)
                    _add(stock, np.tile(to, k), np.repeat(slots + t, len(to)),
                         got[slots].reshape(k * len(to), p))
                    np.add.at(sums["arrivals"][:, t], to, got.sum(axis=(0, 2)))
                later = ~now
                if later.any():
                    in_transit.append((index.ship_arrival[rows][later], index.ship_to[rows][later], t,
                                       taken[:, later, :]))
        # 5. serve demand and backlog first-expiry-first-out
        dem = np.ascontiguousarray(demand.week(t).T)  # (D, P)
        need = backlog + dem
        serve = need
        if follow_plan:  # the plan's own service, plus whatever need it did not foresee
            serve = np.minimum(need, index.plan_served[:, t, None]
                               + np.maximum(need - index.plan_need[:, t, None], 0.0))
        served = serve - _take_fefo(stock[t:, :d, :], serve, 0)  # demand nodes are 0 … D-1: a view
        # 6. write off what reaches its last usable week
        if t < c - 1:
            gone = stock[t].copy()
            stock[t] = 0.0
            expired_units += gone.sum(axis=0)
            expired_value += index.unit_cost @ gone
            sums["expired"][:, t] += gone.sum(axis=1)
        # 7. backlog and lost demand
        backlog = need - served
        lost = np.zeros_like(backlog)
        if max_backlog_weeks is not None:
            recent = (recent + [dem])[-max_backlog_weeks:] if max_backlog_weeks > 0 else []
            window = np.sum(recent, axis=0) if recent else np.zeros_like(backlog)
            lost = np.maximum(backlog - window, 0.0)
            if follow_plan:  # demand the plan gives up on is given up on (as far as it is still open)
                lost = np.maximum(lost, np.minimum(backlog, index.plan_lost[:, t, None]))
            backlog = backlog - lost
        lost_total += lost.sum(axis=0)
        short = (backlog + lost) > tolerance
        has_demand = dem > tolerance
        tot["demand"] += dem
        tot["above_plan"] += np.maximum(dem - index.plan_demand[:, t, None], 0.0)
        tot["on_time"] += np.maximum(dem - backlog - lost, 0.0)
        tot["short_weeks"] += short
        tot["demand_weeks"] += has_demand
        tot["served_weeks"] += has_demand & ~short
        short_count[:, t] = short.sum(axis=1)
        closing_paths[:, t, :] = stock.sum(axis=0)  # (N, P)
        sums["closing"][:, t] = closing_paths[:, t, :].sum(axis=1)
        sums["served"][dn, t] = served.sum(axis=1)
        sums["backlog"][:, t], sums["lost"][:, t], sums["demand"][:, t] = (
            backlog.sum(axis=1), lost.sum(axis=1), dem.sum(axis=1))
    return BlockOutcome(
        **{k: v.T for k, v in tot.items()}, short_count=short_count, expired_units=expired_units,
        expired_value=expired_value, released_sold=released_sold, unserved=lost_total + backlog.sum(axis=0),
        end_stock=stock.sum(axis=0).T, closing=closing_paths, sums=sums,
    )


def combine_blocks(blocks: list[BlockOutcome]) -> SimOutcome:
    """Join the blocks' outcomes, in block order, into the replay's :class:`SimOutcome`.

    Per-path figures are concatenated; the fan's percentiles are taken over every path's closing stock;
    shares and means divide block sums (added in block order) by the number of paths.
    """
    paths = sum(b.expired_units.shape[0] for b in blocks)

    def cat(name: str, axis: int = 0) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks], axis=axis)

    closing = cat("closing", axis=2)  # (N, H, P)
    mean = {k: sum((b.sums[k] for b in blocks[1:]), blocks[0].sums[k].copy()) / paths for k in blocks[0].sums}
    return SimOutcome(
        **{k: cat(k) for k in ("demand", "on_time", "short_weeks", "demand_weeks", "served_weeks",
                               "above_plan", "expired_units", "expired_value", "released_sold", "unserved",
                               "end_stock")},
        short_prob=sum(b.short_count for b in blocks) / paths,
        fan=np.percentile(closing, FAN, axis=2), mean=mean,
    )


def simulate_blocks(
    run_block: Callable[[PathBlock], BlockOutcome], paths: int, seed: int, executor: Any = None
) -> SimOutcome:
    """Run ``run_block`` on every block of ``paths`` paths and combine them.

    Args:
        run_block: simulates one block (drawing from :meth:`PathBlock.generators`); it must pickle when
            ``executor`` runs it in other processes (a module-level function or a ``functools.partial``).
        paths, seed: the replay's paths and seed.
        executor: anything with ``map(fn, items)`` returning the results in the items' order (e.g. the
            pipeline's Dask cluster, ``flows/cluster.py``); None runs the blocks here, one after another.
    """
    blocks = path_blocks(paths, seed)
    outcomes = list(map(run_block, blocks) if executor is None else executor.map(run_block, blocks))
    return combine_blocks(outcomes)
