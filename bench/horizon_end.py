"""The plan's end of horizon and expiry rule, before and after, on a stored run (issue 15).

Re-plans a stored run's validated inputs and forecast (the demo's, from ``plantwin demo``) four ways, in
one process on the same data:

* ``before``          — shelf life from QC release, no terminal condition (the old semantics);
* ``manufacture``     — shelf life from manufacture, no terminal condition;
* ``terminal``        — shelf life from release, with the terminal condition;
* ``after``           — shelf life from manufacture and the terminal condition (the default now).

and prints, per variant: the fill rates (on time, eventually served), plan cost and service penalties
(with their components), the stock and weeks of cover at the end, stock + pipeline against the terminal
target, the utilisation of the last four weeks and the units started in them, wall and CPU seconds. The
run's forecast must reach past the horizon (a run made with the terminal condition forecasts that far).

    .venv/bin/python bench/horizon_end.py --warehouse plantwin-demo/warehouse.duckdb [--run RUN_ID]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_contracts import schema  # noqa: E402
from optimization import PlanConfig, build_network, plan_supply, safety_stock_targets  # noqa: E402

VARIANTS = {  # name: (shelf_life_from, terminal condition)
    "before": ("release", False),
    "manufacture": ("manufacture", False),
    "terminal": ("release", True),
    "after": ("manufacture", True),
}


def _load(warehouse: Path, run_id: str | None):
    """A stored run (default: the plan of record), its planning inputs and forecast, read as
    ``bench/plan_stage.py`` reads them."""
    from bench.plan_stage import _load as stored_run

    run_id, run, inputs, forecast, _, _ = stored_run(str(warehouse), run_id)
    return run_id, run, inputs, forecast


def _figures(result, start_week, horizon: int) -> dict[str, float]:
    k = dict(result.tables["plan_kpis"].select("kpi", "value").iter_rows())
    prod = result.tables["plan_production"]
    last4 = start_week + timedelta(weeks=horizon - 4)
    started_last4 = float(prod.filter(pl.col("week") >= last4)["quantity"].sum())
    return {**k, "started_last_4_weeks": started_last4, "horizon": horizon}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--run", default=None)
    ap.add_argument("--terminal-weeks", type=float, default=PlanConfig().terminal_penalty_weeks,
                    help="terminal_penalty_weeks of the variants with the terminal condition")
    ap.add_argument("--dc-share", type=float, default=0.0,
                    help="min_shelf_life_share_at_dc of every variant (the demo's default is 0)")
    args = ap.parse_args()
    run_id, run, inputs, forecast = _load(args.warehouse, args.run)
    start_week = run["run_date"] - timedelta(days=run["run_date"].weekday())
    beyond = forecast["week"].max()
    print(f"run {run_id}, start {start_week}, forecast to {beyond}; load {os.getloadavg()}")
    demand = forecast.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
    rows = {}
    for name, (life_from, terminal) in VARIANTS.items():
        frames = dict(inputs)
        frames[schema.PRODUCTS.name] = inputs[schema.PRODUCTS.name].with_columns(shelf_life_from=pl.lit(life_from))
        cfg = PlanConfig(terminal_condition=terminal, min_shelf_life_share_at_dc=args.dc_share,
                         terminal_penalty_weeks=args.terminal_weeks)
        wall, cpu = time.perf_counter(), time.process_time()
        net = build_network(frames, start_week, cfg)
        safety = safety_stock_targets(forecast, frames[schema.PRODUCTS.name], net)
        result = plan_supply(net, demand, safety, cfg)
        rows[name] = _figures(result, start_week, cfg.horizon_weeks) | {
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
        print(f"  {name}: {result.solver_status}, objective {result.objective:,.0f}, "
              f"{rows[name]['wall_s']:.1f} s wall, {rows[name]['cpu_s']:.1f} s CPU")
    shown = [
        ("fill_rate_units", "fill rate, on time", "{:.1%}"),
        ("fill_rate_served_units", "fill rate, served by the end", "{:.1%}"),
        ("plan_cost", "plan cost", "{:,.0f}"),
        ("cost_production", "  production", "{:,.0f}"),
        ("cost_transport", "  transport", "{:,.0f}"),
        ("cost_holding", "  holding", "{:,.0f}"),
        ("cost_expiry", "  expiry write-off", "{:,.0f}"),
        ("service_penalties", "service penalties", "{:,.0f}"),
        ("cost_backlog", "  backlog", "{:,.0f}"),
        ("cost_lost_sales", "  lost sales", "{:,.0f}"),
        ("cost_safety_stock", "  safety-stock shortfall", "{:,.0f}"),
        ("cost_end_stock_shortfall", "  end-stock shortfall", "{:,.0f}"),
        ("expired_units", "expired units", "{:,.0f}"),
        ("stock_units_end", "stock at the end, units", "{:,.0f}"),
        ("weeks_of_cover", "weeks of cover at the end", "{:.1f}"),
        ("pipeline_units_end", "pipeline at the end, units", "{:,.0f}"),
        ("end_position_units", "stock + pipeline, units", "{:,.0f}"),
        ("end_stock_target_units", "terminal target, units", "{:,.0f}"),
        ("utilisation_avg", "utilisation, average", "{:.1%}"),
        ("utilisation_last_4_weeks", "utilisation, last 4 weeks", "{:.1%}"),
        ("started_last_4_weeks", "units started, last 4 weeks", "{:,.0f}"),
        ("weeks_at_capacity", "resource-weeks at capacity", "{:,.0f}"),
    ]
    print(f"\n| figure | {' | '.join(VARIANTS)} |\n|---|{'---:|' * len(VARIANTS)}")
    for key, label, fmt in shown:
        cells = [fmt.format(rows[v][key]) if key in rows[v] else "–" for v in VARIANTS]
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
