"""A scenario's changes applied to copies of a base run's planning inputs, forecast and booked orders.

One function per kind of change, each returning a changed copy of the frame it touches: capacity and
shutdowns become calendar rows over the horizon (:func:`_calendar`), demand changes scale or shift the
forecast (:func:`_forecast`), yields and release lags change routings (:func:`_routings`), lanes close or
take another lead time, service levels change products, campaign changes change resources and changeovers
(:mod:`optimization.scenario_campaigns`), and orders are added to the booked orders
(:func:`scenario_orders`). Changes of one kind apply in file order: a later entry wins where two overlap.
Check the file first (:func:`optimization.scenario_check.check_scenario`): here every name is taken as known.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import polars as pl

from data_contracts import schema
from optimization.scenario import (
    DemandChange,
    LaneChange,
    ReleaseChange,
    Scenario,
    ServiceLevelChange,
    YieldChange,
    monday,
)
from optimization.scenario_campaigns import campaign_changeovers, campaign_resources

__all__ = ["apply_scenario", "scenario_orders"]


def apply_scenario(scenario: Scenario, inputs: Mapping[str, pl.DataFrame], forecast: pl.DataFrame,
                   start_week: date, horizon_weeks: int) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Apply a scenario's changes to copies of the planning inputs and the forecast.

    Args:
        scenario: the changes (checked with :func:`optimization.scenario_check.check_scenario` first).
        inputs: clean input frames by entity name; ``resources, calendar, lanes, routings, products`` (and
            ``changeovers``, when the scenario changes campaigns) are used.
        forecast: the forecast frame (``product_id, site_id, week, mean, q01 … q99``).
        start_week: Monday of the first planned week.
        horizon_weeks: weeks planned (capacity changes are spelled out as calendar rows over them).

    Returns:
        The inputs (every entity, changed ones replaced) and the changed forecast.
    """
    out = dict(inputs)
    calendar = inputs.get(schema.CALENDAR.name, schema.CALENDAR.empty())
    out[schema.CALENDAR.name] = _calendar(scenario, inputs[schema.RESOURCES.name], calendar, start_week,
                                          horizon_weeks)
    out[schema.LANES.name] = _lanes(scenario.lanes, inputs[schema.LANES.name])
    out[schema.ROUTINGS.name] = _routings(scenario, inputs[schema.ROUTINGS.name])
    out[schema.PRODUCTS.name] = _service_levels(scenario.service_levels, inputs[schema.PRODUCTS.name])
    if scenario.campaigns:
        resources = campaign_resources(scenario.campaigns, inputs[schema.RESOURCES.name])
        out[schema.RESOURCES.name] = resources
        out[schema.CHANGEOVERS.name] = campaign_changeovers(
            scenario.campaigns, resources, inputs.get(schema.CHANGEOVERS.name, schema.CHANGEOVERS.empty()))
    return out, _forecast(scenario, forecast, inputs[schema.PRODUCTS.name])


def _lanes(changes: list[LaneChange], lanes: pl.DataFrame) -> pl.DataFrame:
    """The lanes with every closed one dropped and every new lead time set, in file order."""
    for lane in changes:
        this = (pl.col("from_site") == lane.from_site) & (pl.col("to_site") == lane.to_site)
        lanes = lanes.filter(~this) if lane.close else lanes.with_columns(
            pl.when(this).then(pl.lit(lane.lead_time_weeks, pl.Int64)).otherwise(pl.col("lead_time_weeks"))
            .alias("lead_time_weeks"))
    return lanes


def _service_levels(changes: list[ServiceLevelChange], products: pl.DataFrame) -> pl.DataFrame:
    """The products with every service-level change applied, in file order."""
    for sl in changes:
        products = products.with_columns(
            pl.when(_products_of(sl)).then(pl.lit(sl.service_level)).otherwise(pl.col("service_level"))
            .alias("service_level"))
    return products


def _products_of(change: DemandChange | ServiceLevelChange) -> pl.Expr:
    """True for the rows of the change's product, or family, or (neither given) every product."""
    if change.product is not None:
        return pl.col("product_id") == change.product
    if change.family is not None:
        return pl.col("family") == change.family
    return pl.lit(True)


def _calendar(scenario: Scenario, resources: pl.DataFrame, calendar: pl.DataFrame, start_week: date,
              horizon_weeks: int) -> pl.DataFrame:
    """The calendar with every capacity change and shutdown applied over the horizon."""
    touched = {c.resource for c in scenario.capacity} | {c.resource for c in scenario.shutdowns}
    if not touched:
        return calendar
    weeks = pl.DataFrame({"week": [start_week + timedelta(weeks=k) for k in range(horizon_weeks)]},
                         schema={"week": pl.Date})
    grid = (
        resources.filter(pl.col("resource_id").is_in(sorted(touched)))
        .select("resource_id", "hours_per_week")
        .join(weeks, how="cross")
        .join(calendar.select("resource_id", "week", "hours_available"), on=["resource_id", "week"], how="left",
              validate="1:1")
        # no calendar row: the resource's normal weekly hours apply that week
        .with_columns(pl.coalesce("hours_available", "hours_per_week").alias("hours_available"))
    )
    for c in scenario.capacity:
        new = pl.lit(c.hours) if c.hours is not None else pl.col("hours_available") * (1 + c.percent / 100)
        grid = grid.with_columns(
            pl.when((pl.col("resource_id") == c.resource) & c.weeks()).then(new)
            .otherwise(pl.col("hours_available")).alias("hours_available")
        )
    for c in scenario.shutdowns:
        grid = grid.with_columns(
            pl.when((pl.col("resource_id") == c.resource) & c.weeks()).then(0.0)
            .otherwise(pl.col("hours_available")).alias("hours_available")
        )
    kept = calendar.join(grid.select("resource_id", "week"), on=["resource_id", "week"], how="anti")
    return pl.concat([kept, grid.select(calendar.columns)]).sort("resource_id", "week")


def _forecast(scenario: Scenario, forecast: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    """The forecast with every demand change applied to its mean and quantiles (kept ≥ 0)."""
    if not scenario.demand:
        return forecast
    values = ["mean", *(schema.quantile_column(q) for q in schema.QUANTILES)]
    out = forecast.join(products.select("product_id", "family"), on="product_id", how="left", validate="m:1")
    for d in scenario.demand:
        where = _products_of(d) & d.weeks() & (pl.col("site_id") == d.site if d.site else pl.lit(True))
        out = out.with_columns(
            pl.when(where)
            .then(pl.col(v) * d.multiplier if d.multiplier is not None else (pl.col(v) + d.units).clip(0.0))
            .otherwise(pl.col(v)).alias(v)
            for v in values
        )
    return out.select(forecast.columns)


def _routings(scenario: Scenario, routings: pl.DataFrame) -> pl.DataFrame:
    """The routings with every yield and release-lag change applied, in file order."""
    def this(change: YieldChange | ReleaseChange) -> pl.Expr:
        return (pl.col("product_id") == change.product) & (
            pl.col("resource_id") == change.resource if change.resource else pl.lit(True))

    for y in scenario.yields:
        new = pl.lit(y.yield_) if y.yield_ is not None else (pl.col("yield") * y.multiplier).clip(upper_bound=1.0)
        routings = routings.with_columns(pl.when(this(y)).then(new).otherwise(pl.col("yield")).alias("yield"))
    for r in scenario.release:
        routings = routings.with_columns(
            pl.when(this(r)).then(pl.lit(r.release_weeks, routings.schema["release_weeks"]))
            .otherwise(pl.col("release_weeks")).alias("release_weeks"))
    return routings


def scenario_orders(scenario: Scenario, booked: pl.DataFrame) -> pl.DataFrame:
    """The booked orders with the scenario's orders added (summed where a week already has some).

    Args:
        booked: ``product_id, site_id, week, quantity``, one row per key.

    Returns:
        The same columns, one row per key.
    """
    if not scenario.orders:
        return booked
    new = pl.DataFrame(
        [(o.product, o.site, monday(o.week), o.quantity) for o in scenario.orders],
        schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "quantity": pl.Float64},
        orient="row")
    return (pl.concat([booked, new], how="vertical_relaxed")
            .group_by("product_id", "site_id", "week").agg(pl.col("quantity").sum())
            .sort("product_id", "site_id", "week").select(booked.columns))
