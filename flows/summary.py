"""What a planner reads first about a run: service, cost, bottlenecks, shortages, contract failures, paths.

:func:`run_facts` gathers them from the warehouse once; :func:`run_summary` renders the CLI's text and
:mod:`flows.artifacts` the Prefect artifacts from the same facts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from data_contracts import schema
from forecasting.demand import quarantined_orders
from warehouse.db import open_warehouse
from warehouse.publish import published_path

__all__ = ["RunFacts", "run_facts", "run_summary"]


@dataclass(frozen=True)
class RunFacts:
    """A run's headline figures and the previous comparable run's, for "what changed"."""

    run: dict[str, Any]
    kpis: dict[str, float]
    previous_run_id: str | None
    previous_kpis: dict[str, float]
    busiest: pl.DataFrame  # resource_id, site_id, used, available, binding_weeks, utilisation
    shortages: pl.DataFrame  # product_id, site_id, short, weeks, reason, detail (largest first)
    failed_rules: pl.DataFrame  # entity, expectation, unexpected_count
    quarantined: int
    warehouse: Path
    quarantined_demand: pl.DataFrame | None = None  # product_id, lines, quantity of rejected order lines

    @property
    def run_id(self) -> str:
        return self.run["run_id"]


def _kpi_dict(frame: pl.DataFrame) -> dict[str, float]:
    return dict(zip(frame["kpi"].to_list(), frame["value"].to_list()))


def run_facts(warehouse: Path, run_id: str, top: int = 5) -> RunFacts:
    """Read a run's facts, and those of the latest earlier successful run of the same scenario."""
    with open_warehouse(warehouse, read_only=True) as wh:
        run = wh.run(run_id)
        previous = wh.con.execute(
            f"SELECT run_id FROM {schema.RUNS.name} WHERE status = 'success' AND scenario = ? AND run_id <> ? "
            "AND started_at < ? AND run_id IN (SELECT DISTINCT run_id FROM plan_kpis) "
            "ORDER BY started_at DESC LIMIT 1",
            [run["scenario"], run_id, run["started_at"]],
        ).fetchone()
        previous_id = previous[0] if previous else None
        kpis = _kpi_dict(wh.read(schema.PLAN_KPIS.name, run_id))
        previous_kpis = _kpi_dict(wh.read(schema.PLAN_KPIS.name, previous_id)) if previous_id else {}
        capacity = wh.read(schema.PLAN_CAPACITY.name, run_id)
        shortages = wh.read(schema.PLAN_SHORTAGES.name, run_id)
        results = wh.read(schema.CONTRACT_RESULTS.name, run_id)
        quarantined = wh.con.execute(
            f"SELECT count(*) FROM {schema.QUARANTINE.name} WHERE run_id = ?", [run_id]
        ).fetchone()[0]
        rejected = wh.read(schema.QUARANTINE.name, run_id)
    lost = (
        quarantined_orders(rejected, schema.ORDERS.name)
        .group_by("product_id")
        .agg(lines=pl.len(), quantity=pl.col("quantity").sum())
        .sort("quantity", "product_id", descending=[True, False])
    )
    busiest = (
        capacity.group_by("resource_id", "site_id")
        .agg(used=pl.col("hours_used").sum(), available=pl.col("hours_available").sum(),
             binding_weeks=(pl.col("shadow_price").fill_null(0) > 1e-9).sum())
        .with_columns(utilisation=pl.col("used") / pl.col("available"))
        .sort("utilisation", "resource_id", descending=[True, False], nulls_last=True)
        .head(top)
    )
    worst = (
        shortages.group_by("product_id", "site_id")
        .agg(short=pl.col("short_quantity").sum(), weeks=pl.len(),
             reason=pl.col("reason").mode().sort().first(), detail=pl.col("detail").first())
        .sort("short", "product_id", "site_id", descending=[True, False, False])
    )
    failed = results.filter(~pl.col("success")).select("entity", "expectation", "unexpected_count")
    return RunFacts(run, kpis, previous_id, previous_kpis, busiest, worst, failed, quarantined, Path(warehouse),
                    lost)


def run_summary(warehouse: Path, run_id: str, top: int = 5) -> str:
    """A few lines a planner reads first: fill rate, cost by component, busiest resources, largest shortages."""
    facts = run_facts(warehouse, run_id, top)
    run, kpi = facts.run, facts.kpis
    lines = [
        f"run {run_id}  ({run['kind']}, scenario {run['scenario']}, from {run['run_date']})",
        f"solver {run['solver']}: {run['solver_status']} ({run['problem_type']}) in {run['solve_seconds']:.1f} s",
    ]
    if "fill_rate_units" in kpi:
        lines.append(f"fill rate {kpi['fill_rate_units']:.1%} of units"
                     + (f", {kpi['fill_rate_lines']:.1%} of order lines" if "fill_rate_lines" in kpi else ""))
    costs = {k.removeprefix("cost_"): v for k, v in kpi.items() if k.startswith("cost_")}
    if costs:
        lines.append("cost by component (backlog, lost sales and safety stock are penalties the plan trades "
                     "against cash costs):")
        width = max(map(len, costs))
        lines += [f"  {name:<{width}} {value:>16,.0f}" for name, value in costs.items()]
    lines.append("busiest resources (utilisation over the horizon, weeks at capacity):")
    lines += [f"  {r['resource_id']:<14} {r['site_id']:<8} {r['utilisation']:>6.1%}  {r['binding_weeks']:>3} wk"
              for r in facts.busiest.iter_rows(named=True)]
    if facts.shortages.is_empty():
        lines.append("no shortages")
    else:
        lines.append("largest shortages (units over the horizon, weeks short, main reason):")
        lines += [f"  {r['product_id']:<12} {r['site_id']:<8} {r['short']:>12,.0f} {r['weeks']:>4} wk  {r['reason']}"
                  for r in facts.shortages.head(top).iter_rows(named=True)]
    if facts.quarantined:
        lines.append(f"{facts.quarantined} input row(s) quarantined: see table {schema.QUARANTINE.name}")
    if facts.quarantined_demand is not None and facts.quarantined_demand.height:
        lines.append("demand in quarantined order lines (their weeks are imputed in the history, not zero):")
        lines += [f"  {r['product_id']:<12} {r['lines']:>5} line(s) {r['quantity']:>12,.1f}"
                  for r in facts.quarantined_demand.head(top).iter_rows(named=True)]
    if run.get("stage_seconds"):
        stage_text = ", ".join(f"{k} {v:.1f}s" for k, v in json.loads(run["stage_seconds"]).items())
        lines.append(f"stages: {stage_text}")
    lines.append(f"warehouse: {Path(warehouse).resolve()}")
    lines.append(f"published: {published_path(warehouse).resolve()}")
    return "\n".join(lines)
