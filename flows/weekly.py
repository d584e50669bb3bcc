"""The weekly planning flow: ingest → contracts → forecast → plan → output contracts → publish → report → artifacts."""

from __future__ import annotations

from prefect import flow

from flows import stages
from flows.settings import RunParameters
from flows.tasks import (
    RunRecorder,
    check_contracts,
    forecast_demand,
    ingest_inputs,
    learn_process,
    open_run,
    plan_supply,
    publish,
    publish_artifacts,
    resolve_run_date,
    write_report,
)
from warehouse.lock import warehouse_lock

__all__ = ["weekly_planning"]


@flow(name="weekly-planning", validate_parameters=True)
def weekly_planning(params: RunParameters) -> str:
    """Plan the next weeks from the input folder: every stage, one run, all or nothing."""
    stages.check_parameters(params, "weekly_planning")
    with warehouse_lock(params.warehouse, wait_seconds=params.lock_wait_seconds):
        run_id = open_run(params, "weekly_planning")
        with RunRecorder(params, run_id) as stage:
            load_ids = stage(ingest_inputs)
            run_date = stage(resolve_run_date, load_ids)
            stage(check_contracts, load_ids, run_date)
            # learned release times first: the forecast runs past the horizon by the longest of them
            stage(learn_process)  # yields, QC failures and release times from batch records
            stage(forecast_demand, run_date)
            stage(plan_supply, run_date)  # includes the output contracts
        publish(params)
    publish_artifacts(params, run_id, write_report(params, run_id))
    return run_id
