"""The forecast on a local 2-worker Dask cluster against the local process pool of 2, on the same series.

Usage: ``python bench/distributed.py [--series 400] [--weeks 156] [--horizon 13] [--workers 2]``

Seeded synthetic weekly series (``forecasting.synthetic``: seasonal, smooth, intermittent, lumpy, trend and
new ones). Both engines get the same chunks (``n_jobs`` = the worker count) and must return identical
frames (checked). Printed, each with wall and CPU seconds (the parent's plus its workers'):

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

from flows.cluster import forecast_executor  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=156)
    parser.add_argument("--horizon", type=int, default=13)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    series = synthetic_series(n=args.series, weeks=args.weeks, seed=16)
    n = series.get_column("unique_id").n_unique()
    print(f"{n} series × {args.weeks} weeks, horizon {args.horizon}, {args.workers} workers; "
          f"cores {os.cpu_count()}; load before {_load()}")
    config = ForecastConfig(n_jobs=args.workers)
    rows = []

    wall, cpu = time.perf_counter(), _own_cpu()
    pool = forecast_demand(series, args.horizon, config)
    rows.append(("pool", time.perf_counter() - wall, _own_cpu() - cpu))

    wall, cpu = time.perf_counter(), _own_cpu()
    with LocalCluster(n_workers=args.workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None, scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                      ) as cluster:
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

    print(f"{'engine':<14} {'wall s':>8} {'CPU s':>8}")
    for label, w, c in rows:
        print(f"{label:<14} {w:8.1f} {c:8.1f}")
    times = {label: w for label, w, _ in rows}
    cpus = {label: c for label, _, c in rows}
    pool_wall = (times["pool"] + times["pool again"]) / 2
    pool_cpu = (cpus["pool"] + cpus["pool again"]) / 2
    print("forecasts identical (forecast, series, backtest): yes")
    print(f"ratio cluster cold / pool (mean of both pool runs), wall: {times['cluster cold'] / pool_wall:.2f}"
          f"  (goal ≤ 1.2); CPU {cpus['cluster cold'] / pool_cpu:.2f}")
    print(f"ratio cluster warm / pool, wall: {times['cluster warm'] / pool_wall:.2f}; "
          f"CPU {cpus['cluster warm'] / pool_cpu:.2f}")
    print(f"ratio (cluster start + cold) / pool, wall: "
          f"{(times['cluster start'] + times['cluster cold']) / pool_wall:.2f}; "
          f"CPU {(cpus['cluster start'] + cpus['cluster cold']) / pool_cpu:.2f}")
    print(f"load after {_load()}")


if __name__ == "__main__":
    main()
