"""Echelon cover inequalities for items made on campaign resources (issue 17, the bound's time linking).

For an item ``i`` whose every routing is on a campaign resource, its *echelon* ``E(i)`` is ``i`` and every item
that consumes it, directly or through the BOM (closed upwards: every parent of an item in ``E(i)`` is in it).
Each ``j`` in ``E(i)`` gets a factor ``f_j``: units of ``i`` a good unit of ``j`` needs at least (``f_i = 1``;
``f_j = max over j's components c in E(i) of f_c × per_start / the best yield of j's routings``). A window of
weeks ``[k, l]`` (``k`` after the frozen weeks and ≥ 1) then gives

    Σ_j f_j (B_j(l) + lost_j[k,l] + I_j(k−1)) + D·(setup_i(k) + Σ_{k<t≤l} switch_i(t)) ≥ D − R

with ``D = Σ_j f_j`` × the demand of ``j`` in ``[k, l]`` (every site; data), ``R`` the same of the exogenous
supply arriving in ``[k, l]`` (data), ``B_j(l)`` the backlog at the end of ``l``, ``lost_j`` the demand lost in
the window, and ``I_j(k−1)`` everything of ``j`` that exists or is under way at the end of ``k − 1``: closing
stock (every site and cohort), starts before ``k`` released from ``k`` on (× yield), shipments leaving before
``k`` and arriving from ``k`` on. Setups and switches are summed over ``i``'s campaign resources.

**Why it holds for every integer plan.** Summing the stock balances of ``j`` over the window and the sites:
served + consumed ≤ ``I_j(k−1)`` + supply in the window + good output of ``j``'s starts in the window (expiry,
stock left at ``l``, departures arriving after ``l`` only lower the left side). A start of ``j`` in the window
consumes ``per_start`` of each component in that week, so ``f_j`` × its good output ≤ ``f_c`` × what it consumes
of ``c``; multiplied by ``f_j`` and summed over ``E(i)`` the consumption telescopes down to ``i``'s own good
output from starts in the window. The backlog rows give served ≥ demand − ``B(l)`` − lost in the window. So
``D − R − Σ f (B + lost + I) ≤`` ``i``'s output from window starts. If no campaign resource is set up for ``i``
in ``[k, l]`` that output is 0 (``campaign`` rows) — and then ``setup_i(k) = 0`` and every switch into ``i`` in
``(k, l]`` is 0 too; if one is, the first week set up is ``k`` or follows a week not set up, whose switch is
then 1, so the term ``D`` × (≥ 1) covers ``D − R``. Nothing is assumed about shelf life (expiry only
removes), lapsing backlog (lost is on the left), safety stocks (not required), release lags (pipeline is on
the left, window output released after ``l`` is only counted in its favour) or the number of DCs (every
site is summed). Assumed, and checked by :func:`echelon_items`: a weekly grid (no buckets) and every routing
of ``i`` on a campaign resource with ``setup_for`` columns from the first unfrozen week.

**What it cuts.** The relaxation keeps a suite on a steady fractional mix: a product set up 0.25 of every week,
with hardly any switch, serves its demand every week from stock it never holds. Here a window's demand that
its setup share plus switches do not cover must be on hand before the window, or late.

Pure logic: the caller hands in the model's frames and a solution vector; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from optimization.network import Network

__all__ = ["EchelonCuts", "cut_terms", "echelon_cuts", "echelon_items", "separate"]

ITEM = "product_id"


def echelon_items(net: Network, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``item_id, product_id, f``: each eligible campaign item's echelon with its factors (``item_id`` the
    item made on the suite, ``product_id`` a member of its echelon).

    Eligible: the grid is weekly, and every routing of the item is on a campaign resource where the model
    has ``setup_for`` columns (others: no row)."""
    empty = pl.DataFrame(schema={"item_id": pl.String, ITEM: pl.String, "f": pl.Float64})
    setup = frames.get("setup_for")
    if setup is None or setup.height == 0 or net.grid.bucketed:
        return empty
    campaign = net.resources.filter(pl.col("campaign")).select("resource_id")
    routes = net.routings.select(ITEM, "resource_id", "yield")
    off = routes.join(campaign, on="resource_id", how="anti").select(ITEM).unique()
    items = setup.select(ITEM).unique().join(off, on=ITEM, how="anti").sort(ITEM)
    best_yield = routes.group_by(ITEM).agg(pl.col("yield").max().alias("y"))
    bom = net.bom.select("parent_id", "component_id", "per_start").join(
        best_yield, left_on="parent_id", right_on=ITEM, how="left", validate="m:1"
    )
    level = items.select(pl.col(ITEM).alias("item_id"), ITEM, f=pl.lit(1.0))
    out = [level]
    for _ in range(max(net.bom.height, 1)):  # a BOM has no cycle (contracts), so this ends by its depth
        level = (
            level.join(bom, left_on=ITEM, right_on="component_id")
            .select("item_id", pl.col("parent_id").alias(ITEM), f=pl.col("f") * pl.col("per_start") / pl.col("y"))
            .filter(pl.col("f").is_finite() & (pl.col("f") > 0))
        )
        if level.height == 0:
            break
        out.append(level)
    return pl.concat(out).group_by("item_id", ITEM).agg(pl.col("f").max()).sort("item_id", ITEM)


@dataclass
class EchelonCuts:
    """Everything the separation needs, per eligible item ``i`` (``n`` items, ``T`` weeks):

    * ``terms``: ``item_id, kind, t, col, coef``: the columns of the left side by kind — ``I`` (on hand or
      under way at the end of ``t``), ``B`` (backlog at the end of ``t``), ``L`` (lost in ``t``), ``Y``
      (set up in ``t``), ``S`` (a switch into ``i`` in ``t``), each weighted by ``f``;
    * ``demand``, ``supply``: ``n × T`` arrays of the echelon's demand and exogenous supply by week;
    * ``items``: the item ids, ``first``: the first week a window may start.
    """

    items: list[str]
    terms: pl.DataFrame
    demand: np.ndarray
    supply: np.ndarray
    safety: np.ndarray
    first: int


def echelon_cuts(
    net: Network,
    frames: dict[str, pl.DataFrame],
    demand: pl.DataFrame,
    safety: pl.DataFrame,
    releases: pl.DataFrame,
    arrivals: pl.DataFrame,
    first_week: int,
) -> EchelonCuts | None:
    """The data and column terms of every eligible item's echelon cover inequalities (None: no item).

    Args:
        frames: the model's variable frames (``stock``, ``backlog``, ``lost``, ``make``, ``ship``,
            ``setup_for``, ``switch``).
        demand: ``product_id, site_id, t, quantity`` (the model's).
        safety: ``product_id, site_id, t, safety_stock`` (the model's targets).
        releases, arrivals: the model's ``releases`` and ``arrivals``.
        first_week: the first unfrozen week.
    """
    members = echelon_items(net, frames)
    if members.height == 0:
        return None
    items = members["item_id"].unique().sort().to_list()
    index = pl.DataFrame({"item_id": items, "i": np.arange(len(items), dtype=np.int64)})
    horizon = net.horizon
    m = members.join(index, on="item_id")
    parts = []
    stock = frames["stock"].join(m, on=ITEM).select("i", "t", "col", coef=pl.col("f"))
    parts.append(stock.with_columns(kind=pl.lit("I")))
    make_t = frames["make"].select("col", start_t=pl.col("t"))
    flowing = (  # started by t, released after t: under way at the end of every t in [start, release)
        releases.join(make_t, on="col").join(m, on=ITEM)
        .filter(pl.col("release_t") > pl.col("start_t"))
        .with_columns(t=pl.int_ranges(pl.col("start_t"), pl.min_horizontal(pl.col("release_t"), horizon)))
        .explode("t")
        .select("i", "t", "col", coef=pl.col("f") * pl.col("yield") * pl.col("share"))
    )
    parts.append(flowing.with_columns(kind=pl.lit("I")))
    ship_t = frames["ship"].select("col", depart_t=pl.col("t"))
    transit = (
        arrivals.join(ship_t, on="col").join(m, on=ITEM)
        .filter(pl.col("arrival") > pl.col("depart_t"))
        .with_columns(t=pl.int_ranges(pl.col("depart_t"), pl.min_horizontal(pl.col("arrival"), horizon)))
        .explode("t")
        .select("i", "t", "col", coef=pl.col("f") * pl.col("share"))
    )
    parts.append(transit.with_columns(kind=pl.lit("I")))
    parts.append(frames["backlog"].join(m, on=ITEM).select("i", "t", "col", coef=pl.col("f"), kind=pl.lit("B")))
    if "lost" in frames:
        parts.append(frames["lost"].join(m, on=ITEM).select("i", "t", "col", coef=pl.col("f"), kind=pl.lit("L")))
    if "shortfall" in frames:
        parts.append(frames["shortfall"].join(m, on=ITEM).select("i", "t", "col", coef=pl.col("f"), kind=pl.lit("F")))
    own = index.rename({"item_id": ITEM})
    parts.append(frames["setup_for"].join(own, on=ITEM).select("i", "t", "col", coef=pl.lit(1.0), kind=pl.lit("Y")))
    parts.append(frames["switch"].join(own, on=ITEM).select("i", "t", "col", coef=pl.lit(1.0), kind=pl.lit("S")))
    terms = (
        pl.concat([p.select("i", "kind", pl.col("t").cast(pl.Int64), pl.col("col").cast(pl.Int64),
                            pl.col("coef").cast(pl.Float64)) for p in parts])
        .group_by("i", "kind", "t", "col").agg(pl.col("coef").sum())
        .filter(pl.col("t").is_between(0, horizon - 1))
    )
    return EchelonCuts(
        items=items,
        terms=terms,
        demand=_by_week(demand.join(m, on=ITEM), "quantity", len(items), horizon),
        supply=_by_week(net.supply.join(m, on=ITEM), "quantity", len(items), horizon),
        safety=_by_week(safety.join(m, on=ITEM), "safety_stock", len(items), horizon),
        first=max(first_week, 1),
    )


def _by_week(frame: pl.DataFrame, value: str, n: int, horizon: int) -> np.ndarray:
    """``n × horizon`` array of Σ f × value by item and week."""
    out = np.zeros((n, horizon))
    g = frame.filter(pl.col("t").is_between(0, horizon - 1)).group_by("i", "t").agg(
        (pl.col(value) * pl.col("f")).sum().alias("v"))
    np.add.at(out, (g["i"].to_numpy(), g["t"].to_numpy()), g["v"].to_numpy())
    return out


def separate(cuts: EchelonCuts, x: np.ndarray, per_item: int = 3, tolerance: float = 1e-6) -> pl.DataFrame:
    """The most violated windows at the solution ``x`` (every column's value): ``i, k, l, rhs, violation``,
    at most ``per_item`` per item with different first weeks, largest violation relative to ``D`` first;
    only violations above ``tolerance`` × ``D`` (and above 1e-6 absolute)."""
    n, horizon = cuts.demand.shape
    vals = cuts.terms.select("i", "kind", "t", v=pl.col("coef") * x[cuts.terms["col"].to_numpy()])
    sums = {kind: np.zeros((n, horizon)) for kind in "IBLFYS"}
    g = vals.group_by("i", "kind", "t").agg(pl.col("v").sum())
    for kind, part in g.partition_by("kind", as_dict=True).items():
        np.add.at(sums[kind[0]], (part["i"].to_numpy(), part["t"].to_numpy()), part["v"].to_numpy())
    dcum = np.concatenate([np.zeros((n, 1)), np.cumsum(cuts.demand, axis=1)], axis=1)
    rcum = np.concatenate([np.zeros((n, 1)), np.cumsum(cuts.supply, axis=1)], axis=1)
    lcum = np.concatenate([np.zeros((n, 1)), np.cumsum(sums["L"], axis=1)], axis=1)
    scum = np.concatenate([np.zeros((n, 1)), np.cumsum(sums["S"], axis=1)], axis=1)
    ks, ls = np.meshgrid(np.arange(horizon), np.arange(horizon), indexing="ij")
    ok = (ks >= cuts.first) & (ls >= ks)
    k, l = ks[ok], ls[ok]
    d = dcum[:, l + 1] - dcum[:, k]  # n × windows
    r = rcum[:, l + 1] - rcum[:, k]
    cover = sums["Y"][:, k] + scum[:, l + 1] - scum[:, k + 1]
    need = d - r + cuts.safety[:, l]
    left = sums["I"][:, k - 1] + sums["B"][:, l] + sums["F"][:, l] + lcum[:, l + 1] - lcum[:, k] + need * cover
    viol = need - left
    rel = np.where(d > 0, viol / np.maximum(d, 1e-12), 0.0)
    found = pl.DataFrame({
        "i": np.repeat(np.arange(n), k.size), "k": np.tile(k, n), "l": np.tile(l, n),
        "d": d.ravel(), "rhs": need.ravel(), "violation": viol.ravel(), "rel": rel.ravel(),
    }).filter((pl.col("rel") > tolerance) & (pl.col("violation") > 1e-6) & (pl.col("rhs") > 0))
    return (
        found.sort("rel", descending=True)
        .unique(["i", "k"], keep="first", maintain_order=True)
        .group_by("i", maintain_order=True).head(per_item)
        .select("i", "k", "l", "rhs", "violation")
    )


def cut_terms(cuts: EchelonCuts, chosen: pl.DataFrame) -> pl.DataFrame:
    """``product_id, k, l, col, coef`` of the chosen windows' left sides (one row per column)."""
    t = cuts.terms
    w = chosen.select("i", "k", "l", "rhs")
    parts = [
        w.join(t.filter(pl.col("kind") == "I"), on="i").filter(pl.col("t") == pl.col("k") - 1),
        w.join(t.filter(pl.col("kind").is_in(["B", "F"])), on="i").filter(pl.col("t") == pl.col("l")),
        w.join(t.filter(pl.col("kind") == "L"), on="i").filter(pl.col("t").is_between(pl.col("k"), pl.col("l"))),
        w.join(t.filter(pl.col("kind") == "Y"), on="i").filter(pl.col("t") == pl.col("k"))
        .with_columns(coef=pl.col("coef") * pl.col("rhs")),
        w.join(t.filter(pl.col("kind") == "S"), on="i").filter(pl.col("t").is_between(pl.col("k") + 1, pl.col("l")))
        .with_columns(coef=pl.col("coef") * pl.col("rhs")),
    ]
    names = pl.DataFrame({"i": np.arange(len(cuts.items)), ITEM: cuts.items})
    return (
        pl.concat([p.select("i", "k", "l", "col", "coef") for p in parts])
        .group_by("i", "k", "l", "col").agg(pl.col("coef").sum())
        .join(names, on="i")
        .select(ITEM, "k", "l", "col", "coef")
        .sort(ITEM, "k", "l", "col")
    )
