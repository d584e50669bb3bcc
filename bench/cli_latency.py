"""How long the planner's commands take on the demo, against issue 16's goals and against baselines of the
same run: the interpreter's start (``python -c pass``) and the import of the stack (polars, DuckDB, Great
Expectations, statsforecast, PuLP) in one fresh process.

Each command runs as a user runs it (the ``plantwin`` console script, a fresh process) and is timed by wall
clock and by the CPU seconds of the process and its children. For ``run``, the overhead is the wall time
beyond the sum of its stages (``runs.stage_seconds``); each stage imports the libraries it needs (Great
Expectations in the contracts, statsforecast in the forecast), so those imports count in the stages, and the
run's whole wall is printed beside. Goals (issue 16, on a quiet machine, set-up done): ``validate`` <= 5 s, a
refused command <= 2 s, ``run`` overhead <= 5 s, ``twin --paths 1000`` <= 10 s. The same commands through
Prefect (``--prefect``, its temporary local server) are measured too unless ``--skip-prefect``.

The machine's load is printed before and after: on a shared machine the CPU seconds are the steadier figure
(wall = CPU only when a core is free).

    .venv/bin/python bench/cli_latency.py [--workdir DIR] [--repeat 1] [--skip-prefect] [--no-bytecode]
        [--baseline-checkout DIR]

``--baseline-checkout DIR`` (another checkout of plantwin, e.g. ``git archive <commit> | tar -x -C DIR``) also
runs ``run`` with that code (``PYTHONPATH=DIR``, the same environment and input), alternating with this
checkout's, and prints the two overheads and their ratio, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLANTWIN = str(Path(sys.executable).with_name("plantwin"))
#: the stack a planning run needs, imported in one fresh process: the baseline of the commands' costs
STACK = "import polars, duckdb, pulp, great_expectations, statsforecast"


@dataclass
class Measured:
    label: str
    wall: float  # median wall s of a fresh process
    cpu: float  # median CPU s of the process and its children
    code: int  # exit code of the last repeat
    overhead: float | None = None  # run: wall beyond the sum of its stages
    stages: float | None = None  # run: the sum of its stages


#: set by --no-bytecode: an empty folder where Python looks for compiled bytecode (so it finds none)
_NO_BYTECODE: str | None = None


def _env() -> dict[str, str]:
    """The user's environment without a configured Prefect server (the direct path is the default)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(DO_NOT_TRACK="1", GX_ANALYTICS_ENABLED="false", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    if _NO_BYTECODE is not None:  # as before `make setup` compiled it, where Python may not write it
        env.update(PYTHONPYCACHEPREFIX=_NO_BYTECODE, PYTHONDONTWRITEBYTECODE="1")
    return env


def _timed(argv: list[str], code: Path | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s of the child and its children, exit code) of one command (``code``: run another
    checkout's code, put first on ``PYTHONPATH``)."""
    env = _env()
    if code is not None:
        env["PYTHONPATH"] = str(code)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
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


def _bytecode_compiled() -> bool:
    """Whether the environment holds the packages' compiled bytecode (``make setup`` writes it)."""
    return (Path(sysconfig.get_paths()["purelib"]) / "great_expectations" / "__pycache__").is_dir()


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min, {os.cpu_count()} cores)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command (median reported)")
    parser.add_argument("--skip-prefect", action="store_true",
                        help="do not measure the same commands through Prefect (--prefect)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="measure as without compiled bytecode (every process compiles the sources)")
    parser.add_argument("--baseline-checkout", type=Path, default=None,
                        help="another checkout whose `run` overhead is measured alternately with this one's")
    parser.add_argument("--validate-only", action="store_true",
                        help="measure the baselines and validate only (no run, twin, report)")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="plantwin-cli-bench-"))
    if args.no_bytecode:
        global _NO_BYTECODE
        _NO_BYTECODE = str(work / "no-bytecode")
        Path(_NO_BYTECODE).mkdir(parents=True, exist_ok=True)
    inputs = work / "input"
    subprocess.run([PLANTWIN, "generate-demo", "--out", str(inputs)], check=True, capture_output=True, env=_env())
    print(f"load average before: {_load()}; demo network in {inputs}")
    if not _bytecode_compiled() and not args.no_bytecode:
        print("warning: the environment has no compiled bytecode (run `make setup`): every command compiles "
              "the stack's sources again where PYTHONDONTWRITEBYTECODE is set")

    rows: list[Measured] = []

    def measure(label: str, argv: list[str], warehouse: Path | None = None) -> Measured:
        walls, cpus, overheads, sums = [], [], [], []
        code = 0
        for i in range(args.repeat):
            wall, cpu, code = _timed([a.replace("{i}", str(i)) for a in argv])
            walls.append(wall)
            cpus.append(cpu)
            if warehouse is not None and code == 0:
                stage_sum = _stage_sum(Path(str(warehouse).replace("{i}", str(i))))
                sums.append(stage_sum)
                overheads.append(wall - stage_sum)
        row = Measured(label, statistics.median(walls), statistics.median(cpus), code,
                       statistics.median(overheads) if overheads else None,
                       statistics.median(sums) if sums else None)
        rows.append(row)
        return row

    python = [sys.executable, "-c"]
    interpreter = measure("baseline: python -c pass", [*python, "pass"])
    stack = measure("baseline: import the stack", [*python, STACK])
    validate = measure("validate", [PLANTWIN, "validate", "--input", str(inputs)])
    if args.validate_only:
        print(f"\n{'command (fresh process each)':<32}{'wall s':>8}{'CPU s':>8}{'wall / stack import':>21}  exit")
        for r in rows:
            print(f"{r.label:<32}{r.wall:>8.1f}{r.cpu:>8.1f}{r.wall / stack.wall:>21.2f}  {r.code}")
        print(f"validate on the demo: {validate.wall:.1f} s wall, {validate.cpu:.1f} CPU s (goal 5 s on a quiet "
              f"machine); CPU / the stack's import {validate.cpu / stack.cpu:.2f}; load average after: {_load()}")
        return
    refused = measure("refused: missing --input", [PLANTWIN, "run", "--input", str(work / "nope"),
                                                   "--warehouse", str(work / "refused" / "w.duckdb")])
    wh_direct = work / "direct-{i}" / "warehouse.duckdb"
    wh_prefect = work / "prefect-{i}" / "warehouse.duckdb"
    common = ["--input", str(inputs), "--run-date", "2026-05-04"]
    run = measure("run", [PLANTWIN, "run", *common, "--warehouse", str(wh_direct)], wh_direct)
    twin = measure("twin --paths 1000",
                   [PLANTWIN, "twin", "--warehouse", str(wh_direct).replace("{i}", "0"), "--paths", "1000"])
    measure("report", [PLANTWIN, "report", "--warehouse", str(wh_direct).replace("{i}", "0")])
    run_p = twin_p = None
    if not args.skip_prefect:
        run_p = measure("run --prefect", [PLANTWIN, "run", *common, "--warehouse", str(wh_prefect), "--prefect"],
                        wh_prefect)
        twin_p = measure("twin --paths 1000 --prefect", [PLANTWIN, "twin", "--warehouse",
                         str(wh_prefect).replace("{i}", "0"), "--paths", "1000", "--prefect"])

    print(f"\n{'command (fresh process each)':<32}{'wall s':>8}{'CPU s':>8}{'stages s':>10}{'overhead s':>12}"
          f"{'wall / stack import':>21}  exit")
    for r in rows:
        print(f"{r.label:<32}{r.wall:>8.1f}{r.cpu:>8.1f}{'' if r.stages is None else f'{r.stages:.1f}':>10}"
              f"{'' if r.overhead is None else f'{r.overhead:.1f}':>12}{r.wall / stack.wall:>21.2f}  {r.code}")

    goals = [("validate on the demo", validate, validate.wall, validate.cpu, 5.0),
             ("a refused command", refused, refused.wall, refused.cpu, 2.0),
             ("run: overhead beyond its stages", run, run.overhead, None, 5.0),
             ("twin --paths 1000", twin, twin.wall, twin.cpu, 10.0)]
    print(f"\n{'goal (issue 16)':<34}{'measured s':>11}{'CPU s':>8}{'goal s':>8}  met at this load")
    for label, row, figure, cpu, goal in goals:
        if row.code not in (0, 1, 2) or figure is None:
            print(f"{label:<34}{'failed':>11}{'':>8}{goal:>8.0f}  exit {row.code}")
            continue
        print(f"{label:<34}{figure:>11.1f}{'' if cpu is None else f'{cpu:.1f}':>8}{goal:>8.0f}  "
              f"{'yes' if figure <= goal else 'no'}")
    print(f"baselines: python -c pass {interpreter.wall:.2f} s wall ({interpreter.cpu:.2f} CPU s); "
          f"import of the stack {stack.wall:.1f} s wall ({stack.cpu:.1f} CPU s)")
    if run.stages is not None:
        print(f"run: {run.wall:.1f} s wall, {run.cpu:.1f} CPU s (its forecast workers included); stages "
              f"{run.stages:.1f} s, which include the stack's imports")
    if run_p is not None and twin_p is not None and run_p.overhead and run.overhead is not None:
        print(f"direct / --prefect: run overhead {run.overhead / run_p.overhead:.2f}, run wall "
              f"{run.wall / run_p.wall:.2f}, twin wall {twin.wall / twin_p.wall:.2f}")
    if args.baseline_checkout is not None:
        _compare_overhead(args.baseline_checkout.resolve(), work, common, args.repeat)
    print(f"load average after: {_load()}")


def _compare_overhead(baseline: Path, work: Path, common: list[str], repeat: int) -> None:
    """``run``'s overhead with ``baseline``'s code and this checkout's, alternately, ``repeat`` times each."""
    print(f"\nrun overhead, {baseline} against this checkout, alternately (load {_load()}):")
    got: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "this": []}
    for i in range(max(repeat, 1)):
        for label, code in (("baseline", baseline), ("this", None)):
            warehouse = work / f"compare-{label}-{i}" / "warehouse.duckdb"
            wall, cpu, rc = _timed([PLANTWIN, "run", *common, "--warehouse", str(warehouse)], code)
            if rc != 0:
                print(f"  {label}: exit {rc}")
                return
            stages = _stage_sum(warehouse)
            got[label].append((wall - stages, wall, cpu))
            print(f"  {label:<9} overhead {wall - stages:5.1f} s of {wall:6.1f} s wall, {cpu:5.1f} CPU s")
    med = {k: [statistics.median(x[j] for x in v) for j in range(3)] for k, v in got.items()}
    print(f"  median overhead: baseline {med['baseline'][0]:.1f} s, this {med['this'][0]:.1f} s, ratio "
          f"{med['this'][0] / med['baseline'][0]:.2f}; whole run CPU s {med['baseline'][2]:.1f} → "
          f"{med['this'][2]:.1f} (ratio {med['this'][2] / med['baseline'][2]:.2f})")


if __name__ == "__main__":
    main()
