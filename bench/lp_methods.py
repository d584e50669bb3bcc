"""Benchmark HiGHS's LP methods on the largest block of a plan: dual simplex against interior point and PDLP.

The blocks path (``optimization/decompose.py``) solves each independent sub-network with HiGHS's dual simplex;
the largest block sets the plan stage's solve time. This takes a stored run's planning LP (``--warehouse``,
its inputs and forecast, as ``bench/plan_stage.py`` reads them) or an input folder planned against the
stand-in demand (``--input``), builds every block without solving any (the plan stage with a 1 ms time
limit: HiGHS stops before its first iteration), writes the largest block as an MPS file into a temporary
folder and solves it from scratch with each method, each in a fresh process so its CPU seconds (all threads)
and peak memory are its own:

* ``simplex`` — dual simplex (what ``lp_method: choose`` picks here; the baseline);
* ``ipm`` — interior point with crossover (a basis and exact duals, as the plan's explanations need);
* ``ipm-nox`` — interior point without crossover (``run_crossover: off``: no basis, duals from the
  interior solution; no warm start for a replan);
* ``pdlp`` — HiGHS's first-order PDLP (no basis; ``pdlp_d_gap_tol`` 1e-7 unless ``--pdlp-tol``).

It prints status, objective, relative difference to the simplex objective, iterations, wall, CPU s, load and
peak RSS per method, and each method's CPU against the simplex's.

Usage::

    .venv/bin/python bench/lp_methods.py --warehouse plantwin-demo/warehouse.duckdb
    .venv/bin/python bench/lp_methods.py --warehouse /work/big/run/wh.duckdb --time-limit 600
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import plan_stage  # noqa: E402 - bench/plan_stage.py: the same reading of a run or an input folder

METHODS = {
    "simplex": {"solver": "simplex", "simplex_strategy": 1},
    "ipm": {"solver": "ipm", "run_crossover": "on"},
    "ipm-nox": {"solver": "ipm", "run_crossover": "off"},
    "pdlp": {"solver": "pdlp"},
}


def extract(source: str, run_id: str | None, mps: str) -> dict:
    """Build the plan's LP block by block without solving; write the largest block to ``mps``."""
    from flows.stages import monday
    from optimization import build_network, plan_supply, safety_stock_targets

    stand_in = run_id == "input"
    _, run, inputs, fc, config, pl = plan_stage._load_input(source) if stand_in else plan_stage._load(source, run_id)
    config = config.model_copy(update={"solve_path": "blocks", "time_limit_seconds": 1e-3, "fallback": False})
    start = monday(run["run_date"])
    network = build_network(inputs, start, config)
    demand = fc.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
    if stand_in:
        safety = fc.select("product_id", "site_id", "week", safety_stock=pl.col("mean") * 0.8)
    else:
        safety = safety_stock_targets(fc, inputs["products"], network)
    blocks = []

    def keep(key, h) -> bool:  # offered every block once it is built, before any runs
        blocks.append(h)
        return False

    plan_supply(network, demand, safety, config, None, keep)
    largest = max(blocks, key=lambda h: h.getNumCol() + h.getNumRow())
    largest.writeModel(mps)
    return {"blocks": len(blocks), "cols": largest.getNumCol(), "rows": largest.getNumRow(),
            "nonzeros": largest.getNumNz()}


def solve_one(method: str, mps: str, time_limit: float, pdlp_tol: float) -> dict:
    """Solve ``mps`` from scratch with ``method``; measure it."""
    from optimization.highs_direct import new_highs

    h = new_highs()
    h.readModel(mps)
    for option, value in METHODS[method].items():
        h.setOptionValue(option, value)
    h.setOptionValue("time_limit", float(time_limit))
    if method == "pdlp":
        h.setOptionValue("pdlp_d_gap_tol", float(pdlp_tol))
    cpu0, wall0 = time.process_time(), time.perf_counter()
    h.run()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    info = h.getInfo()
    return {
        "method": method, "status": h.modelStatusToString(h.getModelStatus()),
        "objective": info.objective_function_value, "wall_s": wall, "cpu_s": cpu,
        "simplex_iterations": int(info.simplex_iteration_count), "ipm_iterations": int(info.ipm_iteration_count),
        "pdlp_iterations": int(info.pdlp_iteration_count), "basis": bool(h.getBasis().valid),
        "load": os.getloadavg()[0], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _fmt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    plan_stage.add_source_args(parser)
    parser.add_argument("--methods", default=",".join(METHODS), help="methods to run, in order (simplex first)")
    parser.add_argument("--time-limit", type=float, default=900.0, help="seconds per method (default 900)")
    parser.add_argument("--pdlp-tol", type=float, default=1e-7, help="PDLP's relative duality-gap tolerance")
    parser.add_argument("--extract", nargs=1, metavar="MPS", help=argparse.SUPPRESS)
    parser.add_argument("--one", nargs=2, metavar=("METHOD", "MPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    src, run_id = (args.input, "input") if args.input else (args.warehouse, args.run_id)
    if args.extract:
        print(json.dumps(extract(src, run_id, args.extract[0])))
        return
    if args.one:
        print(json.dumps(solve_one(args.one[0], args.one[1], args.time_limit, args.pdlp_tol)))
        return
    here = [sys.executable, __file__, *(["--input", src] if args.input else ["--warehouse", src]),
            *(["--run-id", run_id] if args.run_id else []), "--time-limit", str(args.time_limit),
            "--pdlp-tol", str(args.pdlp_tol)]
    with tempfile.TemporaryDirectory() as tmp:
        mps = str(Path(tmp) / "largest_block.mps")
        proc = subprocess.run([*here, "--extract", mps], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(f"building the blocks failed:\n{proc.stderr[-3000:]}")
        block = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"largest of {block['blocks']} blocks: {block['cols']:,} columns × {block['rows']:,} rows, "
              f"{block['nonzeros']:,} non-zeros", file=sys.stderr, flush=True)
        rows = []
        for method in args.methods.split(","):
            proc = subprocess.run([*here, "--one", method, mps], capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{method} failed:\n{proc.stderr[-3000:]}")
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{method}: {rows[-1]['status']}, {rows[-1]['cpu_s']:.1f} CPU s", file=sys.stderr, flush=True)
    base = next((r for r in rows if r["method"] == "simplex"), rows[0])
    print(f"largest block: {block['cols']:,} columns × {block['rows']:,} rows ({block['blocks']} blocks)\n")
    print("| method | status | objective | vs simplex | iterations (simplex / ipm / pdlp) | basis | wall s | "
          "CPU s | CPU / simplex | load | peak RSS MB |")
    print("|" + "---|" * 11)
    for r in rows:
        gap = (r["objective"] - base["objective"]) / abs(base["objective"]) if base["objective"] else None
        print(f"| {r['method']} | {r['status']} | {r['objective']:,.2f} | {_fmt(gap, '+.2e')} | "
              f"{r['simplex_iterations']:,} / {r['ipm_iterations']:,} / {r['pdlp_iterations']:,} | "
              f"{'yes' if r['basis'] else 'no'} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
              f"{r['cpu_s'] / base['cpu_s']:.2f} | {r['load']:.1f} | {r['peak_rss_mb']:,.0f} |")


if __name__ == "__main__":
    main()
