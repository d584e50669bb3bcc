"""Prefect's overhead on the demo's weekly run: the flow through Prefect against the same stages as plain calls.

    .venv/bin/python bench/prefect_overhead.py [--repeats 2] [--products 40]

Each repeat plans the demo network into a fresh warehouse twice, once by calling the stages in the flow's
order (the same work: contracts, forecast, process learning, plan, publish, report; without Prefect) and
once through the `weekly_planning` flow (tasks, states, retries' bookkeeping and the two artifacts, which
exist only in Prefect and so count as its overhead, against Prefect's temporary local server). The server's start-up is paid once,
by a warm-up flow before timing, and reported on its own: a deployment's worker talks to a server that
is already up. Prints the wall time of each and the ratio, from the same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")

from flows import stages  # noqa: E402  (flows sets telemetry off before Prefect is imported)
from report.page import write_report  # noqa: E402
from flows.settings import RunParameters  # noqa: E402
from flows.stages_forecast import forecast  # noqa: E402
from flows.stages_plan import plan  # noqa: E402
from flows.stages_twin import learn_process  # noqa: E402
from demo.network import DEMO_RUN_DATE, generate_demo  # noqa: E402
from warehouse.lock import warehouse_lock  # noqa: E402
from warehouse.publish import publish_snapshot  # noqa: E402


def plain(params: RunParameters) -> str:
    """The weekly plan's stages called directly, in the flow's order."""
    stages.check_parameters(params, "weekly_planning")
    with warehouse_lock(params.warehouse):
        run_id = stages.start(params, "weekly_planning")
        load_ids = stages.ingest(params, run_id)
        run_date = stages.resolve_run_date(params, run_id, load_ids)
        stages.validate(params, run_id, load_ids, run_date)
        forecast(params, run_id, run_date)
        learn_process(params, run_id)
        plan(params, run_id, run_date)
        stages.commit(params, run_id, {})
        publish_snapshot(params.warehouse)
    write_report(params.warehouse, run_id)
    return run_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--products", type=int, default=40)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plantwin-bench-"))
    generate_demo(work / "input", products=args.products)

    from prefect import flow

    from flows.weekly import weekly_planning

    @flow
    def warm_up() -> int:
        return 1

    started = time.perf_counter()
    warm_up()
    startup = time.perf_counter() - started

    timings: dict[str, list[float]] = {"plain": [], "prefect": []}
    for i in range(args.repeats):
        for name, runner in (("plain", plain), ("prefect", weekly_planning)):
            params = RunParameters(input_dir=work / "input", warehouse=work / f"{name}-{i}" / "warehouse.duckdb",
                                   run_date=DEMO_RUN_DATE)
            started = time.perf_counter()
            runner(params)
            timings[name].append(time.perf_counter() - started)
    plain_s, prefect_s = (statistics.median(timings[k]) for k in ("plain", "prefect"))
    print(f"demo weekly run, {args.products} products, median of {args.repeats} (same process, same inputs)")
    print(f"  plain stage calls   {plain_s:8.2f} s   {timings['plain']}")
    print(f"  Prefect flow        {prefect_s:8.2f} s   {timings['prefect']}")
    print(f"  ratio               {prefect_s / plain_s:8.3f}   (goal <= 1.10)")
    print(f"  temporary server start-up, once per process: {startup:.1f} s")


if __name__ == "__main__":
    main()
