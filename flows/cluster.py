"""The forecast's chunks and the twin's blocks of paths on a Dask cluster: connect at the pipeline's edge, hand
the pure engine an executor.

``forecast.cluster`` (the forecast stage) and ``twin.cluster`` (a twin replay) name a Dask scheduler
(``tcp://host:8786``) or ``local`` (a local cluster of worker processes started here and stopped
afterwards); unset, nothing changes and the work runs on this machine (the forecast on its process pool, the
twin in this process). The pure code (:mod:`forecasting.engine`, :func:`twin.sim.simulate_blocks`) only
calls ``executor.map(fn, tasks)``: it does not know who runs its chunks or blocks, and each is the same
call either way, so the forecasts and the twin's tables are identical.

On connecting, every worker is asked for the versions of the packages that compute the results; a worker
that cannot import ``forecasting`` or ``twin``, runs other versions or other code of them is refused before
any work is sent (the results would differ, or the work would fail on the worker).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from forecasting import ForecastConfig
from twin.config import TwinConfig

__all__ = ["ClusterError", "DaskExecutor", "arrays_from_the_heap", "check_workers", "dask_executor",
           "forecast_executor", "twin_executor", "worker_versions"]

#: packages whose versions must match between the pipeline and the workers (they compute the results)
_PACKAGES = ("statsforecast", "numpy", "polars", "numba", "scipy")
#: plantwin's packages whose code runs on the workers (compared by a digest of their files)
_CODE = ("forecasting", "twin")


class ClusterError(RuntimeError):
    """The configured cluster cannot run the work (no scheduler, no worker, other code on the workers)."""


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
    """The versions of the packages that compute the results where this runs (on a worker, or here), and for
    ``forecasting`` and ``twin`` a digest of plantwin's code as that process imports it (``missing`` when it
    cannot), so a worker still running older code is told apart."""
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
    for name in _CODE:
        try:
            package = Path(import_module(name).__file__).parent
        except ImportError:
            out[name] = "missing"
            continue
        digest = hashlib.sha256()
        for path in sorted(package.glob("*.py")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        out[name] = digest.hexdigest()[:12]
    return out


def check_workers(client: Any, address: str, here: dict[str, str] | None = None,
                  setting: str = "forecast.cluster") -> None:
    """Raise :class:`ClusterError` naming each worker whose :func:`worker_versions` differ from ``here``
    (default: this process's) and the ``setting`` that named the cluster."""
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
            f"{setting} = {address!r}: workers do not run the pipeline's code (here {here}); {lines}. "
            "Install the same plantwin wheel and lock file on every worker (README: 'Running the weekly "
            "plan against a cluster')."
        )


#: glibc's mallopt parameter, and the size below which arrays come from the heap on the workers (64 MiB)
_M_MMAP_THRESHOLD, _MMAP_THRESHOLD = -3, 64 << 20


def arrays_from_the_heap() -> bool:
    """On a glibc worker, take arrays below 64 MiB from the heap rather than fresh pages from the kernel.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_`` set (to hand memory back early), which turns
    off glibc's adaptive mmap threshold: every array above 128 KiB is then mapped anew and faulted in page
    by page. The twin's week loop allocates such arrays all the time and took 2.5 times its CPU in
    the kernel on a default worker (0.6 s of system time on a 0.4 s block). A fixed mmap threshold keeps the
    trimming and ends the faults. Returns whether it applied (not glibc: nothing to do).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))
    except (OSError, AttributeError):
        return False


def _usable_cores() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


@contextmanager
def forecast_executor(config: ForecastConfig) -> Iterator[tuple[DaskExecutor | None, ForecastConfig]]:
    """The executor and config to pass to :func:`forecasting.forecast_demand` for ``config.cluster``.

    Unset: ``(None, config)``, the local process pool as before. Otherwise a connected executor and the
    config with ``n_jobs`` set to the cluster's worker threads (it sizes the chunks); the connection (and a
    ``local`` cluster of ``n_jobs`` workers) closes on exit.

    Raises:
        ClusterError: as :func:`dask_executor`, naming ``forecast.cluster``.
    """
    if config.cluster is None:
        yield None, config
        return
    with dask_executor(config.cluster, config.cluster_timeout_s, "forecast.cluster", config.n_jobs) as executor:
        yield executor, config.model_copy(update={"n_jobs": executor.workers})


@contextmanager
def twin_executor(config: TwinConfig) -> Iterator[DaskExecutor | None]:
    """The executor to pass to :func:`twin.replay.replay_plan` for ``config.cluster`` (None when unset: the
    blocks of paths run in this process); the connection (and a ``local`` cluster) closes on exit.

    Raises:
        ClusterError: as :func:`dask_executor`, naming ``twin.cluster``.
    """
    if config.cluster is None:
        yield None
        return
    with dask_executor(config.cluster, config.cluster_timeout_s, "twin.cluster") as executor:
        yield executor


@contextmanager
def dask_executor(cluster: str, timeout: float, setting: str, workers: int | None = None,
                  ) -> Iterator[DaskExecutor]:
    """A :class:`DaskExecutor` connected to ``cluster`` (a scheduler address, or ``local``: a local cluster of
    ``workers`` worker processes, default one per usable core, started here), its workers checked.

    Raises:
        ClusterError: ``distributed`` is not installed, no scheduler answers within ``timeout`` seconds, it
            has no worker, or the workers run other code; the message names ``setting``.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ClusterError(
            f"{setting} = {cluster!r} needs Dask's distributed package: pip install 'plantwin[cluster]'"
        ) from e
    local = None
    if cluster == "local":
        local = LocalCluster(
            n_workers=workers or _usable_cores(), threads_per_worker=1, processes=True,
            host="127.0.0.1", dashboard_address=None,
            # no dashboard; the scheduler's health/metrics HTTP server on a free local port, not *:8787
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        )
        address = local.scheduler_address
    else:
        address = cluster
    try:
        try:
            client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise ClusterError(
                f"{setting} = {address!r}: no Dask scheduler answered within {timeout:g} s ({e}). Start one "
                "(`dask scheduler` and `dask worker <address>`), fix the address, or unset the setting to "
                "run on this machine."
            ) from e
        try:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (OSError, TimeoutError) as e:
                raise ClusterError(
                    f"{setting} = {address!r}: the scheduler has no worker after {timeout:g} s; start "
                    f"`dask worker {address}` on the worker machines."
                ) from e
            check_workers(client, address, setting=setting)
            client.run(arrays_from_the_heap)
            yield DaskExecutor(client)
        finally:
            client.close()
    finally:
        if local is not None:
            local.close()
