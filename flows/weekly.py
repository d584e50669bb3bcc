"""The weekly planning flow: ingest → contracts → forecast → plan → publish."""

from __future__ import annotations

from prefect import flow

from flows.settings import RunParameters
from flows.tasks import RunRecorder, check_contracts, forecast_demand, ingest_inputs, open_run, plan_supply, publish
from warehouse.lock import warehouse_lock

__all__ = ["weekly_planning"]


@flow(name="weekly-planning", validate_parameters=True)
def weekly_planning(params: RunParameters) -> str:
    """Plan the next weeks from the input folder: every stage, one run, all or nothing."""
    with warehouse_lock(params.warehouse):
        load_ids = ingest_inputs(params)
        run_id, run_date = open_run(params, "weekly_planning", load_ids)
        with RunRecorder(params, run_id) as stage:
            stage(check_contracts, load_ids, run_date)
            stage(forecast_demand, run_date)
            stage(plan_supply, run_date)
        publish(params)
    return run_id
