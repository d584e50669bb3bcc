"""Peak memory of refusing junk: ``plantwin validate`` on a million order lines that are all junk.

Usage: ``python bench/junk_memory.py [--lines 1000000] [--baseline-ref REF] [--workdir DIR]``

Writes the seeded demo network (5 products, 1 DC) as CSV files, replaces ``orders.csv`` with ``--lines``
junk lines (every column garbage text of the right count, as a broken export or a wrong file renamed
would give), and runs ``plantwin validate --input`` on the folder in a child process, printing its exit
code, wall time, CPU seconds and peak resident memory (``/usr/bin/time``), and the machine load.
With ``--baseline-ref``, the same command runs on that git commit's code (``git archive`` into a
temporary folder, the same virtualenv) first, and the ratio of the peaks is printed.

With ``--clean-products N`` the orders are not replaced: the demo network of N products and 5 DCs is
validated as it is, to see what the added checks cost on clean input (same measures, same baseline).

The issue's goal: the junk is refused (exit 2) under 2 GiB peak.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.refs import export_ref  # noqa: E402
from demo.network import DEMO_RUN_DATE, demo_network, write_demo  # noqa: E402


def write_junk_input(folder: Path, lines: int, seed: int = 13) -> None:
    """The demo's input files with ``orders.csv`` replaced by ``lines`` junk lines."""
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    i = pl.int_range(0, lines, eager=True)
    junk = (i * 7919 + seed).hash(seed).cast(pl.String)
    pl.DataFrame(
        {
            "order_id": "J" + i.cast(pl.String),
            "order_date": "d" + junk.str.slice(0, 6),
            "requested_week": "w" + junk.str.slice(2, 6),
            "product_id": "p" + junk.str.slice(4, 8),
            "site_id": "s" + junk.str.slice(1, 5),
            "quantity": "q" + junk.str.slice(3, 4),
            "status": "x" + junk.str.slice(5, 3),
        }
    ).write_csv(folder / "orders.csv")


def measure(code: Path, folder: Path) -> dict[str, float]:
    """Run ``plantwin validate`` from ``code`` in a child process (under ``/usr/bin/time``, which gives
    that one process's peak resident memory); its exit code, wall time, CPU seconds and peak."""
    env = {**os.environ, "PYTHONPATH": str(code), "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false"}
    stats = folder.parent / "time.txt"
    args = ["/usr/bin/time", "-o", str(stats), "-f", "%M %U %S", sys.executable, "-c",
            "from cli.main import app; app()", "validate", "--input", str(folder),
            "--run-date", DEMO_RUN_DATE.isoformat()]
    start = time.perf_counter()
    proc = subprocess.run(
        args, cwd=code, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    wall = time.perf_counter() - start
    peak_kib, user, system = stats.read_text().split()[-3:]
    return {
        "exit": proc.returncode,
        "wall_s": wall,
        "cpu_s": float(user) + float(system),
        "peak_mib": int(peak_kib) / 1024,
        "tail": "\n".join(proc.stdout.strip().splitlines()[-3:])[:600],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--baseline-ref", default=None, help="git ref whose code is the baseline")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--clean-products", type=int, default=None, help="validate a clean demo instead")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="plantwin-junk-"))
    folder = work / "input"
    if args.clean_products:
        write_demo(demo_network(products=args.clean_products, dcs=5), folder)
        what = "clean"
    else:
        write_junk_input(folder, args.lines)
        what = "junk"
    size = (folder / "orders.csv").stat().st_size
    lines = pl.scan_csv(folder / "orders.csv").select(pl.len()).collect().item()
    print(f"{lines:,} {what} order lines in {folder / 'orders.csv'} ({size / 2**20:.0f} MiB)")
    results = {}
    if args.baseline_ref:
        results["baseline"] = measure(export_ref(args.baseline_ref, work / "baseline"), folder)
    results["current"] = measure(ROOT, folder)
    for name, r in results.items():
        print(f"{name}: exit {r['exit']}, wall {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, "
              f"peak RSS {r['peak_mib']:,.0f} MiB; load {os.getloadavg()[0]:.2f}")
        print("  " + r["tail"].replace("\n", "\n  "))
    if "baseline" in results:
        ratio = results["current"]["peak_mib"] / results["baseline"]["peak_mib"]
        print(f"peak ratio current/baseline: {ratio:.2f}")


if __name__ == "__main__":
    main()
