"""How far valid inequalities lift the campaign MIP's relaxation (issue 17, the bound), on a stored run or an input.

Builds the campaign model exactly as ``bench/campaigns.py``'s ``after`` variant does (``plan_supply``'s
model, intercepted before it is solved), twice: without and with ``campaign_fit`` rows
(``PlanConfig.campaign_fit_cuts``). For each it solves the LP relaxation (HiGHS) and then separates the echelon
cover inequalities (``optimization.campaign_echelon``, ``--family echelon``) or the setup-week cover
inequalities (``optimization.campaign_weeks``, ``--family weeks``, the default) on its solution for
``--rounds`` rounds, re-solving from the basis after each. Prints each relaxation, its lift over the plain
relaxation, CPU and wall seconds, with the load. Writes no file.

    .venv/bin/python bench/campaign_cuts.py --warehouse plantwin-demo/warehouse.duckdb --mark-suites
    .venv/bin/python bench/campaign_cuts.py --warehouse ... --mark-suites --only-suites US-BR02
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

import highspy
import numpy as np
import polars as pl
import pulp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import campaigns as bench_campaigns  # noqa: E402
import optimization.plan as plan  # noqa: E402
from data_contracts import schema  # noqa: E402
from optimization import PlanConfig, build_network, plan_supply, safety_stock_targets  # noqa: E402
from optimization import campaign_echelon, campaign_weeks  # noqa: E402
from optimization.pulp_highs import BulkHiGHS  # noqa: E402


class _Built(Exception):
    """Carries the model ``plan_supply`` built, instead of solving it."""

    def __init__(self, model):
        super().__init__("model built")
        self.model = model


def _raise(model, config, warm_start=None):
    raise _Built(model)


class Source:
    """The ``after`` variant's input of ``bench/campaigns.py`` (a stored run or an input folder), loaded once;
    :meth:`model` builds its campaign model for a configuration."""

    def __init__(self, args):
        self.from_input = args.input is not None
        if self.from_input:
            run_id, run, inputs, self.forecast = bench_campaigns._load_input(args.input)
        else:
            run_id, run, inputs, self.forecast = bench_campaigns._load(args.warehouse, args.run)
        self.start_week = run["run_date"] - timedelta(days=run["run_date"].weekday())
        print(f"run {run_id}, start {self.start_week}; load {os.getloadavg()[0]:.1f}")
        self.demand = self.forecast.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
        self.frames = bench_campaigns._variants(inputs, args.mark_suites, args.only_suites)["after"][0]

    def model(self, cfg: PlanConfig):
        """``plan_supply``'s model under ``cfg``, not solved (safety stocks as ``bench/campaigns.py`` sets them)."""
        net = build_network(self.frames, self.start_week, cfg)
        if self.from_input:
            safety = self.forecast.filter(
                pl.col("week") < self.start_week + timedelta(weeks=cfg.horizon_weeks)).select(
                "product_id", "site_id", "week", safety_stock=pl.col("mean") * 0.8)
        else:
            safety = safety_stock_targets(self.forecast, self.frames[schema.PRODUCTS.name], net)
        return built_model(net, self.demand, safety, cfg)


def built_model(net, demand, safety, config):
    """``plan_supply``'s model for these inputs, not solved."""
    solve = plan.solve_model
    plan.solve_model = _raise
    try:
        plan_supply(net, demand, safety, config)
    except _Built as built:
        return built.model
    finally:
        plan.solve_model = solve
    raise RuntimeError("plan_supply returned without building a model")


#: each family's (data, separation, row terms) functions
FAMILIES = {
    "echelon": (campaign_echelon.echelon_cuts, campaign_echelon.separate, campaign_echelon.cut_terms),
    "weeks": (campaign_weeks.week_cuts, campaign_weeks.separate, campaign_weeks.week_cut_terms),
}


def cut_rounds(model, h: highspy.Highs, family: str, rounds: int, per_item: int) -> list[tuple[int, float]]:
    """Separate and add ``family``'s rows on ``h`` (the relaxation, solved) for ``rounds`` rounds:
    ``(rows added, objective)`` per round."""
    data, separate, terms = FAMILIES[family]
    cuts = data(model.network, model.frames, model.demand, model.safety, model.releases,
                model.arrivals, model.config.frozen_weeks)
    out: list[tuple[int, float]] = []
    if cuts is None:
        return out
    items = cuts.items if family == "echelon" else cuts.echelon.items
    names = pl.DataFrame({"i": np.arange(len(items)), "product_id": items})
    key = ["product_id", "k", "l"] if family == "echelon" else ["w"]
    for _ in range(rounds):
        chosen = separate(cuts, np.asarray(h.getSolution().col_value), per_item=per_item)
        if chosen.height == 0:
            break
        rows = chosen.join(names, on="i").join(
            terms(cuts, chosen).group_by(key, maintain_order=True).agg("col", "coef"), on=key)
        sizes = rows["col"].list.len().to_numpy()
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
        index = np.concatenate(rows["col"].to_list()).astype(np.int32)
        value = np.concatenate(rows["coef"].to_list()).astype(np.float64)
        n = rows.height
        h.addRows(n, rows["rhs"].to_numpy(), np.full(n, highspy.kHighsInf), index.size, starts, index, value)
        h.run()
        out.append((n, h.getInfo().objective_function_value + model.builder.prob.objective.constant))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    bench_campaigns.source_arguments(ap)
    ap.add_argument("--only-suites", default=None, metavar="ID,ID",
                    help="with --mark-suites, keep only these resources campaign-run (e.g. US-BR02)")
    ap.add_argument("--family", choices=sorted(FAMILIES), default="weeks",
                    help="the inequalities separated (default weeks: optimization.campaign_weeks)")
    ap.add_argument("--rounds", type=int, default=5, help="separation rounds (default 5)")
    ap.add_argument("--per-item", type=int, default=3, help="rows added per item and round (default 3)")
    args = ap.parse_args()
    source = Source(args)
    plain = None
    for fit in (False, True):
        model = source.model(PlanConfig(campaign_fit_cuts=fit))
        prob, variables = model.builder.prob, model.builder.variables
        wall, cpu = time.perf_counter(), time.process_time()
        status = prob.solve(BulkHiGHS(mip=False, msg=False, variables=variables))
        if status != pulp.LpStatusOptimal:
            print(f"fit rows {'on' if fit else 'off'}: relaxation {pulp.LpStatus[status]}")
            continue
        relaxed = pulp.value(prob.objective)
        plain = relaxed if plain is None else plain
        print(f"fit rows {'on ' if fit else 'off'}: relaxation {relaxed:,.0f} ({relaxed / plain - 1:+.2%} over the "
              f"plain relaxation), {time.process_time() - cpu:.1f} CPU-s, {time.perf_counter() - wall:.1f} s wall, "
              f"load {os.getloadavg()[0]:.1f}")
        wall, cpu = time.perf_counter(), time.process_time()
        rounds = cut_rounds(model, prob.solverModel, args.family, args.rounds, args.per_item)
        for i, (n, value) in enumerate(rounds):
            print(f"  {args.family} round {i}: +{n} rows, {value:,.0f} ({value / relaxed - 1:+.3%} over this "
                  f"relaxation, {value / plain - 1:+.3%} over the plain one)")
        print(f"  {args.family} rounds: {time.process_time() - cpu:.1f} CPU-s, {time.perf_counter() - wall:.1f} s wall, "
              f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
