"""Benchmark the digital twin: paths per second on the demo network and on the 10,000-series network.

Usage::

    .venv/bin/python bench/twin_replay.py                        # demo (LP plan, 1000 paths) and 10k (200 paths)
    .venv/bin/python bench/twin_replay.py --only demo --paths 1000
    .venv/bin/python bench/twin_replay.py --only large --lp      # also try the LP at the large size
    .venv/bin/python bench/twin_replay.py --only demo --products 120 --variants  # settings on and off

Each size builds its network with :func:`demo.network.demo_network` (seeded; no shared data), turns the
orders into weekly demand, and makes a quick stand-in forecast per series (mean of the last 13 weeks;
quantiles: the empirical quantiles of the last 52 weeks rescaled to that mean) and classes
(:func:`forecasting.classify_series`), so the benchmark times the twin, not the forecaster.

* demo (40 products × 5 DCs): the plan is the planning LP (``optimization.plan_supply``, HiGHS).
* large (2,300 products × 5 DCs = 11,500 series): the LP of that size is not solved here by default (it
  takes far longer than the twin; ``--lp`` tries it with a time limit). The twin replays a plan made
  another way: lot-for-lot and capacity-blind — each DC's forecast shipped from the plant of the product's
  fastest routing ``lead time`` weeks ahead and started there ``release weeks`` before that, divided by
  the yield (starts before week 0 are dropped: opening stock serves them). That plan has no service
  decisions of its own, so the twin serves all that stock allows (``follow_plan_service=False``).

Prints the wall time of each step, the twin's wall and CPU time and the machine's load (the wall time
of a busy machine is not the twin's), and the peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_contracts import schema  # noqa: E402
from forecasting import classify_series, to_series, weekly_demand  # noqa: E402
from optimization import PlanConfig, build_network, plan_supply, safety_stock_targets  # noqa: E402
from twin.process import ProcessConfig, estimate_process  # noqa: E402
from twin.replay import PlanTables, TwinConfig, TwinInputs, replay_plan  # noqa: E402
from demo.network import DEMO_RUN_DATE, demo_network  # noqa: E402

H = 26
PS = ["product_id", "site_id"]


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def quick_forecast(history: pl.DataFrame, start) -> pl.DataFrame:
    """Per series: mean of the last 13 weeks; quantiles of the last 52 weeks scaled to that mean."""
    last = history.sort("week").group_by(PS, maintain_order=True).tail(52)
    stats = last.group_by(PS).agg(
        pl.col("quantity").tail(13).mean().alias("mean"),
        pl.col("quantity").mean().alias("year_mean"),
        *[pl.col("quantity").quantile(q, interpolation="linear").alias(schema.quantile_column(q))
          for q in schema.QUANTILES],
    ).with_columns(
        scale=pl.when(pl.col("year_mean") > 0).then(pl.col("mean") / pl.col("year_mean")).otherwise(0.0))
    weeks = pl.DataFrame({"week": [start + timedelta(weeks=t) for t in range(H)]})
    q_cols = [schema.quantile_column(q) for q in schema.QUANTILES]
    return stats.join(weeks, how="cross").select(
        *PS, "week", pl.lit("bench").alias("model"), "mean", *[pl.col(c) * pl.col("scale") for c in q_cols])


def demo_demand(products: int):
    """The demo network of ``products`` × 5 DCs, its weekly demand history, the plan's start week, the
    stand-in forecast and each series' class."""
    frames = demo_network(products=products, dcs=5)
    history = weekly_demand(frames["orders"], DEMO_RUN_DATE)
    start = DEMO_RUN_DATE - timedelta(days=DEMO_RUN_DATE.weekday())
    forecast = quick_forecast(history, start)
    classes = classify_series(to_series(history)).with_columns(
        pl.col("unique_id").str.split_exact("|", 1).struct.rename_fields(PS)).unnest("unique_id")
    return frames, history, start, forecast, classes


def lot_for_lot(net, forecast: pl.DataFrame) -> PlanTables:
    """A capacity-blind plan: each DC's forecast shipped from its fastest plant, started in time there."""
    route = (
        net.routings.sort("release_weeks", "resource_id").group_by("product_id", maintain_order=True).first()
        .select("product_id", "resource_id", pl.col("site_id").alias("plant"), "yield", "release_weeks",
                "hours_per_unit", "cost_per_unit")
    )
    lanes = net.lanes.select(pl.col("from_site").alias("plant"), pl.col("to_site").alias("site_id"),
                             "lead_time_weeks", "cost_per_unit")
    dem = forecast.select(*PS, "week", pl.col("mean").alias("quantity")).with_columns(t=net.week_index())
    ship = (
        dem.join(route, on="product_id").join(lanes, on=["plant", "site_id"], suffix="_lane")
        .with_columns(dep=pl.col("t") - pl.col("lead_time_weeks"))
        .filter((pl.col("dep") >= 0) & (pl.col("quantity") > 0))
    )
    shipments = ship.select(
        "product_id", pl.col("plant").alias("from_site"), pl.col("site_id").alias("to_site"),
        net.week_date("dep").alias("week"), pl.col("week").alias("arrival_week"), "quantity",
        (pl.col("quantity") * pl.col("cost_per_unit_lane")).alias("cost"))
    make = (
        ship.group_by("product_id", "resource_id", "plant", "dep", "yield", "release_weeks", "hours_per_unit",
                      "cost_per_unit").agg(pl.col("quantity").sum().alias("released_quantity"))
        .with_columns(t=pl.col("dep") - pl.col("release_weeks")).filter(pl.col("t") >= 0)
    )
    production = make.select(
        "product_id", "resource_id", pl.col("plant").alias("site_id"), net.week_date("t").alias("week"),
        net.week_date("dep").alias("release_week"),
        (pl.col("released_quantity") / pl.col("yield")).alias("quantity"),
        "released_quantity", pl.lit(None, pl.Float64).alias("batches"),
        (pl.col("released_quantity") / pl.col("yield") * pl.col("hours_per_unit")).alias("hours"),
        (pl.col("released_quantity") / pl.col("yield") * pl.col("cost_per_unit")).alias("cost"))
    backlog = dem.select(*PS, "week", pl.col("quantity").alias("demand"), pl.col("quantity").alias("served"),
                         pl.lit(0.0).alias("backlog"), pl.lit(0.0).alias("lost"))
    inventory = backlog.select(*PS, "week", pl.lit(0.0).alias("closing"))
    expiry = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                  "quantity": pl.Float64, "cost": pl.Float64})
    return PlanTables(production=production, shipments=shipments, inventory=inventory, backlog=backlog,
                      expiry=expiry)


def bench(products: int, paths: int, use_lp: bool, time_limit: float, variants: bool = False) -> None:
    print(f"--- {products} products × 5 DCs, {paths} paths ---", flush=True)
    t0 = time.perf_counter()
    frames, history, start, forecast, classes = demo_demand(products)
    config = PlanConfig(horizon_weeks=H, time_limit_seconds=time_limit)
    net = build_network(frames, start, config)
    t1 = time.perf_counter()
    print(f"network + demand + stand-in forecast: {t1 - t0:.1f} s; {forecast.select(PS).n_unique()} series",
          flush=True)
    follow = True
    if use_lp:
        demand = forecast.select(*PS, "week", pl.col("mean").alias("quantity"))
        result = plan_supply(net, demand, safety_stock_targets(forecast, frames["products"], net), config)
        t2 = time.perf_counter()
        print(f"LP plan: {result.solver_status} in {t2 - t1:.1f} s (solve {result.solve_seconds:.1f} s)",
              flush=True)
        tb = result.tables
        plan = PlanTables(production=tb["plan_production"], shipments=tb["plan_shipments"],
                          inventory=tb["plan_inventory"], backlog=tb["plan_backlog"],
                          expiry=tb["plan_expiry"])
        if result.solver_status != "Optimal":
            use_lp = False
    if not use_lp:
        t2 = time.perf_counter()
        plan, follow = lot_for_lot(net, forecast), False
        print(f"lot-for-lot plan: {time.perf_counter() - t2:.1f} s; {plan.production.height} starts, "
              f"{plan.shipments.height} shipments", flush=True)
    process = estimate_process(frames["batches"], frames["routings"], ProcessConfig())
    inputs = TwinInputs(network=net, plan=plan, forecast=forecast, series=classes, history=history,
                        process=process,
                        max_backlog_weeks=config.max_backlog_weeks)
    t3, c3 = time.perf_counter(), time.process_time()
    out = replay_plan(inputs, TwinConfig(paths=paths, follow_plan_service=follow))
    t4, c4 = time.perf_counter(), time.process_time()
    fill = out.summary.filter(pl.col("metric") == "fill_rate_units").row(0, named=True)
    print(f"twin: {paths} paths in {t4 - t3:.1f} s wall, {c4 - c3:.1f} s CPU ({os.cpu_count()} cores; load "
          f"average {os.getloadavg()[0]:.1f}); fill rate plan "
          f"{fill['plan_value'] or 0:.1%}, twin mean {fill['mean']:.1%} "
          f"(P5 {fill['p05']:.1%}, P95 {fill['p95']:.1%}); "
          f"peak RSS {_peak_mib():,.0f} MiB", flush=True)
    if variants:
        _variants(inputs, paths, follow)


#: the twin's two stop-22 settings, off and on, and each variance alone with both on
VARIANTS = {
    "before (neither)": dict(match_plan_mean=False, catch_up_shipments=False),
    "match_plan_mean only": dict(catch_up_shipments=False),
    "catch_up_shipments only": dict(match_plan_mean=False),
    "now (both)": {},
    "now, process only": dict(demand_variance=False),
    "now, demand only": dict(process_variance=False),
}


def _variants(inputs: TwinInputs, paths: int, follow: bool) -> None:
    """The same paths replayed under each of :data:`VARIANTS`: fill on time and by the end, the paths' demand
    and released units of sold items against the plan's, CPU seconds."""
    print("| replay | plan fill | fill on time, mean (P5–P95) | by the end | demand / plan | released / plan "
          "| CPU s |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, kw in VARIANTS.items():
        c = time.process_time()
        out = replay_plan(inputs, TwinConfig(paths=paths, follow_plan_service=follow, **kw))
        s = {r["metric"]: r for r in out.summary.iter_rows(named=True)}
        f, d, r = s["fill_rate_units"], s["demand_units"], s["released_units"]
        print(f"| {name} | {f['plan_value'] or 0:.1%} | {f['mean']:.1%} ({f['p05']:.1%}–{f['p95']:.1%}) | "
              f"{s['fill_rate_by_end']['mean']:.1%} | {d['mean'] / d['plan_value']:.3f} | "
              f"{r['mean'] / r['plan_value']:.3f} | {time.process_time() - c:.1f} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["demo", "large"], default=None)
    ap.add_argument("--paths", type=int, default=None, help="paths (default: 1000 demo, 200 large)")
    ap.add_argument("--lp", action="store_true", help="also plan the large network with the LP")
    ap.add_argument("--time-limit", type=float, default=600.0, help="LP time limit, seconds")
    ap.add_argument("--products", type=int, default=40, help="products of the demo-sized network (LP plan)")
    ap.add_argument("--variants", action="store_true",
                    help="also replay the demo-sized plan with the twin's settings on and off (VARIANTS)")
    args = ap.parse_args()
    if args.only in (None, "demo"):
        bench(args.products, args.paths or 1000, True, args.time_limit, args.variants)
    if args.only in (None, "large"):
        bench(2300, args.paths or 200, args.lp, args.time_limit)


if __name__ == "__main__":
    main()
