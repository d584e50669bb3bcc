"""Input contracts near the floor: ingest + contracts CPU against a DuckDB query that reads, casts and
checks the same orders, and the peak memory.

Usage: ``python bench/contracts.py [--input DIR | --products 2300 --dcs 5] [--workdir DIR]
[--baseline-ref REF] [--commit] [--full-run] [--time-limit S]``

On the input folder ``--input`` (read only: the warehouse goes to ``--workdir``), or else on the seeded demo
network written to the workdir (``--products 2300 --dcs 5``: 10,178 product × DC series, 8.48 million order
lines, CSV), each in a fresh child process whose CPU seconds (user + system, every thread) and peak resident
memory the operating system reports (``wait4``):

1. the floor: one DuckDB query reading ``orders.csv`` as text, casting every column (``TRY_CAST``) and
   counting the rows that break the order lines' checks (type, not null, non-negative, maximum quantity,
   allowed status, date range, Monday weeks, known product and site, unique order id);
2. the pipeline's own ``ingest``, ``run-date`` and ``contracts`` stages (``flows.stages``: read the files,
   land the raw rows in a fresh warehouse, read the run's rows, cast, every check, GX, quarantine, stage
   the clean tables, Data Docs), with each stage's CPU and wall;
3. with ``--baseline-ref``, the same stages from that git commit's code (``git archive``, same virtualenv);
4. with ``--commit``, each child then commits what the contracts staged (``Warehouse.commit_run``: the clean
   tables, quarantine and results moved into the warehouse's tables, as a run's end does), timed apart and
   left out of the ratio.

It prints the ratio of (2) to (1) in CPU seconds (the issue's goal: ≤ 3) and the peak RSS of (2) (goal
≤ 2 GiB on 8.5 M order lines), with the machine's load average. With ``--full-run``, the real
``weekly_planning`` flow end to end on the same files and the contracts' share of its time.
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

ROOT = Path(__file__).resolve().parents[1]


def _checked_query(input_dir: Path) -> dict[str, float]:
    """The floor: DuckDB reads, casts and checks the order lines (all threads). Returns its counts."""
    import duckdb

    sys.path.insert(0, str(ROOT))
    from data_contracts import schema
    from data_contracts.config import ContractConfig

    config = ContractConfig()
    status = ", ".join(f"'{v}'" for v in schema.ALLOWED_VALUES[(schema.ORDERS.name, "status")])
    con = duckdb.connect()
    files = {e: str(input_dir / f"{e}.csv") for e in ("orders", "products", "sites", "inventory")}
    sql = f"""
    WITH raw AS (SELECT * FROM read_csv('{files["orders"]}', all_varchar = true, header = true)),
    run AS (SELECT max(TRY_CAST(as_of_date AS DATE)) AS run_date
            FROM read_csv('{files["inventory"]}', all_varchar = true, header = true)),
    typed AS (
        SELECT raw.*, TRY_CAST(order_date AS DATE) AS od, TRY_CAST(requested_week AS DATE) AS rw,
               TRY_CAST(quantity AS DOUBLE) AS q
        FROM raw),
    products AS (SELECT DISTINCT product_id FROM read_csv('{files["products"]}', all_varchar = true)),
    sites AS (SELECT DISTINCT site_id FROM read_csv('{files["sites"]}', all_varchar = true))
    SELECT
        count(*) AS rows,
        count(*) FILTER (od IS NULL AND order_date IS NOT NULL) AS type_order_date,
        count(*) FILTER (rw IS NULL AND requested_week IS NOT NULL) AS type_requested_week,
        count(*) FILTER (q IS NULL AND quantity IS NOT NULL) AS type_quantity,
        count(*) FILTER (order_id IS NULL OR od IS NULL OR rw IS NULL OR t.product_id IS NULL
                         OR t.site_id IS NULL OR q IS NULL) AS not_null,
        count(*) FILTER (q < 0) AS non_negative,
        count(*) FILTER (q > {config.max_quantity}) AS max_quantity,
        count(*) FILTER (status NOT IN ({status})) AS allowed_values,
        count(*) FILTER (od < DATE '{config.min_date}' OR od > (SELECT run_date FROM run)) AS date_range,
        count(*) FILTER (isodow(rw) <> 1) AS week_is_monday,
        count(*) FILTER (t.product_id IS NOT NULL AND p.product_id IS NULL) AS known_product,
        count(*) FILTER (t.site_id IS NOT NULL AND s.site_id IS NULL) AS known_site,
        count(order_id) - count(DISTINCT order_id) AS unique_extra
    FROM typed t
    LEFT JOIN products p ON t.product_id = p.product_id
    LEFT JOIN sites s ON t.site_id = s.site_id
    """
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone()))


def _stages(input_dir: Path, warehouse: Path, commit: bool = False) -> dict[str, object]:
    """Ingest, run date and contracts as the pipeline runs them (and the commit of what they staged); CPU
    and wall of each."""
    from flows import stages  # flows sets telemetry off before Prefect is imported
    from flows.settings import RunParameters
    from warehouse.db import open_warehouse

    params = RunParameters(input_dir=input_dir, warehouse=warehouse)
    run_id = stages.start(params, "weekly_planning")
    out: dict[str, object] = {}

    def timed(name, fn, *args):
        cpu, wall = time.process_time(), time.perf_counter()
        result = fn(*args)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out[name] = (time.process_time() - cpu, time.perf_counter() - wall, peak)
        return result

    load_ids = timed("ingest", stages.ingest, params, run_id)
    run_date = timed("run-date", stages.resolve_run_date, params, run_id, load_ids)
    counts = timed("contracts", stages.validate, params, run_id, load_ids, run_date)
    if commit:
        def commit_run():
            with open_warehouse(warehouse) as wh:
                wh.commit_run(run_id)
        timed("commit", commit_run)
    out["clean_rows"] = sum(counts["clean_rows"].values())
    out["quarantined_rows"] = counts["quarantined_rows"]
    return out


def _child(what: str, input_dir: Path, warehouse: Path, commit: bool = False) -> None:
    result = _checked_query(input_dir) if what == "query" else _stages(input_dir, warehouse, commit)
    print("RESULT " + json.dumps(result, default=str))


def _measure(what: str, input_dir: Path, warehouse: Path, code: Path = ROOT, commit: bool = False) -> dict[str, object]:
    """Run one measured part in a child process; its result, CPU s, wall s and peak RSS (MiB)."""
    env = {**os.environ, "PYTHONPATH": str(code), "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    args = [sys.executable, str(Path(__file__).resolve()), "--child", what, "--input", str(input_dir),
            "--warehouse", str(warehouse)] + (["--commit"] if commit else [])
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, cwd=code, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this one child's CPU and peak memory
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{stderr[-3000:]}")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    return {"result": json.loads(line.removeprefix("RESULT ")), "cpu": usage.ru_utime + usage.ru_stime,
            "wall": wall, "peak_mib": usage.ru_maxrss / 1024}


def _baseline_code(ref: str, workdir: Path) -> Path:
    sys.path.insert(0, str(ROOT))
    from bench.refs import export_ref

    base = workdir / f"code-{ref}"
    return base if base.exists() else export_ref(ref, base)


def _report_stages(label: str, m: dict[str, object], floor_cpu: float) -> None:
    r = m["result"]
    parts = ", ".join(f"{k} {r[k][0]:.1f} CPU-s / {r[k][1]:.1f} s (peak so far {r[k][2]:,.0f} MiB)"
                      for k in ("ingest", "run-date", "contracts", "commit") if k in r)
    committed = r["commit"][0] if "commit" in r else 0.0
    print(f"{label}: {m['cpu']:.1f} CPU-s, wall {m['wall']:.1f} s, peak RSS {m['peak_mib']:,.0f} MiB "
          f"(in the child: {parts}; the rest is starting Python and imports); clean rows "
          f"{r['clean_rows']:,}, quarantined {r['quarantined_rows']:,}")
    if committed:
        print(f"  the commit of the staged outputs: {committed:.1f} CPU-s, left out of the ratio below")
    print(f"  ratio ingest + contracts / checked DuckDB query, CPU: {(m['cpu'] - committed) / floor_cpu:.1f} (goal ≤ 3); "
          f"stages alone: {sum(r[k][0] for k in ('ingest', 'run-date', 'contracts')) / floor_cpu:.1f}; "
          f"peak {m['peak_mib'] / 1024:.2f} GiB (goal ≤ 2)")


def full_run(input_dir: Path, warehouse: Path, time_limit: float) -> None:
    """The weekly planning flow end to end; the contracts' share of the run from its recorded stage times."""
    sys.path.insert(0, str(ROOT))
    from flows.settings import RunParameters
    from flows.weekly import weekly_planning
    from optimization import PlanConfig
    from warehouse.db import open_warehouse

    params = RunParameters(input_dir=input_dir, warehouse=warehouse,
                           plan=PlanConfig(time_limit_seconds=time_limit, fallback=False))
    start = time.perf_counter()
    run_id = weekly_planning(params)
    wall = time.perf_counter() - start
    with open_warehouse(warehouse, read_only=True) as wh:
        run = wh.run(run_id)
    seconds = json.loads(run["stage_seconds"])
    print(f"weekly_planning {run_id}: {run['status']}, flow wall {wall:.0f} s")
    for stage, s in seconds.items():
        print(f"  {stage:24s} {s:8.1f} s   {s / wall:6.1%} of the run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=None, help="input folder (read only); default: generate")
    parser.add_argument("--products", type=int, default=2300, help="demo products when generating")
    parser.add_argument("--dcs", type=int, default=5, help="demo DCs when generating")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--baseline-ref", default=None, help="git ref whose stages are measured too")
    parser.add_argument("--commit", action="store_true", help="also commit what the contracts staged (timed apart)")
    parser.add_argument("--full-run", action="store_true", help="also run the weekly flow end to end")
    parser.add_argument("--time-limit", type=float, default=7200.0, help="solver time limit of the full run")
    parser.add_argument("--child", choices=["query", "stages"], help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.input, args.warehouse, args.commit)
        return
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="plantwin-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    input_dir = args.input
    if input_dir is None:
        input_dir = workdir / "input"
        if not (input_dir / "orders.csv").exists():
            sys.path.insert(0, str(ROOT))
            from demo.network import generate_demo

            generate_demo(input_dir, products=args.products, dcs=args.dcs)
    orders = input_dir / "orders.csv"
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; "
          f"{orders}: {orders.stat().st_size / 2**20:,.0f} MiB")
    floor = _measure("query", input_dir, workdir / "unused.duckdb")
    counts = floor["result"]
    print(f"checked DuckDB query: {floor['cpu']:.1f} CPU-s, wall {floor['wall']:.1f} s, peak RSS "
          f"{floor['peak_mib']:,.0f} MiB; {counts['rows']:,} order lines, broken: "
          + ", ".join(f"{k} {v:,}" for k, v in counts.items() if k != "rows"))
    runs = [("plantwin", ROOT)]
    if args.baseline_ref:
        runs.insert(0, (f"baseline {args.baseline_ref}", _baseline_code(args.baseline_ref, workdir)))
    for label, code in runs:
        warehouse = workdir / f"contracts-{label.split()[-1]}.duckdb"
        for stale in (warehouse, warehouse.with_suffix(".duckdb.wal")):
            stale.unlink(missing_ok=True)
        _report_stages(label, _measure("stages", input_dir, warehouse, code, args.commit), floor["cpu"])
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if args.full_run:
        full_run(input_dir, workdir / "warehouse.duckdb", args.time_limit)
    print(f"workdir {workdir}")


if __name__ == "__main__":
    main()
