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

The rows linking a week's starts to its setup (the big-M, whole batches after a switch) are
:mod:`optimization.campaign_links`'s; the rows over a campaign's weeks (its least and most length, the
window its start lies in) :mod:`optimization.campaign_lengths`'.
"""

from __future__ import annotations

import polars as pl

from optimization.lp import ModelBuilder
from optimization.network import Network

__all__ = [
    "campaign_capacity_terms",
    "campaign_order",
    "campaign_switch",
    "campaign_vars",
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
    :func:`optimization.campaign_links.campaign_link`), and the resource's campaign attributes.
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
