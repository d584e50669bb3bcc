"""What reading an input folder only once it is complete costs: the settle check on the demo network.

Usage: ``python bench/settle.py [--settle 1.0] [--repeat 5]``

Writes the demo network (the defaults of ``plantwin demo``) to a temporary folder and times, in one process:

* baseline: ``read_folder`` (read every entity file, no completeness check);
* ``read_complete_folder`` on files written a moment ago (the settle interval is waited out once, then the
  files are re-checked after the read) — the worst case for ``plantwin demo``, which writes its inputs and
  reads them seconds later;
* ``read_complete_folder`` on files older than the interval (a delivery that arrived earlier: stat calls only);
* ``read_complete_folder`` with a ``_READY`` marker.

Prints wall and CPU seconds of each and the added time against the baseline. The goal: under 2 s added.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warehouse.arrival import READY, read_complete_folder  # noqa: E402
from demo.network import generate_demo  # noqa: E402
from warehouse.sources import read_folder  # noqa: E402


def _timed(fn, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "input"
        generate_demo(folder)
        files = list(folder.iterdir())

        def fresh() -> None:
            now = time.time()
            for f in files:
                os.utime(f, (now, now))
            read_complete_folder(folder, settle_seconds=args.settle)

        def aged() -> None:
            read_complete_folder(folder, settle_seconds=args.settle)

        base = _timed(lambda: read_folder(folder), args.repeat)
        rows = [("read_folder (baseline)", base), ("complete, files just written", _timed(fresh, args.repeat))]
        past = time.time() - 3600
        for f in files:
            os.utime(f, (past, past))
        rows.append(("complete, files older than the interval", _timed(aged, args.repeat)))
        (folder / READY).write_text("")
        rows.append((f"complete, {READY} marker", _timed(aged, args.repeat)))
        size = sum(f.stat().st_size for f in files)
        print(f"demo input: {len(files)} files, {size / 1e6:.1f} MB; settle interval {args.settle:g} s; "
              f"best of {args.repeat}; load {os.getloadavg()[0]:.2f}")
        for name, (wall, cpu) in rows:
            print(f"{name:<42} wall {wall:6.3f} s  cpu {cpu:6.3f} s  added {wall - base[0]:+6.3f} s "
                  f"(x{wall / base[0]:.2f})")


if __name__ == "__main__":
    main()
