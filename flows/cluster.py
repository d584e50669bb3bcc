"""The forecast's chunks on a Dask cluster: connect at the pipeline's edge, hand the engine an executor.

``forecast.cluster`` names a Dask scheduler (``tcp://host:8786``) or ``local`` (a local cluster of worker
processes started here and stopped afterwards); unset, nothing changes and the forecast runs on this
machine's process pool. The pure engine (:mod:`forecasting.engine`) only calls ``executor.map(fn, tasks)``:
it does not know whether a process pool or a cluster runs its chunks, and each chunk is the same
statsforecast call either way, so the forecasts are identical.

On connecting, every worker is asked for the versions of the packages that compute the forecast; a worker
that cannot import ``forecasting`` or runs other versions is refused before any work is sent (the
forecasts would differ, or the work would fail on the worker).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from forecasting import ForecastConfig

__all__ = ["ClusterError", "DaskExecutor", "check_workers", "forecast_executor", "worker_versions"]

#: packages whose versions must match between the pipeline and the workers (they compute the forecast)
_PACKAGES = ("statsforecast", "numpy", "polars", "numba", "scipy")
_SETTING = "forecast.cluster"


class ClusterError(RuntimeError):
    """The configured cluster cannot run the forecast (no scheduler, no worker, other code on the workers)."""


class DaskExecutor:
    """The part of :class:`concurrent.futures.Executor` the forecast engine uses, on a ``distributed.Client``.

    ``map`` submits the items in the given order with decreasing priority (the engine orders its chunks by
    expected cost, largest first, so the scheduler starts the expensive ones first, as the process pool
    does), as impure tasks (no hashing of the frames, never deduplicated), and returns the results in
    order.
    """

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def workers(self) -> int:
        """Worker threads on the cluster now (each runs one chunk at a time)."""
        return max(1, sum(self.client.nthreads().values()))

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any], chunksize: int = 1) -> Iterator[Any]:
        """``fn`` over ``items`` on the cluster; the results in the items' order (``chunksize`` ignored)."""
        items = list(items)
        futures = [
            self.client.submit(fn, item, pure=False, priority=len(items) - i) for i, item in enumerate(items)
        ]
        try:
            return iter(self.client.gather(futures))
        finally:
            self.client.cancel(futures)


def worker_versions() -> dict[str, str]:
    """The versions of the forecast's packages where this runs (on a worker, or here), and ``forecasting``:
    a digest of plantwin's forecasting code as that process imports it (``missing`` when it cannot), so a
    worker still running older code is told apart."""
    import hashlib
    from importlib import import_module
    from importlib.metadata import PackageNotFoundError, version
    from pathlib import Path

    out = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    try:
        package = Path(import_module("forecasting").__file__).parent
    except ImportError:
        out["forecasting"] = "missing"
    else:
        digest = hashlib.sha256()
        for path in sorted(package.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        out["forecasting"] = digest.hexdigest()[:12]
    return out


def check_workers(client: Any, address: str, here: dict[str, str] | None = None) -> None:
    """Raise :class:`ClusterError` naming each worker whose :func:`worker_versions` differ from ``here``
    (default: this process's)."""
    here = here or worker_versions()
    there = client.run(worker_versions)
    bad = {
        worker: {k: v for k, v in versions.items() if v != here.get(k)}
        for worker, versions in there.items()
        if versions != here
    }
    if bad:
        lines = "; ".join(f"{w}: {d}" for w, d in sorted(bad.items()))
        raise ClusterError(
            f"{_SETTING} = {address!r}: workers do not run the pipeline's code (here {here}); {lines}. "
            "Install the same plantwin wheel and lock file on every worker (README: 'Running the weekly "
            "plan against a cluster')."
        )


def _usable_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


@contextmanager
def forecast_executor(config: ForecastConfig) -> Iterator[tuple[DaskExecutor | None, ForecastConfig]]:
    """The executor and config to pass to :func:`forecasting.forecast_demand` for ``config.cluster``.

    Unset: ``(None, config)``, the local process pool as before. Otherwise a connected executor and the
    config with ``n_jobs`` set to the cluster's worker threads (it sizes the chunks); the connection (and a
    ``local`` cluster) closes on exit.

    Raises:
        ClusterError: ``distributed`` is not installed, no scheduler answers within
            ``config.cluster_timeout_s``, it has no worker, or the workers run other code; the message names
            the setting.
    """
    if config.cluster is None:
        yield None, config
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ClusterError(
            f"{_SETTING} = {config.cluster!r} needs Dask's distributed package: pip install 'plantwin[cluster]'"
        ) from e
    timeout = config.cluster_timeout_s
    cluster = None
    if config.cluster == "local":
        cluster = LocalCluster(
            n_workers=config.n_jobs or _usable_cores(), threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None,
            # no dashboard; the scheduler's health/metrics HTTP server on a free local port, not *:8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        address = cluster.scheduler_address
    else:
        address = config.cluster
    try:
        try:
            client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise ClusterError(
                f"{_SETTING} = {address!r}: no Dask scheduler answered within {timeout:g} s ({e}). Start one "
                "(`dask scheduler` and `dask worker <address>`), fix the address, or unset the setting to "
                "forecast on this machine."
            ) from e
        try:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError) as e:
                raise ClusterError(
                    f"{_SETTING} = {address!r}: the scheduler has no worker after {timeout:g} s; start "
                    f"`dask worker {address}` on the worker machines."
                ) from e
            check_workers(client, address)
            executor = DaskExecutor(client)
            yield executor, config.model_copy(update={"n_jobs": executor.workers})
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()
