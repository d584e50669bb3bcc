"""The forecast and the twin on a local 2-worker Dask cluster against the local engines, on the same inputs.

Usage: ``python bench/distributed.py [--part forecast|twin|both] [--series 400] [--weeks 156] [--horizon 13]
[--workers 2] [--products 40] [--paths 1000]``

**Forecast** (``--part forecast``): seeded synthetic weekly series (``forecasting.synthetic``: seasonal,
smooth, intermittent, lumpy, trend and new ones). Both engines get the same chunks (``n_jobs`` = the worker
count) and must return identical frames (checked). Printed, each with wall and CPU seconds (the parent's
plus its workers'):

- ``pool``: ``forecast_demand`` with ``n_jobs=2``, the plan-of-record path (it starts its spawn pool, the
  workers import the stack, and stops it);
- ``cluster start``: ``LocalCluster(n_workers=2, processes=True, threads_per_worker=1)`` and a client;
- ``cluster cold``: the same forecast on the fresh cluster through ``flows.cluster`` (workers import the
  stack on their first chunk, as the pool's do);
- ``cluster warm``: again on the same cluster (a standing cluster's steady state);
- ``pool again``: the pool once more, since the load of a shared machine drifts; ratios use the mean of the
  two pool runs.

The ratios (wall and CPU) are cluster cold / pool (the goal: ≤ 1.2), warm / pool and (start + cold) / pool,
with the load average before and after.

**Twin** (``--part twin``): the seeded demo network (``--products`` × 5 DCs) planned by the LP, with
``bench/twin_replay.py``'s stand-in forecast and the demo's batch records, replayed on ``--paths`` paths
(blocks of ``twin.sim.BLOCK_PATHS``): ``here`` (the local default: the blocks one after another in this
process, run before and after the cluster, ratios against their mean), ``cluster start``, ``cluster cold``
(``twin.cluster`` set: the blocks on the fresh cluster, whose workers import the twin on their first block)
and ``cluster warm``; the twin's four tables must be identical (checked). Ratios as above (goal ≤ 1.2).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

# The script's folder comes first on sys.path and this file is named like Dask's package: put the
# repository root there instead, so that `import distributed` finds Dask's.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import psutil  # noqa: E402  (a dependency of distributed)
from distributed import Client, LocalCluster  # noqa: E402
from polars.testing import assert_frame_equal  # noqa: E402

from flows.cluster import forecast_executor, twin_executor  # noqa: E402
from forecasting import ForecastConfig, forecast_demand  # noqa: E402
from forecasting.synthetic import synthetic_series  # noqa: E402


def _own_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the pool's workers)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _worker_cpu() -> float:
    p = psutil.Process()
    t = p.cpu_times()
    return t.user + t.system


def _cluster_cpu(client: Client) -> float:
    """CPU seconds so far of the cluster's worker processes (they are the nannies' children)."""
    return sum(client.run(_worker_cpu).values())


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _cluster(workers: int) -> LocalCluster:
    return LocalCluster(n_workers=workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                        dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})


def _print_rows(rows: list[tuple[str, float, float]], base: tuple[str, str], what: str) -> None:
    """The table and the ratios of the cluster runs against the mean of the two ``base`` runs."""
    print(f"{'engine':<14} {'wall s':>8} {'CPU s':>8}")
    for label, w, c in rows:
        print(f"{label:<14} {w:8.1f} {c:8.1f}")
    times = {label: w for label, w, _ in rows}
    cpus = {label: c for label, _, c in rows}
    base_wall = (times[base[0]] + times[base[1]]) / 2
    base_cpu = (cpus[base[0]] + cpus[base[1]]) / 2
    print(f"{what} identical: yes")
    name = base[0]
    print(f"ratio cluster cold / {name} (mean of both {name} runs), wall: "
          f"{times['cluster cold'] / base_wall:.2f}  (goal ≤ 1.2); CPU {cpus['cluster cold'] / base_cpu:.2f}")
    print(f"ratio cluster warm / {name}, wall: {times['cluster warm'] / base_wall:.2f}; "
          f"CPU {cpus['cluster warm'] / base_cpu:.2f}")
    print(f"ratio (cluster start + cold) / {name}, wall: "
          f"{(times['cluster start'] + times['cluster cold']) / base_wall:.2f}; "
          f"CPU {(cpus['cluster start'] + cpus['cluster cold']) / base_cpu:.2f}")
    print(f"load after {_load()}")


def forecast_part(args: argparse.Namespace) -> None:
    series = synthetic_series(n=args.series, weeks=args.weeks, seed=16)
    n = series.get_column("unique_id").n_unique()
    print(f"forecast: {n} series × {args.weeks} weeks, horizon {args.horizon}, {args.workers} workers; "
          f"cores {os.cpu_count()}; load before {_load()}")
    config = ForecastConfig(n_jobs=args.workers)
    rows = []

    wall, cpu = time.perf_counter(), _own_cpu()
    pool = forecast_demand(series, args.horizon, config)
    rows.append(("pool", time.perf_counter() - wall, _own_cpu() - cpu))

    wall, cpu = time.perf_counter(), _own_cpu()
    with _cluster(args.workers) as cluster:
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(args.workers)
            start_cpu = _cluster_cpu(client)
        rows.append(("cluster start", time.perf_counter() - wall, _own_cpu() - cpu + start_cpu))
        on_cluster = config.model_copy(update={"cluster": cluster.scheduler_address})
        for label in ("cluster cold", "cluster warm"):
            with forecast_executor(on_cluster) as (executor, cfg):
                assert cfg.n_jobs == args.workers  # the same chunks as the pool
                before = _cluster_cpu(executor.client)
                wall, cpu = time.perf_counter(), _own_cpu()
                remote = forecast_demand(series, args.horizon, cfg, executor)
                elapsed, own = time.perf_counter() - wall, _own_cpu() - cpu
                rows.append((label, elapsed, own + _cluster_cpu(executor.client) - before))
            for name in ("forecast", "series", "backtest"):
                assert_frame_equal(getattr(remote, name), getattr(pool, name), check_exact=True)

    wall, cpu = time.perf_counter(), _own_cpu()  # the pool again: the machine's load drifts (shared cores)
    again = forecast_demand(series, args.horizon, config)
    rows.append(("pool again", time.perf_counter() - wall, _own_cpu() - cpu))
    assert_frame_equal(again.forecast, pool.forecast, check_exact=True)
    _print_rows(rows, ("pool", "pool again"), "forecasts (forecast, series, backtest)")


def _twin_inputs(products: int):
    """The demo network planned by the LP, with bench/twin_replay.py's stand-in forecast."""
    import polars as pl

    from bench.twin_replay import H, PS, demo_demand
    from optimization import PlanConfig, build_network, plan_supply, safety_stock_targets
    from twin.process import ProcessConfig, estimate_process
    from twin.replay import PlanTables, TwinInputs

    frames, history, start, forecast, classes = demo_demand(products)
    config = PlanConfig(horizon_weeks=H)
    net = build_network(frames, start, config)
    demand = forecast.select(*PS, "week", pl.col("mean").alias("quantity"))
    tables = plan_supply(net, demand, safety_stock_targets(forecast, frames["products"], net), config).tables
    plan = PlanTables(production=tables["plan_production"], shipments=tables["plan_shipments"],
                      inventory=tables["plan_inventory"], backlog=tables["plan_backlog"],
                      expiry=tables["plan_expiry"])
    process = estimate_process(frames["batches"], frames["routings"], ProcessConfig())
    return TwinInputs(network=net, plan=plan, forecast=forecast, series=classes, history=history,
                      process=process, max_backlog_weeks=config.max_backlog_weeks)


def twin_part(args: argparse.Namespace) -> None:
    from twin.config import TwinConfig
    from twin.replay import replay_plan
    from twin.sim import BLOCK_PATHS

    inputs = _twin_inputs(args.products)
    config = TwinConfig(paths=args.paths)
    blocks = -(-args.paths // BLOCK_PATHS)
    print(f"twin: demo {args.products} products × 5 DCs, {inputs.plan.production.height} production rows, "
          f"{args.paths} paths in {blocks} blocks, {args.workers} workers; cores {os.cpu_count()}; "
          f"load before {_load()}")
    rows = []

    def here(label: str):
        wall, cpu = time.perf_counter(), _own_cpu()
        out = replay_plan(inputs, config)
        rows.append((label, time.perf_counter() - wall, _own_cpu() - cpu))
        return out

    local = here("here")
    wall, cpu = time.perf_counter(), _own_cpu()
    with _cluster(args.workers) as cluster:
        with Client(cluster.scheduler_address, set_as_default=False) as client:
            client.wait_for_workers(args.workers)
            start_cpu = _cluster_cpu(client)
        rows.append(("cluster start", time.perf_counter() - wall, _own_cpu() - cpu + start_cpu))
        for label in ("cluster cold", "cluster warm"):
            # connecting (and checking the workers' code) is part of the twin stage's cost: timed
            wall, cpu = time.perf_counter(), _own_cpu()
            with twin_executor(config.model_copy(update={"cluster": cluster.scheduler_address})) as executor:
                before = _cluster_cpu(executor.client)
                remote = replay_plan(inputs, config, executor)
                worker_cpu = _cluster_cpu(executor.client) - before
            rows.append((label, time.perf_counter() - wall, _own_cpu() - cpu + worker_cpu))
            for name in ("summary", "risk", "stock_fan", "weekly"):
                assert_frame_equal(getattr(remote, name), getattr(local, name), check_exact=True)
    here("here again")
    _print_rows(rows, ("here", "here again"), "twin tables (summary, risk, stock_fan, weekly)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["forecast", "twin", "both"], default="both")
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--horizon", type=int, default=13)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--products", type=int, default=40, help="twin: demo products (× 5 DCs)")
    parser.add_argument("--paths", type=int, default=1000, help="twin: sample paths")
    args = parser.parse_args()
    if args.part in ("forecast", "both"):
        forecast_part(args)
    if args.part in ("twin", "both"):
        twin_part(args)


if __name__ == "__main__":
    main()
