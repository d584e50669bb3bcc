"""The weekly planning flow: ingest → contracts → forecast → plan → output contracts → publish → report."""

from __future__ import annotations

from prefect import flow

from flows import stages
from flows.settings import RunParameters
from flows.tasks import (
    RunRecorder,
    check_contracts,
    forecast_demand,
    ingest_inputs,
    open_run,
    plan_supply,
    publish,
    publish_artifacts,
)
from warehouse.lock import warehouse_lock

__all__ = ["weekly_planning"]


@flow(name="weekly-planning", validate_parameters=True)
def weekly_planning(params: RunParameters) -> str:
    """Plan the next weeks from the input folder: every stage, one run, all or nothing."""
    stages.check_parameters(params, "weekly_planning")
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        load_ids = ingest_inputs(params)
        run_id, run_date = open_run(params, "weekly_planning", load_ids)
        with RunRecorder(params, run_id) as stage:
            stage(check_contracts, load_ids, run_date)
            stage(forecast_demand, run_date)
            stage(plan_supply, run_date)  # includes the output contracts
        publish(params)
    publish_artifacts(params, run_id)
    return run_id
