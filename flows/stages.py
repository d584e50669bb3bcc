"""The pipeline's stages as plain functions over the warehouse: the flows' tasks wrap these one to one.

Each stage opens the warehouse, reads what earlier stages staged for the run, calls the pure packages
(``data_contracts``, ``forecasting``, ``optimization``) and stages its own outputs. Stages exchange a
warehouse path and a run id, never large frames, so a Prefect task never persists a frame as a result.

The forecast stages live in :mod:`flows.stages_forecast` and the plan stage in :mod:`flows.stages_plan`,
over this module: they import the helpers every stage shares (:func:`fault_point`, :func:`monday`, the
staged reads); this module imports nothing of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from data_contracts import schema
from data_contracts.config import ContractError
from flows.settings import ParameterError, PlanningParameters, ReplanParameters, RunParameters
from warehouse.arrival import read_complete_folder
from warehouse import paths
from warehouse.db import EVENT_ENTITIES, open_warehouse
from warehouse.dry_run import inferred_run_date
from warehouse.publish import publish_snapshot
from warehouse.reads import cut_off_files, missing_from_extract, thousands_warnings
from warehouse.volume import check_volume

__all__ = [
    "FAULT_ENV",
    "check_parameters",
    "code_version",
    "commit",
    "fail",
    "ingest",
    "fault_point",
    "publish",
    "resolve_run_date",
    "reuse_base",
    "start",
    "start_replan",
    "validate",
]

_MASTER = schema.PLANNING_INPUTS


def code_version() -> str:
    """plantwin's version and, in a git checkout, the commit."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("plantwin")
    except PackageNotFoundError:
        v = "0+unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=True,
        ).stdout.strip()
        return f"{v}+g{sha}"
    except (OSError, subprocess.SubprocessError):
        return v


#: Fault injection: ``PLANTWIN_FAULT_KILL_AT=<point>`` kills the running process with SIGKILL at that point
#: (``start``, ``ingest``, ``ingest-landed``, ``contracts``, ``forecast``, ``plan``, ``plan-solved``,
#: ``commit``, ``publish``, ``publish-rename``, ``report``). Used by tests/test_faults.py; unset, it costs
#: one dictionary lookup per stage.
FAULT_ENV = "PLANTWIN_FAULT_KILL_AT"


def fault_point(name: str) -> None:
    """Die here with SIGKILL, as a power cut or the OOM killer would, if ``FAULT_ENV`` names this point."""
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def monday(d: date) -> date:
    """Monday of ``d``'s ISO week."""
    return d - timedelta(days=d.weekday())


# ---------------------------------------------------------------------------------------------- stages
def check_parameters(params: PlanningParameters, kind: str) -> None:
    """Refuse parameters that cannot work, before any work is done (every run, CLI or Prefect).

    Raises:
        ParameterError: an unknown scenario for a run of the plan of record; a warehouse path that is a folder.
    """
    if kind in ("weekly_planning", "nightly_refresh") and params.scenario != "base":
        raise ParameterError(
            f"unknown scenario {params.scenario!r}: the {kind.replace('_', ' ')} run plans the base scenario; "
            "what-if scenarios run with `plantwin scenario run FILE` on top of a base run."
        )
    if Path(params.warehouse).is_dir():
        raise ParameterError(f"warehouse {params.warehouse} is a folder; give the DuckDB file's path "
                             f"(e.g. {Path(params.warehouse) / 'warehouse.duckdb'})")


def start(params: PlanningParameters, kind: str) -> str:
    """Open a run: its ``runs`` row with parameters and code version (run date and inputs follow)."""
    fault_point("start")
    with open_warehouse(params.warehouse) as wh:
        wh.abandon_unfinished_runs()  # the caller holds the warehouse lock: nothing else is running
        return wh.start_run(
            kind=kind, scenario=params.scenario, run_date=getattr(params, "run_date", None),
            parameters=params.model_dump(mode="json"), code_version=code_version(),
        )


def ingest(params: RunParameters, run_id: str) -> dict[str, str]:
    """Land every input file's rows in the raw tables; record and return entity → load id."""
    fault_point("ingest")
    settle = (params.input_settle_seconds, params.input_settle_timeout_seconds)
    if params.source is not None:
        from warehouse.source_config import read_configured_source

        sources = read_configured_source(params.source, *settle)
    else:
        sources = read_complete_folder(params.input_dir, *settle)
    _, snapshots = _source_settings(params)
    with open_warehouse(params.warehouse) as wh:
        wh.limit_memory()  # the files stream through DuckDB: it spills rather than grow the process
        load_ids = {s.entity: wh.land(s)[0] for s in sources}
        wh.update_run(run_id, input_load_ids=load_ids)
        fault_point("ingest-landed")
        check_volume(wh, load_ids, params.volume_guard.limits(), snapshots)
    return load_ids


def resolve_run_date(params: RunParameters, run_id: str, load_ids: dict[str, str]) -> date:
    """The run date: given, else the latest inventory as-of date, else today; recorded on the run."""
    run_date = params.run_date
    inv = schema.INVENTORY.name
    with open_warehouse(params.warehouse) as wh:
        if run_date is None and inv in load_ids:
            run_date = inferred_run_date({inv: wh.raw_rows(inv, load_ids[inv])})
        run_date = run_date or date.today()
        wh.update_run(run_id, run_date=run_date)
    return run_date


def start_replan(params: ReplanParameters, kind: str = "replan") -> tuple[str, date]:
    """Open a run on top of a base run: same run date and input loads, new parameters."""
    with open_warehouse(params.warehouse) as wh:
        wh.abandon_unfinished_runs()  # the caller holds the warehouse lock: nothing else is running
        # never a what-if's: a scenario run's inputs and forecast are changed ones, not the data's
        base_id = params.base_run_id or wh.latest_run(but_kind="scenario")
        if base_id is None:
            raise ParameterError(f"{params.warehouse} has no successful run to replan on; run the weekly plan first.")
        base = wh.run(base_id)  # an unknown id: UnknownRun, a ParameterError
        if base["status"] != "success":
            raise ParameterError(f"base run {base_id} ended {base['status']}; replan on a successful run.")
        run_id = wh.start_run(
            kind=kind, scenario=params.scenario, run_date=base["run_date"], base_run_id=base_id,
            parameters=params.model_dump(mode="json"), code_version=code_version(),
        )
        wh.update_run(run_id, input_load_ids=json.loads(base["input_load_ids"]))
    return run_id, base["run_date"]


def reuse_base(params: ReplanParameters, run_id: str) -> dict[str, Any]:
    """Stage the base run's validated planning inputs, demand history and forecast for this run."""
    names = [schema.clean_table_name(t.name) for t in _MASTER] + [
        schema.DEMAND_HISTORY.name, schema.FORECAST.name, schema.FORECAST_SERIES.name,
        schema.RUN_WARNINGS.name,  # the same inputs and history: what their checks noticed holds as well
    ]
    with open_warehouse(params.warehouse) as wh:
        base_id = wh.run(run_id)["base_run_id"]
        wh.stage_from_run(base_id, run_id, names)
    return {"base_run_id": base_id, "tables": len(names)}


def validate(params: RunParameters, run_id: str, load_ids: dict[str, str], run_date: date) -> dict[str, Any]:
    """Run the input contracts; stage clean tables; keep quarantine and results. Returns counts."""
    fault_point("contracts")
    # Great Expectations loads here, not with this module: a twin or a report never pays for it
    from data_contracts.validate import validate_inputs
    from warehouse.screen import raw_inputs

    contracts, snapshots = _source_settings(params)  # the source's decimal mark, week start, full extracts
    with open_warehouse(params.warehouse) as wh:
        wh.limit_memory()  # the SQL over every raw row spills rather than grow the process
        # the big entities stay in the warehouse: only the rows the contracts' SQL is unsure of are read
        raw = raw_inputs(wh, load_ids, snapshots)
        # number columns that look thousands-grouped, files cut off mid-line, and lines a full extract read as
        # a delta dropped: found once here, kept with the run's other warnings
        noticed = pl.concat([thousands_warnings(wh.con, load_ids, contracts.decimal),
                             cut_off_files(wh.con, load_ids)] + [
            missing_from_extract(wh.con, e, load_ids[e]) for e in EVENT_ENTITIES
            if e in load_ids and e not in snapshots])  # a full extract read as a delta
        try:
            outcome = validate_inputs(raw, run_date, contracts)
        except ContractError as exc:
            # Too many rejected rows: keep the record of which and why (not a run output) before failing.
            if getattr(exc, "outcome", None) is not None:
                wh.record_validation(run_id, exc.outcome.quarantine, exc.outcome.results,
                                     pl.concat([exc.outcome.warnings, noticed]))
            raise
        for entity, frame in outcome.clean.items():
            if entity in outcome.kept:  # the clean rows kept in the warehouse and these, in the raw order
                raw[entity].stage_clean(run_id, schema.clean_table_name(entity), frame, outcome.positions[entity])
            else:
                wh.stage(run_id, schema.clean_table_name(entity), frame)
        wh.stage(run_id, schema.QUARANTINE.name, outcome.quarantine)
        wh.stage(run_id, schema.CONTRACT_RESULTS.name, outcome.results)
        wh.stage(run_id, schema.RUN_WARNINGS.name, pl.concat([outcome.warnings, noticed]))
    return {
        "clean_rows": {e: outcome.clean_rows(e) for e in outcome.clean},
        "quarantined_rows": outcome.quarantine.height,
        "warnings": outcome.warnings.height + noticed.height,
        "data_docs": _data_docs(params, contracts.data_docs, outcome, run_id),
    }


def _data_docs(params: RunParameters, when: str, outcome: Any, run_id: str) -> str | None:
    """Write the run's Data Docs, or (``when`` is ``on_failure`` and no row broke an expectation, so GX never
    ran) keep their results to be written on request. Returns where they are or how to get them: the run
    summary's line (:func:`report.summary.data_docs_line`, the one place the command is spelt)."""
    # Great Expectations loads in write_data_docs, not with this module: a twin or a report never pays for it
    from data_contracts.report import keep_data_docs_request, write_data_docs
    from report.summary import data_docs_line

    out, now = data_docs_dir(params.warehouse) / run_id, datetime.now(UTC).replace(tzinfo=None)
    if when != "on_failure" or keep_data_docs_request(outcome, out, run_id, now) is None:
        write_data_docs(outcome, out, run_name=run_id, run_time=now)
    return data_docs_line(params.warehouse, run_id)


def data_docs_dir(warehouse: Path) -> Path:
    """Where Great Expectations Data Docs of each run are written: ``<stem>.data-docs/<run_id>/`` beside the
    warehouse (:func:`warehouse.paths.data_docs_dir`)."""
    return paths.data_docs_dir(warehouse)


def commit(params: PlanningParameters, run_id: str, stage_seconds: dict[str, float]) -> None:
    """Publish the run's staged outputs in one transaction."""
    fault_point("commit")
    with open_warehouse(params.warehouse) as wh:
        wh.commit_run(run_id, stage_seconds=stage_seconds)


def publish(params: PlanningParameters, run_id: str | None = None) -> Path:
    """Publish the warehouse's read-only snapshot once the copy is proven (:mod:`warehouse.publish`)."""
    fault_point("publish")
    return publish_snapshot(params.warehouse, run_id, before_rename=lambda: fault_point("publish-rename"))


def fail(params: PlanningParameters, run_id: str, error: BaseException, stage_seconds: dict[str, float]) -> None:
    """Mark the run failed with its error; nothing it staged survives."""
    with open_warehouse(params.warehouse) as wh:
        wh.fail_run(run_id, f"{type(error).__name__}: {error}", stage_seconds=stage_seconds)


# ---------------------------------------------------------------------------------------------- helpers
def _source_settings(params: RunParameters):
    """The run's contract settings with what its source config declares, and the entities it delivers as full
    extracts (:func:`warehouse.source_config.source_settings`); an input folder declares nothing."""
    if params.source is None:
        return params.contracts, frozenset()
    from warehouse.source_config import source_settings

    return source_settings(params.source, params.contracts)


def _staged_clean(wh, run_id: str, table: schema.Table) -> pl.DataFrame:
    name = schema.clean_table_name(table.name)
    if name in wh.staged_names(run_id):
        return wh.staged(run_id, name)
    return table.empty()


def _append_stage(wh, run_id: str, name: str, frame: pl.DataFrame) -> None:
    if name in wh.staged_names(run_id):
        frame = pl.concat([wh.staged(run_id, name), frame], how="vertical_relaxed")
    wh.stage(run_id, name, frame)
