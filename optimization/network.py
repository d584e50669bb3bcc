"""The planning network: validated input frames turned into index frames over weekly buckets.

Weeks are integers ``t = 0 .. H-1`` counted from the start week (a Monday). Stock is tracked by
*cohort*: the last week ``u`` in which a unit may still be used. A product's shelf life of ``L`` weeks
counts from its manufacture by default (``shelf_life_from = manufacture``: a unit started in week ``s``
has ``u = s + L - 1`` whatever its release lag, as for biologics and vaccines) or from its QC release
(``release``: a unit released in week ``t`` has ``u = t + L - 1``); output that would expire before its
release has no cohort and serves nothing. A lot whose expiry date is ``d`` is usable in week ``w`` only
if it is still good at the week's end, ``d >= monday(w + 1)``. Stock that cannot expire
within the horizon — products without shelf life, lots without expiry date, and cohorts so fresh that
neither expiry nor the DC shelf-life rule can bind — shares one cohort, :data:`NEVER`, so products
without shelf life have no age dimension at all.

Opening stock is data, not a branch in the model: released lots are supply of kind ``opening`` in
week 0; quarantine lots are supply of kind ``quarantine`` in the week the product's QC release lag
(the smallest ``release_weeks`` of its routings; 0 when it has none) has passed; scheduled receipts
are supply of kind ``production``/``transfer`` in their week (overdue receipts in week 0): a transfer
carries its full shelf life from that week, a production receipt of a product whose life counts from
manufacture was started the product's QC lag earlier (its life counts from then, at least its week). Lots already past expiry at the start are written off in
week 0 (:attr:`Network.expired_on_hand`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from data_contracts import schema
from data_contracts.network import bom_cycles
from optimization.campaign_network import CAMPAIGN_COLUMNS, check_campaign_resources, resolve_changeovers
from optimization.config import PlanConfig
from optimization.timegrid import NEVER, WEEKLY, TimeGrid
from optimization.validation import (
    check_allowed,
    check_known,
    check_monday,
    check_rule,
    check_start_week,
    check_unique,
    require_frame,
)

__all__ = [
    "NEVER", "Network", "arrive_by", "arrivals", "build_network", "cohort_of", "dependent_need", "life_start",
    "on_grid", "releases",
]

_P, _S, _R = schema.PRODUCTS, schema.SITES, schema.RESOURCES


@dataclass(frozen=True)
class Network:
    """Index frames of one planning problem (all weeks as integer ``t`` from the start week).

    Attributes:
        start_week: Monday of week ``t = 0``.
        horizon: number of weekly buckets.
        min_shelf_life_share_at_dc: share of shelf life a unit needs when it arrives at a DC.
        weeks: ``t, week``.
        products: product attributes plus ``weight`` (priority weight), ``qc_lag_weeks`` and
            ``cohort_cap`` (cohorts at or beyond it are merged into :data:`NEVER`).
        sites: ``site_id, site_type``.
        resources: ``resource_id, site_id, name``.
        routings: routing attributes plus the resource's ``site_id``.
        lanes: ``lane`` (int id) and the lane attributes.
        hours: ``resource_id, t, hours_available`` (calendar overrides applied).
        supply: exogenous stock ``product_id, site_id, t, cohort, quantity, kind``.
        expired_on_hand: lots past expiry at the start, ``product_id, site_id, quantity``.
        transit_weeks: shortest lead time ``from_site, to_site, weeks`` (a site to itself is 0).
        replenishment_weeks: ``product_id, site_id, weeks``: fastest new production to the site.
        presence: ``product_id, site_id, cohort, t_first``: earliest week a cohort can be at a site.
        bom: ``parent_id, component_id, quantity_per, scrap, per_start``: the bill of materials, with
            ``per_start = quantity_per / (1 − scrap)`` consumed per unit of the parent started (empty =
            single level).
        storage: ``site_id, family, capacity, overflow_cost``: most units of a family held at a site (empty =
            unlimited); with an ``overflow_cost`` the limit is soft (that cost per unit-week over it).
        changeovers: ``resource_id, from_product_id, to_product_id, hours, cost``: named switches of
            campaign resources (:mod:`optimization.campaign_network`).
        grid: the time axis: weekly (the default), or longer buckets after the first weeks
            (:mod:`optimization.buckets`); ``t``, ``horizon``, ``cohort`` and ``t_first`` count buckets.
    """

    start_week: date
    horizon: int
    min_shelf_life_share_at_dc: float
    weeks: pl.DataFrame
    products: pl.DataFrame
    sites: pl.DataFrame
    resources: pl.DataFrame
    routings: pl.DataFrame
    lanes: pl.DataFrame
    hours: pl.DataFrame
    supply: pl.DataFrame
    expired_on_hand: pl.DataFrame
    transit_weeks: pl.DataFrame
    replenishment_weeks: pl.DataFrame
    presence: pl.DataFrame
    bom: pl.DataFrame
    storage: pl.DataFrame
    changeovers: pl.DataFrame | None = None
    grid: TimeGrid = WEEKLY

    @property
    def components(self) -> pl.Series:
        """Items the bill of materials uses as components (drug substance, bulk): made for their parents, not
        sold as such, so the plan's and the twin's stock in units leaves them out; empty for a single level."""
        return self.bom["component_id"].unique()

    @property
    def has_campaigns(self) -> bool:
        """Whether any resource is campaign-run (the model is then a MIP)."""
        return bool(self.resources["campaign"].any())

    def week_index(self, col: str = "week") -> pl.Expr:
        """Expression turning a Monday date column into its week index ``t`` (the bucket holding it)."""
        weeks = ((pl.col(col) - pl.lit(self.start_week)).dt.total_days() // 7).cast(pl.Int64)
        return self.grid.containing(weeks)

    def week_date(self, col: str = "t") -> pl.Expr:
        """Expression turning a week index column into its Monday date (a bucket's first Monday)."""
        return pl.lit(self.start_week) + pl.duration(weeks=self.grid.first(pl.col(col)))


def cohort_of(t: pl.Expr) -> pl.Expr:
    """Cohort of units released fresh in week ``t`` (needs ``shelf_life_weeks`` and ``cohort_cap``)."""
    u = t + pl.col("shelf_life_weeks") - 1
    return (
        pl.when(pl.col("shelf_life_weeks").is_null() | (u >= pl.col("cohort_cap"))).then(NEVER).otherwise(u)
    )


def life_start(start: pl.Expr, release: pl.Expr) -> pl.Expr:
    """Week a unit's shelf life counts from: its start (manufacture) or its release, by ``shelf_life_from``."""
    return pl.when(pl.col("shelf_life_from") == "release").then(release).otherwise(start)


def _weeks_of(frame: pl.DataFrame, grid: TimeGrid) -> pl.DataFrame:
    """Each row once per week ``_w`` of its bucket ``t``, with ``share`` = 1 / the bucket's weeks."""
    if not grid.bucketed:
        return frame.with_columns(_w=pl.col("t"), share=pl.lit(1.0))
    return (
        frame.with_columns(_j=pl.int_ranges(0, grid.length(pl.col("t")), dtype=pl.Int64))
        .explode("_j")
        .with_columns(_w=grid.first(pl.col("t")) + pl.col("_j"), share=1.0 / grid.length(pl.col("t")))
        .drop("_j")
    )


def releases(frame: pl.DataFrame, grid: TimeGrid, horizon: int, keep: list[str]) -> pl.DataFrame:
    """Where the good output of starts lands: per start, release bucket and cohort, the ``share`` landing there.

    A start in bucket ``t`` is spread evenly over the bucket's weeks; each week's output is released
    ``release_weeks`` later, in the bucket holding that week, and is usable through the last bucket whose
    middle week its life reaches (:class:`TimeGrid`). On the weekly grid: one row, share 1.

    Args:
        frame: ``t, release_weeks, shelf_life_weeks, cohort_cap, shelf_life_from`` and the ``keep`` columns.
        keep: columns identifying the start (kept, grouped by).

    Returns:
        ``keep, release_t, cohort, pipeline, share``: ``cohort`` null when released after the horizon or
        expired before its release; ``pipeline`` for output released after the horizon still usable then.
    """
    week = pl.col("_w")
    release = week + pl.col("release_weeks")
    pieces = _weeks_of(frame, grid).with_columns(
        release_t=grid.containing(release),
        _u=grid.usable_through(cohort_of(life_start(week, release))),
    )
    return (
        pieces.with_columns(
            cohort=pl.when((pl.col("release_t") < horizon) & (pl.col("_u") >= pl.col("release_t"))).then("_u"),
            pipeline=(pl.col("release_t") >= horizon) & (pl.col("_u") >= pl.col("release_t")),
        )
        .group_by(*keep, "release_t", "cohort", "pipeline", maintain_order=True)
        .agg(pl.col("share").sum())
    )


def arrivals(frame: pl.DataFrame, grid: TimeGrid, keep: list[str]) -> pl.DataFrame:
    """Where shipments leaving in bucket ``t`` arrive: ``keep, arrival, share`` (spread like :func:`releases`).

    Args:
        frame: ``t, lead_time_weeks`` and the ``keep`` columns.
    """
    return (
        _weeks_of(frame, grid)
        .with_columns(arrival=grid.containing(pl.col("_w") + pl.col("lead_time_weeks")))
        .group_by(*keep, "arrival", maintain_order=True)
        .agg(pl.col("share").sum())
    )


def arrive_by(share: float, horizon: int) -> pl.Expr:
    """Last week a unit of ``cohort`` may arrive at ``site_type``'s site by lane.

    It must still be usable (``t <= cohort``) and, at a DC, keep at least ``share`` of its shelf life:
    ``cohort - t + 1 >= share * shelf_life_weeks``. Needs ``cohort, site_type, shelf_life_weeks``.
    """
    usable = pl.min_horizontal(pl.col("cohort"), pl.lit(horizon - 1))
    dc_rule = (pl.col("cohort") + 1 - share * pl.col("shelf_life_weeks")).floor().cast(pl.Int64)
    needs_rule = (
        (pl.col("site_type") == "dc") & pl.col("shelf_life_weeks").is_not_null() & (pl.col("cohort") < NEVER)
    )
    return pl.when(needs_rule).then(pl.min_horizontal(usable, dc_rule)).otherwise(usable)


def dependent_need(net: Network, need: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """``need`` (``product_id``, the ``by`` columns, ``need``) plus the bill of materials' dependent need: a
    component needs what its parents need × ``quantity_per / (1 − scrap)`` / the parent's best yield, level
    by level, per value of ``by`` (e.g. ``("t",)``: in the parent's week). No BOM: ``need`` unchanged."""
    if net.bom.height == 0:
        return need
    best_yield = net.routings.group_by("product_id").agg(pl.col("yield").max().alias("y"))
    edges = net.bom.select("parent_id", "component_id", "per_start").join(
        best_yield.rename({"product_id": "parent_id"}), on="parent_id"
    )
    level, total = need, [need]
    for _ in range(net.bom.height):  # at most as many levels as rows (cycles are refused)
        level = (
            level.join(edges, left_on="product_id", right_on="parent_id")
            .group_by(pl.col("component_id").alias("product_id"), *by)
            .agg((pl.col("need") * pl.col("per_start") / pl.col("y")).sum().alias("need"))
        )
        if level.height == 0:
            break
        total.append(level)
    return pl.concat(total).group_by("product_id", *by).agg(pl.col("need").sum())


def build_network(inputs: dict[str, pl.DataFrame], start_week: date, config: PlanConfig) -> Network:
    """Validate the input entities and build the planning network.

    Args:
        inputs: entity name → frame with the schema columns of ``products, sites, resources, routings,
            lanes, inventory`` and optionally ``receipts, calendar, bom, storage`` (missing or empty = none).
        start_week: Monday of the first planned week.
        config: planning configuration (horizon, DC shelf-life share, priority weighting).

    Returns:
        The :class:`Network`.

    Raises:
        PlanInputError: a rule is broken (unknown keys, negative costs, bad yields, ...), naming the rows.
    """
    check_start_week(start_week)
    horizon = config.horizon_weeks
    share = config.min_shelf_life_share_at_dc
    products = _products(require_frame(inputs, _P), horizon, share, config.priority_weight_exponent)
    sites = _sites(require_frame(inputs, _S))
    resources = _resources(require_frame(inputs, _R), sites)
    routings = _routings(require_frame(inputs, schema.ROUTINGS), products, resources)
    lanes = _lanes(require_frame(inputs, schema.LANES), sites)
    products = products.join(
        routings.group_by("product_id").agg(pl.col("release_weeks").min().alias("qc_lag_weeks")),
        on="product_id",
        how="left",
        validate="1:1",
    ).with_columns(pl.col("qc_lag_weeks").fill_null(0))  # no routing: quarantine lots wait no lag
    weeks = pl.DataFrame({"t": range(horizon)}, schema={"t": pl.Int64}).with_columns(
        week=pl.lit(start_week) + pl.duration(weeks=pl.col("t"))
    )
    net = dict(start_week=start_week, horizon=horizon, min_shelf_life_share_at_dc=share, weeks=weeks)
    to_t = ((pl.col("week") - pl.lit(start_week)).dt.total_days() // 7).cast(pl.Int64)
    hours = _hours(require_frame(inputs, schema.CALENDAR), resources, weeks, to_t)
    supply, expired = _supply(
        require_frame(inputs, schema.INVENTORY),
        require_frame(inputs, schema.RECEIPTS),
        products,
        sites,
        start_week,
        horizon,
        to_t,
    )
    transit = _transit_weeks(sites, lanes)
    replenish = (
        routings.join(transit, left_on="site_id", right_on="from_site")
        .group_by("product_id", pl.col("to_site").alias("site_id"))
        .agg((pl.col("release_weeks") + pl.col("weeks")).min().alias("weeks"))
    )
    presence = _presence(products, sites, routings, lanes, supply, horizon, share)
    return Network(
        **net,
        products=products,
        sites=sites,
        resources=resources,
        routings=routings,
        lanes=lanes,
        hours=hours,
        supply=supply,
        expired_on_hand=expired,
        transit_weeks=transit,
        replenishment_weeks=replenish,
        presence=presence,
        bom=_bom(require_frame(inputs, schema.BOM), products),
        storage=_storage(require_frame(inputs, schema.STORAGE), sites, products),
        changeovers=resolve_changeovers(
            require_frame(inputs, schema.CHANGEOVERS), resources, products.select("product_id"), sites
        ),
    )


def on_grid(net: Network, grid: TimeGrid) -> Network:
    """The weekly network re-expressed on a bucketed time axis (:mod:`optimization.buckets`).

    A bucket's hours are its weeks' hours; supply arrives in the bucket holding its week and stays usable
    through the last bucket ending by its last usable week (at least its arrival bucket); cohorts and the
    earliest presence of stock are derived again with every lag landing where ``grid`` rounds it. The
    lanes, the bill of materials, storage and the weekly frames the model does not read (transit,
    replenishment, lots expired on hand) are the weekly network's.
    """
    if not grid.bucketed:
        return net
    nb = len(grid.starts)
    weeks = grid.frame().select("t", week=pl.lit(net.start_week) + pl.duration(weeks=pl.col("first")))
    hours = (
        net.hours.with_columns(t=grid.containing(pl.col("t")))
        .group_by("resource_id", "t")
        .agg(pl.col("hours_available").sum())
        .sort("resource_id", "t")
    )
    t = grid.containing(pl.col("t")).alias("t")
    supply = (
        net.supply.with_columns(t, cohort=pl.max_horizontal(grid.usable_through(pl.col("cohort")), t))
        .group_by("product_id", "site_id", "t", "cohort", "kind")
        .agg(pl.col("quantity").sum())
        .sort("product_id", "site_id", "t", "cohort", "kind")
    )
    presence = _presence(
        net.products, net.sites, net.routings, net.lanes, supply, nb, net.min_shelf_life_share_at_dc, grid
    )
    return replace(net, horizon=nb, weeks=weeks, hours=hours, supply=supply, presence=presence, grid=grid)


def _products(df: pl.DataFrame, horizon: int, share: float, exponent: float) -> pl.DataFrame:
    e, key = _P.name, ["product_id"]
    check_unique(df, e, key)
    for col in ("unit_cost", "holding_cost_per_week", "backlog_penalty"):
        check_rule(
            df, e, col, pl.col(col) >= 0, "costs must be >= 0 (a negative cost makes the plan unbounded)", key
        )
    check_rule(
        df, e, "shelf_life_weeks", pl.col("shelf_life_weeks") >= 1, "shelf life must be >= 1 week", key
    )
    check_rule(df, e, "priority", pl.col("priority") >= 1, "priority must be >= 1", key)
    check_allowed(df, e, "shelf_life_from", key)
    check_rule(
        df,
        e,
        "service_level",
        pl.col("service_level").is_between(0, 1, closed="none"),
        "service level must be in (0, 1)",
        key,
    )
    cap = pl.max_horizontal(
        pl.lit(horizon), horizon - 2 + (share * pl.col("shelf_life_weeks")).ceil().cast(pl.Int64)
    )
    return df.with_columns(
        weight=pl.col("priority").cast(pl.Float64).pow(-exponent),
        cohort_cap=pl.when(pl.col("shelf_life_weeks").is_null())
        .then(pl.lit(horizon))
        .otherwise(cap)
        .cast(pl.Int64),
    )


def _bom(df: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.BOM.name, ["parent_id", "component_id"]
    check_unique(df, e, key)
    check_known(df, e, "parent_id", products["product_id"], "product", key)
    check_known(df, e, "component_id", products["product_id"], "product", key)
    check_rule(df, e, "quantity_per", pl.col("quantity_per") > 0, "quantity per parent must be > 0", key)
    check_rule(df, e, "scrap", pl.col("scrap").is_between(0, 1, closed="left"), "scrap must be in [0, 1)", key)
    cycles = bom_cycles(df)
    if cycles.height:
        first = cycles.get_column("cycle")[0]
        on_it = cycles.filter(pl.col("cycle") == first)
        check_rule(
            df,
            e,
            "component_id",
            ~pl.struct(key).is_in(on_it.select(pl.struct(key)).to_series().implode()),
            f"the bill of materials has a cycle {first} (an item cannot need itself)",
            key,
        )
    return df.with_columns(per_start=pl.col("quantity_per") / (1.0 - pl.col("scrap")))


def _storage(df: pl.DataFrame, sites: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.STORAGE.name, ["site_id", "family"]
    check_unique(df, e, key)
    check_known(df, e, "site_id", sites["site_id"], "site", key)
    check_known(df, e, "family", products["family"].unique(), "product family", key)
    check_rule(df, e, "capacity", pl.col("capacity") >= 0, "capacity must be >= 0", key)
    if "overflow_cost" not in df.columns:  # absent: every limit hard
        df = df.with_columns(overflow_cost=pl.lit(None, pl.Float64))
    check_rule(df, e, "overflow_cost", pl.col("overflow_cost").is_null() | (pl.col("overflow_cost") >= 0),
               "overflow_cost must be >= 0 (or empty: a hard limit)", key)
    return df.select(key + ["capacity", pl.col("overflow_cost").cast(pl.Float64)])


def _sites(df: pl.DataFrame) -> pl.DataFrame:
    check_unique(df, _S.name, ["site_id"])
    check_allowed(df, _S.name, "site_type", ["site_id"])
    return df.select("site_id", "site_type")


def _resources(df: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    e, key = _R.name, ["resource_id"]
    check_unique(df, e, key)
    check_known(df, e, "site_id", sites["site_id"], "site", key)
    plants = sites.filter(pl.col("site_type") == "plant")["site_id"]
    check_rule(
        df, e, "site_id", pl.col("site_id").is_in(plants.implode()), "a resource must be at a plant", key
    )
    check_rule(df, e, "hours_per_week", pl.col("hours_per_week") >= 0, "hours must be >= 0", key)
    check_campaign_resources(df)
    return df.select("resource_id", "site_id", "name", "hours_per_week", *CAMPAIGN_COLUMNS)


def _routings(df: pl.DataFrame, products: pl.DataFrame, resources: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.ROUTINGS.name, ["product_id", "resource_id"]
    check_unique(df, e, key)
    check_known(df, e, "product_id", products["product_id"], "product", key)
    check_known(df, e, "resource_id", resources["resource_id"], "resource", key)
    check_rule(df, e, "hours_per_unit", pl.col("hours_per_unit") >= 0, "must be >= 0", key)
    check_rule(df, e, "yield", (pl.col("yield") > 0) & (pl.col("yield") <= 1), "yield must be in (0, 1]", key)
    check_rule(df, e, "cost_per_unit", pl.col("cost_per_unit") >= 0, "costs must be >= 0", key)
    check_rule(df, e, "release_weeks", pl.col("release_weeks") >= 0, "must be >= 0", key)
    check_rule(df, e, "min_batch", pl.col("min_batch") >= 0, "must be >= 0", key)
    check_rule(df, e, "batch_size", pl.col("batch_size") > 0, "must be > 0", key)
    return df.join(resources.select("resource_id", "site_id"), on="resource_id", how="left", validate="m:1")


def _lanes(df: pl.DataFrame, sites: pl.DataFrame) -> pl.DataFrame:
    e, key = schema.LANES.name, ["from_site", "to_site"]
    check_unique(df, e, key)
    check_known(df, e, "from_site", sites["site_id"], "site", key)
    check_known(df, e, "to_site", sites["site_id"], "site", key)
    check_rule(df, e, "to_site", pl.col("to_site") != pl.col("from_site"), "a lane must join two sites", key)
    check_rule(df, e, "lead_time_weeks", pl.col("lead_time_weeks") >= 0, "must be >= 0", key)
    check_rule(df, e, "cost_per_unit", pl.col("cost_per_unit") >= 0, "costs must be >= 0", key)
    check_rule(df, e, "capacity_per_week", pl.col("capacity_per_week") >= 0, "must be >= 0", key)
    return df.sort(key).with_row_index("lane").with_columns(pl.col("lane").cast(pl.Int64))


def _hours(
    calendar: pl.DataFrame, resources: pl.DataFrame, weeks: pl.DataFrame, to_t: pl.Expr
) -> pl.DataFrame:
    e, key = schema.CALENDAR.name, ["resource_id", "week"]
    check_unique(calendar, e, key)
    check_known(calendar, e, "resource_id", resources["resource_id"], "resource", key)
    check_monday(calendar, e, "week", key)
    check_rule(calendar, e, "hours_available", pl.col("hours_available") >= 0, "must be >= 0", key)
    override = calendar.select("resource_id", to_t.alias("t"), "hours_available")
    return (
        resources.select("resource_id", "hours_per_week")
        .join(weeks.select("t"), how="cross")
        .join(override, on=["resource_id", "t"], how="left", validate="1:1")
        .select("resource_id", "t", pl.coalesce("hours_available", "hours_per_week").alias("hours_available"))
    )


def _supply(
    inventory: pl.DataFrame,
    receipts: pl.DataFrame,
    products: pl.DataFrame,
    sites: pl.DataFrame,
    start: date,
    horizon: int,
    to_t: pl.Expr,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    e, key = schema.INVENTORY.name, ["product_id", "site_id", "lot_id"]
    check_unique(inventory, e, key)
    check_known(inventory, e, "product_id", products["product_id"], "product", key)
    check_known(inventory, e, "site_id", sites["site_id"], "site", key)
    check_rule(inventory, e, "quantity", pl.col("quantity") >= 0, "must be >= 0", key)
    check_allowed(inventory, e, "status", key)
    r, rkey = schema.RECEIPTS.name, ["product_id", "site_id", "week", "kind"]
    check_unique(receipts, r, rkey)
    check_known(receipts, r, "product_id", products["product_id"], "product", rkey)
    check_known(receipts, r, "site_id", sites["site_id"], "site", rkey)
    check_monday(receipts, r, "week", rkey)
    check_rule(receipts, r, "quantity", pl.col("quantity") >= 0, "must be >= 0", rkey)
    check_allowed(receipts, r, "kind", rkey)
    attrs = products.select("product_id", "shelf_life_weeks", "cohort_cap", "qc_lag_weeks", "shelf_life_from")
    last_usable = ((pl.col("expiry_date") - pl.lit(start)).dt.total_days() // 7 - 1).cast(pl.Int64)
    lots = inventory.join(attrs, on="product_id", how="left", validate="m:1").with_columns(
        t=pl.when(pl.col("status") == "released").then(0).otherwise(pl.col("qc_lag_weeks")).cast(pl.Int64),
        kind=pl.when(pl.col("status") == "released").then(pl.lit("opening")).otherwise(pl.lit("quarantine")),
        cohort=pl.when(pl.col("expiry_date").is_null() | (last_usable >= pl.col("cohort_cap")))
        .then(NEVER)
        .otherwise(last_usable),
    )
    expired = (
        lots.filter(
            pl.col("cohort") < pl.col("t")
        )  # past expiry before it can be used: written off in week 0
        .group_by("product_id", "site_id")
        .agg(pl.col("quantity").sum())
    )
    fresh = (
        receipts.join(attrs, on="product_id", how="left", validate="m:1")
        .with_columns(t=pl.max_horizontal(to_t, pl.lit(0)))  # overdue receipts arrive in week 0
        .with_columns(
            cohort=pl.max_horizontal(
                cohort_of(
                    pl.when(pl.col("kind") == "production")
                    .then(life_start(pl.col("t") - pl.col("qc_lag_weeks"), pl.col("t")))
                    .otherwise(pl.col("t"))
                ),
                pl.col("t"),
            )
        )
    )
    cols = ["product_id", "site_id", "t", "cohort", "kind", "quantity"]
    supply = (
        pl.concat([lots.filter(pl.col("cohort") >= pl.col("t")).select(cols), fresh.select(cols)])
        .filter(pl.col("t") < horizon)  # arriving after the horizon: outside the plan
        .group_by(cols[:-1])
        .agg(pl.col("quantity").sum())
        .sort(cols[:-1])
    )
    return supply, expired.sort("product_id", "site_id")


def _transit_weeks(sites: pl.DataFrame, lanes: pl.DataFrame) -> pl.DataFrame:
    """Shortest lead time between every pair of connected sites (Bellman-Ford by joins)."""
    dist = sites.select(
        pl.col("site_id").alias("from_site"),
        pl.col("site_id").alias("to_site"),
        pl.lit(0, pl.Int64).alias("weeks"),
    )
    step = lanes.select(pl.col("from_site").alias("via"), "to_site", pl.col("lead_time_weeks").alias("lt"))
    for _ in range(sites.height):
        longer = dist.join(step, left_on="to_site", right_on="via").select(
            "from_site",
            pl.col("to_site_right").alias("to_site"),
            (pl.col("weeks") + pl.col("lt")).alias("weeks"),
        )
        new = pl.concat([dist, longer]).group_by("from_site", "to_site").agg(pl.col("weeks").min())
        if new.height == dist.height and new["weeks"].sum() == dist["weeks"].sum():
            break
        dist = new
    return dist.sort("from_site", "to_site")


def _presence(
    products: pl.DataFrame,
    sites: pl.DataFrame,
    routings: pl.DataFrame,
    lanes: pl.DataFrame,
    supply: pl.DataFrame,
    horizon: int,
    share: float,
    grid: TimeGrid = WEEKLY,
) -> pl.DataFrame:
    """Earliest week each stock cohort can be at each site: seeded by supply and releases, spread by lanes.

    On a bucketed ``grid`` weeks are buckets and every lag lands where :class:`TimeGrid` rounds it.
    """
    attrs = products.select("product_id", "shelf_life_weeks", "cohort_cap", "shelf_life_from")
    starts = (
        routings.select("product_id", "site_id", "release_weeks")
        .join(pl.DataFrame({"t": range(horizon)}, schema={"t": pl.Int64}), how="cross")  # start bucket t
        .join(attrs, on="product_id", validate="m:1")
    )
    released = (  # expired before its release or released after the horizon (cohort null): never present
        releases(starts, grid, horizon, ["product_id", "site_id"])
        .filter(pl.col("cohort").is_not_null())
        .select("product_id", "site_id", pl.col("release_t").alias("t"), "cohort")
    )
    key = ["product_id", "site_id", "cohort"]
    seeds = pl.concat([supply.select(*key, "t"), released.select(*key, "t")])
    presence = seeds.group_by(key).agg(pl.col("t").min().alias("t_first"))
    hops = lanes.select("from_site", "to_site", "lead_time_weeks").join(
        sites.select(pl.col("site_id").alias("to_site"), "site_type"), on="to_site", validate="m:1"
    )
    for _ in range(sites.height):
        moved = (
            presence.join(hops, left_on="site_id", right_on="from_site")
            .join(attrs, on="product_id", validate="m:1")
            .with_columns(t_first=grid.containing(grid.first(pl.col("t_first")) + pl.col("lead_time_weeks")))
            .filter(pl.col("t_first") <= arrive_by(share, horizon))
            .select("product_id", pl.col("to_site").alias("site_id"), "cohort", "t_first")
        )
        new = pl.concat([presence, moved]).group_by(key).agg(pl.col("t_first").min())
        if new.height == presence.height and new["t_first"].sum() == presence["t_first"].sum():
            break
        presence = new
    return presence.sort(key)
