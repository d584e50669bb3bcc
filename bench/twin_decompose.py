"""Where the twin's drop from the plan's fill rate comes from: process, demand, both; by class, product, week.

Replays a stored run's plan (the demo's, from ``plantwin demo``) in one process, on the same seeded paths:

* ``none``    — no variance: the plan itself (the twin reproduces it);
* ``process`` — batches fail QC, yield and release as learned; demand as planned;
* ``demand``  — demand paths from the forecast; production as planned;
* ``both``    — the default replay;

each with the defaults (the demand paths' mean brought to the plan's demand, ``match_plan_mean``; a shipment
short of stock catching up with its lane's next one, ``catch_up_shipments``), then variants without each,
without both (the replay before this change) and with independent weeks (``week_correlation`` 0). It prints:

1. the four replays' fill rate (units, on time), short units, demand and demand above the plan's quantity,
   released units of sold items, ending stock at plants and at DCs, with CPU seconds;
2. the demand paths against the forecast they come from, by series class: the sampled mean over
   ``--check-paths`` paths against the plan's demand, summed and worst series-week, and the share of draws at
   or below each stored quantile (series drawn from the forecast's quantiles);
3. the drop by series class and the products losing most (``both`` against the plan);
4. by week of the horizon: demand, and the open backlog (backlog plus lost) at the week's end, plan and
   replay — whether unserved demand compounds as backlog the plan never had.

    .venv/bin/python bench/twin_decompose.py --warehouse plantwin-demo/warehouse.duckdb [--paths 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PS = ["product_id", "site_id"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a warehouse holding a finished weekly run")
    ap.add_argument("--run", default=None, help="run id (default: the latest base run)")
    ap.add_argument("--paths", type=int, default=1000, help="sample paths per replay")
    ap.add_argument("--seed", type=int, default=0, help="the replays' seed (the same paths for every replay)")
    ap.add_argument("--check-paths", type=int, default=4000, help="paths drawn to check the demand sampler")
    args = ap.parse_args()

    import numpy as np
    import polars as pl

    from data_contracts import schema
    from flows.stages_twin import load_twin_inputs
    from twin.demand import build_demand_sampler
    from twin.index import build_index
    from twin.replay import TwinConfig, replay_plan
    from warehouse.db import open_warehouse
    from warehouse.views import latest_base_run

    with open_warehouse(args.warehouse, read_only=True) as wh:
        run_id = args.run or latest_base_run(wh.con)
        inputs = load_twin_inputs(wh, wh.run(run_id))
    net = inputs.network
    print(f"run {run_id}; {args.paths} paths, seed {args.seed}; load {os.getloadavg()}")

    # 1. the replays
    variants = {
        "none": dict(demand_variance=False, process_variance=False),
        "process": dict(demand_variance=False),
        "demand": dict(process_variance=False),
        "both": {},
        "demand, stored quantiles": dict(process_variance=False, match_plan_mean=False),
        "both, stored quantiles": dict(match_plan_mean=False),
        "process, no catch-up": dict(demand_variance=False, catch_up_shipments=False),
        "both, no catch-up": dict(catch_up_shipments=False),
        "both, neither (the replay before)": dict(match_plan_mean=False, catch_up_shipments=False),
        "both, independent weeks": dict(week_correlation=0.0),
    }
    site_type = net.sites.select("site_id", "site_type")
    out, rows = {}, {}
    for name, kw in variants.items():
        cpu = time.process_time()
        res = replay_plan(inputs, TwinConfig(paths=args.paths, seed=args.seed, **kw))
        cpu = time.process_time() - cpu
        out[name] = res
        s = {r["metric"]: r for r in res.summary.iter_rows(named=True)}
        last = res.weekly.filter(pl.col("week") == res.weekly["week"].max()).join(site_type, on="site_id")
        end = dict(last.group_by("site_type").agg(pl.col("closing").sum()).iter_rows())
        rows[name] = {"fill": s["fill_rate_units"]["mean"], "by_end": s["fill_rate_by_end"]["mean"],
                      "p05": s["fill_rate_units"]["p05"], "p95": s["fill_rate_units"]["p95"],
                      "short": s["short_units"]["mean"],
                      "demand": s["demand_units"]["mean"], "above": s["demand_above_plan_units"]["mean"],
                      "released": s["released_units"]["mean"], "end_plant": end.get("plant", 0.0),
                      "end_dc": end.get("dc", 0.0), "cpu": cpu}
        plan_row = {"fill": s["fill_rate_units"]["plan_value"], "by_end": s["fill_rate_by_end"]["plan_value"],
                    "short": s["short_units"]["plan_value"],
                    "demand": s["demand_units"]["plan_value"], "released": s["released_units"]["plan_value"]}
    inv = inputs.plan.inventory
    plan_end = inv.filter(pl.col("week") == inv["week"].max()).join(site_type, on="site_id")
    pe = dict(plan_end.group_by("site_type").agg(pl.col("closing").sum()).iter_rows())
    print("\n| replay | fill on time, mean (P5–P95) | by the end | short units | demand | demand above plan "
          "| released (sold items) | ending stock plants / DCs | CPU s |\n"
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| the plan | {plan_row['fill']:.1%} | {plan_row['by_end']:.1%} | {plan_row['short']:,.0f} | "
          f"{plan_row['demand']:,.0f} | 0 | "
          f"{plan_row['released']:,.0f} | {pe.get('plant', 0):,.0f} / {pe.get('dc', 0):,.0f} | |")
    for name, r in rows.items():
        print(f"| {name} | {r['fill']:.1%} ({r['p05']:.1%}–{r['p95']:.1%}) | {r['by_end']:.1%} | "
              f"{r['short']:,.0f} | "
              f"{r['demand']:,.0f} | {r['above']:,.0f} | {r['released']:,.0f} | "
              f"{r['end_plant']:,.0f} / {r['end_dc']:,.0f} | {r['cpu']:.1f} |")
    drop = {k: plan_row["fill"] - rows[k]["fill"] for k in ("process", "demand", "both")}
    shared = drop["process"] + drop["demand"] - drop["both"]
    print(f"\ndrop (points): process {100 * drop['process']:.1f}, demand {100 * drop['demand']:.1f}, "
          f"both {100 * drop['both']:.1f}; overlap {100 * shared:.1f} (Shapley shares: process "
          f"{100 * (drop['process'] + drop['both'] - drop['demand']) / 2:.1f}, demand "
          f"{100 * (drop['demand'] + drop['both'] - drop['process']) / 2:.1f})")

    # 2. the demand paths against the forecast
    index = build_index(net, inputs.plan, inputs.forecast.select(PS).unique())
    h = index.horizon
    keys = index.nodes[index.demand_nodes.tolist()].select(PS).with_row_index("d")
    cls = keys.join(inputs.series.select(*PS, "series_class"), on=PS, how="left").sort("d")[
        "series_class"].fill_null("none").to_numpy()
    print(f"\ndemand paths, {args.check_paths} paths: sampled mean / plan demand (summed; worst series-week "
          f"with plan ≥ 1 unit)\n| class | series | plan demand | stored quantiles | matched to the plan | "
          f"worst series-week, matched |\n|---|---:|---:|---:|---:|---:|")
    means = {}
    for match in (False, True):
        cfg = TwinConfig(paths=args.check_paths, seed=args.seed, match_plan_mean=match)
        sampler = build_demand_sampler(index, inputs.forecast, inputs.series, inputs.history, cfg,
                                       np.random.default_rng(args.seed), net.week_index())
        draws = np.stack([sampler.week(t) for t in range(h)], axis=2)
        means[match] = draws.mean(axis=0)
        if not match:  # the stored quantiles' coverage on series drawn from them
            fc = inputs.forecast.with_columns(t=net.week_index()).filter(pl.col("t").is_between(0, h - 1)) \
                .join(keys, on=PS).filter(pl.col("d").is_in(pl.Series(sampler.quantile_pos).implode()))
            d_idx, t_idx = fc["d"].to_numpy(), fc["t"].to_numpy()
            x = draws[:, d_idx, t_idx]  # (P, rows)
            cover = [float((x <= fc[schema.quantile_column(q)].to_numpy()[None, :] + 1e-9).mean())
                     for q in schema.QUANTILES]
            print("stored quantiles' coverage on the draws: " + ", ".join(
                f"q{int(round(100 * q)):02d} {c:.3f}" for q, c in zip(schema.QUANTILES, cover, strict=True)))
    plan = index.plan_demand
    for c in [*sorted(set(cls)), "all"]:
        k = np.ones_like(cls, dtype=bool) if c == "all" else cls == c
        if plan[k].sum() <= 0:
            continue
        big = plan[k] >= 1.0
        worst = np.abs(means[True][k][big] / plan[k][big] - 1).max() if big.any() else float("nan")
        print(f"| {c} | {int(k.sum())} | {plan[k].sum():,.0f} | "
              f"{means[False][k].sum() / plan[k].sum():.3f} | "
              f"{means[True][k].sum() / plan[k].sum():.3f} | ±{worst:.1%} |")

    # 3. by class and product: the replay (both) against the plan
    risk = out["both"].risk.join(inputs.series.select(*PS, "series_class"), on=PS, how="left")
    b = inputs.plan.backlog.group_by(PS).agg(
        pl.col("demand").sum().alias("plan_demand"),
        (pl.col("demand") - pl.col("backlog") - pl.col("lost")).clip(lower_bound=0).sum()
        .alias("plan_on_time"))
    frame = risk.join(b, on=PS, how="left").with_columns(
        pl.col("series_class").fill_null("none"),
        plan_short=pl.col("plan_demand") - pl.col("plan_on_time"))
    by_class = frame.group_by("series_class").agg(
        pl.len().alias("series"), pl.col("plan_demand").sum(), pl.col("plan_short").sum(),
        pl.col("expected_short_units").sum().alias("twin_short")).sort("series_class")
    total_extra = float((frame["expected_short_units"] - frame["plan_short"]).sum())
    print("\nby series class (both): units short on time, plan against replay\n| class | series | demand "
          "| plan short | twin short | share of the extra short |\n|---|---:|---:|---:|---:|---:|")
    for r in by_class.iter_rows(named=True):
        print(f"| {r['series_class']} | {r['series']} | {r['plan_demand']:,.0f} | {r['plan_short']:,.0f} | "
              f"{r['twin_short']:,.0f} | {(r['twin_short'] - r['plan_short']) / total_extra:.1%} |")
    by_product = frame.group_by("product_id").agg(
        pl.col("plan_demand").sum(), pl.col("plan_short").sum(),
        pl.col("expected_short_units").sum().alias("twin_short")).with_columns(
        extra=pl.col("twin_short") - pl.col("plan_short")).sort("extra", descending=True)
    top = by_product.head(10)
    print(f"\nproducts losing most (both); the top 10 of {by_product.height} carry "
          f"{float(top['extra'].sum()) / total_extra:.0%} of the extra short units\n| product | demand "
          f"| plan fill | twin fill |\n|---|---:|---:|---:|")
    for r in top.iter_rows(named=True):
        print(f"| {r['product_id']} | {r['plan_demand']:,.0f} | "
              f"{1 - r['plan_short'] / r['plan_demand']:.1%} | "
              f"{1 - r['twin_short'] / r['plan_demand']:.1%} |")

    # 4. by week: demand and open backlog at the week's end
    wk = out["both"].weekly.group_by("week").agg(pl.col("demand").sum(), (pl.col("backlog") + pl.col("lost"))
                                                 .sum().alias("twin_open"))
    pw = inputs.plan.backlog.group_by("week").agg(
        (pl.col("backlog") + pl.col("lost")).sum().alias("plan_open"))
    wk = wk.join(pw, on="week", how="left").sort("week")
    print("\nby week (both): demand and units open at the week's end (backlog + lost), mean over paths\n"
          "| week | demand | plan open | twin open |\n|---|---:|---:|---:|")
    for r in wk.iter_rows(named=True):
        print(f"| {r['week']} | {r['demand']:,.0f} | {r['plan_open'] or 0:,.0f} | {r['twin_open']:,.0f} |")
    print(f"\nload after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
