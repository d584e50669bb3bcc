"""Why demand goes short: one row per product × demand site × week with backlog or lost units.

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
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from optimization.network import Network

__all__ = ["fmt_number", "plan_shortages"]

_EPS = 1e-9
#: most bottleneck resource-weeks whose hour is re-solved from both sides (the rest keep the dual)
MAX_RANGES = 40
#: hours in a week: a machine cannot run longer, however many shifts are added. A resource planned for more
#: hours than this in a week is several machines, whose week's limit the inputs do not give
WEEK_HOURS = 168.0
PST = ["product_id", "site_id", "t"]


def _iso(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%G-W%V")


def _component(component: str, via: str) -> pl.Expr:
    """``its component C`` and, where the chain has items in between, `` (through B → A)``."""
    return pl.concat_str(
        pl.lit("its component "),
        pl.col(component),
        pl.when(pl.col(via) != "").then(pl.concat_str(pl.lit(" (through "), pl.col(via), pl.lit(")")))
        .otherwise(pl.lit("")),
    )


def fmt_number(value: pl.Expr, digits: int = 0) -> pl.Expr:
    """``value`` as text with thousands separators and ``digits`` decimals (``17,730``, ``81,903.78``)."""
    v = value.round(digits)
    a = v.abs()
    whole = (
        a.floor().cast(pl.Int64).cast(pl.String)
        .str.reverse().str.replace_all(r"(\d{3})", "${1},").str.strip_chars_end(",").str.reverse()
    )
    out = pl.concat_str(pl.when(v < 0).then(pl.lit("-")).otherwise(pl.lit("")), whole)
    if digits > 0:
        frac = ((a - a.floor()) * 10**digits).round(0).cast(pl.Int64).cast(pl.String).str.zfill(digits)
        out = pl.concat_str(out, pl.lit("."), frac)
    return out


def _num(col: str, digits: int = 0) -> pl.Expr:
    return fmt_number(pl.col(col), digits)


def _best_window(capacity: pl.DataFrame, horizon: int) -> pl.DataFrame:
    """Per resource and start-week window ``[lo, hi]``: the most valuable binding week in it.

    Binding: a positive shadow price, or (no dual) every hour used, or ``batch_full``: a campaign
    resource's week whose free hours hold no whole batch (:func:`_batch_full`). There the LP with every
    integer fixed leaves the hours slack and prices them at 0, yet nothing more could be started."""
    weeks = pl.DataFrame({"lo": range(horizon)}, schema={"lo": pl.Int64})
    full = pl.col("batch_full") if "batch_full" in capacity.columns else pl.lit(False)
    cap = capacity.with_columns(
        binding=(pl.col("shadow_price") > _EPS)
        | (pl.col("shadow_price").is_null() & (pl.col("utilisation") >= 1 - 1e-6))
        | full,
        score=pl.col("shadow_price").fill_null(0.0),
    ).filter("binding")
    return (
        cap.join(weeks, how="cross")
        .filter(pl.col("lo") <= pl.col("t"))
        .with_columns(hi=pl.int_ranges(pl.col("t"), horizon))
        .explode("hi")
        .sort("score", "t", descending=[True, False])
        .group_by("resource_id", "lo", "hi")
        .first()
        .select(
            "resource_id",
            "lo",
            "hi",
            pl.col("t").alias("bind_t"),
            pl.col("score").alias("bind_price"),
            pl.col("week").alias("bind_week"),
            # a week full for whole batches only: its free hours and the smallest batch's hours
            bind_free=pl.when(full).then(pl.col("hours_available") - pl.col("hours_used")),
            bind_batch=pl.when(full).then(pl.col("batch_hours") if "batch_hours" in capacity.columns
                                          else pl.lit(None, pl.Float64)),
        )
    )


def _slack_before(capacity: pl.DataFrame, horizon: int) -> pl.DataFrame:
    """Per resource and week ``lo``: whether some earlier week had free hours."""
    weeks = pl.DataFrame({"lo": range(horizon)}, schema={"lo": pl.Int64})
    free = capacity.filter((pl.col("hours_available") > 0) & (pl.col("utilisation") < 1 - 1e-6))
    return (
        free.join(weeks, how="cross")
        .filter(pl.col("t") < pl.col("lo"))
        .group_by("resource_id", "lo")
        .agg(pl.lit(True).alias("slack_before"))
    )


def _batch_full(net: Network, capacity: pl.DataFrame) -> pl.DataFrame:
    """``capacity`` with ``batch_hours`` (the hours of the smallest whole batch of a campaign resource's
    routings; null elsewhere or where a routing has no batch size) and ``batch_full``: a week of such a
    resource whose free hours (after production and changeovers) hold no whole batch."""
    none = capacity.with_columns(batch_hours=pl.lit(None, pl.Float64), batch_full=pl.lit(False))
    if "campaign" not in net.resources.columns:
        return none
    lots = (
        net.routings.join(net.resources.filter(pl.col("campaign")).select("resource_id"), on="resource_id")
        .group_by("resource_id")
        .agg(batch_hours=pl.when(pl.col("batch_size").is_not_null().all())
             .then((pl.col("batch_size") * pl.col("hours_per_unit")).min()))
    )
    if lots.height == 0:
        return none
    return capacity.join(lots, on="resource_id", how="left").with_columns(
        batch_full=((pl.col("hours_available") > 0)
                    & (pl.col("hours_available") - pl.col("hours_used") < pl.col("batch_hours") - 1e-6))
        .fill_null(False)
    )


def _capacity_candidates(
    net: Network, short: pl.DataFrame, capacity: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """For each shortage, the best binding resource-week that could have served it (if any): one of the
    product's own routings, or one of its components' through the bill of materials (:func:`_through_bom`);
    the components that could not be made in time for it; and the components' routing rows that could
    (for :func:`_campaign_candidates`)."""
    h = net.horizon
    own = (
        short.select(*PST, "short")
        .join(
            net.routings.select(
                "product_id",
                "resource_id",
                pl.col("site_id").alias("plant"),
                "release_weeks",
                "hours_per_unit",
                "yield",
            ),
            on="product_id",
        )
        .join(net.transit_weeks, left_on=["plant", "site_id"], right_on=["from_site", "to_site"])
        .join(net.products.select("product_id", "shelf_life_weeks"), on="product_id", validate="m:1")
        .with_columns(hi=pl.col("t") - pl.col("release_weeks") - pl.col("weeks"))
        .filter(pl.col("hi") >= 0)
        .with_columns(
            lo=pl.max_horizontal(
                pl.lit(0),
                (pl.col("t") - pl.col("release_weeks") - pl.col("shelf_life_weeks") + 1).fill_null(0),
            ).cast(pl.Int64),
            item=pl.col("product_id"),
            q=1.0 / pl.col("yield"),  # units started per unit short
            component_id=pl.lit(None, pl.String),
            via=pl.lit("", pl.String),
        )
        .filter(pl.col("lo") <= pl.col("hi"))
    )
    through, stuck = _through_bom(net, own)
    cand = pl.concat([own, through], how="diagonal_relaxed")
    best = cand.join(_best_window(capacity, h), on=["resource_id", "lo", "hi"]).join(
        _slack_before(capacity, h), on=["resource_id", "lo"], how="left"
    )
    return (
        best.sort("bind_price", "component_id", descending=[True, False], nulls_last=False)
        .group_by(PST)
        .first()
        .with_columns(
            pl.col("slack_before").fill_null(False) & pl.col("shelf_life_weeks").is_not_null()
            & pl.col("component_id").is_null(),
            extra_hours=pl.col("short") * pl.col("q") * pl.col("hours_per_unit"),
        )
        .select(*PST, "resource_id", "plant", "bind_week", "bind_price", "slack_before", "extra_hours",
                "component_id", "via", "bind_free", "bind_batch", "lo", "hi")
    ), stuck, through


def _through_bom(net: Network, own: pl.DataFrame) -> pl.DataFrame:
    """The shortages' components, level by level down the bill of materials, each with the window of start
    weeks that could still have fed the parent's latest start in time and the units to start per unit short.

    A component made at plant ``c`` for a parent started at plant ``p`` in week ``hi_p`` at the latest must
    start by ``hi_p − release_weeks − transit(c → p)``, and (shelf life from manufacture) no earlier than
    ``hi_p − release_weeks − shelf_life + 1``. Per unit of the parent started it takes ``per_start`` units,
    ``per_start / yield`` started.

    Args:
        own: the shortages' own routing rows (``PST, short, item, plant, hi, q``).

    Returns:
        ``(found, stuck)``: the components' routing rows that could have served in time, and the
        components none of whose routings could (none, or too slow) — ``PST, component_id, via,
        parent_plant, parent_hi``: only their stock at the parent's plant could feed it.
    """
    none = pl.DataFrame(schema={**{c: own.schema[c] for c in PST}, "component_id": pl.String,
                                "via": pl.String, "parent_plant": pl.String, "parent_hi": pl.Int64,
                                "in_time": pl.Boolean})
    if net.bom.height == 0 or own.height == 0:
        return own.clear(), none
    routings = net.routings.select(
        pl.col("product_id").alias("component_id"), "resource_id", pl.col("site_id").alias("plant"),
        "release_weeks", "hours_per_unit", "yield",
    )
    life = net.products.select(pl.col("product_id").alias("component_id"), "shelf_life_weeks")
    found, stuck, level = [], [], own
    for _ in range(net.bom.height):  # at most as many levels as rows (cycles are refused)
        level = (
            level.select(*PST, "short", "item", "via", pl.col("plant").alias("parent_plant"),
                         pl.col("hi").alias("parent_hi"), pl.col("q").alias("parent_q"))
            .join(net.bom.select(pl.col("parent_id").alias("item"), "component_id", "per_start"), on="item")
            .join(routings, on="component_id", how="left")  # a component without a routing: stock only
            .join(net.transit_weeks, left_on=["plant", "parent_plant"], right_on=["from_site", "to_site"],
                  how="left")
            .join(life, on="component_id", validate="m:1")
            .with_columns(
                hi=pl.col("parent_hi") - pl.col("release_weeks") - pl.col("weeks"),
                lo=pl.max_horizontal(
                    pl.lit(0),
                    (pl.col("parent_hi") - pl.col("release_weeks") - pl.col("shelf_life_weeks") + 1)
                    .fill_null(0),
                ).cast(pl.Int64),
                q=pl.col("parent_q") * pl.col("per_start") / pl.col("yield"),
            )
            .with_columns(
                # the items between the product and this component, for the reason's text
                via=pl.when(pl.col("item") == pl.col("product_id")).then(pl.lit(""))
                .when(pl.col("via") == "").then(pl.col("item"))
                .otherwise(pl.concat_str(pl.col("via"), pl.lit(" → "), pl.col("item"))),
                item=pl.col("component_id"),
                # no routing, no lane from its plant, or too little time: none can be made for the parent
                in_time=(pl.col("hi") >= 0) & (pl.col("lo") <= pl.col("hi")),
            )
        )
        stuck.append(level.group_by(*PST, "component_id", "via", "parent_plant", "parent_hi")
                     .agg(pl.col("in_time").fill_null(False).any()).filter(~pl.col("in_time")))
        level = level.filter(pl.col("in_time").fill_null(False)).drop("in_time")
        if level.height == 0:
            break
        found.append(level)
    return (pl.concat(found, how="diagonal_relaxed") if found else own.clear()), pl.concat([none, *stuck])


def _ran_out(net: Network, stuck: pl.DataFrame, inventory: pl.DataFrame | None) -> pl.DataFrame:
    """For each shortage, a component that could not be made in time for it and had no stock left at the
    parent's plant at the end of the parent's latest start week (the first by name)."""
    out = {**{c: stuck.schema[c] for c in PST}, "out_component": pl.String, "out_via": pl.String,
           "out_plant": pl.String, "out_week": pl.Date}
    if inventory is None or stuck.height == 0:
        return pl.DataFrame(schema=out)
    closing = inventory.select(
        pl.col("product_id").alias("component_id"), pl.col("site_id").alias("parent_plant"),
        net.week_index().alias("parent_hi"), "closing",
    )
    return (
        stuck.join(closing, on=["component_id", "parent_plant", "parent_hi"], how="left", validate="m:1")
        .filter(pl.col("closing").fill_null(0.0) <= 1e-6)  # never held there: none
        .sort(*PST, "component_id")
        .group_by(PST)
        .first()
        .select(*PST, out_component="component_id", out_via="via", out_plant="parent_plant",
                out_week=net.week_date("parent_hi"))
    )


def _campaign_candidates(
    net: Network, short: pl.DataFrame, campaigns: pl.DataFrame | None, through: pl.DataFrame | None = None
) -> pl.DataFrame:
    """For each shortage, a campaign of another product on a campaign resource that held the resource in a
    week that could have made it, or one of its components (``through``: :func:`_through_bom`'s rows), in
    time (within its shelf life): the longest such campaign, with whether it was at its minimum length (and
    not the plan's first campaign, which may be shorter) and the component it kept from being made."""
    out_schema = {**{c: short.schema[c] for c in PST}, "camp_resource": pl.String, "camp_product": pl.String,
                  "camp_first": pl.Date, "camp_last": pl.Date, "camp_weeks": pl.Int64, "at_min": pl.Boolean,
                  "co_hours": pl.Float64, "co_cost": pl.Float64, "camp_component": pl.String,
                  "camp_via": pl.String}
    if campaigns is None or campaigns.height == 0:
        return pl.DataFrame(schema=out_schema)
    res = net.resources.filter(pl.col("campaign")).select(
        "resource_id", "changeover_hours", "changeover_cost", "min_campaign_weeks"
    )
    runs = campaigns.select(
        "resource_id",
        pl.col("product_id").alias("camp_product"),
        pl.col("first_week").alias("camp_first"),
        pl.col("last_week").alias("camp_last"),
        pl.col("weeks").alias("camp_weeks"),
        f=((pl.col("first_week") - pl.lit(net.start_week)).dt.total_days() // 7).cast(pl.Int64),
        l=((pl.col("last_week") - pl.lit(net.start_week)).dt.total_days() // 7).cast(pl.Int64),
    )
    own = (
        short.select(PST)
        .join(net.routings.select("product_id", "resource_id", pl.col("site_id").alias("plant"), "release_weeks"),
              on="product_id")
        .join(res.select("resource_id"), on="resource_id")
        .join(net.transit_weeks, left_on=["plant", "site_id"], right_on=["from_site", "to_site"])
        .join(net.products.select("product_id", "shelf_life_weeks"), on="product_id", validate="m:1")
        .with_columns(hi=pl.col("t") - pl.col("release_weeks") - pl.col("weeks"))
        .with_columns(lo=(pl.col("hi") - pl.col("shelf_life_weeks") + 1).fill_null(0))
        .filter(pl.col("hi") >= 0)
        .select(*PST, "resource_id", "lo", "hi", made=pl.col("product_id"),
                camp_component=pl.lit(None, pl.String), camp_via=pl.lit("", pl.String))
    )
    # a sold item whose component (drug substance) waits for the suite: the component's windows
    parts = [own]
    named = net.changeovers.select("resource_id", camp_product="from_product_id", made="to_product_id",
                                   named_hours="hours", named_cost="cost")
    if through is not None and through.height:
        parts.append(through.select(*PST, "resource_id", "lo", "hi", made=pl.col("component_id"),
                                    camp_component=pl.col("component_id"), camp_via=pl.col("via")))
    return (
        pl.concat(parts, how="vertical_relaxed")
        .join(res, on="resource_id")
        .join(runs, on="resource_id")
        .filter((pl.col("camp_product") != pl.col("made")) & (pl.col("f") <= pl.col("hi")))
        .filter(pl.col("l") >= pl.col("lo"))  # held the resource in a week that could have served in time
        .join(named, on=["resource_id", "camp_product", "made"], how="left")  # the changeovers table's switch
        .sort("camp_weeks", descending=True)
        .group_by(PST)
        .first()
        .select(
            *PST,
            pl.col("resource_id").alias("camp_resource"),
            "camp_product",
            "camp_first",
            "camp_last",
            "camp_weeks",
            at_min=(pl.col("camp_weeks") <= pl.col("min_campaign_weeks"))
            & (pl.col("min_campaign_weeks") > 1)
            & (pl.col("f") > 0),
            co_hours=pl.coalesce("named_hours", "changeover_hours"),
            co_cost=pl.coalesce("named_cost", "changeover_cost"),
            camp_component="camp_component",
            camp_via="camp_via",
        )
    )


def _spread_hours(frame: pl.DataFrame, capacity: pl.DataFrame) -> pl.DataFrame:
    """Where the extra hours a shortage needs fit, so the advice never asks a week for more than it holds.

    The named (dearest) bottleneck week first, then the other start weeks that could still serve the
    shortage in time (its window ``[lo, hi]``: lead time and shelf life), latest first (the least stock
    held), each up to what the week can still hold beside its planned hours (``WEEK_HOURS −
    hours_available``; a week shut down, with no hours, stays shut). The estimate stays linear: an hour
    makes as many units in any of those weeks. A window with a week of more than ``WEEK_HOURS`` hours is
    several machines, whose limit the inputs do not give: not capped (``room`` null).

    Args:
        frame: ``PST, resource_id, bind_t, lo, hi, extra_hours`` (rows without a resource are left out).
        capacity: ``resource_id, t, week, hours_available``.

    Returns:
        ``PST``, ``bind_room`` (hours the named week can still hold), ``room`` (hours the whole window can
        still hold; null: not capped), ``spread`` (``+44.0 in 2026-W19, +39.0 in 2026-W18``: the hours by
        week, in that order) and ``window`` (``2026-W05–2026-W19``).
    """
    weeks = (
        frame.filter(pl.col("resource_id").is_not_null() & (pl.col("extra_hours") > 0))
        .select(*PST, "resource_id", "bind_t", "extra_hours", "lo", "hi", w=pl.int_ranges("lo", pl.col("hi") + 1))
        .explode("w")
        .join(capacity.select("resource_id", pl.col("t").alias("w"), "week", "hours_available"),
              on=["resource_id", "w"], validate="m:1")
        .with_columns(
            room=pl.when(pl.col("hours_available") > 0)
            .then((WEEK_HOURS - pl.col("hours_available")).clip(lower_bound=0.0)).otherwise(0.0),
            first=pl.col("w") == pl.col("bind_t"),
        )
        .sort(*PST, "first", "w", descending=[False, False, False, True, True])
        .with_columns(before=pl.col("room").cum_sum().over(PST) - pl.col("room"))
        .with_columns(hours=pl.min_horizontal("room", pl.col("extra_hours") - pl.col("before")).clip(lower_bound=0.0))
    )
    part = pl.concat_str(pl.lit("+"), _num("hours", 1), pl.lit(" in "), _iso("week"))
    return weeks.group_by(PST, maintain_order=True).agg(
        bind_room=pl.col("room").filter("first").first(),
        room=pl.when((pl.col("hours_available") <= WEEK_HOURS).all()).then(pl.col("room").sum()),
        spread=part.filter(pl.col("hours") > 0.05).str.join(", "),
        window=pl.concat_str(_iso("week").min(), pl.lit("–"), _iso("week").max()),
    )


def _lane_candidates(net: Network, short: pl.DataFrame, lane_duals: pl.DataFrame | None) -> pl.DataFrame:
    """For each shortage, a binding capacity-limited lane into the site that could have served it."""
    if lane_duals is None or lane_duals.height == 0 or "pi" not in lane_duals.columns:
        return pl.DataFrame(
            schema={
                **{c: short.schema[c] for c in PST},
                "from_site": pl.String,
                "lane_t": pl.Int64,
                "lane_price": pl.Float64,
            }
        )
    bind = lane_duals.filter(pl.col("pi").abs() > _EPS).select(
        "from_site", "to_site", pl.col("t").alias("lane_t"), (-pl.col("pi")).alias("lane_price")
    )
    return (
        short.select(PST)
        .join(
            net.lanes.select("from_site", "to_site", "lead_time_weeks"), left_on="site_id", right_on="to_site"
        )
        .join(bind, left_on=["from_site", "site_id"], right_on=["from_site", "to_site"])
        .filter(pl.col("lane_t") + pl.col("lead_time_weeks") <= pl.col("t"))
        .sort("lane_price", descending=True)
        .group_by(PST)
        .first()
        .select(*PST, "from_site", "lane_t", "lane_price")
    )


def plan_shortages(
    net: Network,
    backlog: pl.DataFrame,
    capacity: pl.DataFrame,
    lane_duals: pl.DataFrame | None,
    price_range: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
    campaigns: pl.DataFrame | None = None,
    inventory: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The shortage table: units backlogged or lost per product × site × week, with reason and detail,
    largest first (units, then value at unit cost).

    Args:
        net: the planning network.
        backlog: the plan_backlog table (``week`` dates).
        capacity: the plan_capacity table (with shadow prices).
        lane_duals: lane capacity constraint keys with ``pi`` (or None).
        price_range: given the named bottlenecks ``resource_id, t``, returns ``resource_id, t,
            price_low, price_high`` (what an hour less costs and an hour more saves); None: the dual only.
        campaigns: the plan_campaigns table (None or empty: no campaign resource).
        inventory: the plan_inventory table (``closing``), to tell a component that ran out (None: not told).
    """
    cap = _batch_full(net, capacity.with_columns(t=net.week_index()))
    short = (
        backlog.with_columns(t=net.week_index(), short=pl.col("backlog") + pl.col("lost"))
        .filter(pl.col("short") > 1e-6)
        .join(net.replenishment_weeks.rename({"weeks": "replen"}), on=["product_id", "site_id"], how="left")
    )
    candidates, stuck, through = _capacity_candidates(net, short, cap)
    frame = (
        short.join(candidates, on=PST, how="left", validate="1:1")
        .join(_ran_out(net, stuck, inventory), on=PST, how="left", validate="1:1")
        .join(_lane_candidates(net, short, lane_duals), on=PST, how="left", validate="1:1")
        .join(_campaign_candidates(net, short, campaigns, through), on=PST, how="left", validate="1:1")
        .join(net.products.select("product_id", "unit_cost"), on="product_id", how="left", validate="m:1")
        .with_columns(
            first_week=net.week_date("replen"),
            lane_week=net.week_date("lane_t"),
            bind_t=((pl.col("bind_week") - pl.lit(net.start_week)).dt.total_days() // 7).cast(pl.Int64),
        )
    )
    ranges = pl.DataFrame(
        schema={"resource_id": pl.String, "bind_t": pl.Int64, "price_low": pl.Float64, "price_high": pl.Float64}
    )
    # the bottlenecks named for the most units, at most MAX_RANGES of them (each costs two warm re-solves)
    named = (
        frame.filter(pl.col("resource_id").is_not_null())
        .group_by("resource_id", pl.col("bind_t").alias("t"))
        .agg(pl.col("short").sum())
        .sort("short", "resource_id", "t", descending=[True, False, False])
        .head(MAX_RANGES)
        .select("resource_id", "t")
    )
    if price_range is not None and named.height:
        ranges = price_range(named).rename({"t": "bind_t"}).select(ranges.columns)
    frame = frame.join(ranges, on=["resource_id", "bind_t"], how="left", validate="m:1").join(
        _spread_hours(frame, cap), on=PST, how="left", validate="1:1")
    reason = (
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
    def worth(where: pl.Expr) -> pl.Expr:
        """``an hour <where> is worth …``: the re-solved range where measured, else the dual."""
        value = (
            pl.when(pl.col("price_low").is_not_null() & ((pl.col("price_high") - pl.col("price_low")).abs() > 0.005))
            .then(pl.concat_str(_num("price_low", 2), pl.lit("–"), _num("price_high", 2),
                                pl.lit(" (one hour more / one hour less)")))
            .when(pl.col("price_low").is_not_null() & pl.col("price_high").is_null())
            .then(pl.concat_str(_num("price_low", 2), pl.lit(" (one hour more)")))
            .when(pl.col("price_low").is_not_null())
            .then(_num("price_low", 2))
            .otherwise(pl.concat_str(_num("bind_price", 2), pl.lit(" (dual)")))
        )
        return pl.concat_str(pl.lit("an hour "), where, pl.lit(" is worth "), value)

    batch = (
        pl.when(pl.col("bind_batch").is_not_null())
        .then(pl.concat_str(pl.lit(" (whole batches: its "), _num("bind_free", 1), pl.lit(" free hours hold no batch of "),
                            _num("bind_batch", 1), pl.lit(")")))
        .otherwise(pl.lit(""))
    )
    hours_on = pl.concat_str(pl.lit("+"), _num("extra_hours", 1), pl.lit(" hours on "), pl.col("resource_id"))
    in_bind = pl.concat_str(pl.lit("in "), _iso("bind_week"))
    recover = (
        # the week named can hold them (or its resource is several machines, whose limit is not known)
        pl.when(pl.col("room").is_null() | (pl.col("extra_hours") <= pl.col("bind_room") + 0.05))
        .then(pl.concat_str(hours_on, pl.lit(" "), in_bind, pl.lit(" recovers "), _num("short"), pl.lit(" units; "),
                            worth(pl.lit("there"))))
        .when(pl.col("extra_hours") <= pl.col("room") + 0.05)
        .then(pl.concat_str(
            hours_on, pl.lit(" recover "), _num("short"), pl.lit(" units, more than "), _iso("bind_week"),
            pl.lit(" can still hold (+"), _num("bind_room", 1), pl.lit(f" of a week's {WEEK_HOURS:.0f}): "),
            pl.col("spread"), pl.lit("; "), worth(in_bind)))
        .otherwise(pl.concat_str(
            hours_on, pl.lit(" would recover "), _num("short"), pl.lit(" units, but the weeks that could still "
            "serve it in time ("), pl.col("window"), pl.lit(") hold only +"), _num("room", 1),
            pl.lit(f" more (a week has {WEEK_HOURS:.0f} hours): hours alone cannot recover it; "), worth(in_bind)))
    )
    detail = (
        pl.when(pl.col("reason") == "no_route")
        .then(
            pl.concat_str(
                pl.lit("no routing and lane path brings new production of "),
                pl.col("product_id"),
                pl.lit(" to "),
                pl.col("site_id"),
            )
        )
        .when(pl.col("reason") == "release_lag")
        .then(
            pl.concat_str(
                pl.lit("no production can recover it: new supply reaches "),
                pl.col("site_id"),
                pl.lit(" in "),
                _iso("first_week"),
                pl.lit(" at the earliest (release lag + transit); only stock on hand or in transit serves "
                       "earlier weeks"),
            )
        )
        .when(pl.col("reason") == "shelf_life")
        .then(pl.concat_str(pl.lit("capacity that keeps it within its shelf life is full; "), recover))
        .when((pl.col("reason") == "component") & pl.col("resource_id").is_null())
        .then(
            pl.concat_str(
                _component("out_component", "out_via"),
                pl.lit(" ran out at "),
                pl.col("out_plant"),
                pl.lit(" by "),
                _iso("out_week"),
                pl.lit(" and none can be made in time for it (no routing, or a longer release lag): only its "
                       "stock serves"),
            )
        )
        .when(pl.col("reason") == "component")
        .then(
            pl.concat_str(
                _component("component_id", "via"),
                pl.lit(" is short: "),
                pl.col("resource_id"),
                pl.lit(" at "),
                pl.col("plant"),
                pl.lit(" is full"), batch, pl.lit("; "),
                recover,
            )
        )
        .when(pl.col("reason") == "capacity")
        .then(
            pl.concat_str(
                pl.col("resource_id"), pl.lit(" at "), pl.col("plant"), pl.lit(" is full"), batch, pl.lit("; "),
                recover,
            )
        )
        .when(pl.col("reason").is_in(["campaign_length", "changeover"]))
        .then(
            pl.concat_str(
                pl.when(pl.col("camp_component").is_not_null())
                .then(pl.concat_str(_component("camp_component", "camp_via"), pl.lit(" waits: ")))
                .otherwise(pl.lit("")),
                pl.col("camp_resource"),
                pl.lit(" is set up for "),
                pl.col("camp_product"),
                pl.lit(" in "),
                _iso("camp_first"),
                pl.lit("–"),
                _iso("camp_last"),
                pl.when(pl.col("reason") == "campaign_length")
                .then(pl.lit(", a campaign no longer than its minimum length"))
                .otherwise(
                    pl.concat_str(
                        pl.lit("; a switch costs "),
                        _num("co_hours", 1),
                        pl.lit(" hours and "),
                        _num("co_cost"),
                        pl.lit(", more than serving it saves"),
                    )
                ),
            )
        )
        .when(pl.col("reason") == "lane_capacity")
        .then(
            pl.concat_str(
                pl.lit("lane "),
                pl.col("from_site"),
                pl.lit("→"),
                pl.col("site_id"),
                pl.lit(" is full in "),
                _iso("lane_week"),
                pl.lit("; +"),
                _num("short"),
                pl.lit(" units of lane capacity recovers them"),
            )
        )
        .otherwise(pl.lit("serving it would cost more than the backlog penalty saves"))
    )
    return (
        frame.with_columns(
            reason=reason,
            short_value=pl.col("short") * pl.col("unit_cost"),
            # backlog is served oldest first: what is short this week is this week's demand first
            late_units=pl.min_horizontal(pl.col("demand"), pl.col("short")),
        )
        .with_columns(detail=detail)
        .select(
            "product_id",
            "site_id",
            "week",
            pl.col("short").alias("short_quantity"),
            "late_units",
            "short_value",
            "reason",
            pl.when(pl.col("reason").is_in(["capacity", "shelf_life", "component"]))
            .then(pl.col("resource_id")).alias(
                "resource_id"
            ),
            "detail",
        )
        .sort(
            "short_quantity", "short_value", "product_id", "site_id", "week",
            descending=[True, True, False, False, False],
        )
    )
