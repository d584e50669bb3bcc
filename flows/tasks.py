"""Prefect tasks: one-line wrappers over :mod:`flows.stages`, and the recorder that makes a run atomic.

Only I/O tasks retry, with backoff. No task caches or persists its result: tasks exchange parameters, a
run id and small summaries, never frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from data_contracts.config import ContractError
from flows import stages, twin
from flows.artifacts import publish_run_artifacts
from flows.report import report
from flows.settings import ParameterError, PlanningParameters, ReplanParameters, RunParameters
from optimization import PlanInputError
from warehouse.sources import SourceError, SourceUnavailable

__all__ = [
    "RunRecorder",
    "check_contracts",
    "forecast_demand",
    "ingest_inputs",
    "learn_process",
    "open_replan",
    "open_run",
    "plan_supply",
    "publish",
    "publish_artifacts",
    "resolve_run_date",
    "reuse_base",
    "track_accuracy",
    "write_report",
]

def _worth_retrying(task: Any, task_run: Any, state: Any) -> bool:
    """Retry I/O that may work a moment later; not input that will fail the same way again."""
    try:
        error = state.result(raise_on_failure=False)
    except Exception as exc:  # noqa: BLE001 — whatever the state holds, decide on it
        error = exc
    if isinstance(error, SourceUnavailable):
        return True
    return not isinstance(error, (SourceError, ContractError, ParameterError, PlanInputError))


_IO = dict(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=_worth_retrying, cache_policy=NO_CACHE,
           persist_result=False)
_PURE = dict(cache_policy=NO_CACHE, persist_result=False)


@task(name="open-run", **_IO)
def open_run(params: PlanningParameters, kind: str) -> str:
    return stages.start(params, kind)


@task(name="ingest", **_IO)
def ingest_inputs(params: RunParameters, run_id: str) -> dict[str, str]:
    return stages.ingest(params, run_id)


@task(name="run-date", **_IO)
def resolve_run_date(params: RunParameters, run_id: str, load_ids: dict[str, str]) -> date:
    return stages.resolve_run_date(params, run_id, load_ids)


@task(name="open-replan", **_IO)
def open_replan(params: ReplanParameters, kind: str = "replan") -> tuple[str, date]:
    return stages.start_replan(params, kind)


@task(name="reuse-base", **_IO)
def reuse_base(params: ReplanParameters, run_id: str) -> dict:
    return stages.reuse_base(params, run_id)


@task(name="contracts", **_PURE)
def check_contracts(params: RunParameters, run_id: str, load_ids: dict[str, str], run_date: date) -> dict:
    return stages.validate(params, run_id, load_ids, run_date)


@task(name="forecast", **_PURE)
def forecast_demand(params: RunParameters, run_id: str, run_date: date) -> dict:
    return stages.forecast(params, run_id, run_date)


@task(name="learn-process", **_PURE)
def learn_process(params: RunParameters, run_id: str) -> dict:
    return twin.learn_process(params, run_id)


@task(name="plan", **_PURE)
def plan_supply(params: PlanningParameters, run_id: str, run_date: date) -> dict:
    return stages.plan(params, run_id, run_date)


@task(name="accuracy", **_PURE)
def track_accuracy(params: RunParameters, run_id: str) -> dict:
    return stages.accuracy(params, run_id)


@task(name="publish", **_IO)
def publish(params: PlanningParameters, run_id: str | None = None) -> str:
    return str(stages.publish(params, run_id))


@task(name="report", **_IO)
def write_report(params: PlanningParameters, run_id: str) -> Path:
    stages.fault_point("report")
    return report(params, run_id)


@task(name="artifacts", **_IO)
def publish_artifacts(params: PlanningParameters, run_id: str, report_path: Path | None = None) -> dict[str, str]:
    return publish_run_artifacts(params.warehouse, run_id, report_path)


class RunRecorder:
    """Times each stage of a run; commits the run when all succeed, records the failure otherwise."""

    def __init__(self, params: PlanningParameters, run_id: str):
        self.params, self.run_id = params, run_id
        self.seconds: dict[str, float] = {}

    def __call__(self, stage: Callable[..., Any], *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return stage(self.params, self.run_id, *args)
        finally:
            self.seconds[getattr(stage, "name", stage.__name__)] = round(time.perf_counter() - started, 3)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            stages.commit(self.params, self.run_id, self.seconds)
        else:
            stages.fail(self.params, self.run_id, exc, self.seconds)
        return False  # the error goes on to fail the flow run
