"""The weekly planning flow: ingest → contracts → forecast → plan → output contracts → publish → report → artifacts."""

from __future__ import annotations

from prefect import flow

from flows import pipeline
from flows.settings import RunParameters
from flows.tasks import TASKS

__all__ = ["weekly_planning"]


@flow(name="weekly-planning", validate_parameters=True)
def weekly_planning(params: RunParameters) -> str:
    """Plan the next weeks from the inputs: every stage, one run, all or nothing (:func:`flows.pipeline.weekly`)."""
    return pipeline.weekly(params, TASKS)
