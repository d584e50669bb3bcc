"""The scenario flow: plan a what-if on top of a base run's validated inputs and forecast.

The scenario file (see :mod:`optimization.scenario`) is parsed and checked against the base run's inputs
before any run is opened, so a bad file leaves no trace but its message. Then, like a replan: open a run of
kind ``scenario`` named after the file's ``name``, stage the base run's inputs and forecast, apply the
changes to them, plan, commit, publish, and write the report with its comparison against the base
(:func:`flows.pipeline.scenario`; the stages are in :mod:`flows.stages_scenario`).
"""

from __future__ import annotations

from prefect import flow

from flows import pipeline
from flows.settings import ScenarioParameters
from flows.stages_scenario import apply_changes, load_scenario, scenario_parameters
from flows.tasks import TASKS

__all__ = ["ScenarioParameters", "apply_changes", "load_scenario", "scenario_parameters", "scenario_run"]


@flow(name="scenario", validate_parameters=True)
def scenario_run(params: ScenarioParameters) -> str:
    """Plan a scenario file's changes on a base run; all or nothing; the run is named after the scenario."""
    return pipeline.scenario(params, TASKS)
