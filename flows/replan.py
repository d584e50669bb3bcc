"""The replan flow: plan again on an earlier run's validated inputs and forecast, with new parameters.

What planners do on Tuesday after a customer call: a consensus demand file, a service-level change or
another horizon, without re-ingesting or re-forecasting.
"""

from __future__ import annotations

from prefect import flow

from flows import pipeline
from flows.settings import ReplanParameters
from flows.tasks import TASKS

__all__ = ["replan"]


@flow(name="replan", validate_parameters=True)
def replan(params: ReplanParameters) -> str:
    """Re-plan on top of a base run (default: the latest successful one); all or nothing
    (:func:`flows.pipeline.replan`)."""
    return pipeline.replan(params, TASKS)
