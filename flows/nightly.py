"""The nightly refresh: ingest → contracts → forecast → accuracy tracking → publish (no plan)."""

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
    publish,
    publish_artifacts,
    resolve_run_date,
    track_accuracy,
)
from warehouse.lock import warehouse_lock

__all__ = ["nightly_refresh"]


@flow(name="nightly-refresh", validate_parameters=True)
def nightly_refresh(params: RunParameters) -> str:
    """Refresh the warehouse with last night's data: fresh forecast and how past forecasts did."""
    stages.check_parameters(params, "nightly_refresh")
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        run_id = open_run(params, "nightly_refresh")
        with RunRecorder(params, run_id) as stage:
            load_ids = stage(ingest_inputs)
            run_date = stage(resolve_run_date, load_ids)
            stage(check_contracts, load_ids, run_date)
            stage(forecast_demand, run_date)
            stage(track_accuracy)
        publish(params, run_id)
        publish_artifacts(params, run_id)  # under the lock, like every read of the warehouse
    return run_id
