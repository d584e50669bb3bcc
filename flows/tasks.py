"""Prefect tasks: the plain stages of :mod:`flows.pipeline` as tasks, one for one, plus the artifacts.

Only I/O tasks retry, with backoff, and only on errors that may go away (a database that is down); input
that fails its contract, a bad parameter or an unplannable network fails at once. No task caches or
persists its result: tasks exchange parameters, a run id and small summaries, never frames.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from data_contracts.config import ContractError, ParameterError
from flows.artifacts import publish_run_artifacts
from flows.pipeline import PLAIN, RunRecorder, Step, Steps
from optimization import PlanInputError
from warehouse.sources import SourceError, SourceUnavailable

__all__ = ["TASKS", "RunRecorder", "publish", "publish_artifacts", "write_report"]


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


def _as_task(step: Step) -> Any:
    return task(name=step.name, **(_IO if step.io else _PURE))(step.fn)


@task(name="artifacts", **_IO)
def publish_artifacts(params: Any, run_id: str, report_path: Path | None = None) -> dict[str, str]:
    return publish_run_artifacts(params.warehouse, run_id, report_path)


#: every stage as a Prefect task (same names as the plain steps), and the artifacts only Prefect has
TASKS = replace(
    Steps(**{f.name: _as_task(getattr(PLAIN, f.name)) for f in fields(Steps) if f.name != "artifacts"}),
    artifacts=publish_artifacts,
)
publish = TASKS.publish
write_report = TASKS.write_report
