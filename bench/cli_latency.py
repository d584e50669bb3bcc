"""How long the planner's commands take on the demo: direct (no Prefect) against the same command through
Prefect (``--prefect``, its temporary local server), measured in the same run.

Each command runs as a user runs it (the ``plantwin`` console script, a fresh process) and is timed by wall
clock and by the CPU seconds of the process and its children. For ``run``, the overhead is the wall time
beyond the sum of its stages (``runs.stage_seconds``). Goals (issue 16, on a quiet machine): ``validate``
<= 5 s, a refused command <= 2 s, ``run`` overhead <= 5 s, ``twin --paths 1000`` <= 10 s.

    .venv/bin/python bench/cli_latency.py [--workdir DIR] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANTWIN = str(Path(sys.executable).with_name("plantwin"))


def _timed(args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the child, exit code) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    done = subprocess.run([PLANTWIN, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def _stage_sum(warehouse: Path) -> float:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        (stages,), = con.execute("SELECT stage_seconds FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
    finally:
        con.close()
    return sum(json.loads(stages).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command (median reported)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="plantwin-cli-bench-"))
    inputs = work / "input"
    subprocess.run([PLANTWIN, "generate-demo", "--out", str(inputs)], check=True, capture_output=True)
    print(f"load average before: {os.getloadavg()[0]:.1f}; demo network in {inputs}")

    rows = []

    def measure(label: str, argv: list[str], goal: float | None, warehouse: Path | None = None) -> float:
        walls, cpus, extra = [], [], []
        for i in range(args.repeat):
            wall, cpu, code = _timed([a.replace("{i}", str(i)) for a in argv])
            walls.append(wall)
            cpus.append(cpu)
            if warehouse is not None and code == 0:
                extra.append(wall - _stage_sum(Path(str(warehouse).replace("{i}", str(i)))))
        wall, cpu = statistics.median(walls), statistics.median(cpus)
        overhead = statistics.median(extra) if extra else None
        rows.append((label, wall, cpu, overhead, goal, code))
        return overhead if overhead is not None else wall

    measure("validate (direct)", ["validate", "--input", str(inputs)], 5.0)
    measure("refused: missing --input", ["run", "--input", str(work / "nope"), "--warehouse",
                                         str(work / "refused" / "w.duckdb")], 2.0)
    wh_direct = work / "direct-{i}" / "warehouse.duckdb"
    wh_prefect = work / "prefect-{i}" / "warehouse.duckdb"
    common = ["--input", str(inputs), "--run-date", "2026-05-04"]
    direct = measure("run overhead (direct)", ["run", *common, "--warehouse", str(wh_direct)], 5.0, wh_direct)
    prefect = measure("run overhead (--prefect)", ["run", *common, "--warehouse", str(wh_prefect), "--prefect"],
                      None, wh_prefect)
    twin_direct = measure("twin --paths 1000 (direct)",
                          ["twin", "--warehouse", str(wh_direct).replace("{i}", "0"), "--paths", "1000"], 10.0)
    twin_prefect = measure("twin --paths 1000 (--prefect)", ["twin", "--warehouse",
                           str(wh_prefect).replace("{i}", "0"), "--paths", "1000", "--prefect"], None)

    print(f"{'command':<32}{'wall s':>9}{'CPU s':>9}{'overhead s':>12}{'goal s':>9}  exit")
    for label, wall, cpu, overhead, goal, code in rows:
        print(f"{label:<32}{wall:>9.1f}{cpu:>9.1f}{'' if overhead is None else f'{overhead:.1f}':>12}"
              f"{'' if goal is None else f'{goal:.0f}':>9}  {code}")
    print(f"ratio run overhead direct/--prefect: {direct / prefect:.2f}; "
          f"twin direct/--prefect: {twin_direct / twin_prefect:.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
