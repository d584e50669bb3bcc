"""Campaigns on the bioreactor suites, before and after, on a stored run (issue 17).

Re-plans a stored run's validated inputs and forecast (the demo's, from ``plantwin demo``) in one process
on the same data:

* ``before``        — no resource campaign-run (the LP: any mix of products a week, no changeovers);
* ``after``         — the suites campaign-run (as the input says, or with ``--mark-suites`` the 2,000 L
                      bioreactor suites with the demo's changeover hours/cost, campaign lengths and
                      changeovers: on the multi-level demo's plant-like suites 4-day switches and 4–13 week
                      campaigns, on a single-level network's mixed suites 16-hour switches and 2–8 weeks;
                      ``demo.supply.campaign_suites``),
                      MIP warm-started from the rounded LP relaxation;
* ``after_cold``    — the same MIP without the warm start (``--no-cold`` skips it).

and prints, per variant: solver status, MIP gap, build and solve wall seconds, CPU seconds (and the ratio
to ``before``), fill rate, plan cost split, changeovers, campaign-resource utilisation, with the load.

Without a planned run, ``--input DIR`` (an input folder of CSV files, e.g. the big generated network) plans
``bench/plan_stage.py``'s stand-in demand instead of a forecast (each product × DC's mean weekly order of the
last 26 weeks, flat; safety stock 0.8 × that mean).

    .venv/bin/python bench/campaigns.py --warehouse plantwin-demo/warehouse.duckdb [--run RUN_ID]
    .venv/bin/python bench/campaigns.py --input /work/big/issue17mip/input --mark-suites --variants after
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
from demo.supply import campaign_suites  # noqa: E402
from optimization import PlanConfig, build_network, plan_supply, safety_stock_targets  # noqa: E402



def _option(text: str) -> tuple[str, bool | int | float | str]:
    """``NAME=VALUE`` as a HiGHS option: a number, ``true``/``false`` or text."""
    name, _, value = text.partition("=")
    if value.lower() in ("true", "false"):
        return name, value.lower() == "true"
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value


def _load_input(folder: Path):
    """An input folder's entities and the stand-in demand (as a forecast frame) of ``bench/plan_stage.py``."""
    from bench.plan_stage import _load_input as stand_in

    _, run, inputs, forecast, _, _ = stand_in(str(folder))
    return "input", run, inputs, forecast


def _load(warehouse: Path, run_id: str | None):
    """A stored run (default: the plan of record), its planning inputs and forecast, read as
    ``bench/plan_stage.py`` reads them."""
    from bench.plan_stage import _load as stored_run

    run_id, run, inputs, forecast, _, _ = stored_run(str(warehouse), run_id)
    return run_id, run, inputs, forecast


def _scaled(forecast: pl.DataFrame, factor: float) -> pl.DataFrame:
    """``forecast`` with its mean and every quantile column multiplied by ``factor`` (1: as stored): the same
    network under a demand nobody tuned the solver on."""
    if factor == 1.0:
        return forecast
    quantiles = [schema.quantile_column(q) for q in schema.QUANTILES if schema.quantile_column(q) in forecast.columns]
    return forecast.with_columns(pl.col(c) * factor for c in ["mean", *quantiles])


def _variants(inputs: dict[str, pl.DataFrame], mark_suites: bool,
              only: str | None = None) -> dict[str, tuple[dict, bool]]:
    off = inputs[schema.RESOURCES.name].with_columns(campaign=pl.lit(False))
    on = campaign_suites(inputs) if mark_suites else inputs  # the demo's suites, as `plantwin demo --campaigns`
    if only is not None:  # a piece: only these suites campaign-run, the rest as the LP plans them
        keep = pl.col("resource_id").is_in(only.split(","))
        resources = on[schema.RESOURCES.name]
        on = {**on, schema.RESOURCES.name: resources.with_columns(campaign=pl.col("campaign") & keep)}
        if on.get(schema.CHANGEOVERS.name) is not None and "resource_id" in on[schema.CHANGEOVERS.name].columns:
            on[schema.CHANGEOVERS.name] = on[schema.CHANGEOVERS.name].filter(
                pl.col("resource_id").is_null() | keep)
    return {
        "before": ({**inputs, schema.RESOURCES.name: off, schema.CHANGEOVERS.name: schema.CHANGEOVERS.empty()},
                   True),
        "after": (on, True),
        "after_cold": (on, False),
    }


def print_figures(rows: dict[str, dict], shown: list[tuple[str, str, str]]) -> None:
    """One Markdown table: a column per variant in `rows`, a row per (key, label, format) of `shown`."""
    names = list(rows)
    print(f"\n| figure | {' | '.join(names)} |\n|---|{'---:|' * len(names)}")
    for key, label, fmt in shown:
        cells = [fmt.format(rows[v][key]) if rows[v].get(key) is not None else "–" for v in names]
        print(f"| {label} | {' | '.join(cells)} |")


def source_arguments(ap: argparse.ArgumentParser) -> None:
    """What is planned: ``--warehouse`` or ``--input``, ``--run``, ``--mark-suites`` (also bench/campaign_cuts.py)."""
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--warehouse", type=Path, help="a warehouse holding a finished weekly run")
    source.add_argument("--input", type=Path, help="an input folder (CSV) planned against a stand-in demand")
    ap.add_argument("--run", default=None, help="run id (default: the latest base run)")
    ap.add_argument("--mark-suites", action="store_true",
                    help="run the bioreactor suites in campaigns with the demo's settings and changeovers "
                         "(demo.supply.campaign_suites, as plantwin demo --campaigns)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source_arguments(ap)
    ap.add_argument("--no-cold", action="store_true", help="skip the MIP without warm start")
    ap.add_argument("--time-limit", type=float, default=PlanConfig().time_limit_seconds,
                    help="solver time limit in seconds")
    ap.add_argument("--campaign-time-limit", type=float, default=PlanConfig().campaign_time_limit_seconds,
                    help="the campaign MIP's own limit in seconds (PlanConfig.campaign_time_limit_seconds)")
    ap.add_argument("--need-bound", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_need_bound,
                    help="link starts to setups also by what is still worth starting (PlanConfig.campaign_need_bound)")
    ap.add_argument("--fit-cuts", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_fit_cuts,
                    help="whole batches that fit a week, fewer after a switch (PlanConfig.campaign_fit_cuts)")
    ap.add_argument("--fit-bound", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_fit_bound,
                    help="campaign_fit rows added after the start, the relaxation re-solved for the bound "
                         "(PlanConfig.campaign_fit_bound)")
    ap.add_argument("--fill-rows", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_fill_rows,
                    help="campaign_fill rows (whole batches a set-up week holds) wherever the fit rows go "
                         "(PlanConfig.campaign_fill_rows)")
    ap.add_argument("--week-rows", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_week_rows,
                    help="setup-week cover rows separated after the start, the relaxation re-solved for the bound "
                         "(PlanConfig.campaign_week_rows)")
    ap.add_argument("--time-blocks", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_time_blocks,
                    help="the Lagrangian bound over blocks with time, a suite with its products' echelons, on both cores, "
                         "its priced start the start and the search its fallback "
                         "(PlanConfig.campaign_time_blocks)")
    ap.add_argument("--relaxation-method", choices=["simplex", "ipm"],
                    default=PlanConfig().campaign_relaxation_method,
                    help="HiGHS method of the campaign relaxation (PlanConfig.campaign_relaxation_method)")
    ap.add_argument("--solve-path", default=PlanConfig().solve_path, choices=("auto", "pulp", "blocks"),
                    help="PlanConfig.solve_path: `blocks` splits a campaign network into independent blocks, "
                         "each solved as its own MIP; `auto` does so from blocks_min_products products")
    ap.add_argument("--mip-option", action="append", default=[], metavar="NAME=VALUE",
                    help="a HiGHS option for the campaign blocks' MIP steps "
                         "(PlanConfig.campaign_mip_options), e.g. mip_heuristic_effort=0.3; repeatable")
    ap.add_argument("--start-completion", action="store_true",
                    help="complete the rounded start as a MIP (PlanConfig.campaign_start_completion)")
    ap.add_argument("--no-improve", action="store_true",
                    help="no fix-and-optimize passes (PlanConfig.campaign_improve off)")
    ap.add_argument("--search", action=argparse.BooleanOptionalAction, default=PlanConfig().campaign_search,
                    help="search the suites' schedules (rotations, merged/swapped/moved campaigns), each judged "
                         "by a whole-batch plan, before completing the start (PlanConfig.campaign_search)")
    ap.add_argument("--search-evaluations", type=int, default=PlanConfig().campaign_search_evaluations,
                    help="the search's budget of schedules judged (PlanConfig.campaign_search_evaluations); "
                         "the clock only cuts it as a safety limit, named in the log when it does")
    ap.add_argument("--priced-moves", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_search_priced_moves,
                    help="the search's moves in the order of their gain priced by the best plan's reduced "
                         "costs (PlanConfig.campaign_search_priced_moves)")
    ap.add_argument("--lagrangian", action=argparse.BooleanOptionalAction,
                    default=PlanConfig().campaign_lagrangian,
                    help="the Lagrangian bound from the relaxation's duals (PlanConfig.campaign_lagrangian)")
    ap.add_argument("--master", action=argparse.BooleanOptionalAction, default=PlanConfig().campaign_master,
                    help="after the one-round Lagrangian bound, column generation: a Dantzig-Wolfe master over "
                         "each suite's schedules (PlanConfig.campaign_master)")
    ap.add_argument("--master-seconds", type=float, default=PlanConfig().campaign_master_seconds,
                    help="wall seconds of the master's rounds, at most a fifth of the campaign time left "
                         "(PlanConfig.campaign_master_seconds)")
    ap.add_argument("--price-and-branch", action="store_true",
                    help="with --master, the restricted master with binary weights as a plan "
                         "(PlanConfig.campaign_price_and_branch)")
    ap.add_argument("--only-suites", default=None, metavar="ID,ID",
                    help="with --mark-suites, keep only these resources campaign-run (e.g. US-BR02)")
    ap.add_argument("--priced-start", action="store_true",
                    help="also complete each suite's best schedule at the relaxation's prices as a start "
                         "(PlanConfig.campaign_priced_start)")
    ap.add_argument("--demand-scale", type=float, default=1.0,
                    help="multiply the stored forecast (mean and quantiles) by this factor: a perturbed demand to "
                         "judge a solver change on, e.g. 0.95 or 1.05 (docs/campaign-solver.md, stop 31)")
    ap.add_argument("--variants", default="before,after,after_cold",
                    help="comma-separated variants to run, of before, after, after_cold")
    args = ap.parse_args()
    if args.input is not None:
        run_id, run, inputs, forecast = _load_input(args.input)
    else:
        run_id, run, inputs, forecast = _load(args.warehouse, args.run)
    start_week = run["run_date"] - timedelta(days=run["run_date"].weekday())
    forecast = _scaled(forecast, args.demand_scale)
    print(f"run {run_id}, start {start_week}, demand x{args.demand_scale:g}; load {os.getloadavg()}")
    demand = forecast.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
    rows: dict[str, dict] = {}
    variants = _variants(inputs, args.mark_suites, args.only_suites)
    for name, (frames, warm) in variants.items():
        if (name == "after_cold" and args.no_cold) or name not in args.variants.split(","):
            continue
        cfg = PlanConfig(time_limit_seconds=args.time_limit, campaign_warm_start=warm,
                         campaign_time_limit_seconds=args.campaign_time_limit,
                         campaign_need_bound=args.need_bound,
                         campaign_fit_cuts=args.fit_cuts,
                         campaign_fit_bound=args.fit_bound, campaign_fill_rows=args.fill_rows,
                         campaign_week_rows=args.week_rows,
                         campaign_time_blocks=args.time_blocks,
                         campaign_relaxation_method=args.relaxation_method,
                         solve_path=args.solve_path, campaign_improve=not args.no_improve,
                         campaign_search=args.search, campaign_search_evaluations=args.search_evaluations,
                         campaign_search_priced_moves=args.priced_moves,
                         campaign_start_completion=args.start_completion,
                         campaign_lagrangian=args.lagrangian, campaign_priced_start=args.priced_start,
                         campaign_master=args.master, campaign_master_seconds=args.master_seconds,
                         campaign_price_and_branch=args.price_and_branch,
                         campaign_mip_options=dict(_option(o) for o in args.mip_option))
        wall, cpu = time.perf_counter(), time.process_time()
        net = build_network(frames, start_week, cfg)
        if args.input is not None:  # the stand-in demand's safety stock, as bench/plan_stage.py
            safety = forecast.filter(pl.col("week") < start_week + timedelta(weeks=cfg.horizon_weeks)).select(
                "product_id", "site_id", "week", safety_stock=pl.col("mean") * 0.8)
        else:
            safety = safety_stock_targets(forecast, frames[schema.PRODUCTS.name], net)
        result = plan_supply(net, demand, safety, cfg)
        k = dict(result.tables["plan_kpis"].select("kpi", "value").iter_rows())
        suites = net.resources.filter(pl.col("campaign"))["resource_id"]
        if suites.len() == 0:  # before: the suites' utilisation without campaigns, for the comparison
            suites = variants["after"][0][schema.RESOURCES.name].filter(
                pl.col("campaign"))["resource_id"]
        cap = result.tables["plan_capacity"].filter(pl.col("resource_id").is_in(suites.implode()))
        prod = result.tables["plan_production"].filter(pl.col("resource_id").is_in(suites.implode()))
        mixed = prod.group_by("resource_id", "week").len().filter(pl.col("len") > 1).height
        rows[name] = {**k, "status": result.solver_status, "type": result.problem_type, "gap": result.mip_gap,
                      "build_s": result.build_seconds, "solve_s": result.solve_seconds,
                      "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                      "suite_util": float(cap["utilisation"].mean()) if cap.height else None,
                      "mixed_weeks": mixed, "suites": suites.len(), "load": os.getloadavg()[0]}
        gap = "–" if result.mip_gap is None else f"{result.mip_gap:.2%}"
        for step in result.attempts:
            print(f"    {step}")
        relaxed = "–" if result.relaxation_objective is None else f"{result.relaxation_objective:,.0f}"
        print(f"  {name}: {result.problem_type} {result.solver_status}, gap {gap}, relaxation {relaxed}, objective "
              f"{result.objective or float('nan'):,.0f}; build {result.build_seconds:.1f} s, solve "
              f"{result.solve_seconds:.1f} s wall; {rows[name]['cpu_s']:.1f} s CPU; load {os.getloadavg()[0]:.1f}")
    shown = [
        ("type", "model", "{}"),
        ("status", "solver status", "{}"),
        ("gap", "MIP gap", "{:.2%}"),
        ("solve_s", "solve, wall s (incl. LP relaxation and fixed-integer LP)", "{:.1f}"),
        ("wall_s", "build + solve + tables, wall s", "{:.1f}"),
        ("cpu_s", "CPU s", "{:.1f}"),
        ("load", "load (1 min) after", "{:.1f}"),
        ("fill_rate_units", "fill rate, on time", "{:.1%}"),
        ("fill_rate_served_units", "fill rate, served by the end", "{:.1%}"),
        ("plan_cost", "plan cost", "{:,.0f}"),
        ("cost_production", "  production", "{:,.0f}"),
        ("cost_changeover", "  changeovers", "{:,.0f}"),
        ("cost_transport", "  transport", "{:,.0f}"),
        ("cost_holding", "  holding", "{:,.0f}"),
        ("cost_expiry", "  expiry write-off", "{:,.0f}"),
        ("service_penalties", "service penalties", "{:,.0f}"),
        ("cost_backlog", "  backlog", "{:,.0f}"),
        ("cost_safety_stock", "  safety-stock shortfall", "{:,.0f}"),
        ("cost_end_stock_shortfall", "  end-stock shortfall", "{:,.0f}"),
        ("cost_total", "objective", "{:,.0f}"),
        ("campaigns", "campaigns", "{:,.0f}"),
        ("changeovers", "changeovers", "{:,.0f}"),
        ("changeover_hours", "changeover hours", "{:,.0f}"),
        ("mixed_weeks", "suite-weeks making more than one product", "{:,}"),
        ("suite_util", "bioreactor suite utilisation (changeovers included)", "{:.1%}"),
    ]
    print_figures(rows, shown)
    if "before" in rows:
        print("\nCPU ratio to before: " + ", ".join(f"{v} {rows[v]['cpu_s'] / rows['before']['cpu_s']:.1f}×"
                                                  for v in rows if v != "before"))
    print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
