"""The twin-replay flow: replay a stored plan over sample paths and store its risk.

A flow of its own, beside the planning runs: under the warehouse lock it replays the plan
(:func:`flows.stages_twin.replay`) and publishes the snapshot, then rewrites the run's report, which now
shows the risk and the stock fan (:func:`flows.pipeline.twin`). It shares the publish and report tasks of
the planning flows.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import pipeline
from flows.settings import TwinParameters
from flows.tasks import TASKS

__all__ = ["TwinParameters", "twin_replay"]


@flow(name="twin-replay", validate_parameters=True)
def twin_replay(params: TwinParameters) -> dict[str, Any]:
    """Replay a stored plan over sample paths and store its risk; its own small transaction."""
    return pipeline.twin(params, TASKS)
