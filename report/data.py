"""What the plan report shows, read from the warehouse for one run: frames, no HTML."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
import polars as pl

from data_contracts import schema
from report.compare import Comparison, compare_runs
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


def _q(con: duckdb.DuckDBPyConnection, sql: str, *params: Any) -> pl.DataFrame:
    return con.execute(sql, list(params)).pl()


def _previous_run(con: duckdb.DuckDBPyConnection, run: dict[str, Any]) -> str | None:
    """The run a report measures change against: a scenario's base, else the previous plan of its scenario."""
    if run["scenario"] != "base" and run["base_run_id"]:
        return run["base_run_id"]
    row = con.execute(
        f"""SELECT run_id FROM {schema.RUNS.name} r
            WHERE status = 'success' AND scenario = ? AND started_at < ?
              AND EXISTS (SELECT 1 FROM {schema.PLAN_KPIS.name} k WHERE k.run_id = r.run_id)
            ORDER BY started_at DESC LIMIT 1""",
        [run["scenario"], run["started_at"]],
    ).fetchone()
    return row[0] if row else None


def load_report_data(con: duckdb.DuckDBPyConnection, run_id: str, compare_to: str | None = None) -> ReportData:
    """Read a run's report data; ``compare_to`` (default: a scenario's base run) adds a comparison."""
    runs = _q(con, f"SELECT * FROM {schema.RUNS.name} WHERE run_id = ?", run_id)
    if runs.is_empty():
        raise KeyError(f"no run {run_id!r} in the warehouse")
    run = runs.row(0, named=True)
    previous = _previous_run(con, run)
    if compare_to is None and run["scenario"] != "base":
        compare_to = run["base_run_id"]
    k = schema.PLAN_KPIS.name
    before = _q(con, f"SELECT * FROM {schema.RUNS.name} WHERE run_id = ?", previous)
    like = before.is_empty() or comparable(run, before.row(0, named=True))
    kpis = _q(con, f"""SELECT k.kpi, k.value, k.unit, p.value AS previous FROM {k} k
                       LEFT JOIN (SELECT kpi, value FROM {k} WHERE run_id = ?) p USING (kpi)
                       WHERE k.run_id = ?""", previous, run_id)
    products = _q(con, f"SELECT product_id, name, family FROM {schema.clean_table_name('products')} "
                       "WHERE run_id = ? ORDER BY product_id", run_id)
    sites = _q(con, f"SELECT site_id, name, site_type FROM {schema.clean_table_name('sites')} "
                    "WHERE run_id = ? ORDER BY site_type DESC, site_id", run_id)
    first_week = run["run_date"] - timedelta(days=run["run_date"].weekday())
    history = _q(con, f"SELECT product_id, site_id, week, quantity FROM {schema.DEMAND_HISTORY.name} "
                      "WHERE run_id = ? AND week >= ?", run_id, first_week - timedelta(weeks=HISTORY_WEEKS))
    forecast = _q(con, f"SELECT product_id, site_id, week, model, mean, q05, q20, q80, q95 "
                       f"FROM {schema.FORECAST.name} WHERE run_id = ?", run_id)
    inventory = _q(con, f"""SELECT i.product_id, i.site_id, i.week, i.closing, i.safety_stock, b.backlog
                            FROM {schema.PLAN_INVENTORY.name} i
                            LEFT JOIN {schema.PLAN_BACKLOG.name} b USING (run_id, product_id, site_id, week)
                            WHERE i.run_id = ?""", run_id)
    capacity = _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_CAPACITY.name} WHERE run_id = ?", run_id)
    fam = products.select("product_id", "family")
    shortages = _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_SHORTAGES.name} WHERE run_id = ? "
                        "ORDER BY short_quantity DESC, product_id, site_id, week", run_id
                   ).join(fam, on="product_id", how="left", maintain_order="left")
    expiry = _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_EXPIRY.name} WHERE run_id = ? "
                     "ORDER BY week, product_id, site_id", run_id).join(fam, on="product_id", how="left")
    comparison = compare_runs(con, compare_to, run_id) if compare_to else None
    twin, stock_fan = _twin(con, run_id, compare_to)
    campaigns = _q(con, f"SELECT * EXCLUDE (run_id) FROM {schema.PLAN_CAMPAIGNS.name} WHERE run_id = ? "
                        "ORDER BY resource_id, first_week", run_id)
    return ReportData(run, previous, kpis, products, sites, history, forecast, inventory, capacity, shortages,
                      expiry, comparison, twin, stock_fan, like, campaigns)


def _twin(con: duckdb.DuckDBPyConnection, run_id: str, other: str | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The latest twin replay of the run (and of ``other``, its comparison), if any was made."""
    summary_t, fan_t = schema.TWIN_SUMMARY, schema.TWIN_STOCK_FAN
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                       [summary_t.name]).fetchone()[0]:
        return summary_t.empty(), fan_t.empty()
    latest = f"""(SELECT twin_id FROM {summary_t.name} WHERE run_id = ? ORDER BY created_at DESC LIMIT 1)"""
    twin = _q(con, f"""SELECT * FROM {summary_t.name} WHERE (run_id = ? AND twin_id = {latest})
                       OR (run_id = ? AND twin_id = {latest}) ORDER BY run_id = ? DESC, metric""",
              run_id, run_id, other, other, run_id)
    fan = _q(con, f"""SELECT product_id, site_id, week, p05, p25, p50, p75, p95 FROM {fan_t.name}
                      WHERE run_id = ? AND twin_id = {latest}""", run_id, run_id)
    return twin, fan
