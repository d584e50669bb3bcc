"""Benchmark the plan stage on a stored run: exact PuLP model against the blocks path, and a replan cold vs warm.

Reads a successful run's validated inputs and forecast from its warehouse (read-only) and plans them the way
the plan stage does (``flows.stages_plan.plan`` without the warehouse writes: network, safety stock, the LP,
plan tables, shortages with the worth of an hour, the output contracts), each measurement in a fresh
subprocess so its CPU seconds (all threads) and peak memory are its own:

* ``exact``  — ``solve_path: pulp``: the one PuLP model, solved whole (the reference objective). With
  ``--exact stored`` (default) it is not solved again: the run's own objective and plan-stage seconds are
  taken from ``runs`` when that run planned weekly (either solve path: the blocks path's objective is the
  exact model's), as the big network's exact LP costs 5-6 CPU-minutes;
* ``blocks`` — ``solve_path: blocks`` from scratch, its bases written to a temporary folder;
* ``blocks-choose`` — the same with HiGHS's own dual simplex pricing (``simplex_edge_weights: choose``, the
  behaviour before ``devex`` became the default), against ``blocks`` in one run;
* ``blocks-auto`` — the same with HiGHS's method by block size (``lp_method: auto``: interior point with
  crossover for cold blocks of at least ``--ipm-min-block-size`` columns + rows), against ``blocks`` in one
  run;
* ``buckets`` / ``blocks-buckets`` — the exact PuLP model / the blocks path with the far weeks in buckets
  (``--bucket-after`` weeks weekly, then ``--bucket-weeks``-week buckets; ``optimization/buckets.py``),
  its objective printed beside the exact one (goal: within 0.5 %);
* ``what-if cold`` / ``what-if warm`` — a replan with a change (``--what-if-percent`` more hours on every
  resource of the plant with the most hours, in the first half of the horizon), solved from
  scratch and from the ``blocks`` run's bases.

Without a planned run, ``--input DIR`` (an input folder of CSV files, e.g. a ``generate-demo`` network)
plans a stand-in demand instead of a forecast: each product × DC's ordered quantity requested from 26 weeks
before the inventory's as-of week on, divided by 26, flat over the horizon and 8 weeks beyond it, with a safety
stock of 0.8 × that mean (no contracts, no forecast: only the plan stage is measured); ``exact`` is then
solved (``--exact solve``).

It prints one table (status, objective, gap to the exact objective, blocks, wall, CPU s, load average, peak
RSS) and the ratios against the exact plan stage measured or stored.

``--baseline-ref REF`` instead plans ``blocks`` with that git commit's code (``git archive``, the same
virtualenv and this measuring code) and with this tree's, alternated ``--repeat`` times (the ref first), each
in a fresh process: the CPU ratio of each pair and over all pairs, the same for the CPU outside HiGHS's block
solves, and whether the two plans are the same (objective, and every plan table compared bit for bit).

Usage::

    .venv/bin/python bench/plan_stage.py --warehouse /work/big/16lp/warehouse.duckdb
    .venv/bin/python bench/plan_stage.py --warehouse plantwin-demo/warehouse.duckdb --exact solve
    .venv/bin/python bench/plan_stage.py --warehouse plantwin-demo/warehouse.duckdb --exact solve \
        --kinds buckets,blocks-buckets --bucket-after 8 --bucket-weeks 4
    .venv/bin/python bench/plan_stage.py --warehouse /work/big/pln32/wh.duckdb --baseline-ref lead32 --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

#: the code measured: this tree, or (``--code DIR``, a child of ``--baseline-ref``) a git ref's exported tree
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv else str(ROOT))


def _load(warehouse: str, run_id: str | None):
    import polars as pl

    from data_contracts import schema
    from optimization import PlanConfig
    from warehouse.db import open_warehouse
    from warehouse.views import latest_base_run

    with open_warehouse(warehouse, read_only=True) as wh:
        run_id = run_id or latest_base_run(wh.con)
        run = wh.run(run_id)
        inputs = wh.planning_inputs(run_id)
        forecast = wh.read(schema.FORECAST.name, run_id).drop("run_id")
    params = json.loads(run["parameters"])
    plan = params.get("plan", {})
    return run_id, run, inputs, forecast, PlanConfig(**plan), pl


def _load_input(folder: str):
    """Master entities of an input folder (cast to the schema) and the stand-in demand as a forecast frame."""
    import polars as pl

    from data_contracts import schema
    from optimization import PlanConfig

    inputs = {}
    for t in schema.PLANNING_INPUTS:
        path = Path(folder) / f"{t.name}.csv"
        raw = pl.read_csv(path, infer_schema=False) if path.exists() else pl.DataFrame(schema=dict.fromkeys(
            t.column_names, pl.String))
        inputs[t.name] = raw.select(
            pl.col(c).str.to_date() if dt == pl.Date
            else pl.col(c).str.to_lowercase().replace_strict({"true": True, "false": False}, default=None,
                                                              return_dtype=pl.Boolean) if dt == pl.Boolean
            else pl.col(c).cast(dt, strict=False)
            for c, dt in t.columns.items() if c in raw.columns
        )
    config = PlanConfig()
    run_date = inputs["inventory"]["as_of_date"].max()
    start = run_date - timedelta(days=run_date.weekday())
    mean = (
        pl.scan_csv(Path(folder) / "orders.csv", infer_schema=False)
        .select("product_id", "site_id", pl.col("quantity").cast(pl.Float64), pl.col("requested_week").str.to_date())
        .filter(pl.col("requested_week") >= start - timedelta(weeks=26))
        .group_by("product_id", "site_id").agg((pl.col("quantity").sum() / 26).alias("mean"))
        .collect()
    )
    weeks = pl.DataFrame({"week": [start + timedelta(weeks=i) for i in range(config.horizon_weeks + 8)]})
    fc = mean.join(weeks, how="cross")
    return "input", {"run_date": run_date}, inputs, fc, config, pl


def run_one(warehouse: str, run_id: str | None, kind: str, bases: str, percent: float,
            buckets: tuple[int, int] = (8, 4), ipm_min: int | None = None, tables: str | None = None) -> dict:
    """Plan once along ``kind`` (``exact``, ``blocks``, ``blocks-choose``, ``blocks-auto``, ``buckets``, ``blocks-buckets``,
    ``what-if-cold``, ``what-if-warm``); measure it. ``buckets``: weeks kept weekly, weeks per bucket;
    ``ipm_min``: the blocks' ``ipm_min_block_size`` (default the run's setting); ``tables``: a folder the plan
    tables are written to (as ``<table>.parquet``, after the measurement)."""
    from data_contracts.plan import validate_plan
    from flows.solver_bases import basis_loader, save_bases
    from flows.stages import monday
    from optimization import build_network, plan_supply, safety_stock_targets

    stand_in = run_id == "input"
    run_id, run, inputs, fc, config, pl = _load_input(warehouse) if stand_in else _load(warehouse, run_id)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    path = "pulp" if kind in ("exact", "buckets") else "blocks"
    config = config.model_copy(update={"solve_path": path})
    if kind == "blocks-auto":  # whatever the stored run's own lp_method (older runs stored `choose`)
        config = config.model_copy(update={"lp_method": "auto"})
    if kind == "blocks-choose":
        config = config.model_copy(update={"simplex_edge_weights": "choose"})
    if ipm_min is not None:
        config = config.model_copy(update={"ipm_min_block_size": ipm_min})
    if kind.endswith("buckets"):
        config = config.model_copy(update={"bucket_after_weeks": buckets[0], "bucket_weeks": buckets[1]})
    start = monday(run["run_date"])
    if kind.startswith("what-if"):
        # more hours on the plant whose capacity is worth most, first half of the horizon
        res = inputs["resources"]
        with_hours = res.select("resource_id", "site_id", "hours_per_week")
        site = with_hours.group_by("site_id").agg(pl.col("hours_per_week").sum()).sort("hours_per_week")[-1, 0]
        weeks = pl.DataFrame({"week": [start + timedelta(weeks=i) for i in range(config.horizon_weeks // 2)]})
        extra = (
            with_hours.filter(pl.col("site_id") == site).join(weeks, how="cross")
            .join(inputs["calendar"].select("resource_id", "week", "hours_available"),
                  on=["resource_id", "week"], how="left")
            .select("resource_id", "week",
                    hours_available=pl.coalesce("hours_available", "hours_per_week") * (1 + percent / 100))
        )
        cal = inputs["calendar"]
        kept = cal.join(extra.select("resource_id", "week"), on=["resource_id", "week"], how="anti")
        inputs["calendar"] = pl.concat([kept, extra.select(cal.columns)], how="vertical_relaxed")
    network = build_network(inputs, start, config)
    demand = fc.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
    if stand_in:
        safety = fc.filter(pl.col("week") < start + timedelta(weeks=config.horizon_weeks)).select(
            "product_id", "site_id", "week", safety_stock=pl.col("mean") * 0.8)
    else:
        safety = safety_stock_targets(fc, inputs["products"], network)
    warm = basis_loader(bases, "base") if kind == "what-if-warm" else None
    result = plan_supply(network, demand, safety, config, None, warm)
    validate_plan(result.tables, inputs["lanes"], inputs["resources"])
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if kind == "blocks":
        save_bases(bases, "base", result.blocks)
    if tables:
        for name, frame in result.tables.items():
            frame.write_parquet(Path(tables) / f"{name}.parquet")
    b = result.blocks
    return {
        "kind": kind, "status": result.solver_status, "objective": result.objective, "wall_s": wall, "cpu_s": cpu,
        "solve_s": result.solve_seconds, "build_s": result.build_seconds,
        "blocks": len(b.block_sizes) if b else None, "largest_block": max(b.block_sizes) if b else None,
        "warm_blocks": b.warm if b else None, "whole": b.whole if b else None,
        "iterations": sum(b.iterations) if b else None,
        # the largest blocks' HiGHS wall seconds, iterations and method: what sets the solve's critical path
        "top_blocks": sorted(({"cols": c, "rows": r, "s": s, "cpu": u, "iterations": i, "method": m}
                              for (c, r), s, u, i, m in zip(b.block_sizes, b.seconds, b.cpu_seconds, b.iterations,
                                                            b.methods)),
                             key=lambda d: -d["s"])[:4] if b else None,
        "block_s_sum": sum(b.seconds) if b else None,
        "block_cpu_sum": sum(b.cpu_seconds) if b else None,
        "load": os.getloadavg()[0], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def stored_exact(warehouse: str, run_id: str | None) -> dict | None:
    """The run's own plan stage, when it was planned with the exact model (weekly: both solve paths are exact)."""
    from warehouse.db import open_warehouse
    from warehouse.views import latest_base_run

    with open_warehouse(warehouse, read_only=True) as wh:
        run = wh.run(run_id or latest_base_run(wh.con))
    plan = json.loads(run["parameters"]).get("plan", {})
    if plan.get("bucket_after_weeks") is not None:
        return None
    stages = json.loads(run["stage_seconds"]) if run.get("stage_seconds") else {}
    return {"kind": "exact (stored run)", "status": run["solver_status"], "objective": run["objective"],
            "wall_s": stages.get("plan"), "cpu_s": None, "solve_s": run["solve_seconds"], "blocks": None,
            "load": None, "peak_rss_mb": None, "iterations": None}


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def _table(rows: list[dict], exact: float | None) -> str:
    head = ("| plan | status | objective | gap to its reference | blocks (largest cols×rows) | warm blocks | "
            "iterations | wall s | solve s | CPU s | load | peak RSS MB |")
    lines = [head, "|" + "---|" * 12]
    what_if = next((r["objective"] for r in rows if r["kind"] == "what-if-cold"), None)
    for r in rows:
        # the base plans against the exact objective; the warm what-if against the same what-if solved cold
        ref = {"what-if-cold": None, "what-if-warm": what_if}.get(r["kind"], exact)
        gap = (r["objective"] - ref) / abs(ref) if ref and r["objective"] is not None else None
        largest = r.get("largest_block")
        blocks = "–" if r.get("blocks") is None else f"{r['blocks']} ({largest[0]:,}×{largest[1]:,})"
        lines.append(
            f"| {r['kind']} | {r['status']} | {_fmt(r['objective'], ',.2f')} | {_fmt(gap, '+.2e')} | {blocks} | "
            f"{_fmt(r.get('warm_blocks'), 'd')} | {_fmt(r.get('iterations'), ',d')} | {_fmt(r['wall_s'], '.1f')} | "
            f"{_fmt(r.get('solve_s'), '.1f')} | {_fmt(r['cpu_s'], '.1f')} | {_fmt(r['load'], '.1f')} | "
            f"{_fmt(r['peak_rss_mb'], ',.0f')} |"
        )
    return "\n".join(lines)


def add_source_args(parser: argparse.ArgumentParser) -> None:
    """``--warehouse`` (a stored run, ``--run-id``) or ``--input`` (a folder planned against a stand-in
    demand): where a plan bench reads its network."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--warehouse", help="warehouse holding a successful planning run")
    source.add_argument("--input", help="input folder (CSV) planned against a stand-in demand (no forecast)")
    parser.add_argument("--run-id", help="that run (default: the plan of record)")


def _child(args: argparse.Namespace, kind: str, bases: str, code: Path | None = None,
           tables: Path | None = None) -> dict:
    """One measurement in a fresh process (``code``: the tree whose packages it imports; ``tables``: where it
    writes the plan tables)."""
    proc = subprocess.run(
        [sys.executable, __file__, "--warehouse", str(args.warehouse), *(["--run-id", args.run_id]
         if args.run_id else []), "--what-if-percent", str(args.what_if_percent),
         "--bucket-after", str(args.bucket_after), "--bucket-weeks", str(args.bucket_weeks),
         *(["--ipm-min-block-size", str(args.ipm_min_block_size)] if args.ipm_min_block_size else []),
         *(["--code", str(code)] if code else []), *(["--tables", str(tables)] if tables else []),
         "--one", kind, bases],
        capture_output=True, text=True,
    )
    if proc.returncode:
        sys.exit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def same_tables(base: Path, tree: Path) -> list[str]:
    """The plan tables that differ between two folders of ``<table>.parquet`` (bit for bit), each with its
    rows and its largest difference in a number column where the keys match."""
    import polars as pl

    out = []
    for path in sorted(base.glob("*.parquet")):
        a, b = pl.read_parquet(path), pl.read_parquet(tree / path.name)
        if a.equals(b):
            continue
        note = f"{path.stem}: {a.height} rows against {b.height}"
        if a.columns == b.columns and a.height == b.height:
            floats = [c for c, t in a.schema.items() if t.is_float()]
            worst = {c: (a[c] - b[c]).abs().max() for c in floats}
            note += "; largest |difference| " + ", ".join(f"{c} {v:.3g}" for c, v in worst.items() if v)
        out.append(note)
    return out


def against_ref(args: argparse.Namespace, ref: str, repeat: int) -> None:
    """``blocks`` planned by ``ref``'s code and by this tree's, alternated ``repeat`` times (``ref`` first)."""
    from bench.refs import export_ref  # here, not at the top: a --code child imports from the ref's tree

    with tempfile.TemporaryDirectory(prefix="plan-stage-ref-") as tmp:
        code = export_ref(ref, Path(tmp) / "ref")
        runs: dict[str, list[dict]] = {ref: [], "this tree": []}
        for k in range(repeat):
            for label, root in ((ref, code), ("this tree", None)):
                tables = Path(tmp) / f"{'ref' if root else 'tree'}-tables"
                tables.mkdir(exist_ok=True)
                m = _child(args, "blocks", str(Path(tmp) / "bases.duckdb"), root, tables)
                runs[label].append(m)
                print(f"pair {k + 1}, {label:9s}: CPU {m['cpu_s']:6.1f} s (HiGHS's blocks {m['block_cpu_sum']:6.1f}, "
                      f"outside {m['cpu_s'] - m['block_cpu_sum']:5.1f}), wall {m['wall_s']:6.1f} s, "
                      f"objective {m['objective']:,.2f}, load {m['load']:.2f}", flush=True)
            a, b = runs[ref][-1], runs["this tree"][-1]
            print(f"  pair {k + 1}: CPU this tree / {ref} {b['cpu_s'] / a['cpu_s']:.3f}, outside HiGHS "
                  f"{(b['cpu_s'] - b['block_cpu_sum']) / (a['cpu_s'] - a['block_cpu_sum']):.3f}", flush=True)
        cpu = {label: sum(m["cpu_s"] for m in ms) for label, ms in runs.items()}
        out = {label: sum(m["cpu_s"] - m["block_cpu_sum"] for m in ms) for label, ms in runs.items()}
        print(f"CPU over {repeat} pair(s): {ref} {cpu[ref]:.1f} s, this tree {cpu['this tree']:.1f} s, ratio "
              f"{cpu['this tree'] / cpu[ref]:.3f}; outside HiGHS's blocks {out[ref]:.1f} -> {out['this tree']:.1f} s, "
              f"ratio {out['this tree'] / out[ref]:.3f}")
        objectives = {m["objective"] for ms in runs.values() for m in ms}
        differ = same_tables(Path(tmp) / "ref-tables", Path(tmp) / "tree-tables")
        print(f"objectives: {sorted(objectives)}; plan tables of the last pair: "
              + ("identical" if not differ else "DIFFER: " + "; ".join(differ)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_source_args(parser)
    parser.add_argument("--exact", choices=("stored", "solve"), default="stored",
                        help="take the exact plan from the run's record (default) or solve it again")
    parser.add_argument("--what-if-percent", type=float, default=20.0, help="extra hours of the what-if (%%)")
    parser.add_argument("--kinds", default="blocks,what-if-cold,what-if-warm",
                        help="measurements to run, in order (what-if-warm needs blocks before it)")
    parser.add_argument("--bucket-after", type=int, default=8, help="buckets: weeks kept weekly (at least the "
                        "frozen weeks and the longest release + transit lag)")
    parser.add_argument("--bucket-weeks", type=int, default=4, help="buckets: weeks per far-week bucket")
    parser.add_argument("--ipm-min-block-size", type=int, help="blocks of at least this many columns + rows "
                        "are solved by interior point (default: the run's plan setting)")
    parser.add_argument("--baseline-ref", metavar="REF", help="plan `blocks` with this git ref's code and with "
                        "this tree's, alternated; print the CPU ratios and whether the plans are the same")
    parser.add_argument("--repeat", type=int, default=1, help="with --baseline-ref: pairs of runs")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "BASES"), help=argparse.SUPPRESS)
    parser.add_argument("--code", help=argparse.SUPPRESS)  # read before the imports (ROOT, above)
    parser.add_argument("--tables", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.input:
        args.warehouse, args.run_id, args.exact = args.input, "input", "solve"
    if args.one:
        print(json.dumps(run_one(str(args.warehouse), args.run_id, args.one[0], args.one[1],
                                 args.what_if_percent, (args.bucket_after, args.bucket_weeks),
                                 args.ipm_min_block_size, args.tables), default=str))
        return
    if args.baseline_ref:
        against_ref(args, args.baseline_ref, args.repeat)
        return
    rows = []
    exact = stored_exact(args.warehouse, args.run_id) if args.exact == "stored" else None
    kinds = args.kinds.split(",") + (["exact"] if exact is None else [])
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            rows.append(_child(args, kind, str(Path(tmp) / "bench.duckdb")))
            print(f"{kind}: {rows[-1]['wall_s']:.1f} s wall, {rows[-1]['cpu_s']:.1f} CPU s", file=sys.stderr,
                  flush=True)
    by = {r["kind"]: r for r in rows}
    exact = exact or by["exact"]
    for r in rows:
        if r.get("top_blocks"):
            top = "; ".join(f"{d['cols']:,}×{d['rows']:,} {d['method']} {d['s']:.1f} s wall, {d['cpu']:.1f} CPU s "
                            f"({d['iterations']:,} simplex + crossover it)" for d in r["top_blocks"])
            print(f"{r['kind']}: HiGHS {r['block_s_sum']:.1f} s wall / {r['block_cpu_sum']:.1f} CPU s summed over "
                  f"the blocks; slowest: {top}")
    print(_table([exact, *rows] if exact not in rows else rows, exact["objective"]))
    base = exact["wall_s"]
    if base and "blocks" in by:
        cpu = f", CPU {by['blocks']['cpu_s'] / exact['cpu_s']:.3f}" if exact.get("cpu_s") else ""
        print(f"\nplan stage, blocks / exact: wall {by['blocks']['wall_s'] / base:.3f}{cpu}")
    for kind in ("buckets", "blocks-buckets"):
        if kind in by and by[kind]["objective"] is not None:
            gap = (by[kind]["objective"] - exact["objective"]) / abs(exact["objective"])
            print(f"{kind} (weekly {args.bucket_after}, then {args.bucket_weeks}-week buckets): objective "
                  f"{by[kind]['objective']:,.2f} beside the exact {exact['objective']:,.2f}: {gap:+.3%} "
                  f"(goal within 0.5 %); CPU {by[kind]['cpu_s']:.1f} s against the exact's "
                  f"{_fmt(exact.get('cpu_s'), '.1f')} s")
    for kind in ("blocks-choose", "blocks-auto"):
        if "blocks" in by and kind in by:
            other, simplex = by[kind], by["blocks"]
            gap = (other["objective"] - simplex["objective"]) / abs(simplex["objective"])
            print(f"{kind} / blocks: wall {other['wall_s'] / simplex['wall_s']:.3f}, CPU "
                  f"{other['cpu_s'] / simplex['cpu_s']:.3f}, HiGHS CPU "
                  f"{other['block_cpu_sum'] / simplex['block_cpu_sum']:.3f}; objective {other['objective']:,.2f} "
                  f"beside {simplex['objective']:,.2f} ({gap:+.2e})")
    cold = by.get("what-if-cold", by.get("blocks"))
    if "what-if-warm" in by and cold:
        print(f"what-if replan, warm / cold ({cold['kind']}): wall {by['what-if-warm']['wall_s'] / cold['wall_s']:.3f}, "
              f"CPU {by['what-if-warm']['cpu_s'] / cold['cpu_s']:.3f}")


if __name__ == "__main__":
    main()
