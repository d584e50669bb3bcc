"""How the command line runs a pipeline: through Prefect when Prefect adds something, else the same stages
directly.

Prefect adds a flow run in a server's UI, retries and artifacts; it costs a temporary local server
(8–20 s to start here) when no server is configured. So a command runs its flow through Prefect when a
server is configured (``PREFECT_API_URL`` in the environment) or when asked (``--prefect``), and otherwise
calls :mod:`flows.pipeline`'s run body with the plain stages: the same stages in the same order, writing
the same tables. ``--no-prefect`` forces the direct path.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["PrefectOption", "check_paths", "execute", "quiet_solver_banner", "use_prefect"]

PrefectOption = Annotated[bool | None, typer.Option(
    "--prefect/--no-prefect",
    help="Run as a Prefect flow (a flow run with retries and artifacts). Default: only when a Prefect server "
         "is configured (PREFECT_API_URL); otherwise the same stages run directly, without Prefect's "
         "temporary server.")]

#: run body in flows.pipeline -> the Prefect flow that runs it with tasks
_FLOWS = {
    "weekly": ("flows.weekly", "weekly_planning"),
    "nightly": ("flows.nightly", "nightly_refresh"),
    "replan": ("flows.replan", "replan"),
    "scenario": ("flows.scenario", "scenario_run"),
    "twin": ("flows.twin_replay", "twin_replay"),
}


def check_paths(kind: str, warehouse: Path | None = None, input_dir: Path | None = None,
                source: Path | None = None, demand: Path | None = None) -> None:
    """The paths a person typed, checked before anything starts (and before the stack is imported): a
    refused command creates nothing and is not retried.

    Not part of a scheduled run: there a missing input folder may be an export that lands late, which the
    ingest task retries (and ``flows.deploy_check`` refuses a default folder that does not exist at deploy
    time).

    Raises:
        ParameterError: an input folder, source config or demand file that does not exist; a replan or
            scenario without a warehouse.
    """
    from data_contracts.config import ParameterError

    for label, path, want_dir in (("input folder", input_dir, True), ("source config", source, False),
                                  ("demand file", demand, False)):
        if path is not None and not (Path(path).is_dir() if want_dir else Path(path).is_file()):
            raise ParameterError(f"no {label} {path} (rule: {label.replace(' ', '_')}); check the path")
    if kind in ("replan", "scenario") and warehouse is not None and not Path(warehouse).is_file():
        raise ParameterError(f"no warehouse {warehouse} to plan on: run the weekly plan first")


def use_prefect(flag: bool | None) -> bool:
    """The explicit choice, else whether a Prefect server is configured."""
    return flag if flag is not None else bool(os.environ.get("PREFECT_API_URL"))


def quiet_solver_banner() -> None:
    """Keep HiGHS's start-up banner off the console: HiGHS prints it from C++ when the process creates its
    first solver, so create that one with the standard output file descriptor pointed at /dev/null."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def execute(kind: str, params: Any, prefect: bool | None = None, verbose: bool = False) -> Any:
    """Run ``kind`` (weekly, nightly, replan, scenario, twin) with ``params``, through Prefect or directly."""
    if not verbose:
        quiet_solver_banner()
    if use_prefect(prefect):
        if not verbose:
            os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
        from flows.lifetime import temporary_server_dies_with_us

        temporary_server_dies_with_us()  # a kill -9 of this command must not leave Prefect's server running
        module, name = _FLOWS[kind]
        return getattr(importlib.import_module(module), name)(params)
    from flows import pipeline

    return getattr(pipeline, kind)(params)
