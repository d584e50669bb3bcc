"""The replan flow: plan again on an earlier run's validated inputs and forecast, with new parameters.

What planners do on Tuesday after a customer call: a consensus demand file, a service-level change or
another horizon, without re-ingesting or re-forecasting.
"""

from __future__ import annotations

from prefect import flow

from flows.settings import ReplanParameters
from flows.tasks import (
    RunRecorder,
    open_replan,
    plan_supply,
    publish,
    publish_artifacts,
    reuse_base,
    write_report,
)
from warehouse.lock import warehouse_lock

__all__ = ["replan"]


@flow(name="replan", validate_parameters=True)
def replan(params: ReplanParameters) -> str:
    """Re-plan on top of a base run (default: the latest successful one); all or nothing."""
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        run_id, run_date = open_replan(params)
        with RunRecorder(params, run_id) as stage:
            stage(reuse_base)
            stage(plan_supply, run_date)
        publish(params, run_id)
        # Under the lock: a second run starting now must not make this one, already published, fail.
        publish_artifacts(params, run_id, write_report(params, run_id))
    return run_id
