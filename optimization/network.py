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

The cohort rules are :mod:`optimization.network_cohorts`'s; the inputs are checked into their frames by
:mod:`optimization.network_inputs`; the shortest transit and the earliest presence of stock are
:mod:`optimization.network_reach`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from data_contracts import schema
from optimization.campaign_network import resolve_changeovers
from optimization.config import PlanConfig
from optimization.network_inputs import (
    _P, _R, _S, _bom, _hours, _lanes, _products, _resources, _routings, _sites, _storage, _supply,
)
from optimization.network_reach import _presence, _transit_weeks
from optimization.timegrid import NEVER, WEEKLY, TimeGrid
from optimization.validation import check_start_week, require_frame

__all__ = ["NEVER", "Network", "build_network", "dependent_need", "on_grid"]


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
