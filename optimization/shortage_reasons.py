"""Why a shortage happened, as a reason code and a planner's sentence (the ``reason`` and ``detail`` of
plan_shortages), from the explanations joined to each shortage row.

Reasons, first that applies:

* ``no_route`` — no routing and lane path brings new production of the product to the site.
* ``release_lag`` — the week comes before new production can arrive (release lag + transit): no
  production can recover it; the detail names the earliest week new supply reaches the site.
* ``shelf_life`` — the resource-weeks whose output would still be usable are full, while earlier weeks
  had free hours that the shelf life forbids using (the product cannot be built that far ahead).
* ``component`` — through the bill of materials, a resource making one of its components (at any level)
  that could still have fed its production in time is full, and that resource-week has the highest
  shadow price of all candidates (the product's own included): the component, the items between, the
  root resource and the extra hours that would make the components of the short quantity are named
  (a fill held back by the bioreactor that makes its drug substance is explained on the bioreactor);
  or, where no resource binds, a component none of whose routings could make it in time (none, or too
  long a release lag) whose stock at the parent's plant ran out by the parent's latest start week.
* ``capacity`` — a resource that could have made it in time is full: the resource-week with the
  highest shadow price (from the capacity duals) is named with the extra hours that would make the
  short quantity (short × hours_per_unit / yield) and what an hour there is worth. At a full resource
  the dual is not unique, so the worth is a range where it was measured (``price_range``: the
  objective re-solved with one hour less and one hour more), else the dual alone.
* ``campaign_length`` — no full resource is to blame, but a campaign resource that could have made it (or,
  through the bill of materials, one of its components: the drug substance a fill waits for) in
  time was set up for another product, in a campaign no longer than its minimum length (it could not
  switch sooner).
* ``changeover`` — the same, in a campaign longer than its minimum: switching to this product would cost
  a changeover (hours and money) that serving it does not repay.
* ``lane_capacity`` — a capacity-limited lane into the site is full (positive dual) in time.
* ``cost`` — nothing binds: serving would cost more than the backlog penalty saves.

The columns read are those :func:`optimization.shortages.plan_shortages` joins to each shortage row:
``replen`` (:mod:`optimization.shortage_rows`), the binding resource-week ``resource_id, component_id,
slack_before, ...`` and lane ``from_site, lane_t`` (:mod:`optimization.shortage_capacity`), the component
that ran out ``out_component, ...`` (:mod:`optimization.shortage_bom`), the campaign ``camp_resource,
at_min, ...`` (:mod:`optimization.shortage_campaigns`) and the recovery advice's hours and prices
(:mod:`optimization.shortage_recovery`).
"""

from __future__ import annotations

import polars as pl

from optimization.shortage_recovery import recovery_advice
from optimization.shortage_text import component_chain, iso_week, number

__all__ = ["NAMES_RESOURCE", "detail", "reason"]

#: the reasons whose row names the resource to blame (``resource_id``)
NAMES_RESOURCE = ["capacity", "shelf_life", "component"]


def reason() -> pl.Expr:
    """The first reason that applies, in the order this module's docstring lists them."""
    return (
        pl.when(pl.col("replen").is_null())
        .then(pl.lit("no_route"))
        .when(pl.col("t") < pl.col("replen"))
        .then(pl.lit("release_lag"))
        .when(pl.col("resource_id").is_not_null() & pl.col("component_id").is_not_null())
        .then(pl.lit("component"))
        .when(pl.col("resource_id").is_not_null() & pl.col("slack_before"))
        .then(pl.lit("shelf_life"))
        .when(pl.col("resource_id").is_not_null())
        .then(pl.lit("capacity"))
        .when(pl.col("out_component").is_not_null())
        .then(pl.lit("component"))
        .when(pl.col("at_min").fill_null(False))
        .then(pl.lit("campaign_length"))
        .when(pl.col("camp_resource").is_not_null())
        .then(pl.lit("changeover"))
        .when(pl.col("lane_t").is_not_null())
        .then(pl.lit("lane_capacity"))
        .otherwise(pl.lit("cost"))
    )


def detail() -> pl.Expr:
    """The sentence of each row's ``reason`` (a column by then): what stopped it, what would recover it."""
    reason_is = pl.col("reason").eq
    return (
        pl.when(reason_is("no_route"))
        .then(_no_route())
        .when(reason_is("release_lag"))
        .then(_release_lag())
        .when(reason_is("shelf_life"))
        .then(pl.concat_str(pl.lit("capacity that keeps it within its shelf life is full; "),
                            recovery_advice()))
        .when(reason_is("component") & pl.col("resource_id").is_null())
        .then(_component_ran_out())
        .when(reason_is("component"))
        .then(pl.concat_str(component_chain("component_id", "via"), pl.lit(" is short: "), _full()))
        .when(reason_is("capacity"))
        .then(_full())
        .when(pl.col("reason").is_in(["campaign_length", "changeover"]))
        .then(_campaign())
        .when(reason_is("lane_capacity"))
        .then(_lane())
        .otherwise(pl.lit("serving it would cost more than the backlog penalty saves"))
    )


def _no_route() -> pl.Expr:
    return pl.concat_str(
        pl.lit("no routing and lane path brings new production of "),
        pl.col("product_id"),
        pl.lit(" to "),
        pl.col("site_id"),
    )


def _release_lag() -> pl.Expr:
    return pl.concat_str(
        pl.lit("no production can recover it: new supply reaches "),
        pl.col("site_id"),
        pl.lit(" in "),
        iso_week("first_week"),
        pl.lit(" at the earliest (release lag + transit); only stock on hand or in transit serves "
               "earlier weeks"),
    )


def _component_ran_out() -> pl.Expr:
    """A component no routing could make in time, whose stock was gone (no full resource to name)."""
    return pl.concat_str(
        component_chain("out_component", "out_via"),
        pl.lit(" ran out at "),
        pl.col("out_plant"),
        pl.lit(" by "),
        iso_week("out_week"),
        pl.lit(" and none can be made in time for it (no routing, or a longer release lag): only its "
               "stock serves"),
    )


def _full() -> pl.Expr:
    """``US-FL01 at PL-US is full; <recovery advice>``, saying why where the week is full for whole batches
    only."""
    batch = (
        pl.when(pl.col("bind_batch").is_not_null())
        .then(pl.concat_str(pl.lit(" (whole batches: its "), number("bind_free", 1),
                            pl.lit(" free hours hold no batch of "), number("bind_batch", 1), pl.lit(")")))
        .otherwise(pl.lit(""))
    )
    return pl.concat_str(
        pl.col("resource_id"), pl.lit(" at "), pl.col("plant"), pl.lit(" is full"), batch, pl.lit("; "),
        recovery_advice(),
    )


def _campaign() -> pl.Expr:
    """The campaign that held the resource (for the component that waited, if any), at its minimum length or
    with the changeover a switch would have cost."""
    return pl.concat_str(
        pl.when(pl.col("camp_component").is_not_null())
        .then(pl.concat_str(component_chain("camp_component", "camp_via"), pl.lit(" waits: ")))
        .otherwise(pl.lit("")),
        pl.col("camp_resource"),
        pl.lit(" is set up for "),
        pl.col("camp_product"),
        pl.lit(" in "),
        iso_week("camp_first"),
        pl.lit("–"),
        iso_week("camp_last"),
        pl.when(pl.col("reason") == "campaign_length")
        .then(pl.lit(", a campaign no longer than its minimum length"))
        .otherwise(
            pl.concat_str(
                pl.lit("; a switch costs "),
                number("co_hours", 1),
                pl.lit(" hours and "),
                number("co_cost"),
                pl.lit(", more than serving it saves"),
            )
        ),
    )


def _lane() -> pl.Expr:
    return pl.concat_str(
        pl.lit("lane "),
        pl.col("from_site"),
        pl.lit("→"),
        pl.col("site_id"),
        pl.lit(" is full in "),
        iso_week("lane_week"),
        pl.lit("; +"),
        number("short"),
        pl.lit(" units of lane capacity recovers them"),
    )
