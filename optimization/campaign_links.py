"""Campaigns on campaign-run resources: the rows linking a week's starts of a product to its setup that
week, ``campaign[p,r,t]`` (units started ≤ m × setup, m the least of the week's hours and what is worth
starting, :func:`campaign_need`) and the valid inequalities that count whole batches after a switch
(``campaign_fit``, ``campaign_fill``, over :func:`fit_units`). The variables are
:mod:`optimization.campaigns`'.
"""

from __future__ import annotations

import polars as pl

from optimization.campaigns import PRT, _terms
from optimization.lp import ModelBuilder
from optimization.network import Network, dependent_need

__all__ = ["campaign_fill", "campaign_fit", "campaign_link", "campaign_need", "fit_units"]


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
