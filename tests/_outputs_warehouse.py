"""One small warehouse built with the real flows, shared by the outputs tests (views, report, scenarios).

Two weekly planning runs four weeks apart on the same generated network (so past forecasts meet later
actuals), then three scenario runs on the second: the only lanes into one DC closed; every resource at 20%
of its hours (``tight``: capacity goes short); and ``tight`` with +50% hours on its bottleneck.
Built once per test session: under pytest-xdist the first worker to ask builds it in the session's shared
temporary folder, holding a file lock, and every worker (that one too) works on its own copy; without
xdist it is built in place. Each process keeps its copy for its modules (Prefect's temporary server starts
once).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb

from data_contracts import schema
from flows.scenario import scenario_parameters, scenario_run
from flows.settings import RunParameters
from flows.weekly import weekly_planning
from optimization import PlanConfig
from demo.network import DEMO_RUN_DATE, demo_network, write_demo

HORIZON = 8
EARLY_DATE = DEMO_RUN_DATE - timedelta(weeks=4)
CLOSED_DC = "DC-EU-N"


@dataclass(frozen=True)
class Built:
    warehouse: Path
    early_run: str  # weekly run four weeks before
    base_run: str  # the latest weekly run: the plan of record
    lanes_run: str  # scenario: every lane into CLOSED_DC closed
    tight_run: str  # scenario: every resource at 20% of its hours
    capacity_run: str  # scenario: tight, and +50% hours on tight's bottleneck
    bottleneck: str
    scenario_dir: Path


_BUILT: dict[str, Built] = {}


def _weekly(root: Path, warehouse: Path, run_date, name: str) -> str:
    folder = root / name
    write_demo(demo_network(products=8, dcs=2, weeks_history=104, seed=3, run_date=run_date), folder)
    params = RunParameters(input_dir=folder, warehouse=warehouse, run_date=run_date,
                           plan=PlanConfig(horizon_weeks=HORIZON))
    return weekly_planning(params)


def _bottleneck(warehouse: Path, run_id: str) -> str:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # the resource whose hours the shortages name most (by units short): more of it serves the horizon;
        # the highest duals may belong to a resource that only feeds the stock the plan must end with
        named = con.execute(
            f"SELECT resource_id FROM {schema.PLAN_SHORTAGES.name} WHERE run_id = ? AND resource_id IS NOT NULL "
            "GROUP BY resource_id ORDER BY sum(short_quantity) DESC, resource_id LIMIT 1", [run_id]).fetchone()
        if named:
            return named[0]
        return con.execute(
            f"SELECT resource_id FROM {schema.PLAN_CAPACITY.name} WHERE run_id = ? GROUP BY resource_id "
            "ORDER BY sum(coalesce(shadow_price, 0)) DESC, resource_id LIMIT 1", [run_id]).fetchone()[0]
    finally:
        con.close()


def build(tmp_path_factory) -> Built:
    """The shared warehouse: built once per session (module docstring), this process's copy."""
    if "built" not in _BUILT:
        root = tmp_path_factory.mktemp("outputs")
        if os.environ.get("PYTEST_XDIST_WORKER") is None:
            _BUILT["built"] = _build(root)
        else:  # the workers' base folders share a parent, fresh each session
            shared = tmp_path_factory.getbasetemp().parent / "outputs-warehouse"
            done = shared.with_suffix(".json")  # written last: the build is whole
            with open(shared.with_suffix(".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
                if not done.exists():
                    shutil.rmtree(shared, ignore_errors=True)  # what a worker whose build failed left
                    shared.mkdir()
                    fields = dataclasses.asdict(_build(shared))
                    done.write_text(json.dumps({k: str(v) for k, v in fields.items()}))
                fields = json.loads(done.read_text())
                shutil.copytree(shared, root, dirs_exist_ok=True)
            for path in ("warehouse", "scenario_dir"):  # the same files, in this process's copy
                fields[path] = root / Path(fields[path]).relative_to(shared)
            _BUILT["built"] = Built(**fields)
    return _BUILT["built"]


def _build(root: Path) -> Built:
    """Build the shared warehouse under ``root``."""
    warehouse = root / "wh" / "warehouse.duckdb"
    early = _weekly(root, warehouse, EARLY_DATE, "input_early")
    base = _weekly(root, warehouse, DEMO_RUN_DATE, "input")
    scen = root / "scenarios"
    scen.mkdir()
    (scen / "close_lanes.yaml").write_text(
        "name: close-eu-n\n"
        "description: no transport into DC-EU-N\n"
        "lanes:\n"
        f"  - {{from_site: PL-BE, to_site: {CLOSED_DC}, close: true}}\n"
        f"  - {{from_site: PL-US, to_site: {CLOSED_DC}, close: true}}\n"
    )
    tight = "name: tight\ncapacity:\n" + "".join(
        f"  - {{resource: {r}, percent: -80}}\n" for r in ("BE-FL01", "US-FL01", "US-BR01", "US-BR02", "BE-BR01"))
    (scen / "tight.yaml").write_text(tight)
    lanes = scenario_run(scenario_parameters(warehouse, scen / "close_lanes.yaml", base))
    tight_run = scenario_run(scenario_parameters(warehouse, scen / "tight.yaml", base))
    bottleneck = _bottleneck(warehouse, tight_run)
    (scen / "more_capacity.yaml").write_text(
        tight.replace("name: tight", "name: tight-bottleneck-plus-50")
        + f"  - resource: {bottleneck}\n    percent: 50\n"
    )
    capacity = scenario_run(scenario_parameters(warehouse, scen / "more_capacity.yaml", base))
    _BUILT["built"] = Built(warehouse, early, base, lanes, tight_run, capacity, bottleneck, scen)
    return _BUILT["built"]
