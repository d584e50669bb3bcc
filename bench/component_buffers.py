"""What the components' safety-stock buffers buy under variance: two plans replayed in the twin (issue 17).

Re-plans a stored run (the demo's, from ``plantwin demo``) twice in one process from its inputs and
forecast, as ``bench/campaigns.py`` does:

* ``with``    — the safety-stock targets the weekly run sets (sold items at the DCs; each component of a
                bill of materials at its parents' plant, ``optimization.safety_stock``);
* ``without`` — the same targets with the components' rows dropped (sold items only);

then replays each plan through the digital twin (``twin.replay.replay_plan``) on the same seeded paths,
demand and process variance on, and prints per variant the plan's figures (fill rate, cost split) and the
twin's (fill rate mean and P5–P95, short units, expired units, ending stock), with CPU seconds and the
load.

    .venv/bin/python bench/component_buffers.py --warehouse plantwin-demo/warehouse.duckdb [--paths 500]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a warehouse holding a finished weekly run")
    ap.add_argument("--run", default=None, help="run id (default: the latest base run)")
    ap.add_argument("--paths", type=int, default=500, help="sample paths per replay")
    ap.add_argument("--seed", type=int, default=0, help="the replays' seed (the same paths for both plans)")
    args = ap.parse_args()

    import polars as pl

    from data_contracts import schema
    from flows.stages_twin import load_twin_inputs
    from optimization import PlanConfig, plan_supply, safety_stock_targets
    from twin.replay import PlanTables, TwinConfig, replay_plan
    from warehouse.db import open_warehouse
    from warehouse.views import latest_base_run

    with open_warehouse(args.warehouse, read_only=True) as wh:
        run_id = args.run or latest_base_run(wh.con)
        run = wh.run(run_id)
        base = load_twin_inputs(wh, run)
        inputs = wh.planning_inputs(run_id)
    cfg = PlanConfig.model_validate(json.loads(run["parameters"] or "{}").get("plan", {}))
    net, forecast = base.network, base.forecast
    start = run["run_date"] - timedelta(days=run["run_date"].weekday())
    print(f"run {run_id}, start {start}; {args.paths} paths, seed {args.seed}; load {os.getloadavg()}")
    demand = forecast.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
    safety = safety_stock_targets(forecast, inputs[schema.PRODUCTS.name], net)
    components = inputs[schema.BOM.name]["component_id"].unique().implode()
    variants = {"with": safety, "without": safety.filter(~pl.col("product_id").is_in(components))}
    print(f"component target rows: {safety.height - variants['without'].height} of {safety.height}")
    rows: dict[str, dict] = {}
    for name, targets in variants.items():
        wall, cpu = time.perf_counter(), time.process_time()
        result = plan_supply(net, demand, targets, cfg)
        plan_cpu = time.process_time() - cpu
        tb = result.tables
        plan = PlanTables(production=tb["plan_production"], shipments=tb["plan_shipments"],
                          inventory=tb["plan_inventory"], backlog=tb["plan_backlog"], expiry=tb["plan_expiry"])
        c2 = time.process_time()
        twin = replay_plan(dataclasses.replace(base, plan=plan), TwinConfig(paths=args.paths, seed=args.seed))
        twin_cpu = time.process_time() - c2
        k = dict(tb["plan_kpis"].select("kpi", "value").iter_rows())
        s = {r["metric"]: r for r in twin.summary.iter_rows(named=True)}
        rows[name] = {**k, "status": result.solver_status, "plan_cpu": plan_cpu, "twin_cpu": twin_cpu,
                      "wall": time.perf_counter() - wall, "load": os.getloadavg()[0],
                      "twin_fill": s["fill_rate_units"]["mean"], "twin_fill_p05": s["fill_rate_units"]["p05"],
                      "twin_fill_p95": s["fill_rate_units"]["p95"], "twin_weeks": s["fill_rate_weeks"]["mean"],
                      "twin_short": s["short_units"]["mean"], "twin_expired": s["expired_units"]["mean"],
                      "twin_end_value": s["ending_stock_value"]["mean"]}
        print(f"  {name}: plan {result.solver_status} ({plan_cpu:.1f} CPU-s), twin {twin_cpu:.1f} CPU-s, "
              f"{rows[name]['wall']:.1f} s wall; load {rows[name]['load']:.1f}", flush=True)
    shown = [
        ("status", "plan: solver status", "{}"),
        ("fill_rate_units", "plan: fill rate on time", "{:.2%}"),
        ("plan_cost", "plan: plan cost", "{:,.0f}"),
        ("cost_production", "  production", "{:,.0f}"),
        ("cost_holding", "  holding", "{:,.0f}"),
        ("cost_expiry", "  expiry write-off", "{:,.0f}"),
        ("service_penalties", "plan: service penalties", "{:,.0f}"),
        ("cost_backlog", "  backlog", "{:,.0f}"),
        ("cost_safety_stock", "  safety-stock shortfall", "{:,.0f}"),
        ("twin_fill", "twin: fill rate on time, mean", "{:.2%}"),
        ("twin_fill_p05", "twin: fill rate P5", "{:.2%}"),
        ("twin_fill_p95", "twin: fill rate P95", "{:.2%}"),
        ("twin_weeks", "twin: weeks served in full, mean", "{:.2%}"),
        ("twin_short", "twin: units short, mean", "{:,.0f}"),
        ("twin_expired", "twin: units expired, mean", "{:,.0f}"),
        ("twin_end_value", "twin: ending stock value, mean", "{:,.0f}"),
        ("plan_cpu", "plan CPU s", "{:.1f}"),
        ("twin_cpu", "twin CPU s", "{:.1f}"),
        ("load", "load (1 min) after", "{:.1f}"),
    ]
    from campaigns import print_figures  # bench/campaigns.py: the same table

    print_figures(rows, shown)
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
