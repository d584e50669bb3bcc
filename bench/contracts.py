"""Input contracts at scale: order lines validated per second, and the contracts' share of a weekly run.

Usage: ``python bench/contracts.py [--products 2300] [--dcs 5] [--workdir DIR] [--full-run] [--time-limit S]``

Writes the seeded demo network's input files (``--products 2300 --dcs 5``: 10,178 product × DC series,
8.48 million order lines, CSV) and, in one process:

1. runs the pipeline's own ``ingest`` and ``validate`` stages (``flows.stages``: land the files in a fresh
   warehouse, read the run's raw rows, GX suites, quarantine, stage the clean tables, Data Docs) and
   prints each one's wall time and order lines per second;
2. as the baseline, the same ``validate_inputs`` call with text handed to Great Expectations as pandas
   object columns (pandas' default conversion, which plantwin used before) instead of categoricals, and
   the ratio of the two;
3. with ``--full-run``, the real ``weekly_planning`` flow (Prefect, temporary local server) on the same
   files, with the solver's time limit raised to ``--time-limit``, and the contracts stage's share of the
   run's wall time from the stage times the run recorded (``runs.stage_seconds``).

The issue's goal: contracts under 20% of the run's time on the 10,000-series demo.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_contracts import gx_runner  # noqa: E402
from data_contracts.validate import validate_inputs  # noqa: E402
from flows import stages  # noqa: E402  (flows sets telemetry off before Prefect is imported)
from flows.settings import RunParameters  # noqa: E402
from optimization import PlanConfig  # noqa: E402
from warehouse.db import open_warehouse  # noqa: E402
from demo.network import generate_demo  # noqa: E402


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def _timed(label: str, rows: int, fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    wall = time.perf_counter() - start
    print(f"{label:42s} {wall:7.1f} s   {rows / wall:>11,.0f} order lines/s   peak RSS so far {_peak_gib():.1f} GiB")
    return out, wall


def _object_columns(frame: pl.DataFrame):
    """The baseline conversion: text as pandas object columns (dates as datetime64[ns], as plantwin does)."""
    return frame.with_columns(pl.col(pl.Date).cast(pl.Datetime("ns"))).to_pandas()


def contracts_stages(input_dir: Path, warehouse: Path) -> dict[str, float]:
    """Ingest and contracts as the pipeline runs them; then the baseline validation. Returns wall times."""
    params = RunParameters(input_dir=input_dir, warehouse=warehouse)
    run_id = stages.start(params, "weekly_planning")
    orders_file = next(input_dir.glob("orders.*"))
    rows = sum(1 for _ in orders_file.open("rb")) - 1 if orders_file.suffix == ".csv" else 0
    print(f"{orders_file.name}: {rows:,} order lines, {orders_file.stat().st_size / 2**20:,.0f} MiB")
    load_ids, t_ingest = _timed("ingest (read files, land raw rows)", rows, stages.ingest, params, run_id)
    run_date = stages.resolve_run_date(params, run_id, load_ids)
    counts, t_validate = _timed("contracts stage (plantwin)", rows, stages.validate, params, run_id, load_ids,
                                run_date)
    print(f"  clean rows {sum(counts['clean_rows'].values()):,}, quarantined {counts['quarantined_rows']:,}")

    with open_warehouse(warehouse) as wh:
        raw = {entity: wh.raw_rows(entity, load_id) for entity, load_id in load_ids.items()}
    _, t_ours = _timed("  validate_inputs, text as categoricals", rows, validate_inputs, raw, run_date,
                       params.contracts)
    ours = gx_runner._to_pandas
    gx_runner._to_pandas = _object_columns  # the baseline: pandas' default conversion of text
    try:
        _, t_base = _timed("  validate_inputs, text as object columns", rows, validate_inputs, raw, run_date,
                           params.contracts)
    finally:
        gx_runner._to_pandas = ours
    print(f"ratio validate_inputs plantwin / baseline: {t_ours / t_base:.2f}")
    return {"ingest": t_ingest, "contracts": t_validate}


def full_run(input_dir: Path, warehouse: Path, time_limit: float) -> None:
    """The weekly planning flow end to end; the contracts' share of the run from its recorded stage times."""
    from flows.weekly import weekly_planning

    params = RunParameters(input_dir=input_dir, warehouse=warehouse,
                           plan=PlanConfig(time_limit_seconds=time_limit, fallback=False))
    start = time.perf_counter()
    run_id = weekly_planning(params)
    wall = time.perf_counter() - start
    with open_warehouse(warehouse, read_only=True) as wh:
        run = wh.run(run_id)
    seconds = json.loads(run["stage_seconds"])
    print(f"weekly_planning {run_id}: {run['status']}, solver {run['solver_status']} in "
          f"{run['solve_seconds']:.0f} s, flow wall {wall:.0f} s")
    for stage, s in seconds.items():
        print(f"  {stage:24s} {s:8.1f} s   {s / wall:6.1%} of the run")
    print(f"contracts share of the run: {seconds['contracts'] / wall:.1%} (goal < 20%); "
          f"of the stages before planning (ingest to forecast): "
          f"{seconds['contracts'] / sum(seconds[k] for k in ('ingest', 'run-date', 'contracts', 'forecast')):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2300)
    parser.add_argument("--dcs", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--full-run", action="store_true", help="also run the weekly flow end to end")
    parser.add_argument("--time-limit", type=float, default=7200.0, help="solver time limit of the full run")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="plantwin-bench-"))
    input_dir = workdir / "input"
    if not (input_dir / "orders.csv").exists():
        generate_demo(input_dir, products=args.products, dcs=args.dcs)
    contracts_stages(input_dir, workdir / "contracts.duckdb")
    if args.full_run:
        full_run(input_dir, workdir / "warehouse.duckdb", args.time_limit)
    print(f"workdir {workdir}")


if __name__ == "__main__":
    main()
