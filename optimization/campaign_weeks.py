"""Setup-week cover inequalities for items made on campaign resources (issue 17, the bound's time linking).

The relaxation runs a campaign suite on a steady fractional mix: each of its ``n`` products set up ``1/n`` of
every week, making ``1/n`` of a week's batches every week, with no switch at all (a mix of the schedules "A
all quarter", "B all quarter", ...). Every integer plan instead gives the suite to one product at a time, so
the others wait on stock or backlog, and a product that takes the suite in a window either has it at the
window's first week or switches into it, losing that week's batches to the changeover. The echelon cover
rows (:mod:`optimization.campaign_echelon`) state the wait but charge the switch as a switch variable, which
the relaxation raises by a fraction at the cost of a fraction of a changeover; here the switch is charged in
*set-up weeks*, which the products of a suite share (at most one a week), so it costs suite capacity.

For an eligible item ``i`` (as :func:`~optimization.campaign_echelon.echelon_items`: a weekly grid, every
routing on a campaign resource; here also on one resource only) and a window of demand weeks ``[k, l]`` (``k``
≥ 1), its starts that can be released in the window run over ``[s, e]`` = ``[max(k − λ⁺, 0), l − λ⁻]``
(``λ⁻``, ``λ⁺`` the fewest and most weeks from a start to its release; ``s`` ≥ the first unfrozen week):

    Σ_{s≤t≤e} (w_t + δ [t = s or t is idle, s < t < e]) Y_i(t) + a C ≥ a N,    a = 1/G + δ/M,
    N = D − R + S(l),    M = min(N, G Σ_{s≤t≤e} w_t),
    C = Σ_j f_j (J_j(k−1) + B_j(l) + F_j(l) + lost_j[k, l]),

and, under a terminal condition, the same with ``l`` the last week, ``e`` the last week (every start left) and
the echelon's terminal target and shortfall in place of ``S(l)`` and ``F(l)``. ``Y_i(t)``: set up for ``i`` in
``t``; ``D``, ``R``, ``S``, ``B``, ``F``, ``lost``, ``f``: the echelon rows' demand, exogenous supply, safety
targets, backlog, shortfall, lost demand and factors; ``J_j(k−1)``: everything of ``j`` on hand or under way
at the end of ``k − 1`` except ``i``'s own starts (those are counted by their setups); ``G``: the most good
units of ``i`` a set-up week holds (yield × :func:`~optimization.campaign_links.fit_units`'s ``g``), ``w_t``
week ``t``'s over ``G``; ``δ``: the least share of ``G`` a switch into ``i`` loses in a productive week of
``(s, e]`` (``g − f`` over ``G``; 1 on the demo, where a 96-hour switch leaves no room for a batch); a week is
*idle* when it holds nothing for ``i`` (a shutdown).

**Why it holds for every integer plan.** Write ``x = N − C``. The echelon rows' argument gives ``x ≤``
``i``'s good output from starts in ``[s, e]`` (a start's output released after ``l`` is only in its favour;
the terminal row counts what is under way at the horizon's end). Let ``T`` be the productive weeks of ``[s,
e]`` set up for ``i`` and ``σ`` those switched into after ``s``: such a week holds at most ``f_t``, any other at
most ``g_t``, so output ≤ ``G (Σ_T w_t − δ σ)`` and ``Σ_T w_t ≥ x/G + δ σ``. If ``x ≤ 0`` the row holds
(``a x ≤ 0``, the setup terms ≥ 0). If ``x > 0``, ``T`` is not empty and ``x ≤ M`` (output ≤ ``G Σ w_t``);
the first week of ``T`` is ``s``, or is switched into, or follows an idle week set up for ``i`` (which lies
in ``(s, e)``): so ``σ ≥ 1 − Y(s) − Σ_idle Y(t)``, and with ``1 ≥ x/M``, ``Σ_T w_t ≥ x/G + δ x/M − δ (Y(s)
+ Σ_idle Y(t))``, which is the row (``Σ_T w_t ≤ Σ w_t Y(t)``). ``tests/test_campaign_weeks.py`` checks it
at every integer plan of every schedule of a two-product suite (81 schedules; the least left side over
each schedule's plans, a MIP where there are batches) in four settings, with and without a terminal
condition.

**What it cuts.** At the steady mix a product set up ``1/n`` of every week with no stock or backlog has
``Σ w_t Y = x/G`` on a suite at full load and ``x/M`` near 1: short by ``δ (1 − 1/n)`` suite-weeks in every
window. The relaxation must then set the product up for more weeks than it makes in (capacity the others
lose) or hold its demand on stock or backlog, as a plan does. What it cannot cut is the echelon stock the
relaxation holds above its targets anyway (pipelines, transit, opening stock: up to 9 weeks of demand on
the demo's US-BR02), which is cover for any window up to that length: docs/campaign-solver.md, "Stop 26".

Pure logic: the caller hands in the model's frames and a solution vector; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from optimization.campaign_echelon import EchelonCuts, echelon_cuts, echelon_items
from optimization.campaign_links import fit_units
from optimization.lp import ModelBuilder
from optimization.network import Network

__all__ = ["WeekCuts", "add_rows", "separate", "week_cut_terms", "week_cuts", "windows"]

ITEM = "product_id"


@dataclass
class WeekCuts:
    """What the rows need, per eligible item ``i`` (``n`` items, ``T`` weeks):

    * ``echelon``: the echelon rows' data and terms (:class:`~optimization.campaign_echelon.EchelonCuts`), the
      item's own starts under way relabelled ``P`` (the rows count those starts by their setups instead of as
      cover) and the echelon's terminal shortfall added as ``T`` (at the last week);
    * ``g``: the most good units of ``i`` a set-up week holds (0: no row, e.g. an item on two suites);
    * ``share``: ``n × T``, week ``t``'s good units over ``g`` (0 in a week without hours or setup column);
    * ``loss``: ``n × T``, what a switch into ``i`` in ``t`` loses of ``share`` (``(g_t − f_t) / g``);
    * ``lag_min``, ``lag_max``: the fewest and most weeks from a start of ``i`` to its release;
    * ``terminal``: the echelon's terminal target (Σ f × target; 0 without a terminal condition);
    * ``first_week``: the first unfrozen week (setup columns exist from it)."""

    echelon: EchelonCuts
    g: np.ndarray
    share: np.ndarray
    loss: np.ndarray
    lag_min: np.ndarray
    lag_max: np.ndarray
    terminal: np.ndarray
    first_week: int


def week_cuts(
    net: Network,
    frames: dict[str, pl.DataFrame],
    demand: pl.DataFrame,
    safety: pl.DataFrame,
    releases: pl.DataFrame,
    arrivals: pl.DataFrame,
    first_week: int,
) -> WeekCuts | None:
    """The setup-week cover rows' data for every eligible item (None: no item); the arguments are
    :func:`~optimization.campaign_echelon.echelon_cuts`'s, with ``frames`` also holding ``pair`` (and
    ``terminal`` under a terminal condition). Eligible beyond the echelon rows: every routing on one campaign
    resource (two suites would need the switch argument per suite)."""
    echelon = echelon_cuts(net, frames, demand, safety, releases, arrivals, first_week)
    if echelon is None:
        return None
    n, horizon = echelon.demand.shape
    index = pl.DataFrame({ITEM: echelon.items, "i": np.arange(n, dtype=np.int64)})
    single = frames["setup_for"].group_by(ITEM).agg(pl.col("resource_id").n_unique().alias("suites")) \
        .filter(pl.col("suites") == 1).select(ITEM)
    weeks = (
        fit_units(net, frames["setup_for"], frames["pair"], first_week)
        .join(single, on=ITEM, how="semi")
        .join(net.routings.select(ITEM, "resource_id", "yield"), on=[ITEM, "resource_id"], validate="m:1")
        .join(index, on=ITEM)
        .select("i", "t", g=pl.col("g") * pl.col("yield"), f=pl.col("f") * pl.col("yield"))
    )
    good, after = np.zeros((n, horizon)), np.zeros((n, horizon))
    good[weeks["i"].to_numpy(), weeks["t"].to_numpy()] = weeks["g"].to_numpy()
    after[weeks["i"].to_numpy(), weeks["t"].to_numpy()] = weeks["f"].to_numpy()
    g = good.max(axis=1)
    scale = np.where(g > 0, g, 1.0)[:, None]
    own = frames["make"].select("col", ITEM, start_t="t").join(index, on=ITEM)
    lags = (
        releases.select("col", "release_t").join(own, on="col")
        .group_by("i").agg(low=(pl.col("release_t") - pl.col("start_t")).min(),
                           high=(pl.col("release_t") - pl.col("start_t")).max())
    )
    lag_min = np.zeros(n, dtype=np.int64)  # no release in the horizon: 0 and 0, the weakest
    lag_max = np.zeros(n, dtype=np.int64)
    lag_min[lags["i"].to_numpy()] = np.maximum(lags["low"].to_numpy(), 0)
    lag_max[lags["i"].to_numpy()] = np.maximum(lags["high"].to_numpy(), 0)
    mine = own.select("i", "col", mine=pl.lit(True))
    terms = echelon.terms.join(mine, on=["i", "col"], how="left").with_columns(
        kind=pl.when((pl.col("kind") == "I") & pl.col("mine").fill_null(False)).then(pl.lit("P"))
        .otherwise(pl.col("kind"))).drop("mine")
    terminal = np.zeros(n)
    if "terminal" in frames:
        members = echelon_items(net, frames).join(index.rename({ITEM: "item_id"}), on="item_id")
        short = frames["terminal"].join(members, on=ITEM)
        np.add.at(terminal, short["i"].to_numpy(), (short["f"] * short["target"]).to_numpy())
        terms = pl.concat([terms, short.select("i", kind=pl.lit("T"), t=pl.lit(horizon - 1, pl.Int64),
                                               col=pl.col("col").cast(pl.Int64), coef=pl.col("f"))])
    echelon = EchelonCuts(items=echelon.items, terms=terms, demand=echelon.demand, supply=echelon.supply,
                          safety=echelon.safety, first=echelon.first)
    return WeekCuts(echelon=echelon, g=g, share=good / scale, loss=np.clip(good - after, 0.0, None) / scale,
                    lag_min=lag_min, lag_max=lag_max, terminal=terminal, first_week=first_week)


def _sums(cuts: EchelonCuts, x: np.ndarray) -> dict[str, np.ndarray]:
    """Σ coef × x of each kind of term (``I, P, B, L, F, T, Y, S``), ``items × weeks``."""
    n, horizon = cuts.demand.shape
    sums = {kind: np.zeros((n, horizon)) for kind in "IPBLFTYS"}
    vals = cuts.terms.select("i", "kind", "t", v=pl.col("coef") * x[cuts.terms["col"].to_numpy()])
    g = vals.group_by("i", "kind", "t").agg(pl.col("v").sum())
    for kind, part in g.partition_by("kind", as_dict=True).items():
        np.add.at(sums[kind[0]], (part["i"].to_numpy(), part["t"].to_numpy()), part["v"].to_numpy())
    return sums


def _cum(a: np.ndarray) -> np.ndarray:
    """Cumulative sums along the weeks with a leading 0: ``out[:, l + 1] − out[:, k]`` sums ``[k, l]``."""
    return np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)


def _setup_weights(cuts: WeekCuts, i: int, first: int, last: int) -> tuple[np.ndarray, float]:
    """The setup coefficients of item ``i``'s row over the start weeks ``[first, last]`` (by week) and its
    ``δ``: each week's ``share``, plus ``δ`` at ``first`` and at every week in ``(first, last)`` the item makes
    nothing in (a campaign set up through a shutdown week is not switched into when it resumes); ``δ`` the
    least ``loss`` of a productive week in ``(first, last]`` (0 when there is none)."""
    coef = np.zeros(cuts.share.shape[1])
    if last < first:
        return coef, 0.0
    coef[first:last + 1] = cuts.share[i, first:last + 1]
    later = np.arange(first + 1, last + 1)
    productive = later[cuts.share[i, later] > 0]
    delta = float(cuts.loss[i, productive].min()) if productive.size else 0.0
    coef[first] += delta
    idle = later[(cuts.share[i, later] <= 0) & (later < last)]
    coef[idle] += delta
    return coef, delta


def windows(cuts: WeekCuts) -> tuple[pl.DataFrame, np.ndarray]:
    """Every row that can be written: a frame ``w, i, k, l, terminal, first, last, need, a, rhs`` (``need`` =
    N > 0, ``rhs`` = a N; ``terminal`` rows run to the horizon's end with the terminal target in place of the
    safety target) and each row's setup coefficients by week (``rows × T``)."""
    e = cuts.echelon
    n, horizon = e.demand.shape
    d, r = _cum(e.demand), _cum(e.supply)
    rows, coefs = [], []
    for i in np.flatnonzero(cuts.g > 0):
        for k in range(e.first, horizon):
            first = max(k - int(cuts.lag_max[i]), 0)
            if first < cuts.first_week:
                continue
            ends = [(l, False) for l in range(k, horizon)] + ([(horizon - 1, True)] if cuts.terminal[i] > 0 else [])
            for l, terminal in ends:
                last = horizon - 1 if terminal else l - int(cuts.lag_min[i])
                need = d[i, l + 1] - d[i, k] - (r[i, l + 1] - r[i, k]) \
                    + (cuts.terminal[i] if terminal else e.safety[i, l])
                if need <= 0:
                    continue
                coef, delta = _setup_weights(cuts, i, first, last)
                most = min(need, cuts.g[i] * float(cuts.share[i, first:last + 1].sum()) if last >= first else 0.0)
                a = 1.0 / cuts.g[i] + (delta / most if most > 0 else 0.0)
                rows.append((len(rows), int(i), k, l, terminal, first, last, need, a, a * need))
                coefs.append(coef)
    names = ["w", "i", "k", "l", "terminal", "first", "last", "need", "a", "rhs"]
    frame = pl.DataFrame(rows, schema=dict(zip(names, [pl.Int64] * 4 + [pl.Boolean] + [pl.Int64] * 2
                                                   + [pl.Float64] * 3)), orient="row")
    return frame, np.array(coefs).reshape(len(coefs), horizon)


def separate(cuts: WeekCuts, x: np.ndarray, per_item: int = 3, tolerance: float = 1e-6) -> pl.DataFrame:
    """The most violated rows at the solution ``x`` (every column's value): :func:`windows`' columns and
    ``violation`` (in set-up weeks), at most ``per_item`` per item with different first weeks, largest
    violation first; only violations above ``tolerance``."""
    w, coefs = windows(cuts)
    if w.height == 0:
        return w.with_columns(violation=pl.lit(0.0))
    sums = _sums(cuts.echelon, x)
    i, k, l = (w[c].to_numpy() for c in ("i", "k", "l"))
    terminal = w["terminal"].to_numpy()
    lost = _cum(sums["L"])
    short = np.where(terminal, sums["T"][i, -1], sums["F"][i, l])
    cover = sums["I"][i, k - 1] + sums["B"][i, l] + short + lost[i, l + 1] - lost[i, k]
    weeks = (coefs * sums["Y"][i]).sum(axis=1)
    return (
        w.with_columns(violation=w["rhs"].to_numpy() - w["a"].to_numpy() * cover - weeks)
        .filter(pl.col("violation") > tolerance)
        .sort("violation", descending=True)
        .unique(["i", "k"], keep="first", maintain_order=True)
        .group_by("i", maintain_order=True).head(per_item)
    )


def week_cut_terms(cuts: WeekCuts, chosen: pl.DataFrame) -> pl.DataFrame:
    """``w, product_id, col, coef`` of the chosen rows' left sides (one row per column; ``w`` the row's
    number in :func:`windows`)."""
    t = cuts.echelon.terms
    _, coefs = windows(cuts)
    w = chosen.select("w", "i", "k", "l", "terminal", "a")
    scaled = pl.col("coef") * pl.col("a")
    at_end = pl.col("t") == pl.col("l")
    setups = [(row, tt, coefs[row, tt]) for row in chosen["w"].to_list() for tt in np.flatnonzero(coefs[row])]
    weights = pl.DataFrame(setups, schema={"w": pl.Int64, "t": pl.Int64, "weight": pl.Float64}, orient="row")
    parts = [
        w.join(t.filter(pl.col("kind") == "I"), on="i").filter(pl.col("t") == pl.col("k") - 1)
        .with_columns(coef=scaled),
        w.join(t.filter(pl.col("kind") == "B"), on="i").filter(at_end).with_columns(coef=scaled),
        w.join(t.filter(pl.col("kind") == "F"), on="i").filter(at_end & ~pl.col("terminal")).with_columns(coef=scaled),
        w.join(t.filter(pl.col("kind") == "T"), on="i").filter(pl.col("terminal")).with_columns(coef=scaled),
        w.join(t.filter(pl.col("kind") == "L"), on="i").filter(pl.col("t").is_between(pl.col("k"), pl.col("l")))
        .with_columns(coef=scaled),
        w.join(t.filter(pl.col("kind") == "Y"), on="i").join(weights, on=["w", "t"])
        .with_columns(coef=pl.col("coef") * pl.col("weight")),
    ]
    names = pl.DataFrame({"i": np.arange(len(cuts.echelon.items)), ITEM: cuts.echelon.items})
    return (
        pl.concat([p.select("w", "i", "col", "coef") for p in parts])
        .group_by("w", "i", "col").agg(pl.col("coef").sum())
        .join(names, on="i")
        .select("w", ITEM, "col", "coef")
        .sort("w", "col")
    )


def add_rows(mb: ModelBuilder, cuts: WeekCuts, chosen: pl.DataFrame, round_: int) -> pl.DataFrame:
    """The ``chosen`` rows (:func:`separate`) as named constraints ``campaign_weeks[round, w]`` of ``mb``'s
    model: their keys and names. ``mb.rows["campaign_weeks"]`` keeps every round's (the solve takes them all
    out again before its fixed-integer LP)."""
    terms = week_cut_terms(cuts, chosen).select("w", "col", "coef").with_columns(round=pl.lit(round_))
    rows = chosen.select("w", "rhs").with_columns(round=pl.lit(round_))
    earlier = mb.rows.get("campaign_weeks")
    added = mb.add_constraints("campaign_weeks", rows, ["round", "w"], terms, ">=", "rhs")
    if earlier is not None:
        mb.rows["campaign_weeks"] = pl.concat([earlier, added])
    return added
