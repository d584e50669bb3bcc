"""The twin-replay flow: replay a stored plan over sample paths and store its risk.

A flow of its own, beside the planning runs: under the warehouse lock it replays the plan
(:func:`flows.stages_twin.replay`) and publishes the snapshot, then rewrites the run's report, which now
shows the risk and the stock fan. It shares the publish and report tasks of the planning flows.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows import stages_twin
from flows.settings import TwinParameters
from flows.tasks import publish, write_report
from warehouse.lock import warehouse_lock

__all__ = ["TwinParameters", "twin_replay"]


@task(name="twin-replay", cache_policy=NO_CACHE, persist_result=False)
def replay_task(params: TwinParameters) -> dict[str, Any]:
    return stages_twin.replay(params)


@flow(name="twin-replay", validate_parameters=True)
def twin_replay(params: TwinParameters) -> dict[str, Any]:
    """Replay a stored plan over sample paths and store its risk; its own small transaction."""
    with warehouse_lock(params.warehouse):
        outcome = replay_task(params)
        publish(params)
    write_report(params, outcome["run_id"])  # the report now shows the risk and the stock fan
    return outcome
