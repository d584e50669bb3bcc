"""The short text summary of a run printed by the CLI: service, cost, bottlenecks, shortages, paths."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from data_contracts import schema
from warehouse.db import open_warehouse
from warehouse.publish import published_path

__all__ = ["run_summary"]


def run_summary(warehouse: Path, run_id: str, top: int = 5) -> str:
    """A few lines a planner reads first: fill rate, cost by component, busiest resources, largest shortages."""
    with open_warehouse(warehouse, read_only=True) as wh:
        run = wh.run(run_id)
        kpis = wh.read(schema.PLAN_KPIS.name, run_id)
        capacity = wh.read(schema.PLAN_CAPACITY.name, run_id)
        shortages = wh.read(schema.PLAN_SHORTAGES.name, run_id)
        quarantined = wh.con.execute(
            f"SELECT count(*) FROM {schema.QUARANTINE.name} WHERE run_id = ?", [run_id]
        ).fetchone()[0]
    kpi = dict(zip(kpis["kpi"].to_list(), kpis["value"].to_list()))
    lines = [
        f"run {run_id}  ({run['kind']}, scenario {run['scenario']}, from {run['run_date']})",
        f"solver {run['solver']}: {run['solver_status']} ({run['problem_type']}) in {run['solve_seconds']:.1f} s",
    ]
    if "fill_rate_units" in kpi:
        lines.append(f"fill rate {kpi['fill_rate_units']:.1%} of units"
                     + (f", {kpi['fill_rate_lines']:.1%} of order lines" if "fill_rate_lines" in kpi else ""))
    costs = {k.removeprefix("cost_"): v for k, v in kpi.items() if k.startswith("cost_")}
    if costs:
        lines.append("cost by component:")
        width = max(map(len, costs))
        lines += [f"  {name:<{width}} {value:>16,.0f}" for name, value in costs.items()]
    busiest = (
        capacity.group_by("resource_id", "site_id")
        .agg(used=pl.col("hours_used").sum(), available=pl.col("hours_available").sum(),
             binding_weeks=(pl.col("shadow_price").fill_null(0) > 1e-9).sum())
        .with_columns(utilisation=pl.col("used") / pl.col("available"))
        .sort("utilisation", descending=True, nulls_last=True)
        .head(top)
    )
    lines.append("busiest resources (utilisation over the horizon, weeks at capacity):")
    lines += [f"  {r['resource_id']:<14} {r['site_id']:<8} {r['utilisation']:>6.1%}  {r['binding_weeks']:>3} wk"
              for r in busiest.iter_rows(named=True)]
    worst = (
        shortages.group_by("product_id", "site_id")
        .agg(short=pl.col("short_quantity").sum(), weeks=pl.len(), reason=pl.col("reason").mode().first())
        .sort("short", descending=True)
        .head(top)
    )
    if worst.is_empty():
        lines.append("no shortages")
    else:
        lines.append("largest shortages (units over the horizon, weeks short, main reason):")
        lines += [f"  {r['product_id']:<12} {r['site_id']:<8} {r['short']:>12,.0f} {r['weeks']:>4} wk  {r['reason']}"
                  for r in worst.iter_rows(named=True)]
    if quarantined:
        lines.append(f"{quarantined} input row(s) quarantined: see table {schema.QUARANTINE.name}")
    if run.get("stage_seconds"):
        stage_text = ", ".join(f"{k} {v:.1f}s" for k, v in json.loads(run["stage_seconds"]).items())
        lines.append(f"stages: {stage_text}")
    lines.append(f"warehouse: {Path(warehouse).resolve()}")
    lines.append(f"published: {published_path(warehouse).resolve()}")
    return "\n".join(lines)
