"""Benchmark the planning LP: model build, solve and peak memory at three sizes, PuLP vs highspy, HiGHS vs CBC.

Each (size, path) runs in a fresh subprocess so its peak RSS is its own:

* ``pulp``   — :func:`optimization.model.build_model` with PuLP objects (LpVariable, named LpConstraint
  from LpAffineExpression), solved through PuLP's ``HiGHS`` class (``BulkHiGHS``: array transfer);
* ``direct`` — the same constraint-family functions writing ``(row, col, coef)`` arrays
  (:class:`optimization.highs_direct.ArrayBuilder`) passed to ``highspy`` in one call;
* ``cbc``    — the PuLP model solved by ``PULP_CBC_CMD``.

Networks come from :func:`optimization.synthetic.random_inputs` (seeded), 26 weekly buckets.

Usage::

    .venv/bin/python bench/lp.py                       # small, medium, large; CBC on small and medium
    .venv/bin/python bench/lp.py --sizes small --cbc-sizes small
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

SIZES = {  # products, plants, DCs, resources per plant
    "small": (40, 2, 5, 3),
    "medium": (250, 2, 8, 4),
    "large": (1000, 2, 8, 4),
}
HORIZON = 26


def run_one(size: str, path: str, time_limit: float) -> dict:
    """Build and solve one network along one path; return the measurements."""
    import polars as pl

    from optimization import PlanConfig, build_network
    from optimization import examples as ex
    from optimization.highs_direct import ArrayBuilder
    from optimization.model import build_model
    from optimization.plan import _checked, _in_horizon, _scheduled
    from optimization.solver import make_solver
    from optimization.synthetic import random_inputs

    n_p, n_pl, n_dc, n_r = SIZES[size]
    inputs, demand = random_inputs(
        seed=1, n_products=n_p, n_plants=n_pl, n_dcs=n_dc, horizon=HORIZON, resources_per_plant=n_r
    )
    cfg = PlanConfig(horizon_weeks=HORIZON, time_limit_seconds=time_limit, fallback=False)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    net = build_network(inputs, ex.START, cfg)
    d = _in_horizon(net, _checked(net, demand, "demand", "quantity", "site_id"))
    ss = d.select("product_id", "site_id", "t", safety_stock=pl.col("quantity") * 0.5)
    sched = _scheduled(net, None, cfg)
    t1 = time.perf_counter()
    out = {"size": size, "path": path, "products": n_p, "plants": n_pl, "dcs": n_dc, "network_s": t1 - t0}
    if path == "direct":
        model = build_model(net, d, ss, sched, cfg, builder=ArrayBuilder())
        t2 = time.perf_counter()
        status = model.builder.solve(time_limit=time_limit)
        t3 = time.perf_counter()
        b = model.builder
        run = b.highs.getRunTime()
        out |= {
            "vars": b.n_cols,
            "rows": b.n_rows,
            "build_s": t2 - t1,
            "transfer_s": (t3 - t2) - run,
            "solve_s": run,
            "readback_s": 0.0,
            "status": status,
            "objective": b.objective,
        }
    else:
        model = build_model(net, d, ss, sched, cfg)
        t2 = time.perf_counter()
        prob = model.builder.prob
        solver = make_solver(
            "highs" if path == "pulp" else "cbc", cfg, mip=False, variables=model.builder.variables
        )
        import pulp

        status = prob.solve(solver)
        t3 = time.perf_counter()
        timings = getattr(solver, "timings", {}) or {"transfer": 0.0, "run": t3 - t2, "readback": 0.0}
        out |= {
            "vars": len(model.builder.variables),
            "rows": len(prob._constraints),
            "build_s": t2 - t1,
            "transfer_s": timings["transfer"],
            "solve_s": timings["run"],
            "readback_s": timings["readback"],
            "status": pulp.LpStatus[status],
            "objective": pulp.value(prob.objective),
        }
    out["total_s"] = out["build_s"] + out["transfer_s"] + out["solve_s"] + out["readback_s"]
    out["cpu_s"] = time.process_time() - cpu0  # all threads of this process: robust to a busy machine
    out["load_avg"] = os.getloadavg()[0]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _opt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _table(results: list[dict]) -> str:
    head = (
        "| size | path | vars | rows | network s | model build s | to solver s | solve s | read back s | "
        "total s | CPU s | load | peak RSS MB | status | objective |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in results:
        lines.append(
            f"| {r['size']} ({r['products']}×{r['plants']}×{r['dcs']}×{HORIZON}) | {r['path']} | {r['vars']:,} | "
            f"{r['rows']:,} | {r['network_s']:.2f} | {r['build_s']:.2f} | {r['transfer_s']:.2f} | {r['solve_s']:.2f} | "
            f"{r['readback_s']:.2f} | {r['total_s']:.2f} | {_opt(r.get('cpu_s'))} | {_opt(r.get('load_avg'), 1)} | "
            f"{r['peak_rss_mb']:.0f} | {r['status']} | "
            f"{r['objective']:.6g} |"
        )
    by = {(r["size"], r["path"]): r for r in results}
    lines += [
        "",
        (
            "| size | PuLP total / direct total | PuLP's own share of PuLP total (build + transfer + read back − "
            "direct build) | CBC solve / HiGHS solve |"
        ),
        "|---|---|---|---|",
    ]
    for size in dict.fromkeys(r["size"] for r in results):
        p, d, c = by.get((size, "pulp")), by.get((size, "direct")), by.get((size, "cbc"))
        ratio = f"{p['total_s'] / d['total_s']:.2f}×" if p and d else "–"
        own = (
            f"{(p['build_s'] + p['transfer_s'] + p['readback_s'] - d['build_s']) / p['total_s']:.1%}"
            if p and d
            else "–"
        )
        cbc = f"{c['solve_s'] / p['solve_s']:.2f}×" if p and c else "–"
        lines.append(f"| {size} | {ratio} | {own} | {cbc} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--cbc-sizes", default="small,medium")
    parser.add_argument("--time-limit", type=float, default=1800.0)
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--render", type=Path, help="print the table of a results JSON and exit")
    parser.add_argument("--one", nargs=2, metavar=("SIZE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render:
        print(_table(json.loads(args.render.read_text())))
        return
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.time_limit)))
        return
    results = []
    for size in args.sizes.split(","):
        paths = ["pulp", "direct"] + (["cbc"] if size in args.cbc_sizes.split(",") else [])
        for path in paths:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", size, path, "--time-limit", str(args.time_limit)],
                capture_output=True,
                text=True,
                check=True,
            )
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"{size} {path}: {results[-1]['total_s']:.1f} s", file=sys.stderr, flush=True)
    print(_table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
