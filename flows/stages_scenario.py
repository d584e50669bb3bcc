"""The scenario's stages, callable with or without Prefect: parse and check a scenario file against its base
run, then apply its changes to a run's staged inputs and forecast.

The scenario file (see :mod:`optimization.scenario`) is parsed and checked against the base run's inputs
before any run is opened, so a bad file leaves no trace but its message. Then, like a replan: open a run of
kind ``scenario`` named after the file's ``name``, stage the base run's inputs and forecast, apply the
changes to them, plan, commit, publish, and write the report with its comparison against the base.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from data_contracts import schema
from flows import stages
from flows.settings import ParameterError, ScenarioParameters
from forecasting.consensus import consume_forecast, forecast_part
from optimization import PlanConfig
from optimization.scenario import ScenarioFile, parse_scenario, scenario_summary
from optimization.scenario_apply import apply_scenario, scenario_orders
from optimization.scenario_check import check_scenario
from warehouse.db import open_warehouse
from warehouse.views import latest_base_run

__all__ = ["ScenarioParameters", "apply_changes", "load_scenario", "scenario_parameters"]

#: input entities a scenario may change (or needs to check names against)
_ENTITIES = (schema.PRODUCTS, schema.SITES, schema.RESOURCES, schema.ROUTINGS, schema.LANES, schema.CALENDAR,
             schema.CHANGEOVERS)



def scenario_parameters(warehouse: Path, scenario_file: Path, base_run_id: str | None = None,
                        horizon_weeks: int | None = None) -> ScenarioParameters:
    """Parameters for a scenario on a base run (default: the latest plan of record), with the base's plan
    settings (horizon, solver, ...) unless a horizon is given."""
    with open_warehouse(warehouse, read_only=True) as wh:
        base_id = base_run_id or latest_base_run(wh.con)
        if base_id is None:
            raise ParameterError(f"{warehouse} has no successful base plan to run a scenario on")
        base = wh.run(base_id)  # an unknown id: UnknownRun, a ParameterError
    plan = json.loads(base["parameters"]).get("plan", {})
    if horizon_weeks is not None:
        plan = {**plan, "horizon_weeks": horizon_weeks}
    return ScenarioParameters(warehouse=warehouse, scenario_file=scenario_file, base_run_id=base_id,
                              plan=PlanConfig(**plan))


def _read(params: ScenarioParameters) -> ScenarioFile:
    path = Path(params.scenario_file)
    if not path.is_file():
        raise ParameterError(f"no scenario file {path}")
    return parse_scenario(path.read_text(encoding="utf-8"), source=str(path))


def load_scenario(params: ScenarioParameters) -> ScenarioParameters:
    """Parse and check the scenario file against the base run's inputs; returns the parameters with the
    scenario's name and the base run fixed. Raises ``ScenarioError`` naming the line of each problem."""
    parsed = _read(params)
    with open_warehouse(params.warehouse) as wh:
        base_id = params.base_run_id or latest_base_run(wh.con)
        if base_id is None:
            raise ParameterError(f"{params.warehouse} has no successful base plan to run a scenario on")
        inputs = {t.name: wh.read(schema.clean_table_name(t.name), base_id) for t in _ENTITIES}
        first = stages.monday(wh.run(base_id)["run_date"])
    check_scenario(parsed, inputs, (first, first + timedelta(weeks=params.horizon_weeks - 1)))
    return params.model_copy(update={"scenario": parsed.scenario.name, "base_run_id": base_id})


def apply_changes(params: ScenarioParameters, run_id: str, run_date: date) -> dict[str, Any]:
    """Stage: apply the scenario to the staged clean inputs and forecast of the run."""
    parsed = _read(params)
    with open_warehouse(params.warehouse) as wh:
        inputs = {t.name: wh.staged(run_id, schema.clean_table_name(t.name)) for t in _ENTITIES}
        # the change moves the forecast; the booked orders, firm (with the file's orders), then consume it
        own, booked = forecast_part(wh.staged(run_id, schema.FORECAST.name))
        changed, new_own = apply_scenario(parsed.scenario, inputs, own, stages.monday(run_date),
                                          params.horizon_weeks)
        new_forecast = consume_forecast(new_own, scenario_orders(parsed.scenario, booked))
        for t in _ENTITIES:
            wh.stage(run_id, schema.clean_table_name(t.name), changed[t.name].select(t.column_names))
        wh.stage(run_id, schema.FORECAST.name, new_forecast)
        parameters = json.loads(wh.run(run_id)["parameters"])
        wh.update_run(run_id, parameters={**parameters, "scenario_changes": scenario_summary(parsed.scenario)})
    return {"scenario": parsed.scenario.name,
            "changes": {k: len(v) for k, v in scenario_summary(parsed.scenario).items() if isinstance(v, list)}}
