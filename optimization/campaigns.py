"""Campaigns on campaign-run resources: the variable families and constraint families of the MIP.

Variables, per routing on a campaign resource and week ``t`` from the first unfrozen week ``t0``:

* ``setup[p,r,t]`` (binary): the resource is set up for product ``p`` in week ``t``; at most one product a
  week, and nothing of ``p`` starts unless it is set up for it.
* ``switch[p,r,t]`` (in [0, 1], integral at any integral setup): a campaign of ``p`` starts in ``t``
  (set up now, not the week before), costing the resource's ``changeover_cost`` and ``changeover_hours``
  of week ``t``'s capacity. Week ``t0`` has none: the resource is taken as set up for what it runs then.
* ``pair[i,j,r,t]`` (in [0, 1]) for switches the ``changeovers`` entity names: set up for ``i`` in ``t-1``
  and for ``j`` in ``t``; it carries the difference between the named switch and the resource's default.

A resource may also be set up for nothing (cleaned, idle); a campaign that starts after it pays the
resource's default changeover. Campaign length counts the weeks set up for the product, idle ones included.
"""

from __future__ import annotations

import polars as pl

from optimization.lp import ModelBuilder
from optimization.network import Network, dependent_need

__all__ = [
    "campaign_capacity_terms",
    "campaign_fill",
    "campaign_fit",
    "campaign_length_max",
    "campaign_length_min",
    "campaign_link",
    "campaign_need",
    "campaign_order",
    "campaign_start_window",
    "campaign_switch",
    "campaign_vars",
    "fit_units",
    "one_product",
    "pair_vars",
    "switch_pairs",
    "switch_vars",
]

RT = ["resource_id", "t"]
PRT = ["product_id", "resource_id", "t"]


def _terms(frame: pl.DataFrame, key: dict[str, str | pl.Expr], coef: float | pl.Expr) -> pl.DataFrame:
    exprs = [(pl.col(v) if isinstance(v, str) else v).alias(k) for k, v in key.items()]
    c = coef if isinstance(coef, pl.Expr) else pl.lit(float(coef))
    return frame.select(*exprs, pl.col("col"), c.cast(pl.Float64).alias("coef"))


def campaign_vars(mb: ModelBuilder, net: Network, make: pl.DataFrame, first_week: int) -> pl.DataFrame:
    """``setup[p,r,t]``: binary, per routing on a campaign resource and week from ``first_week`` on.

    Carries ``cap``, the most of ``p`` that week's hours can start (the tight big-M of
    :func:`campaign_link`), and the resource's campaign attributes.
    """
    res = net.resources.filter(pl.col("campaign")).select(
        "resource_id", "changeover_hours", "changeover_cost", "min_campaign_weeks", "max_campaign_weeks"
    )
    frame = (
        make.filter(pl.col("t") >= first_week)
        .join(res, on="resource_id", validate="m:1")
        .join(net.hours, on=RT, validate="m:1")
        .select(
            *PRT,
            "site_id",
            "hours_per_unit",
            make_col=pl.col("col"),
            cap=pl.when(pl.col("hours_per_unit") > 0)
            .then(pl.col("hours_available") / pl.col("hours_per_unit"))
            .otherwise(None),
            hours_available="hours_available",
            changeover_hours="changeover_hours",
            changeover_cost="changeover_cost",
            min_campaign_weeks="min_campaign_weeks",
            max_campaign_weeks="max_campaign_weeks",
            cost=pl.lit(0.0),
        )
        .sort(PRT)
    )
    return mb.add_variables("setup_for", frame, PRT, integer=True, upper=1)


def switch_vars(mb: ModelBuilder, setup: pl.DataFrame, first_week: int) -> pl.DataFrame:
    """``switch[p,r,t]``: a campaign of ``p`` starts in ``t`` (``t > first_week``), at the default changeover."""
    frame = setup.filter(pl.col("t") > first_week).select(
        *PRT, "changeover_hours", "min_campaign_weeks", cost=pl.col("changeover_cost")
    )
    return mb.add_variables("switch", frame, PRT, upper=1)


def switch_pairs(net: Network, setup: pl.DataFrame) -> pl.DataFrame:
    """Named switches between two products both routed on the campaign resource, with their deltas
    against the resource's default changeover (``d_hours``, ``d_cost``)."""
    if net.changeovers is None or net.changeovers.height == 0:
        return pl.DataFrame(
            schema={"resource_id": pl.String, "from_product_id": pl.String, "to_product_id": pl.String,
                    "d_hours": pl.Float64, "d_cost": pl.Float64}
        )
    routed = setup.select("product_id", "resource_id").unique()
    res = net.resources.select("resource_id", "changeover_hours", "changeover_cost")
    return (
        net.changeovers.join(routed, left_on=["resource_id", "from_product_id"], right_on=["resource_id", "product_id"])
        .join(routed, left_on=["resource_id", "to_product_id"], right_on=["resource_id", "product_id"])
        .join(res, on="resource_id", validate="m:1")
        .select(
            "resource_id",
            "from_product_id",
            "to_product_id",
            d_hours=pl.col("hours") - pl.col("changeover_hours"),
            d_cost=pl.col("cost") - pl.col("changeover_cost"),
        )
    )


def pair_vars(mb: ModelBuilder, pairs: pl.DataFrame, switch: pl.DataFrame) -> pl.DataFrame:
    """``pair[i,j,r,t]``: set up for ``i`` in ``t-1`` and ``j`` in ``t``, for every named switch and week a
    switch to ``j`` can happen; costs the named switch's difference from the default."""
    frame = (
        pairs.join(
            switch.select("resource_id", "t", pl.col("product_id").alias("to_product_id")),
            on=["resource_id", "to_product_id"],
        )
        .select("resource_id", "from_product_id", "to_product_id", "t", "d_hours", cost=pl.col("d_cost"))
        .sort("resource_id", "from_product_id", "to_product_id", "t")
    )
    return mb.add_variables("pair", frame, ["resource_id", "from_product_id", "to_product_id", "t"], upper=1)


def campaign_capacity_terms(switch: pl.DataFrame, pair: pl.DataFrame) -> pl.DataFrame:
    """Terms of the changeover hours in a resource's capacity row (``resource_id, t, col, coef``)."""
    return pl.concat(
        [
            _terms(switch, {c: c for c in RT}, pl.col("changeover_hours")),
            _terms(pair, {c: c for c in RT}, pl.col("d_hours")),
        ]
    )


def one_product(mb: ModelBuilder, setup: pl.DataFrame) -> pl.DataFrame:
    """``one_product[r,t]``: a campaign resource is set up for at most one product a week."""
    rows = setup.select(RT).unique().with_columns(rhs=pl.lit(1.0)).sort(RT)
    return mb.add_constraints("one_product", rows, RT, _terms(setup, {c: c for c in RT}, 1.0), "<=", "rhs")


def campaign_need(
    net: Network,
    demand: pl.DataFrame,
    safety: pl.DataFrame,
    terminal: pl.DataFrame | None,
    setup: pl.DataFrame,
    max_backlog_weeks: int | None = None,
) -> pl.DataFrame:
    """``product_id, resource_id, t, need``: the most of ``p`` worth starting on ``r`` in week ``t``, in
    units started, whole batches (at least ``min_batch``).

    What a week's start of ``p`` can still be good for: the demand of ``p`` that may still wait for it —
    every week's when backlog never lapses, from ``t − max_backlog_weeks`` on when it does (every site,
    opening backlog included, as ``demand`` carries it) —, its largest safety stock at every site, its
    end-of-horizon target; a component what its parents' starts from ``t`` on consume of it
    (``per_start`` / the parent's best yield × the parent's need, level by level, as ``model._big_m``
    does for the whole horizon). Divided by the routing's yield and rounded up to whole batches. Stock
    already on hand is ignored, so the figure only errs high. A start above it could serve nothing
    more and only adds production and holding cost (both ≥ 0), so some optimal plan stays within it: a
    dominance bound, used as the big-M of :func:`campaign_link` where it is below the week's capacity.
    """
    horizon = setup.select("t").unique()
    later = (
        demand.select("product_id", "t", "quantity")
        .join(horizon.rename({"t": "from_t"}), how="cross")
        .filter(pl.lit(max_backlog_weeks is None) | (pl.col("t") >= pl.col("from_t") - (max_backlog_weeks or 0)))
        .group_by("product_id", pl.col("from_t").alias("t"))
        .agg(pl.col("quantity").sum().alias("need"))
    )
    fixed = safety.group_by("product_id", "site_id").agg(pl.col("safety_stock").max()).group_by(
        "product_id").agg(pl.col("safety_stock").sum().alias("extra"))
    if terminal is not None and terminal.height:
        fixed = pl.concat(
            [fixed, terminal.group_by("product_id").agg(pl.col("target").sum().alias("extra"))]
        ).group_by("product_id").agg(pl.col("extra").sum())
    products = net.products.select("product_id").join(horizon, how="cross")
    need = (  # no demand (or no target) of a product: none of it to count
        products.join(later, on=["product_id", "t"], how="left", validate="1:1")
        .join(fixed, on="product_id", how="left", validate="m:1")
        .select("product_id", "t", need=pl.col("need").fill_null(0.0) + pl.col("extra").fill_null(0.0))
    )
    need = dependent_need(net, need, by=("t",))
    routes = net.routings.select("product_id", "resource_id", "yield", "min_batch", "batch_size")
    starts = pl.col("need") / pl.col("yield")
    lot = pl.col("batch_size").fill_null(0.0)  # no batch size: any quantity (0 = not rounded)
    starts = pl.max_horizontal(starts, pl.col("min_batch").fill_null(0.0))  # no minimum batch: 0
    return (
        setup.select(PRT)
        .join(routes, on=["product_id", "resource_id"], validate="m:1")
        .join(need, on=["product_id", "t"], how="left", validate="m:1")
        .with_columns(pl.col("need").fill_null(0.0))  # no demand, target or parent: nothing worth starting
        .select(
            *PRT,
            need=pl.when(pl.col("need") <= 0)
            .then(0.0)
            .when(lot > 0)
            .then((starts / lot).ceil() * lot)
            .otherwise(starts),
        )
    )


def campaign_link(
    mb: ModelBuilder, setup: pl.DataFrame, big_m: pl.DataFrame, need: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``campaign[p,r,t]``: units started ≤ m × setup, where m = that week's hours / hours per unit (the
    tightest big-M capacity allows; routings using no hours fall back to ``big_m``), or, with ``need``
    (:func:`campaign_need`), the most of ``p`` worth starting from ``t`` on where that is less: a suite
    that makes a product needing a tenth of a week's hours must then be set up for it a whole week in
    the relaxation too, as in any plan."""
    frame = setup.join(big_m, on=["product_id", "resource_id"], how="left", validate="m:1").with_columns(
        m=pl.coalesce("cap", "big_m")
    )
    if need is not None:
        frame = frame.join(need, on=PRT, how="left", validate="1:1").with_columns(
            m=pl.min_horizontal("m", pl.col("need").fill_null(pl.col("m")))
        )
    k = {c: c for c in PRT}
    terms = pl.concat(
        [_terms(frame.with_columns(col=pl.col("make_col")), k, 1.0), _terms(frame, k, -pl.col("m"))]
    )
    rows = frame.select(PRT).with_columns(rhs=pl.lit(0.0))
    return mb.add_constraints("campaign", rows, PRT, terms, "<=", "rhs")


def fit_units(net: Network, setup: pl.DataFrame, pair: pl.DataFrame, first_week: int) -> pl.DataFrame:
    """``setup``'s rows (routings using hours) with ``g``, the most of ``p`` week ``t``'s hours hold in whole
    batches (``batch_size × ⌊hours / batch hours⌋``; no batch size: the hours over hours per unit), and ``f``,
    the same after the shortest changeover into ``p`` (the resource's default or a shorter named one; ``g`` in
    ``first_week``, where no switch is charged): the coefficients of :func:`campaign_fit` and of the setup-week
    cover rows (:mod:`optimization.campaign_weeks`)."""
    routes = net.routings.select("product_id", "resource_id", "batch_size")
    shortest = (
        pair.group_by("resource_id", pl.col("to_product_id").alias("product_id"))
        .agg(pl.col("d_hours").min().alias("d"))
        if pair.height else pl.DataFrame(schema={"resource_id": pl.String, "product_id": pl.String, "d": pl.Float64})
    )
    frame = (
        setup.join(routes, on=["product_id", "resource_id"], how="left", validate="m:1")
        .join(shortest, on=["resource_id", "product_id"], how="left", validate="m:1")
        .filter(pl.col("hours_per_unit") > 0)
        .with_columns(co=pl.max_horizontal(
            pl.col("changeover_hours") + pl.min_horizontal(pl.col("d").fill_null(0.0), 0.0), pl.lit(0.0)))
    )
    lot = pl.col("batch_size")

    def fit(hours: pl.Expr) -> pl.Expr:
        units = pl.max_horizontal(hours, pl.lit(0.0)) / pl.col("hours_per_unit")
        return pl.when(lot.is_not_null() & (lot > 0)).then((units / lot + 1e-6).floor() * lot).otherwise(units)
    frame = frame.with_columns(g=fit(pl.col("hours_available")), f=fit(pl.col("hours_available") - pl.col("co")))
    return frame.with_columns(f=pl.when(pl.col("t") == first_week).then(pl.col("g")).otherwise(pl.col("f")))


def campaign_fit(
    mb: ModelBuilder, net: Network, setup: pl.DataFrame, pair: pl.DataFrame, first_week: int, fill: bool = True
) -> pl.DataFrame:
    """``campaign_fit[p,r,t]``: units started ≤ F × setup(t) + (G − F) × setup(t−1), with ``G`` the most of
    ``p`` week ``t``'s hours hold in whole batches (``batch_size × ⌊hours / batch hours⌋``; no batch size: the
    hours over hours per unit) and ``F`` the same after the shortest changeover into ``p`` (the resource's
    default or a shorter named one); in ``first_week`` (no switch) units started ≤ G × setup(t).

    A valid inequality for every integer plan: set up for ``p`` in ``t`` and ``t−1``, the week's whole batches
    are at most ``G``; set up in ``t`` but not ``t−1``, the switch (≥ setup(t) − setup(t−1)) and its named pair
    take their hours first, so at most ``F``; not set up, nothing starts and the right side is ≥ 0. The
    relaxation, with batches and setups fractional, uses every hour of a week and pays a fraction of a
    switch's hours; on the demo a 96-hour switch leaves no room for a 50-70-hour batch (``F`` = 0), and a
    week of 135-146 hours holds one or two batches, not the 1.9-2.1 the relaxation starts. With ``fill``, the
    :func:`campaign_fill` rows too (``PlanConfig.campaign_fill_rows``). Returns the rows' keys and names."""
    frame = fit_units(net, setup, pair, first_week)
    k = {c: c for c in PRT}
    prev = setup.select("product_id", "resource_id", (pl.col("t") + 1).alias("t"), "col").join(
        frame.select(*PRT, "g", "f"), on=PRT)
    terms = pl.concat([
        _terms(frame.with_columns(col=pl.col("make_col")), k, 1.0),
        _terms(frame, k, -pl.col("f")),
        _terms(prev, k, -(pl.col("g") - pl.col("f"))),
    ])
    rows = frame.select(PRT).with_columns(rhs=pl.lit(0.0))
    fit = mb.add_constraints("campaign_fit", rows, PRT, terms, "<=", "rhs")
    return pl.concat([fit, campaign_fill(mb, frame, first_week)]) if fill else fit


def campaign_fill(mb: ModelBuilder, fit: pl.DataFrame, first_week: int) -> pl.DataFrame:
    """``campaign_fill[p,r,t]``: units started ≤ G × setup(t), with ``G`` the whole batches week ``t``'s hours
    hold (``fit``: :func:`fit_units`' rows), where ``G`` is below the week's hours over hours per unit (the
    ``campaign`` row's ``m``) and ``t`` follows ``first_week`` (whose ``campaign_fit`` row is this one).

    A valid inequality for every integer plan: set up for ``p`` in ``t``, whole batches in the week's hours
    are at most ``G``; not set up, nothing starts (``campaign``). ``campaign_fit`` bounds the same start by
    ``F × setup(t) + (G − F) × setup(t−1)``, which lets a week set up a share ``s`` after a week set up more
    start up to ``F·s + (G − F)`` — with ``F = 0`` (a switch leaves no batch) a whole week's batches on any
    share of a setup — and the ``campaign`` row ``s × hours / hours per unit``, up to a batch more than
    fits. The relaxation of a suite time-sharing its weeks between products (each set up a share, the shares
    moving from week to week) uses both (the demo's US-BR01 block at the fit rows' prices: its LP 583.8 →
    601.4 M with these rows, +6% of what the block's integers add)."""
    frame = fit.filter((pl.col("t") > first_week) & (pl.col("g") < pl.col("cap") * (1.0 - 1e-9)))
    k = {c: c for c in PRT}
    terms = pl.concat([_terms(frame.with_columns(col=pl.col("make_col")), k, 1.0), _terms(frame, k, -pl.col("g"))])
    rows = frame.select(PRT).with_columns(rhs=pl.lit(0.0))
    return mb.add_constraints("campaign_fill", rows, PRT, terms, "<=", "rhs")


def campaign_switch(
    mb: ModelBuilder, setup: pl.DataFrame, switch: pl.DataFrame, pair: pl.DataFrame
) -> list[pl.DataFrame]:
    """``switch[p,r,t]``: switch ≥ setup(t) − setup(t−1); for named switches ``pair_in``/``pair_out``/
    ``pair_both``: pair ≤ setup of i in t−1, pair ≤ setup of j in t, pair ≥ both − 1; and
    ``pair_switch[j,r,t]``: the named switches into ``j`` in ``t`` sum to at most the switch to ``j``.

    ``pair_switch`` is a valid inequality (an integer plan switches into ``j`` from one product at most,
    and then ``switch`` is 1) that the relaxation needs: a named switch cheaper or shorter than the default
    has a negative delta, and without it a suite on a steady fractional mix (no switch at all) collected
    those deltas — money and hours — from pairs of its own mix, every week, putting the relaxation below the
    LP without campaigns."""
    k = {c: c for c in PRT}
    terms = pl.concat(
        [
            _terms(switch, k, 1.0),
            _terms(setup, k, -1.0),
            _terms(setup, {**k, "t": pl.col("t") + 1}, 1.0),
        ]
    )
    rows = switch.select(PRT).with_columns(rhs=pl.lit(0.0))
    out = [mb.add_constraints("switch", rows, PRT, terms, ">=", "rhs")]
    if pair.height == 0:
        return out
    pk = ["resource_id", "from_product_id", "to_product_id", "t"]
    kk = {c: c for c in pk}
    prev = setup.select(
        "resource_id", pl.col("product_id").alias("from_product_id"), (pl.col("t") + 1).alias("t"), "col"
    ).join(pair.select(pk), on=["resource_id", "from_product_id", "t"])
    now = setup.select("resource_id", pl.col("product_id").alias("to_product_id"), "t", "col").join(
        pair.select(pk), on=["resource_id", "to_product_id", "t"]
    )
    zero = pair.select(pk).with_columns(rhs=pl.lit(0.0))
    own = _terms(pair, kk, 1.0)
    out.append(mb.add_constraints("pair_from", zero, pk, pl.concat([own, _terms(prev, kk, -1.0)]), "<=", "rhs"))
    out.append(mb.add_constraints("pair_to", zero, pk, pl.concat([own, _terms(now, kk, -1.0)]), "<=", "rhs"))
    both = pl.concat([own, _terms(prev, kk, -1.0), _terms(now, kk, -1.0)])
    out.append(
        mb.add_constraints("pair_both", zero.with_columns(rhs=pl.lit(-1.0)), pk, both, ">=", "rhs")
    )
    into = pair.select("resource_id", pl.col("to_product_id").alias("product_id"), "t", "col")
    rows = into.select(PRT).unique().sort(PRT).with_columns(rhs=pl.lit(0.0))
    terms = pl.concat([
        _terms(into, k, 1.0),
        _terms(switch.join(rows.select(PRT), on=PRT, how="semi"), k, -1.0),
    ])
    out.append(mb.add_constraints("pair_switch", rows, PRT, terms, "<=", "rhs"))
    return out


def campaign_length_min(mb: ModelBuilder, setup: pl.DataFrame, switch: pl.DataFrame) -> pl.DataFrame:
    """``min_campaign[p,r,t]``: setup(t) ≥ switches of the last ``min_campaign_weeks`` weeks (a campaign
    that started less than its minimum ago is still set up). Campaigns cut by the horizon's end are not
    held to it."""
    window = (
        switch.filter(pl.col("min_campaign_weeks") > 1)
        .select(*PRT, "col", "min_campaign_weeks")
        .with_columns(k=pl.int_ranges(0, pl.col("min_campaign_weeks")))
        .explode("k")
        .with_columns(t=pl.col("t") + pl.col("k"))
    )
    rows = setup.join(window.select(PRT).unique(), on=PRT, how="semi")
    terms = pl.concat([_terms(rows, {c: c for c in PRT}, 1.0), _terms(window, {c: c for c in PRT}, -1.0)])
    return mb.add_constraints(
        "min_campaign", rows.select(PRT).with_columns(rhs=pl.lit(0.0)), PRT, terms, ">=", "rhs"
    )


def campaign_length_max(mb: ModelBuilder, setup: pl.DataFrame, first_week: int) -> pl.DataFrame:
    """``max_campaign[p,r,t]``: of the ``max_campaign_weeks + 1`` weeks ending in ``t``, at most
    ``max_campaign_weeks`` are set up for ``p``."""
    capped = setup.filter(pl.col("max_campaign_weeks").is_not_null())
    rows = capped.filter(pl.col("t") >= first_week + pl.col("max_campaign_weeks")).select(
        *PRT, rhs=pl.col("max_campaign_weeks").cast(pl.Float64)
    )
    window = (
        capped.select(*PRT, "col", "max_campaign_weeks")
        .with_columns(k=pl.int_ranges(0, pl.col("max_campaign_weeks") + 1))
        .explode("k")
        .with_columns(t=pl.col("t") + pl.col("k"))
        .join(rows.select(PRT), on=PRT, how="semi")
    )
    return mb.add_constraints("max_campaign", rows, PRT, _terms(window, {c: c for c in PRT}, 1.0), "<=", "rhs")


def campaign_start_window(
    mb: ModelBuilder, setup: pl.DataFrame, switch: pl.DataFrame, first_week: int
) -> pl.DataFrame:
    """``campaign_start[p,r,t]``: setup(t) ≤ switches of ``p`` in the last ``max_campaign_weeks`` weeks.

    A valid inequality, not a new rule: a week set up for ``p`` lies in a campaign no longer than its
    maximum, so that campaign started within the last ``max_campaign_weeks`` weeks, after ``first_week``
    (where a start is free) once ``t ≥ first_week + max_campaign_weeks``, and its start is a switch. The
    integer plans are the same as with ``max_campaign`` alone, but the relaxation can no longer keep a
    suite on a steady fractional mix of products with no switch at all: each product set up a share
    ``s`` of a week needs ``s`` switches in the weeks before it (a lower bound on changeovers).
    """
    capped = setup.filter(pl.col("max_campaign_weeks").is_not_null())
    rows = capped.filter(pl.col("t") >= first_week + pl.col("max_campaign_weeks")).select(
        *PRT, "max_campaign_weeks"
    )
    window = (
        rows.with_columns(k=pl.int_ranges(0, pl.col("max_campaign_weeks")))
        .explode("k")
        .select("product_id", "resource_id", "t", u=pl.col("t") - pl.col("k"))
        .join(switch.select("product_id", "resource_id", pl.col("t").alias("u"), "col"),
              on=["product_id", "resource_id", "u"])
    )
    k = {c: c for c in PRT}
    own = setup.join(rows.select(PRT), on=PRT, how="semi")
    terms = pl.concat([_terms(own, k, 1.0), _terms(window, k, -1.0)])
    return mb.add_constraints(
        "campaign_start", rows.select(PRT).with_columns(rhs=pl.lit(0.0)), PRT, terms, "<=", "rhs"
    )


def campaign_order(mb: ModelBuilder, net: Network, setup: pl.DataFrame) -> pl.DataFrame:
    """``campaign_order[r]``: symmetry breaking among identical campaign resources (same site, hours every
    week, changeover, lengths, routings and no named switch of their own): the first in id order is set up
    at least as many weeks as the next, so the solver does not explore swapped copies of one plan."""
    routing_cols = ["product_id", "hours_per_unit", "yield", "cost_per_unit", "release_weeks", "min_batch",
                    "batch_size"]
    own = net.changeovers["resource_id"].unique() if net.changeovers is not None else pl.Series([], dtype=pl.String)
    sig = (
        net.resources.filter(pl.col("campaign") & ~pl.col("resource_id").is_in(own.implode()))
        .join(
            net.routings.sort(routing_cols)
            .group_by("resource_id")
            .agg(pl.struct(routing_cols).alias("routes")),
            on="resource_id",
        )
        .join(
            net.hours.sort("t").group_by("resource_id").agg(pl.col("hours_available").alias("week_hours")),
            on="resource_id",
        )
    )
    group = ["site_id", "changeover_hours", "changeover_cost", "min_campaign_weeks", "max_campaign_weeks",
             "routes", "week_hours"]
    sig = sig.with_columns(
        group_id=pl.struct(group).hash(), rank=pl.col("resource_id").rank("ordinal").over(pl.struct(group).hash())
    ).sort("group_id", "resource_id")
    nxt = sig.select("group_id", "resource_id", next_id=pl.col("resource_id").shift(-1).over("group_id")).filter(
        pl.col("next_id").is_not_null()
    )
    if nxt.height == 0:
        return pl.DataFrame(schema={"resource_id": pl.String, "name": pl.String})
    terms = pl.concat(
        [
            _terms(setup.join(nxt.select("resource_id"), on="resource_id"), {"resource_id": "resource_id"}, 1.0),
            _terms(
                setup.join(nxt.select("resource_id", "next_id"), left_on="resource_id", right_on="next_id"),
                {"resource_id": "resource_id_right"},
                -1.0,
            ),
        ]
    )
    rows = nxt.select("resource_id").with_columns(rhs=pl.lit(0.0))
    return mb.add_constraints("campaign_order", rows, ["resource_id"], terms, ">=", "rhs")
