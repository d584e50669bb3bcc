"""The forecast stages: the run's weekly demand history and statistical forecast, and how past runs' forecasts
did against the demand that has happened since.

:func:`forecast` stages the demand history, the forecast with the booked orders consumed, the series and
their backtests, and the warnings the history and the forecast give (stale data, outliers, period buckets,
component demand, one-off weeks, a short backtest); :func:`accuracy` stages the lag-k accuracy of past
forecasts. Both use :mod:`flows.stages`' helpers (:func:`~flows.stages.fault_point`,
:func:`~flows.stages.monday`, the staged reads); that module imports nothing of this one.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from data_contracts import schema
from data_contracts.findings import (component_demand_warnings, demand_one_off_warnings, demand_outlier_warnings,
                                     period_bucket_warnings, short_backtest_warnings, stale_data_warnings)
from flows.cluster import forecast_executor
from flows.settings import RunParameters
from flows.stages import _append_stage, _staged_clean, fault_point, monday
from forecasting import (
    from_series,
    future_orders,
    missing_weeks,
    quarantined_orders,
    to_series,
    weekly_demand,
)
from forecasting.consensus import BOOKED_MODEL, consume_forecast
from forecasting.demand import SEP as SERIES_SEP
from warehouse.db import open_warehouse

__all__ = ["accuracy", "forecast"]


def forecast(params: RunParameters, run_id: str, run_date: date) -> dict[str, Any]:
    """Weekly demand history and the statistical forecast over the horizon and, for the plan's terminal
    condition, the weeks beyond it that new production cannot reach (the longest release lag + transit)."""
    fault_point("forecast")
    from forecasting import BACKTESTED_CLASSES, forecast_demand  # statsforecast loads here, not with this module

    with open_warehouse(params.warehouse) as wh:
        orders = wh.staged(run_id, schema.clean_table_name(schema.ORDERS.name))
        lost = quarantined_orders(wh.staged(run_id, schema.QUARANTINE.name), schema.ORDERS.name)
        missing = missing_weeks(orders, run_date, lost)
        history = weekly_demand(orders, run_date, missing)
        wh.stage(run_id, schema.DEMAND_HISTORY.name, history)
        as_of = _staged_clean(wh, run_id, schema.INVENTORY)["as_of_date"].max()
        last_week = history.filter(pl.col("quantity") > 0)["week"].max()
        _append_stage(wh, run_id, schema.RUN_WARNINGS.name, pl.concat([
            stale_data_warnings(as_of, last_week, run_date, params.forecast.inactive_weeks),
            demand_outlier_warnings(history),
            period_bucket_warnings(history, params.forecast.inactive_weeks),
            component_demand_warnings(history, _staged_clean(wh, run_id, schema.BOM))]))
        beyond = 0
        if params.plan.terminal_condition:
            from optimization.terminal import beyond_horizon_weeks  # the planning model: see plan()

            beyond = beyond_horizon_weeks(*(_staged_clean(wh, run_id, t) for t in
                                            (schema.ROUTINGS, schema.LANES, schema.SITES, schema.BOM)))
        with forecast_executor(params.forecast) as (executor, config):  # a Dask cluster if configured
            result = forecast_demand(to_series(history), params.horizon_weeks + beyond, config, executor,
                                     backtest_horizon=params.horizon_weeks)
        weeks = params.horizon_weeks + beyond  # booked orders past the forecast's last week are not planned
        end = monday(run_date) + timedelta(weeks=weeks)
        booked = future_orders(orders, run_date).filter(pl.col("week") < end)
        planned = consume_forecast(from_series(result.forecast).rename({"ds": "week"}), booked)
        wh.stage(run_id, schema.FORECAST.name, planned)
        wh.stage(run_id, schema.FORECAST_SERIES.name, from_series(result.series))
        wh.stage(run_id, schema.FORECAST_BACKTEST.name, from_series(result.backtest))
        one_offs = from_series(result.outliers.rename({"ds": "week", "y": "quantity"}))
        forecastable = result.series.filter(pl.col("series_class").is_in(BACKTESTED_CLASSES)).height
        _append_stage(wh, run_id, schema.RUN_WARNINGS.name, pl.concat([
            demand_one_off_warnings(one_offs),
            short_backtest_warnings(params.horizon_weeks, result.backtest_horizon, forecastable)]))
    return {"series": result.series.height, "models": _counts(result.series, "model"),
            "imputed_weeks": _counts(missing, "reason"), "one_off_weeks": one_offs.height,
            "booked_units_added": planned["booked_added"].sum(),
            "quarantined_demand": dict(lost.group_by("product_id").agg(pl.col("quantity").sum()).sort(
                "product_id").rows())}


def accuracy(params: RunParameters, run_id: str) -> dict[str, Any]:
    """How past runs' forecasts did against the demand that has happened since (lag-k WAPE and bias)."""
    from forecasting import forecast_accuracy

    with open_warehouse(params.warehouse) as wh:
        history = wh.staged(run_id, schema.DEMAND_HISTORY.name)
        products = wh.staged(run_id, schema.clean_table_name(schema.PRODUCTS.name))
        # Forecasts made by runs that forecast (replans and scenarios carry copies of their base's).
        past = wh.con.execute(
            f"""
            SELECT f.product_id, f.site_id, f.week, f.mean - coalesce(f.booked_added, 0) AS mean,
                   date_trunc('week', r.run_date)::DATE - INTERVAL 7 DAY AS cutoff
            FROM {schema.FORECAST.name} f JOIN {schema.RUNS.name} r USING (run_id)
            WHERE r.status = 'success' AND r.kind IN ('weekly_planning', 'nightly_refresh')
              AND f.model IS DISTINCT FROM '{BOOKED_MODEL}'  -- the forecaster's mean, not the booked orders'
            """
        ).pl().with_columns(pl.col("cutoff").cast(pl.Date))
    uid = pl.concat_str("product_id", "site_id", separator=SERIES_SEP).alias("unique_id")
    forecasts = past.select(uid, "cutoff", pl.col("week").alias("ds"), "mean")
    families = (
        pl.concat([history.select("product_id", "site_id"), past.select("product_id", "site_id")]).unique()
        .join(products.select("product_id", "family"), on="product_id", how="left", validate="m:1")
        .select(uid, "family")
    )
    table = forecast_accuracy(forecasts, to_series(history), families=families)
    with open_warehouse(params.warehouse) as wh:
        wh.stage(run_id, schema.FORECAST_ACCURACY.name, table)
    return {"rows": table.height, "past_forecast_rows": past.height}


# ---------------------------------------------------------------------------------------------- helpers
def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    return dict(frame.group_by(column).len().sort(column).iter_rows())
