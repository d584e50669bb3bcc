"""What landing one CSV file costs, statement by statement: the ingest stage's profile.

Usage: ``python bench/ingest.py [--input FILE | --products 400 --dcs 3] [--repeat 3] [--workdir DIR]``

On an orders file (``--input``, read only), or else on the seeded demo network's ``orders.csv`` written to the
workdir, in one process, each landing into a fresh warehouse file in the workdir (deleted after), the variants
alternating within each repeat so that they see the same load:

* ``scan``: :func:`warehouse.csv_load.scan_csv` (SHA-256, UTF-8, separator, header, the whitespace proof);
* ``count``: :func:`warehouse.csv_load.count_rows`, the record count ingest ran before landing until this stop
  (every record parsed once more);
* ``land``: :meth:`warehouse.raw_loads.RawLoads.land` as the pipeline lands the file (one ``INSERT …
  SELECT FROM read_csv`` on one thread, commit included);
* ``land, DuckDB's threads``: the same ``INSERT`` with DuckDB's default thread count (its batch insert), as
  before this stop;
* ``store text only``: the same file inserted on one thread with neither record numbers (a constant) nor the
  empty-cell rule: what storing the text costs by itself;
* ``parse only``: the reader's cells counted, nothing stored.

Prints CPU seconds (user + system, every thread: ``time.process_time``) and wall seconds of each (every repeat
and the least), the ratio of the ingest of this code (scan + land) to that of the code before (scan + count +
land on DuckDB's threads) from the same repeats, and the load average.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from data_contracts import schema  # noqa: E402
from warehouse import csv_load  # noqa: E402
from warehouse.db import Warehouse, open_warehouse  # noqa: E402
from warehouse.sources import read_source_file  # noqa: E402

ORDERS = schema.ORDERS.name


def _timed(fn: Callable[[Warehouse | None], object], workdir: Path) -> tuple[float, float]:
    """CPU and wall seconds of ``fn`` on a fresh, migrated warehouse file (opening it not counted)."""
    path = workdir / "bench.duckdb"
    for stale in (path, path.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    with open_warehouse(path) as wh:
        wh.limit_memory()  # as the ingest stage
        cpu, wall = time.process_time(), time.perf_counter()
        fn(wh)
        return time.process_time() - cpu, time.perf_counter() - wall


def _land_threads(wh: Warehouse, path: Path) -> None:
    """The landing's INSERT with DuckDB's own thread count (the code before this stop)."""
    source = read_source_file(path, ORDERS)
    with wh.transaction():
        wh._land_csv(source, "bench")  # noqa: SLF001 — the same statement, outside one_thread


def _store_text(wh: Warehouse, path: Path) -> None:
    _, layout = csv_load.scan_csv(path)
    reader = csv_load._reader(path, layout)  # noqa: SLF001 — the landing's own reader call
    cells = {c: f"c{i}" for i, c in enumerate(layout.names) if c in schema.ORDERS.columns}
    # every raw column, the file's cells as they are: stored as the warehouse stores order lines
    rows = ", ".join(f'{cells.get(c, "0" if c == schema.SOURCE_ROW else "NULL::VARCHAR")} AS "{c}"'
                     for c in wh.con.execute(f"SELECT * FROM {schema.raw_table_name(ORDERS)} LIMIT 0").pl().columns)
    with csv_load.one_thread(wh.con), wh.transaction():
        wh.con.execute(wh._raw_insert(ORDERS, f"SELECT {rows} FROM {reader}"))  # noqa: SLF001


def _parse_only(path: Path) -> None:
    _, layout = csv_load.scan_csv(path)
    counts = ", ".join(f"count(c{i})" for i in range(len(layout.header)))
    con = duckdb.connect()
    try:
        con.execute(f"SELECT {counts} FROM {csv_load._reader(path, layout)}").fetchone()  # noqa: SLF001
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=None, help="an orders CSV file (read only); default: generate")
    parser.add_argument("--products", type=int, default=400, help="demo products when generating")
    parser.add_argument("--dcs", type=int, default=3, help="demo DCs when generating")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of every variant")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder, removed after")
    args = parser.parse_args()
    own = args.workdir is None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="plantwin-ingest-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        path = args.input
        if path is None:
            from demo.network import generate_demo

            generate_demo(workdir / "input", products=args.products, dcs=args.dcs)
            path = workdir / "input" / "orders.csv"
        _, layout = csv_load.scan_csv(path)
        rows = csv_load.count_rows(path, layout)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start; {path}: "
              f"{path.stat().st_size / 2**20:,.0f} MiB, {rows:,} records")
        variants: dict[str, Callable[[Warehouse], object]] = {
            "scan": lambda wh: csv_load.scan_csv(path),
            "count": lambda wh: csv_load.count_rows(path, layout),
            "land": lambda wh: wh.land(read_source_file(path, ORDERS)),
            "land, DuckDB's threads": lambda wh: _land_threads(wh, path),
            "store text only": lambda wh: _store_text(wh, path),
            "parse only": lambda wh: _parse_only(path),
        }
        seen: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
        for _ in range(args.repeat):
            for name, fn in variants.items():
                seen[name].append(_timed(fn, workdir))
        per = 1e6 / rows
        for name, times in seen.items():
            cpu = min(c for c, _ in times)
            print(f"{name:24s} CPU-s {' '.join(f'{c:5.2f}' for c, _ in times)} (least {cpu:.2f}, "
                  f"{cpu * per:.2f} per million records); wall s {' '.join(f'{w:5.2f}' for _, w in times)}")
        now = [s[0] + la[0] for s, la in zip(seen["scan"], seen["land"], strict=True)]
        before = [s[0] + c[0] + la[0] for s, c, la in zip(seen["scan"], seen["count"],
                                                          seen["land, DuckDB's threads"], strict=True)]
        print("ingest of the file, CPU: now (scan + land) / before (scan + count + land on DuckDB's threads): "
              + ", ".join(f"{a / b:.2f}" for a, b in zip(now, before, strict=True))
              + f" (least over least {min(now) / min(before):.2f})")
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
