"""Plan KPIs, one row per figure (``kpi, value, unit``): the one place each KPI is defined.

Money and penalties are kept apart (``currency``):

* **plan cost** — what the plan spends: ``cost_production`` (units started × cost per unit),
  ``cost_transport`` (units shipped × lane cost), ``cost_holding`` (closing stock × holding cost per
  week), ``cost_expiry`` (units written off × unit cost); their sum is ``plan_cost``.
* **service penalties** — prices the model puts on bad service, not cash: ``cost_backlog`` (unit-weeks
  of backlog × priority-weighted penalty), ``cost_lost_sales``, ``cost_safety_stock`` (unit-weeks below
  the safety-stock target × its share of the penalty), ``cost_end_stock_shortfall`` (units the network
  ends short of the terminal target); their sum is ``service_penalties``.
* ``cost_total`` = ``plan_cost`` + ``service_penalties`` = the objective the plan minimises.

Service (``share``), over the demand inside the horizon:

* ``fill_rate_units`` — **on time**: units served in the week they were wanted over all units wanted
  (backlog is served oldest first, so on time in week t = demand − backlog − lost, at least 0);
* ``fill_rate_served_units`` — **eventually served**: units served by the end of the horizon, late
  or not, over all units wanted;
* ``fill_rate_weeks`` — a stand-in for line fill rate without order lines: the share of product ×
  DC × weeks with demand whose demand was fully served that week.

Units: ``demand_units, backlog_units_end, lost_units, expired_units``. End of the horizon:
``stock_units_end`` (closing stock of the last week, all sites), ``stock_value_end`` (currency, at unit
cost), ``weeks_of_cover`` (closing stock of the last week over the average weekly demand),
``pipeline_units_end`` (good output of starts released after the horizon), ``end_position_units``
(stock + pipeline) and ``end_stock_target_units`` (the terminal target, when there is one).
Capacity (``share``): ``utilisation_avg`` and ``utilisation_max`` over resource-weeks with hours,
``utilisation_<resource_id>`` (average), ``utilisation_last_4_weeks`` (average over the last four
weeks: a plan that runs the network down leaves them empty); ``weeks_at_capacity`` (resource-weeks at
99.9 % utilisation or more). ``horizon_weeks`` (weeks): the horizon the figures are over.

Booked orders (:func:`booked_kpis`, where the run has any): ``booked_units`` (units booked),
``booked_units_added`` (units they added above the demand the plan was given, series by series: the
forecast, a scenario's changed forecast or a consensus file's quantity, since the plan's demand is the
larger of the two) and ``booked_weeks_added`` (the product × site × weeks they added units in).
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["AT_CAPACITY", "PLAN_COSTS", "SERVICE_PENALTIES", "booked_kpis", "plan_kpis"]


#: cost components that are money the plan spends; the others are service penalties
PLAN_COSTS = ("cost_production", "cost_changeover", "cost_transport", "cost_holding", "cost_expiry",
              "cost_storage_overflow")
SERVICE_PENALTIES = ("cost_backlog", "cost_lost_sales", "cost_safety_stock", "cost_end_stock_shortfall")
#: utilisation at or above which a resource-week counts as at capacity
AT_CAPACITY = 0.999


def plan_kpis(
    tables: dict[str, pl.DataFrame],
    costs: dict[str, float],
    horizon: int,
    unit_cost: pl.DataFrame,
    terminal_target: float | None = None,
    components: pl.Series | None = None,
    extra: list[tuple[str, float, str]] | None = None,
) -> pl.DataFrame:
    """The KPI table from the plan tables and the cost components.

    Args:
        tables: plan tables by name (production, inventory, backlog, expiry, capacity are read).
        costs: cost component → value (including ``cost_total``).
        horizon: weeks planned.
        unit_cost: ``product_id, unit_cost``.
        terminal_target: units the terminal condition asked the network to end with (None: no condition).
        components: product ids used as bill-of-materials components (intermediates: grams of drug
            substance, litres of bulk): left out of the unit counts of stock and pipeline, which are in
            sold units; their stock still counts in ``stock_value_end``.
        extra: more ``(kpi, value, unit)`` rows (the campaigns' figures).
    """
    rows: list[tuple[str, float, str]] = [(k, v, "currency") for k, v in costs.items()]
    rows += [
        ("plan_cost", sum(costs.get(k, 0.0) for k in PLAN_COSTS), "currency"),
        ("service_penalties", sum(costs.get(k, 0.0) for k in SERVICE_PENALTIES), "currency"),
        ("horizon_weeks", float(horizon), "weeks"),
    ]
    backlog = tables[schema.PLAN_BACKLOG.name]
    inventory = tables[schema.PLAN_INVENTORY.name]
    capacity = tables[schema.PLAN_CAPACITY.name]
    expiry = tables[schema.PLAN_EXPIRY.name]
    demand = float(backlog["demand"].sum())
    on_time = backlog.select(
        (pl.col("demand") - pl.col("backlog") - pl.col("lost")).clip(lower_bound=0.0).sum()
    ).item()
    with_demand = backlog.filter(pl.col("demand") > 0)
    rows += [("demand_units", demand, "units")]
    if demand > 0:
        rows += [
            ("fill_rate_units", float(on_time) / demand, "share"),
            ("fill_rate_served_units", float(backlog["served"].sum()) / demand, "share"),
        ]
    if with_demand.height:
        full = with_demand.filter((pl.col("backlog") + pl.col("lost")) <= 1e-6).height
        rows += [("fill_rate_weeks", full / with_demand.height, "share")]
    last = backlog["week"].max() if backlog.height else None
    end_backlog = float(backlog.filter(pl.col("week") == last)["backlog"].sum()) if last is not None else 0.0
    rows += [
        ("backlog_units_end", end_backlog, "units"),
        ("lost_units", float(backlog["lost"].sum()), "units"),
        ("expired_units", float(expiry["quantity"].sum()), "units"),
    ]
    if inventory.height:
        end = inventory.filter(pl.col("week") == inventory["week"].max())
        value = (
            end.join(unit_cost, on="product_id", validate="m:1")
            .select((pl.col("closing") * pl.col("unit_cost")).sum())
            .item()
        )
        sold = (~pl.col("product_id").is_in(components.implode())) if components is not None else pl.lit(True)
        stock_end = float(end.filter(sold)["closing"].sum())
        rows += [("stock_units_end", stock_end, "units"), ("stock_value_end", float(value or 0.0), "currency")]
        if demand > 0:
            rows += [("weeks_of_cover", stock_end / (demand / horizon), "weeks")]
        production = tables[schema.PLAN_PRODUCTION.name]
        pipeline = float(
            production.filter(pl.col("release_week") > end["week"].max(), sold)["released_quantity"].sum()
        )
        rows += [("pipeline_units_end", pipeline, "units"), ("end_position_units", stock_end + pipeline, "units")]
    if terminal_target is not None:
        rows += [("end_stock_target_units", terminal_target, "units")]
    util = capacity.filter(pl.col("utilisation").is_not_null())
    if util.height:
        rows += [
            ("utilisation_avg", float(util["utilisation"].mean()), "share"),
            ("utilisation_max", float(util["utilisation"].max()), "share"),
        ]
        last4 = util.filter(pl.col("week") > util["week"].max() - pl.duration(weeks=4))
        rows += [
            ("utilisation_last_4_weeks", float(last4["utilisation"].mean()), "share"),
            ("weeks_at_capacity", float(util.filter(pl.col("utilisation") >= AT_CAPACITY).height), "weeks"),
        ]
        per = util.group_by("resource_id").agg(pl.col("utilisation").mean()).sort("resource_id")
        rows += [(f"utilisation_{r}", float(u), "share") for r, u in per.iter_rows()]
    rows += extra or []
    frame = pl.DataFrame(rows, schema={"kpi": pl.String, "value": pl.Float64, "unit": pl.String}, orient="row")
    return frame.with_columns(pl.when(pl.col("value").abs() < 1e-9).then(0.0).otherwise("value").alias("value"))


def booked_kpis(consumed: pl.DataFrame) -> pl.DataFrame:
    """The booked orders' KPI rows of a plan, from the demand it planned against.

    Args:
        consumed: the planned demand per product × site × week with ``booked`` (null: none booked) and
            ``booked_added`` (units above the demand given), as :func:`forecasting.consensus.consume_forecast`
            returns them against that demand.

    Returns:
        ``kpi, value, unit`` rows ``booked_units``, ``booked_units_added``, ``booked_weeks_added``; none when
        nothing is booked.
    """
    rows: list[tuple[str, float, str]] = []
    if consumed["booked"].is_not_null().any():
        rows = [("booked_units", float(consumed["booked"].sum()), "units"),
                ("booked_units_added", float(consumed["booked_added"].sum()), "units"),
                ("booked_weeks_added", float((consumed["booked_added"] > 0).sum()), "weeks")]
    return pl.DataFrame(rows, schema={"kpi": pl.String, "value": pl.Float64, "unit": pl.String}, orient="row")
