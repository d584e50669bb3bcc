"""The nightly refresh: ingest → contracts → forecast → accuracy tracking → publish (no plan)."""

from __future__ import annotations

from prefect import flow

from flows import pipeline
from flows.settings import RunParameters
from flows.tasks import TASKS

__all__ = ["nightly_refresh"]


@flow(name="nightly-refresh", validate_parameters=True)
def nightly_refresh(params: RunParameters) -> str:
    """Refresh the warehouse with last night's data: fresh forecast and how past forecasts did
    (:func:`flows.pipeline.nightly`)."""
    return pipeline.nightly(params, TASKS)
