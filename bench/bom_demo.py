"""The demo plan before and after the bill of materials (issue 17): one level against several, same forecast.

Plans the demo network twice in one process, on the forecast of a stored demo run (``plantwin demo``):

* ``single``  — every product made in one step (``demo_network(levels=False)``, the network before);
* ``levels``  — monoclonals as drug substance → filled vials, vaccines as antigen bulk → filled bulk →
  packs, drug-substance freezers (``demo_network()``, the default now; see ``demo/levels.py``);
* ``no_buffer`` — ``levels`` without the components' own safety stock (the sold items' only, as before it);
* ``packs``   — ``levels`` with a vaccine pack per market (``demo_network(regional_packs=True)``), the
  forecast of each vaccine at a DC read as its market's pack's.

A run of the default demo (a pack per market) or of ``plantwin demo --one-pack`` serves: its packs are read
as their vaccines for the one-pack variants. Both use the routings' master data (no learned yields), the run's
forecast mean as demand (beyond the horizon too, for the terminal condition) and its quantiles for safety
stock, and the default ``PlanConfig``. Prints per variant: fill rates, plan cost and service penalties with
their components, expired units, utilisation of the bioreactors, the filling lines and the new lines, the drug
substance held against the freezers, the model's size and the wall and CPU seconds of each plan.

    .venv/bin/python bench/bom_demo.py --warehouse plantwin-demo/warehouse.duckdb [--run RUN_ID]
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
from demo.network import demo_network  # noqa: E402
from optimization import PlanConfig, build_network, plan_supply, safety_stock_targets  # noqa: E402
from warehouse.db import open_warehouse  # noqa: E402
from warehouse.views import latest_base_run  # noqa: E402

_KINDS = {"-BR": "bioreactors", "-FL0": "filling lines", "-FLM": "mAb filling lines (new)",
          "-PK": "packaging lines (new)", "-FM": "antigen fermenters (new)"}


def _forecast(warehouse: Path, run_id: str | None) -> tuple[str, pl.DataFrame, object]:
    with open_warehouse(warehouse, read_only=True) as wh:
        run_id = run_id or latest_base_run(wh.con)
        run = wh.run(run_id)
        forecast = wh.read(schema.FORECAST.name, run_id).drop("run_id")
    return run_id, forecast, run["run_date"]


def _as_packs(forecast: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The forecast with each vaccine at a DC read as its market's pack (``VAC-01`` at ``DC-EU-N`` →
    ``VAC-01-EU``) where the network has that pack."""
    from demo.levels import market_of

    market = frames[schema.SITES.name].select("site_id", market=market_of(pl.col("region")))
    packs = frames[schema.PRODUCTS.name]["product_id"].implode()
    return forecast.join(market, on="site_id", how="left", validate="m:1").with_columns(
        product_id=pl.when((pl.col("product_id") + "-" + pl.col("market")).is_in(packs))
        .then(pl.col("product_id") + "-" + pl.col("market"))
        .otherwise(pl.col("product_id"))
    ).drop("market")


def _as_vaccines(forecast: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The forecast with each market's pack read as its vaccine (``VAC-01-EU`` at ``DC-EU-N`` → ``VAC-01``)
    where the network has the vaccine and not the pack: the default demo (``plantwin demo``) plans a pack per
    market, and a DC sells one market's pack, so each vaccine × DC has one pack's forecast."""
    items = frames[schema.PRODUCTS.name]["product_id"].implode()
    vaccine = pl.col("product_id").str.replace(r"-[A-Z]+$", "")
    return forecast.with_columns(
        product_id=pl.when(~pl.col("product_id").is_in(items) & vaccine.is_in(items))
        .then(vaccine).otherwise(pl.col("product_id")))


def _figures(result, frames: dict[str, pl.DataFrame]) -> dict[str, float]:
    k = dict(result.tables["plan_kpis"].select("kpi", "value").iter_rows())
    cap = result.tables["plan_capacity"]
    for tag, label in _KINDS.items():
        part = cap.filter(pl.col("resource_id").str.contains(tag, literal=True))
        if part.height:
            k[label] = float(part["hours_used"].sum() / part["hours_available"].sum())
    inv = result.tables["plan_inventory"]
    ds = inv.filter(pl.col("product_id").str.starts_with("DS-"))
    if ds.height and frames[schema.STORAGE.name].height:
        held = ds.group_by("site_id", "week").agg(pl.col("closing").sum()).join(
            frames[schema.STORAGE.name], on="site_id"
        )
        k["freezer, peak share used"] = float((held["closing"] / held["capacity"]).max())
        k["freezer, weeks full"] = float(held.filter(pl.col("closing") >= 0.999 * pl.col("capacity")).height)
    made = result.tables["plan_production"]
    k["items made"] = float(made["product_id"].n_unique())
    return k


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a demo warehouse with a planning run")
    ap.add_argument("--run", default=None, help="run id (default: the latest base run)")
    args = ap.parse_args()
    run_id, forecast, run_date = _forecast(args.warehouse, args.run)
    start_week = run_date - timedelta(days=run_date.weekday())
    print(f"run {run_id}, start {start_week}, forecast to {forecast['week'].max()}; load {os.getloadavg()}")
    cfg = PlanConfig()
    rows: dict[str, dict[str, float]] = {}
    for name, levels in (("single", False), ("no_buffer", True), ("levels", True), ("packs", True)):
        frames = demo_network(levels=levels, regional_packs=name == "packs")  # the default is one level
        fc = _as_vaccines(forecast, frames)  # whether the run planned a pack per market or one pack
        fc = _as_packs(fc, frames) if name == "packs" else fc
        wall, cpu = time.perf_counter(), time.process_time()
        net = build_network(frames, start_week, cfg)
        safety = safety_stock_targets(fc, frames[schema.PRODUCTS.name], net)
        if name == "no_buffer":  # the components' own buffers left out
            safety = safety.filter(~pl.col("product_id").is_in(frames[schema.BOM.name]["component_id"].implode()))
        result = plan_supply(net, fc.select("product_id", "site_id", "week", quantity=pl.col("mean")), safety, cfg)
        rows[name] = _figures(result, frames) | {
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() - cpu,
            "solve_s": result.solve_seconds,
            "items": float(net.products.height),
        }
        print(f"  {name}: {result.solver_status}, objective {result.objective:,.0f}, "
              f"{rows[name]['wall_s']:.1f} s wall, {rows[name]['cpu_s']:.1f} s CPU "
              f"(solve {result.solve_seconds:.1f} s); load {os.getloadavg()}")
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
        ("expired_units", "expired units (all items)", "{:,.0f}"),
        ("weeks_of_cover", "weeks of cover at the end (sold items)", "{:.1f}"),
        ("utilisation_avg", "utilisation, average", "{:.1%}"),
        ("utilisation_last_4_weeks", "utilisation, last 4 weeks", "{:.1%}"),
        *[(label, f"utilisation, {label}", "{:.1%}") for label in _KINDS.values()],
        ("freezer, peak share used", "drug-substance freezers, peak share used", "{:.1%}"),
        ("freezer, weeks full", "drug-substance freezer-weeks full", "{:,.0f}"),
        ("items made", "items made", "{:,.0f}"),
        ("items", "items (products)", "{:,.0f}"),
        ("solve_s", "solve, s", "{:.1f}"),
        ("wall_s", "plan, wall s", "{:.1f}"),
        ("cpu_s", "plan, CPU s", "{:.1f}"),
    ]
    print(f"\n| figure | {' | '.join(rows)} |\n|---|{'---:|' * len(rows)}")
    for key, label, fmt in shown:
        cells = [fmt.format(rows[v][key]) if key in rows[v] else "–" for v in rows]
        print(f"| {label} | {' | '.join(cells)} |")
    print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
