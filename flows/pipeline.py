"""The runs' bodies, written once: each is the pipeline's table of contents for one kind of run.

Every body takes its parameters and a :class:`Steps`: the Prefect flows pass their tasks
(:data:`flows.tasks.TASKS`, with retries and a flow run in the UI), the command line passes the plain
stage functions (:data:`PLAIN`), which run the very same stages in the same order without Prefect and its
temporary server. Both write identical tables; only Prefect's artifacts (a markdown summary on the flow
run) are Prefect's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows import stages, stages_forecast, stages_plan, stages_scenario, stages_twin
from flows.settings import PlanningParameters, ReplanParameters, RunParameters, ScenarioParameters, TwinParameters
from report.page import write_report
from warehouse.lock import warehouse_lock

__all__ = ["PLAIN", "RunRecorder", "Step", "Steps", "nightly", "replan", "scenario", "twin", "weekly"]


@dataclass(frozen=True)
class Step:
    """One stage as a plain call: its name (the Prefect task's name and the key in ``runs.stage_seconds``),
    the function, and whether it is I/O that may work a moment later (Prefect retries those)."""

    name: str
    fn: Callable[..., Any]
    io: bool = False

    def __call__(self, *args: Any) -> Any:
        return self.fn(*args)


def _publish(params: PlanningParameters | TwinParameters, run_id: str | None = None) -> str:
    return str(stages.publish(params, run_id))


def _report(params: PlanningParameters | TwinParameters, run_id: str) -> Path:
    stages.fault_point("report")
    return write_report(params.warehouse, run_id)


@dataclass(frozen=True)
class Steps:
    """The stages a run body calls; ``artifacts`` is None where there is no Prefect flow run to post to."""

    open_run: Callable[..., Any]
    ingest_inputs: Callable[..., Any]
    resolve_run_date: Callable[..., Any]
    check_contracts: Callable[..., Any]
    forecast_demand: Callable[..., Any]
    learn_process: Callable[..., Any]
    plan_supply: Callable[..., Any]
    track_accuracy: Callable[..., Any]
    open_replan: Callable[..., Any]
    reuse_base: Callable[..., Any]
    load_scenario: Callable[..., Any]
    apply_scenario: Callable[..., Any]
    twin_replay: Callable[..., Any]
    publish: Callable[..., Any]
    write_report: Callable[..., Any]
    artifacts: Callable[..., Any] | None = None


#: the stages as plain function calls (no Prefect)
PLAIN = Steps(
    open_run=Step("open-run", stages.start, io=True),
    ingest_inputs=Step("ingest", stages.ingest, io=True),
    resolve_run_date=Step("run-date", stages.resolve_run_date, io=True),
    check_contracts=Step("contracts", stages.validate),
    forecast_demand=Step("forecast", stages_forecast.forecast),
    learn_process=Step("learn-process", stages_twin.learn_process),
    plan_supply=Step("plan", stages_plan.plan),
    track_accuracy=Step("accuracy", stages_forecast.accuracy),
    open_replan=Step("open-replan", stages.start_replan, io=True),
    reuse_base=Step("reuse-base", stages.reuse_base, io=True),
    load_scenario=Step("load-scenario", stages_scenario.load_scenario),
    apply_scenario=Step("apply-scenario", stages_scenario.apply_changes),
    twin_replay=Step("twin-replay", stages_twin.replay),
    publish=Step("publish", _publish, io=True),
    write_report=Step("report", _report, io=True),
)


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
            self.seconds[getattr(stage, "name", getattr(stage, "__name__", "stage"))] = round(
                time.perf_counter() - started, 3)

    def __enter__(self) -> RunRecorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            stages.commit(self.params, self.run_id, self.seconds)
        else:
            stages.fail(self.params, self.run_id, exc, self.seconds)
        return False  # the error goes on (to fail the flow run, or to the command line)


def _after_commit(params: PlanningParameters, run_id: str, steps: Steps, report: bool = True) -> None:
    """Report and artifacts: written after the run is committed and published, outside its transaction but
    still under the warehouse lock (a second run starting now must not make this one, already published,
    fail)."""
    path = steps.write_report(params, run_id) if report else None
    if steps.artifacts is not None:
        steps.artifacts(params, run_id, path)


def weekly(params: RunParameters, steps: Steps = PLAIN) -> str:
    """Plan the next weeks from the inputs: every stage, one run, all or nothing."""
    stages.check_parameters(params, "weekly_planning")
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        run_id = steps.open_run(params, "weekly_planning")
        with RunRecorder(params, run_id) as stage:
            load_ids = stage(steps.ingest_inputs)
            run_date = stage(steps.resolve_run_date, load_ids)
            stage(steps.check_contracts, load_ids, run_date)
            # learned release times first: the forecast runs past the horizon by the longest of them
            stage(steps.learn_process)  # yields, QC failures and release times from batch records
            stage(steps.forecast_demand, run_date)
            stage(steps.plan_supply, run_date)  # includes the output contracts
        steps.publish(params, run_id)
        _after_commit(params, run_id, steps)
    return run_id


def nightly(params: RunParameters, steps: Steps = PLAIN) -> str:
    """Refresh the warehouse with last night's data: fresh forecast and how past forecasts did."""
    stages.check_parameters(params, "nightly_refresh")
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        run_id = steps.open_run(params, "nightly_refresh")
        with RunRecorder(params, run_id) as stage:
            load_ids = stage(steps.ingest_inputs)
            run_date = stage(steps.resolve_run_date, load_ids)
            stage(steps.check_contracts, load_ids, run_date)
            stage(steps.forecast_demand, run_date)
            stage(steps.track_accuracy)
        steps.publish(params, run_id)
        _after_commit(params, run_id, steps, report=False)
    return run_id


def replan(params: ReplanParameters, steps: Steps = PLAIN) -> str:
    """Re-plan on top of a base run (default: the latest successful one); all or nothing."""
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        run_id, run_date = steps.open_replan(params)
        with RunRecorder(params, run_id) as stage:
            stage(steps.reuse_base)
            stage(steps.plan_supply, run_date)
        steps.publish(params, run_id)
        _after_commit(params, run_id, steps)
    return run_id


def scenario(params: ScenarioParameters, steps: Steps = PLAIN) -> str:
    """Plan a scenario file's changes on a base run; all or nothing; the run is named after the scenario."""
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        params = steps.load_scenario(params)
        run_id, run_date = steps.open_replan(params, "scenario")
        with RunRecorder(params, run_id) as stage:
            stage(steps.reuse_base)
            stage(steps.apply_scenario, run_date)
            stage(steps.plan_supply, run_date)
        steps.publish(params, run_id)
        _after_commit(params, run_id, steps)
    return run_id


def twin(params: TwinParameters, steps: Steps = PLAIN) -> dict[str, Any]:
    """Replay a stored plan over sample paths and store its risk; its own small transaction."""
    with warehouse_lock(params.warehouse):
        outcome = steps.twin_replay(params)
        steps.publish(params)
        steps.write_report(params, outcome["run_id"])  # the report now shows the risk and the stock fan
    return outcome
