"""Analysts' views and table macros over the warehouse: the latest plan of record, run diffs, forecast accuracy.

Created in the working warehouse by :func:`create_views` (called from ``Warehouse.migrate``), so they travel
with every published snapshot. They are plain SQL over the output tables named in
:mod:`data_contracts.schema`; none stores data.

* ``record_runs`` — every plan of record: successful ``base`` runs with a plan whose horizon and demand
  source are the record's (set by the first plan, changed only by a run asked to be the plan of record,
  ``--plan-of-record``), with that scope.
* ``latest_base_run`` — one row: the latest of ``record_runs``, the plan of record.
* ``latest_forecast_run`` — one row: the last successful ``base`` run that produced a forecast.
* ``latest_forecast`` — the forecast rows of ``latest_forecast_run``.
* ``latest_<plan table>`` — one per ``plan_*`` table: that table's rows of ``latest_base_run``.
* ``latest_kpis`` — the KPIs of ``latest_base_run`` with its horizon, scenario and demand source, and the
  previous plan of record's value and the change (only when both have the same horizon and demand
  source: like with like; otherwise ``comparable`` is false and the change null).
* ``plan_measures`` — per run, product, site and week: production, stock, demand, backlog, cost.
* ``plan_diff(run_a, run_b)`` — table macro: two runs side by side per product, site and week; a run is
  named by its id or by a scenario (its latest successful plan): ``plan_diff('base', 'flu-plus-20')``.
* ``plan_diff_latest`` — the latest run of every scenario other than ``base`` against its base run.
* ``forecast_vs_actual`` — every forecasting run's forecast against the demand that later happened, by lag.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from data_contracts import schema

__all__ = ["MACROS", "VIEWS", "VIEW_DOCS", "comparable", "create_views", "latest_base_run", "run_scope",
           "view_names"]

_R = schema.RUNS.name
_F = schema.FORECAST.name
_H = schema.DEMAND_HISTORY.name
_K = schema.PLAN_KPIS.name
_PROD = schema.PLAN_PRODUCTION.name
_SHIP = schema.PLAN_SHIPMENTS.name
_INV = schema.PLAN_INVENTORY.name
_BL = schema.PLAN_BACKLOG.name
_EXP = schema.PLAN_EXPIRY.name
_SHORT = schema.PLAN_SHORTAGES.name

#: the base scenario: the plan of record
BASE = "base"


def _latest(has_rows_in: str) -> str:
    return f"""
    SELECT r.run_id, r.kind, r.run_date, r.started_at, r.finished_at, r.code_version
    FROM {_R} r
    WHERE r.status = 'success' AND r.scenario = '{BASE}'
      AND EXISTS (SELECT 1 FROM {has_rows_in} t WHERE t.run_id = r.run_id)
    ORDER BY r.started_at DESC, r.run_id DESC
    LIMIT 1"""


#: a run's planning scope from its parameters: horizon (weeks) and demand source
_SCOPE = """CAST(json_extract(r.parameters, '$.plan.horizon_weeks') AS BIGINT) AS horizon_weeks,
       CASE WHEN json_extract_string(r.parameters, '$.demand_file') IS NULL THEN 'forecast'
            ELSE 'demand_file' END AS demand_source,
       coalesce(CAST(json_extract(r.parameters, '$.plan_of_record') AS BOOLEAN), false) AS asked"""

# The plan of record keeps one scope (horizon, demand source): the first plan's, until a run is asked to be
# the plan of record (`--plan-of-record`), whose scope then holds. A run of another scope never replaces it.
_RECORD_RUNS = f"""
WITH base_runs AS (
    SELECT r.run_id, r.kind, r.scenario, r.run_date, r.started_at, r.finished_at, r.code_version, {_SCOPE}
    FROM {_R} r
    WHERE r.status = 'success' AND r.scenario = '{BASE}'
      AND EXISTS (SELECT 1 FROM {_K} k WHERE k.run_id = r.run_id)
),
reference AS (
    SELECT horizon_weeks, demand_source FROM base_runs
    ORDER BY asked DESC, CASE WHEN asked THEN epoch(started_at) ELSE -epoch(started_at) END DESC, run_id DESC
    LIMIT 1
)
SELECT b.run_id, b.kind, b.scenario, b.run_date, b.started_at, b.finished_at, b.code_version,
       b.horizon_weeks, b.demand_source, b.asked AS asked_plan_of_record
FROM base_runs b, reference f
WHERE b.asked OR (b.horizon_weeks IS NOT DISTINCT FROM f.horizon_weeks AND b.demand_source = f.demand_source)
"""

_LATEST_BASE_RUN = """
SELECT run_id, kind, run_date, started_at, finished_at, code_version, horizon_weeks, demand_source
FROM record_runs ORDER BY started_at DESC, run_id DESC LIMIT 1"""

_LATEST_KPIS = f"""
WITH ranked AS (
    SELECT *, row_number() OVER (ORDER BY started_at DESC, run_id DESC) AS recency FROM record_runs
),
latest AS (SELECT * FROM ranked WHERE recency = 1),
previous AS (SELECT * FROM ranked WHERE recency = 2),
comparable AS (
    SELECT p.run_id, p.horizon_weeks IS NOT DISTINCT FROM l.horizon_weeks
                     AND p.demand_source = l.demand_source AS comparable
    FROM previous p, latest l
)
SELECT k.run_id, l.scenario, l.horizon_weeks, l.demand_source, k.kpi, k.value, k.unit,
       p.run_id AS previous_run_id, p.value AS previous_value, c.comparable,
       CASE WHEN c.comparable THEN k.value - p.value END AS change
FROM {_K} k
JOIN latest l USING (run_id)
LEFT JOIN (SELECT k2.run_id, k2.kpi, k2.value FROM {_K} k2 JOIN previous USING (run_id)) p USING (kpi)
LEFT JOIN comparable c ON c.run_id = p.run_id
"""

# One row per run × product × site × week with every measure the diff compares. Production is counted at
# the plant (site of the resource), cost is production + transport (at the shipping site) + expiry
# write-off; a measure a run has no row for stays null (missing is not zero).
_PLAN_MEASURES = f"""
WITH parts AS (
    SELECT run_id, product_id, site_id, week, quantity AS production, NULL::DOUBLE AS stock,
           NULL::DOUBLE AS safety_stock, NULL::DOUBLE AS demand, NULL::DOUBLE AS on_time,
           NULL::DOUBLE AS backlog, NULL::DOUBLE AS lost, NULL::DOUBLE AS expired, cost
    FROM {_PROD}
    UNION ALL
    SELECT run_id, product_id, from_site, week, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, cost
    FROM {_SHIP}
    UNION ALL
    SELECT run_id, product_id, site_id, week, NULL, closing, safety_stock, NULL, NULL, NULL, NULL, NULL, NULL
    FROM {_INV}
    UNION ALL
    SELECT run_id, product_id, site_id, week, NULL, NULL, NULL, demand,
           greatest(demand - backlog - lost, 0), backlog, lost, NULL, NULL
    FROM {_BL}
    UNION ALL
    SELECT run_id, product_id, site_id, week, NULL, NULL, NULL, NULL, NULL, NULL, NULL, quantity, cost
    FROM {_EXP}
)
SELECT run_id, product_id, site_id, week,
       sum(production) AS production, sum(stock) AS stock, sum(safety_stock) AS safety_stock,
       sum(demand) AS demand, sum(on_time) AS on_time, sum(backlog) AS backlog, sum(lost) AS lost,
       sum(expired) AS expired, sum(cost) AS cost,
       CASE WHEN sum(demand) > 0 THEN sum(on_time) / sum(demand) END AS fill_rate
FROM parts
GROUP BY run_id, product_id, site_id, week
"""


def _diff_select(pairs: str, scenario: bool) -> str:
    """Side-by-side measures of the run pairs of ``pairs`` (columns ``pair_a, pair_b``, and ``scenario``)."""
    measures = ("production", "stock", "backlog", "cost", "fill_rate")
    cols = ",\n       ".join(
        f"a.{m} AS {m}_a, b.{m} AS {m}_b, "
        f"CASE WHEN a.{m} IS NOT NULL OR b.{m} IS NOT NULL THEN coalesce(b.{m}, 0) - coalesce(a.{m}, 0) END "
        f"AS {m}_diff"
        for m in measures
    )
    key_scenario, out_scenario = ("p.scenario, ", "k.scenario, ") if scenario else ("", "")
    return f"""
WITH pairs AS (SELECT * FROM ({pairs}) WHERE pair_a IS NOT NULL AND pair_b IS NOT NULL),  -- both runs known
keys AS (
    SELECT DISTINCT {key_scenario}p.pair_a, p.pair_b, m.product_id, m.site_id, m.week
    FROM pairs p JOIN plan_measures m ON m.run_id = p.pair_a OR m.run_id = p.pair_b
)
SELECT {out_scenario}k.pair_a AS run_a, k.pair_b AS run_b, k.product_id, k.site_id, k.week,
       {cols},
       coalesce(a.backlog, 0) > 0 AS short_a, coalesce(b.backlog, 0) > 0 AS short_b
FROM keys k
LEFT JOIN plan_measures a
       ON a.run_id = k.pair_a AND a.product_id = k.product_id AND a.site_id = k.site_id AND a.week = k.week
LEFT JOIN plan_measures b
       ON b.run_id = k.pair_b AND b.product_id = k.product_id AND b.site_id = k.site_id AND b.week = k.week
"""


def _run_of(ref: str) -> str:
    """SQL for the run a macro argument names: a run id, else the latest successful plan of that scenario."""
    return f"""(SELECT r.run_id FROM {_R} r
        WHERE r.run_id = {ref} OR (r.scenario = {ref} AND r.status = 'success'
                                   AND EXISTS (SELECT 1 FROM {_K} k WHERE k.run_id = r.run_id))
        ORDER BY r.run_id = {ref} DESC, r.started_at DESC LIMIT 1)"""


_PLAN_DIFF = _diff_select(f"SELECT {_run_of('run_a')} AS pair_a, {_run_of('run_b')} AS pair_b", scenario=False)

_PLAN_DIFF_LATEST = _diff_select(
    f"""SELECT r.scenario, r.base_run_id AS pair_a, r.run_id AS pair_b
    FROM {_R} r
    WHERE r.status = 'success' AND r.scenario <> '{BASE}' AND r.base_run_id IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY r.scenario ORDER BY r.started_at DESC, r.run_id DESC) = 1""",
    scenario=True,
)

# The demand that happened: for each product × DC × week, the demand history of the newest successful run
# that read the orders itself (not a replan or scenario reusing another's) and knows the week. Forecasts
# compared are those of runs that forecast themselves (no base run), and, as the accuracy stage scores them,
# the forecaster's own: the units booked orders added to a week are taken out of its mean and quantiles
# by the rule the row was raised by (forecasting.consensus.forecast_part: down by the units, or by the level's
# ratio in rows stored before the shift), and a series planned from booked orders alone is no forecast.
_OWN = "coalesce(f.booked_added, 0)"


def _own(q: str) -> str:
    return (f"CASE WHEN {_OWN} <= 0 THEN f.{q} "
            f"WHEN f.booked_band = '{schema.BOOKED_SCALED}' AND f.mean - {_OWN} > 0 "
            f"THEN f.{q} * (f.mean - {_OWN}) / f.mean ELSE greatest(f.{q} - {_OWN}, 0) END")


_FORECAST_VS_ACTUAL = f"""
WITH own AS (
    SELECT f.run_id, f.product_id, f.site_id, f.week, f.model, f.mean - {_OWN} AS mean,
           {_own("q10")} AS q10, {_own("q90")} AS q90
    FROM {_F} f
    WHERE f.model IS DISTINCT FROM '{schema.BOOKED_MODEL}'
),
actuals AS (
    SELECT h.product_id, h.site_id, h.week, h.quantity AS actual, h.run_id AS actual_run_id
    FROM {_H} h JOIN {_R} r USING (run_id)
    WHERE r.status = 'success' AND r.base_run_id IS NULL  -- runs that read the orders themselves
    QUALIFY row_number() OVER (PARTITION BY h.product_id, h.site_id, h.week
                               ORDER BY r.run_date DESC, r.started_at DESC, r.run_id DESC) = 1
)
SELECT f.run_id, r.run_date, f.product_id, f.site_id, f.week,
       CAST((f.week - CAST(date_trunc('week', r.run_date) AS DATE)) / 7 AS BIGINT) AS lag,
       f.model, f.mean AS forecast, f.q10, f.q90, a.actual,
       f.mean - a.actual AS error, abs(f.mean - a.actual) AS abs_error,
       a.actual BETWEEN f.q10 AND f.q90 AS within_q10_q90, a.actual_run_id
FROM own f
JOIN {_R} r USING (run_id)
JOIN actuals a USING (product_id, site_id, week)
WHERE r.status = 'success' AND r.base_run_id IS NULL AND a.actual_run_id <> f.run_id
"""


def _views() -> dict[str, str]:
    views = {
        "record_runs": _RECORD_RUNS,
        "latest_base_run": _LATEST_BASE_RUN,
        "latest_forecast_run": _latest(_F),
        "latest_forecast": f"SELECT t.* FROM {_F} t JOIN latest_forecast_run USING (run_id)",
    }
    for name in schema.PLAN_TABLES:
        views[f"latest_{name}"] = f"SELECT t.* FROM {name} t JOIN latest_base_run USING (run_id)"
    views["latest_kpis"] = _LATEST_KPIS
    views["plan_measures"] = _PLAN_MEASURES
    views["plan_diff_latest"] = _PLAN_DIFF_LATEST
    views["forecast_vs_actual"] = _FORECAST_VS_ACTUAL
    return views


#: view name → SELECT, in creation order (a view may use the ones before it)
VIEWS: dict[str, str] = _views()
#: table macro name → (parameters, SELECT)
MACROS: dict[str, tuple[tuple[str, ...], str]] = {"plan_diff": (("run_a", "run_b"), _PLAN_DIFF)}


_RUN_COLS = {
    "run_id": "Run.", "kind": "Run kind.", "run_date": "Date the run plans from.", "started_at": "Start (UTC).",
    "finished_at": "End (UTC).", "code_version": "plantwin version and git commit.",
}
_SCOPE_COLS = {
    "horizon_weeks": "Weeks planned (the run's plan.horizon_weeks).",
    "demand_source": "`forecast` (the statistical forecast) or `demand_file` (a consensus demand file).",
}
_DIFF_COLS = {
    "run_a": "Run A (the reference: the base).", "run_b": "Run B (compared with A).", "product_id": "Product.",
    "site_id": "Site (plant for production, shipping site for transport cost, DC for demand).",
    "week": "Week.",
    **{f"{m}_{s}": f"{what} in run {s.upper()}." for m, what in (
        ("production", "Units started"), ("stock", "Closing stock"), ("backlog", "Backlog at the week's end"),
        ("cost", "Production + transport + expiry cost"), ("fill_rate", "On-time share of demand"))
       for s in ("a", "b")},
    **{f"{m}_diff": f"B − A of {m} (a side without a row counts 0; null when neither has one)."
       for m in ("production", "stock", "backlog", "cost", "fill_rate")},
    "short_a": "Whether A leaves backlog that week.", "short_b": "Whether B leaves backlog that week.",
}

#: view or macro name → (meaning, column → meaning); ``latest_<table>`` views have their table's columns
VIEW_DOCS: dict[str, tuple[str, dict[str, str]]] = {
    "record_runs": (("Every plan of record: successful `base` runs with a plan in the record's scope (horizon "
                     "and demand source: the first plan's, changed only by a run asked to be the plan of "
                     "record with `--plan-of-record`)."), {
        **_RUN_COLS, "scenario": "Scenario (`base`).", **_SCOPE_COLS,
        "asked_plan_of_record": "Whether the run was asked to be the plan of record (`--plan-of-record`)."}),
    "latest_base_run": ("The plan of record: the latest of `record_runs` (one row).", {**_RUN_COLS, **_SCOPE_COLS}),
    "latest_forecast_run": ("The last successful run of scenario `base` that produced a forecast (one row).",
                            _RUN_COLS),
    "latest_forecast": (f"`{_F}` rows of `latest_forecast_run`.", {}),
    **{f"latest_{t}": (f"`{t}` rows of `latest_base_run`.", {}) for t in schema.PLAN_TABLES},
    "latest_kpis": (("KPIs of `latest_base_run` with its scope and the previous plan of record's value; the "
                     "change only like with like (same horizon and demand source)."), {
        "run_id": "Run (the latest plan of record).", "scenario": "Scenario (`base`).", **_SCOPE_COLS,
        "kpi": "KPI name.", "value": "Value.", "unit": "Unit.",
        "previous_run_id": "The plan of record before it (null for the first).",
        "previous_value": "Its value in the previous run.",
        "comparable": "Whether both runs have the same horizon and demand source (null without a previous run).",
        "change": "value − previous_value when comparable, else null (not comparable)."}),
    "plan_measures": ("Per run × product × site × week: the measures plans are compared on.", {
        "run_id": "Run.", "product_id": "Product.", "site_id": "Site.", "week": "Week.",
        "production": "Units started at the site's resources (plants).", "stock": "Closing stock.",
        "safety_stock": "Safety-stock target.", "demand": "Demand planned against (DCs).",
        "on_time": "Demand served in its week: max(demand − backlog − lost, 0).", "backlog": "Backlog.",
        "lost": "Lost units.", "expired": "Units written off.",
        "cost": "Production + transport (at the shipping site) + expiry write-off cost.",
        "fill_rate": "on_time / demand (null without demand)."}),
    "plan_diff": (("Table macro `plan_diff(run_a, run_b)`: two runs side by side per product, site and week. "
                  "A run is named by its id or by a scenario name (that scenario's latest successful plan), "
                  "e.g. `plan_diff('base', 'flu-line-plus-50')`."), _DIFF_COLS),
    "plan_diff_latest": (("The latest run of every scenario other than `base` against its base run, as "
                         "`plan_diff`."), {"scenario": "Scenario of run B.", **_DIFF_COLS}),
    "forecast_vs_actual": (("Each forecasting run's forecast against the demand that later happened, by lag. "
                           "Actuals: the demand history of the newest run that read the orders itself and "
                           "knows the week. The forecaster's own forecast, as `forecast_accuracy` scores it: "
                           "the units booked orders added (`forecast.booked_added`) are taken out, and a series "
                           "planned from booked orders alone (model `booked`) is left out."), {
        "run_id": "Run that forecast.", "run_date": "Its run date.", "product_id": "Product.", "site_id": "DC.",
        "week": "Week forecast.", "lag": "Weeks from the run's first planned week to the week (0 = first).",
        "model": "Model.", "forecast": "Forecast mean (without the units booked orders added).",
        "q10": "Forecast quantile 0.10 (moved back with the mean).",
        "q90": "Forecast quantile 0.90.", "actual": "Demand that happened.", "error": "forecast − actual.",
        "abs_error": "|forecast − actual|.", "within_q10_q90": "Whether actual fell in [q10, q90].",
        "actual_run_id": "Run whose demand history gave the actual."}),
}


def view_names() -> list[str]:
    """Every view and table macro :func:`create_views` creates."""
    return [*VIEWS, *MACROS]


def run_scope(run: dict[str, Any]) -> dict[str, Any]:
    """What a run's figures are over (a ``runs`` row): ``scenario``, ``horizon_weeks`` and ``demand_source``
    (``forecast`` or ``demand file <path>``), as the plan-of-record views read them from its parameters."""
    params = json.loads(run.get("parameters") or "{}")
    return {
        "scenario": run.get("scenario"),
        "horizon_weeks": (params.get("plan") or {}).get("horizon_weeks"),
        "demand_source": "forecast" if params.get("demand_file") is None else f"demand file {params['demand_file']}",
    }


def mip_gap(run: dict[str, Any]) -> float | None:
    """A ``runs`` row's MIP gap; None for an LP, or a MIP the solver gave none."""
    return run.get("mip_gap") if run.get("problem_type") == "MIP" else None


def solver_note(run: dict[str, Any]) -> str | None:
    """What a planner must know about a MIP plan not proven within the gap asked (a ``runs`` row): how far
    from the cheapest plan it may be, and which setting gives the solver more time. None otherwise.

    Why: a campaign plan stopped by its time limit is a plan, and the run succeeds, but on a network bigger
    than the demo it may be far from the best one (80 products with campaigns: 61% from its bound in 60 s,
    0.20% in 178 s of a 300-s limit; docs/campaign-solver.md, stop 43)."""
    gap = mip_gap(run)
    target = (json.loads(run.get("parameters") or "{}").get("plan") or {}).get("mip_gap")
    target = 0.01 if target is None else target  # PlanConfig's default where a run stored none
    if gap is None or gap <= target * (1 + 1e-9):
        return None
    return (f"this plan is proven within {gap:.2%} of the cheapest possible, not the {target:.2%} asked "
            "(plan.mip_gap): the solver stopped at its time limit (plan.campaign_time_limit_seconds with "
            "campaigns, else plan.time_limit_seconds); with more time it may find a cheaper plan")


def comparable(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two runs' KPIs compare like with like: the same horizon and demand source."""
    sa, sb = run_scope(a), run_scope(b)
    return sa["horizon_weeks"] == sb["horizon_weeks"] and sa["demand_source"] == sb["demand_source"]


def latest_base_run(con: duckdb.DuckDBPyConnection) -> str | None:
    """The plan of record's run id (view ``latest_base_run``), or None before the first plan."""
    row = con.execute("SELECT run_id FROM latest_base_run").fetchone()
    return row[0] if row else None


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """Create or replace every view and table macro (idempotent; the tables must exist)."""
    for name, select in VIEWS.items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {select}")
        if name == "plan_measures":
            for macro, (params, body) in MACROS.items():
                con.execute(f"CREATE OR REPLACE MACRO {macro}({', '.join(params)}) AS TABLE {body}")
