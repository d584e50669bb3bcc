"""What the plan report shows, read from the warehouse for one run: frames, no HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import polars as pl

from report.compare import Comparison, compare_runs
from warehouse.db import UnknownRun
from warehouse.reads import booked_orders, previous_plan_run, report_frames, run_rows, twin_frames
from warehouse.views import comparable

__all__ = ["ReportData", "load_report_data"]

#: weeks of demand history drawn before the forecast
HISTORY_WEEKS = 52


@dataclass(frozen=True)
class ReportData:
    """Everything one report renders."""

    run: dict[str, Any]
    previous_run_id: str | None
    kpis: pl.DataFrame  # kpi, value, unit, previous
    products: pl.DataFrame  # product_id, name, family
    sites: pl.DataFrame  # site_id, name, site_type
    history: pl.DataFrame  # product_id, site_id, week, quantity
    forecast: pl.DataFrame  # product_id, site_id, week, model, mean, q05, q20, q80, q95
    inventory: pl.DataFrame  # product_id, site_id, week, closing, safety_stock, backlog
    capacity: pl.DataFrame  # resource_id, site_id, week, hours_used, hours_available, utilisation, shadow_price
    shortages: pl.DataFrame  # product_id, family, site_id, week, short_quantity, reason, detail
    expiry: pl.DataFrame  # product_id, family, site_id, week, quantity, cost
    comparison: Comparison | None
    twin: pl.DataFrame  # the latest twin replay of this run (and of its base): run_id, metric, plan_value, mean, p05..
    stock_fan: pl.DataFrame  # product_id, site_id, week, p05, p25, p50, p75, p95 of that replay's closing stock
    #: whether the previous run planned the same horizon and demand source (else its change is not shown)
    comparable: bool = True
    #: plan_campaigns rows of the run (empty without campaign resources)
    campaigns: pl.DataFrame | None = None
    #: run_warnings rows of the run: entity, rule, key, reason (demand no plant reaches, stale data, ...)
    warnings: pl.DataFrame | None = None
    #: what the run's booked orders added to its demand (``warehouse.reads.booked_orders``); None: none
    booked: dict[str, float] | None = None


def load_report_data(con: duckdb.DuckDBPyConnection, run_id: str, compare_to: str | None = None) -> ReportData:
    """Read a run's report data; ``compare_to`` (default: a scenario's base run) adds a comparison."""
    run = run_rows(con, run_id).get(run_id)
    if run is None:
        raise UnknownRun(f"no run {run_id!r} in the warehouse")
    # the run a report measures change against: a scenario's base, else the previous plan of its scenario
    base = run["scenario"] != "base" and run["base_run_id"]
    previous = run["base_run_id"] if base else previous_plan_run(con, run)
    if compare_to is None and run["scenario"] != "base":
        compare_to = run["base_run_id"]
    before = run_rows(con, previous).get(previous)
    like = before is None or comparable(run, before)
    first_week = run["run_date"] - timedelta(days=run["run_date"].weekday())
    f = report_frames(con, run_id, previous, first_week - timedelta(weeks=HISTORY_WEEKS))
    fam = f["products"].select("product_id", "family")
    shortages = f["shortages"].join(fam, on="product_id", how="left", maintain_order="left")
    expiry = f["expiry"].join(fam, on="product_id", how="left")
    comparison = compare_runs(con, compare_to, run_id) if compare_to else None
    twin, stock_fan = twin_frames(con, run_id, compare_to)
    return ReportData(run, previous, f["kpis"], f["products"], f["sites"], f["history"], f["forecast"],
                      f["inventory"], f["capacity"], shortages, expiry, comparison, twin, stock_fan, like,
                      f["campaigns"], f["warnings"], booked_orders(con, run_id))
