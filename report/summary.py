"""What a planner reads first about a run: service, cost, bottlenecks, shortages, contract failures, warnings,
paths.

:func:`run_facts` gathers them from the warehouse once; :func:`run_summary` renders the CLI's text and
:mod:`flows.artifacts` the Prefect artifacts from the same facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from data_contracts import schema
from data_contracts.report import DOCS_REQUEST
from optimization.kpis import AT_CAPACITY, PLAN_COSTS, SERVICE_PENALTIES
from forecasting.demand import quarantined_orders
from warehouse.db import open_warehouse
from warehouse.paths import data_docs_dir
from warehouse.publish import published_path
from warehouse.reads import booked_orders, previous_plan_run, run_warnings
from warehouse.views import comparable as _comparable
from warehouse.views import latest_base_run, mip_gap, run_scope, solver_note

__all__ = ["RunFacts", "run_facts", "run_scope", "run_summary", "booked_line"]


@dataclass(frozen=True)
class RunFacts:
    """A run's headline figures and the previous run's of its scenario, for "what changed".

    ``comparable`` is False when the previous run planned another horizon or demand source: its KPIs are
    then shown, but no change is computed (like with like only).
    """

    run: dict[str, Any]
    kpis: dict[str, float]
    previous_run_id: str | None
    previous_kpis: dict[str, float]
    busiest: pl.DataFrame  # resource_id, site_id, used, available, weeks_at_capacity, utilisation
    shortages: pl.DataFrame  # product_id, site_id, short, value, weeks, reason, detail (largest first)
    failed_rules: pl.DataFrame  # entity, expectation, unexpected_count
    quarantined: int
    warehouse: Path
    comparable: bool = True
    previous_run: dict[str, Any] | None = None
    quarantined_demand: pl.DataFrame | None = None  # product_id, lines, quantity of rejected order lines
    #: what the run noticed that rejects no row (``run_warnings``: entity, rule, key, reason), stored by its
    #: contracts and forecast stages: demand no plant reaches, thousands-grouped numbers, stale data, a full
    #: extract read as a delta, demand outliers
    warnings: pl.DataFrame | None = None
    #: the booked orders the forecast stage planned (:func:`warehouse.reads.booked_orders`); None before
    #: booked orders were planned
    booked: dict[str, float] | None = None
    #: the plan of record when the summary was read (view ``latest_base_run``): a base plan of another horizon
    #: or demand source than the record's is kept beside it without replacing it
    record_run: dict[str, Any] | None = None

    @property
    def run_id(self) -> str:
        return self.run["run_id"]


def _holding(warehouse: Path, run_id: str) -> Path:
    """The published snapshot if it holds ``run_id`` finished, else the warehouse itself."""
    snapshot = published_path(warehouse)
    if snapshot.exists():
        try:
            with open_warehouse(snapshot, read_only=True) as wh:
                if wh.run(run_id)["status"] in ("success", "failed"):
                    return snapshot
        except (KeyError, duckdb.Error):
            pass  # not in the snapshot (a failed run is not published) or no snapshot yet
    return Path(warehouse)


def _kpi_dict(frame: pl.DataFrame) -> dict[str, float]:
    return dict(zip(frame["kpi"].to_list(), frame["value"].to_list()))


def run_facts(warehouse: Path, run_id: str, top: int = 5) -> RunFacts:
    """Read a run's facts, and those of the latest earlier successful run of the same scenario.

    Read from the published snapshot when it holds the run (a reader of the snapshot never meets a run's
    lock: a second run starting meanwhile cannot make this read fail), else from the warehouse.
    """
    with open_warehouse(_holding(warehouse, run_id), read_only=True) as wh:
        run = wh.run(run_id)
        previous_id = previous_plan_run(wh.con, run)
        previous_run = wh.run(previous_id) if previous_id else None
        kpis = _kpi_dict(wh.read(schema.PLAN_KPIS.name, run_id))
        previous_kpis = _kpi_dict(wh.read(schema.PLAN_KPIS.name, previous_id)) if previous_id else {}
        capacity = wh.read(schema.PLAN_CAPACITY.name, run_id)
        shortages = wh.read(schema.PLAN_SHORTAGES.name, run_id)
        results = wh.read(schema.CONTRACT_RESULTS.name, run_id)
        products = wh.read(schema.clean_table_name(schema.PRODUCTS.name), run_id)
        rejected = wh.read(schema.QUARANTINE.name, run_id)
        warnings = run_warnings(wh.con, run_id)
        booked = booked_orders(wh.con, run_id)
        record_run = _record_run(wh)
    lost = (
        quarantined_orders(rejected, schema.ORDERS.name)
        .group_by("product_id")
        .agg(lines=pl.len(), quantity=pl.col("quantity").sum())
        .sort("quantity", "product_id", descending=[True, False])
    )
    busiest = (
        capacity.group_by("resource_id", "site_id")
        .agg(used=pl.col("hours_used").sum(), available=pl.col("hours_available").sum(),
             weeks_at_capacity=(pl.col("utilisation").fill_null(0) >= AT_CAPACITY).sum())
        .with_columns(utilisation=pl.col("used") / pl.col("available"))
        .sort("utilisation", "resource_id", descending=[True, False], nulls_last=True)
        .head(top)
    )
    if "late_units" not in shortages.columns:  # a plan stored before shortages carried late units
        shortages = shortages.with_columns(late_units=pl.col("short_quantity"))
    worst = (
        shortages.join(products.select("product_id", "unit_cost"), on="product_id", how="left", validate="m:1")
        .sort("short_quantity", descending=True)
        .group_by("product_id", "site_id")
        .agg(short=pl.col("late_units").sum(), value=(pl.col("late_units") * pl.col("unit_cost")).sum(),
             weeks=pl.len(), reason=pl.col("reason").mode().sort().first(), detail=pl.col("detail").first())
        .sort("short", "value", "product_id", "site_id", descending=[True, True, False, False])
    )
    failed = results.filter(~pl.col("success")).select("entity", "expectation", "unexpected_count")
    comparable = previous_run is None or _comparable(run, previous_run)
    return RunFacts(run, kpis, previous_id, previous_kpis, busiest, worst, failed, rejected.height,
                    Path(warehouse),
                    comparable, previous_run, lost, warnings, booked, record_run)


def run_summary(warehouse: Path, run_id: str, top: int = 5) -> str:
    """A few lines a planner reads first: fill rate, cost by component, busiest resources, largest shortages."""
    facts = run_facts(warehouse, run_id, top)
    run, kpi = facts.run, facts.kpis
    scope = run_scope(run)
    horizon = f"{scope['horizon_weeks']} weeks" if scope["horizon_weeks"] is not None else "horizon unknown"
    lines = [
        f"run {run_id}  ({run['kind']}, scenario {run['scenario']}, {horizon} from {run['run_date']}, "
        f"demand: {scope['demand_source']})",
        f"solver {run['solver']}: {run['solver_status']} ({run['problem_type']}) in {run['solve_seconds']:.1f} s"
        + ("" if (gap := mip_gap(run)) is None else f", gap {gap:.2%}"),
    ]
    if (note := solver_note(run)) is not None:
        lines.append(f"  {note}")
    if "fill_rate_units" in kpi:
        lines.append(f"fill rate {kpi['fill_rate_units']:.1%} of units on time"
                     + (f", {kpi['fill_rate_served_units']:.1%} served by the horizon's end"
                        if "fill_rate_served_units" in kpi else ""))
    for title, names in (("plan cost (money the plan spends)", PLAN_COSTS),
                         ("service penalties (prices on bad service, not cash)", SERVICE_PENALTIES)):
        parts = {k.removeprefix("cost_"): kpi[k] for k in names if k in kpi}
        if parts:
            total = sum(parts.values())
            lines.append(f"{title}: {total:,.0f}")
            width = max(map(len, parts))
            lines += [f"  {name:<{width}} {value:>16,.0f}" for name, value in parts.items()]
    if "weeks_of_cover" in kpi:
        lines.append(f"end of horizon: {kpi['weeks_of_cover']:.1f} weeks of cover"
                     + (f", stock + pipeline {kpi['end_position_units']:,.0f} units" if "end_position_units" in kpi
                        else "")
                     + (f" against a target of {kpi['end_stock_target_units']:,.0f}"
                        if "end_stock_target_units" in kpi else "")
                     + (f"; last 4 weeks' utilisation {kpi['utilisation_last_4_weeks']:.1%}"
                        if "utilisation_last_4_weeks" in kpi else ""))
    if facts.previous_run_id and not facts.comparable:
        before = run_scope(facts.previous_run or {})
        lines.append(f"previous run {facts.previous_run_id} planned {before['horizon_weeks']} weeks on "
                     f"{before['demand_source']}: not comparable, no change shown")
    lines += _record_line(facts)
    lines.append(f"busiest resources (utilisation over the horizon, weeks at ≥ {AT_CAPACITY:.1%} utilisation):")
    lines += [f"  {r['resource_id']:<14} {r['site_id']:<8} {r['utilisation']:>6.1%}  "
              f"{r['weeks_at_capacity']:>3} wk" for r in facts.busiest.iter_rows(named=True)]
    if facts.shortages.is_empty():
        lines.append("no shortages")
    else:
        total, value = facts.shortages["short"].sum(), facts.shortages["value"].sum()
        lines.append(f"shortages: {total:,.0f} units not served on time, worth {value:,.0f} at unit cost; largest "
                     "(units late, value, weeks short, main reason):")
        lines += [f"  {r['product_id']:<12} {r['site_id']:<8} {r['short']:>12,.0f} {r['value']:>14,.0f} "
                  f"{r['weeks']:>4} wk  {r['reason']}"
                  for r in facts.shortages.head(top).iter_rows(named=True)]
    if facts.quarantined:
        lines.append(f"{facts.quarantined} input row(s) quarantined: see table {schema.QUARANTINE.name}")
    if facts.quarantined_demand is not None and facts.quarantined_demand.height:
        lines.append("demand in quarantined order lines (their weeks are imputed in the history, not zero):")
        # a line cut off mid-way (an exporter that died) may have lost its product
        lines += [f"  {r['product_id'] or '(none)':<12} {r['lines']:>5} line(s) {r['quantity'] or 0:>12,.1f}"
                  for r in facts.quarantined_demand.head(top).iter_rows(named=True)]
    if facts.booked:
        lines.append(booked_line(facts.booked))
    lines += _failed_checks(facts.failed_rules, top)
    lines += _warnings(facts.warnings, top)
    if run.get("stage_seconds"):
        stage_text = ", ".join(f"{k} {v:.1f}s" for k, v in json.loads(run["stage_seconds"]).items())
        lines.append(f"stages: {stage_text}")
    lines.append(f"warehouse: {Path(warehouse).resolve()}")
    lines.append(f"published: {published_path(warehouse).resolve()}")
    docs = data_docs_line(warehouse, run_id)
    return "\n".join(lines + ([docs] if docs else []))


def _record_run(wh) -> dict[str, Any] | None:
    """The plan of record's ``runs`` row; None before the first plan, or in an older warehouse opened read-only
    and so not migrated (it has no ``latest_base_run`` view yet)."""
    try:
        record_id = latest_base_run(wh.con)
    except duckdb.Error:
        return None
    return wh.run(record_id) if record_id else None


def _record_line(facts: RunFacts) -> list[str]:
    """A line when a successful base plan did not become the plan of record (another horizon or demand source
    than the record's, without ``--plan-of-record``): the ``latest_*`` views and the latest report still show
    the record, which the planner must be told before reading them."""
    run, record = facts.run, facts.record_run
    if (run["scenario"] != "base" or run["kind"] == "nightly_refresh" or run["status"] != "success"
            or record is None or record["run_id"] == run["run_id"]
            or run["started_at"] < record["started_at"]):  # an older plan, since replaced: nothing to tell
        return []
    scope = run_scope(record)
    return [f"plan of record: still {record['run_id']} ({scope['horizon_weeks']} weeks on "
            f"{scope['demand_source']}): this plan is kept beside it, and the latest_* views and the latest "
            "report show the record; run with --plan-of-record to make it the plan of record"]


def data_docs_line(warehouse: Path, run_id: str) -> str | None:
    """Where the run's GX Data Docs are, or the command that writes them (a run no row of which broke an
    expectation keeps their results instead: ``contracts.data_docs``); None for a run without its own
    (a replan or scenario reuses its base run's validated inputs)."""
    docs = data_docs_dir(warehouse).resolve() / run_id
    if (docs / "index.html").exists():
        return f"data docs: {docs / 'index.html'}"
    if (docs / DOCS_REQUEST).exists():
        where = Path(warehouse).resolve()
        return f"data docs: on request, plantwin data-docs --run {run_id} --warehouse {where}"
    return None


def booked_line(booked: dict[str, Any]) -> str:
    """One line: booked orders and the units they added above the demand the plan was given (the forecast or
    a demand file: the plan's demand is the larger)."""
    alone = f"; {booked['series']:,} series planned from booked orders alone" if booked["series"] else ""
    return (f"booked orders: {booked['units']:,.0f} units; {booked['added']:,.0f} units above "
            f"{booked.get('above', 'the forecast')} added to the plan's demand in {booked['weeks']:,} product × "
            f"site × week(s){alone} (tables {schema.FORECAST.name}: booked; {schema.PLAN_KPIS.name}: "
            "booked_units_added)")


def _failed_checks(failed: pl.DataFrame, top: int) -> list[str]:
    """One line naming the contract checks that failed (entity.expectation and rows), the ``top`` largest first:
    row checks quarantined those rows, the network's checks (demand no plant reaches) only warn, and neither
    was said by the run before (``plantwin validate`` lists the rows)."""
    if failed.is_empty():
        return []
    worst = failed.sort("unexpected_count", "entity", "expectation", descending=[True, False, False], nulls_last=True)
    named = ", ".join(f"{r['entity']}.{r['expectation']} ({r['unexpected_count'] or 0:,} row(s))"
                      for r in worst.head(top).iter_rows(named=True))
    more = f" and {failed.height - top} more" if failed.height > top else ""
    return [f"contract checks failed: {named}{more}; see table {schema.CONTRACT_RESULTS.name} "
            "(`plantwin validate` lists the rows)"]


def _warnings(warnings: pl.DataFrame | None, top: int) -> list[str]:
    """A ``warning:`` line per stored warning, the first ``top`` of each rule (the table keeps them all)."""
    if warnings is None or warnings.is_empty():
        return []
    lines = []
    for (rule,), rows in warnings.group_by("rule", maintain_order=True):
        lines += [f"warning: {reason}" for reason in rows["reason"].head(top)]
        if rows.height > top:
            lines.append(f"warning: and {rows.height - top} more {rule} warning(s)")
    return lines + [f"{warnings.height} warning(s): see table {schema.RUN_WARNINGS.name}"]
