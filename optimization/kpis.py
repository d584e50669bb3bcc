"""Plan KPIs, one row per figure (``kpi, value, unit``).

Costs (``currency``): ``cost_production, cost_transport, cost_holding, cost_backlog, cost_lost_sales,
cost_safety_stock, cost_expiry`` and their sum ``cost_total`` (the objective).
Service (``share``): ``fill_rate_units`` — demand units served in the week requested, counting backlog
as served oldest-first (on time in week t = demand − backlog − lost, at least 0) over all demand units;
``fill_rate_weeks`` — a stand-in for line fill rate without order lines: the share of product × DC ×
weeks with demand whose demand was fully served that week.
Units: ``demand_units, backlog_units_end, lost_units, expired_units``. Stock: ``stock_value_end``
(currency, closing stock of the last week at unit cost), ``weeks_of_cover`` (weeks: closing stock of the
last week over the average weekly demand). Capacity (``share``): ``utilisation_avg`` and
``utilisation_max`` over resource-weeks with hours, and ``utilisation_<resource_id>`` (average).
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["plan_kpis"]


def plan_kpis(
    tables: dict[str, pl.DataFrame], costs: dict[str, float], horizon: int, unit_cost: pl.DataFrame
) -> pl.DataFrame:
    """The KPI table from the plan tables and the cost components.

    Args:
        tables: plan tables by name (inventory, backlog, expiry, capacity are read).
        costs: cost component → value (including ``cost_total``).
        horizon: weeks planned.
        unit_cost: ``product_id, unit_cost``.
    """
    rows: list[tuple[str, float, str]] = [(k, v, "currency") for k, v in costs.items()]
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
        rows += [("fill_rate_units", float(on_time) / demand, "share")]
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
        rows += [("stock_value_end", float(value or 0.0), "currency")]
        if demand > 0:
            rows += [("weeks_of_cover", float(end["closing"].sum()) / (demand / horizon), "weeks")]
    util = capacity.filter(pl.col("utilisation").is_not_null())
    if util.height:
        rows += [
            ("utilisation_avg", float(util["utilisation"].mean()), "share"),
            ("utilisation_max", float(util["utilisation"].max()), "share"),
        ]
        per = util.group_by("resource_id").agg(pl.col("utilisation").mean()).sort("resource_id")
        rows += [(f"utilisation_{r}", float(u), "share") for r, u in per.iter_rows()]
    return pl.DataFrame(rows, schema={"kpi": pl.String, "value": pl.Float64, "unit": pl.String}, orient="row")
