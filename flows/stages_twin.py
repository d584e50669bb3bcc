"""The twin's stages, callable with or without Prefect: learn the process from batch records, replay a
stored plan over sample paths.

``learn_process`` is a stage of a planning run (before ``plan``): it stages ``process_estimates`` and,
when the run's process switch is on, the routings the plan uses (learned yield and release weeks).
``replay`` replays a run's stored plan (:func:`twin.replay.replay_plan`) and stores ``twin_summary``,
``twin_risk`` and ``twin_stock_fan`` keyed by the run and a twin id, in one small transaction; the caller
holds the warehouse lock (:func:`flows.twin_replay.twin_replay`). With ``twin.cluster`` set, the replay's
blocks of paths run on that Dask cluster (:func:`flows.cluster.twin_executor`), with the same tables.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from data_contracts import schema
from data_contracts.config import ParameterError
from flows.cluster import twin_executor
from flows.settings import TwinParameters
from optimization import PlanConfig, build_network
from twin.config import TwinConfig
from twin.process import ProcessConfig, apply_process_estimates, estimate_process
from twin.replay import PlanTables, TwinInputs, TwinResult, replay_plan
from warehouse.db import Warehouse, open_warehouse
from warehouse.frames import no_negative_zero
from warehouse.layout import sql_type

__all__ = ["ensure_twin_tables", "learn_process", "load_twin_inputs", "replay", "resolve_run", "store_twin"]

#: intermediate staged table keeping the routings as the contracts passed them (not committed)
_CONTRACT_ROUTINGS = "routings_contract"
def ensure_twin_tables(wh: Warehouse) -> None:
    """Create the process and twin tables if the warehouse does not have them yet (idempotent)."""
    for t in schema.TWIN_TABLES:
        cols = ", ".join(f'"{c}" {sql_type(d)}' for c, d in t.columns.items())
        wh.con.execute(f"CREATE TABLE IF NOT EXISTS {t.name} ({cols})")


def learn_process(params: Any, run_id: str) -> dict[str, Any]:
    """Learn yield, QC failure rate and release weeks from the run's clean batch records.

    Stages ``process_estimates``; when ``params.process.use_learned`` (default on) also re-stages the
    run's clean routings with the learned effective yield and release weeks, which the ``plan`` stage then
    reads. The routings as the contracts passed them stay in ``process_estimates`` (``routing_*``).
    Calling it twice in a run gives the same result (it starts from the contract's routings each time).

    Args:
        params: the run's parameters (``warehouse`` and, optionally, ``process``: a ProcessConfig).
        run_id: the run.
    """
    config: ProcessConfig = getattr(params, "process", None) or ProcessConfig()
    routings_name = schema.clean_table_name(schema.ROUTINGS.name)
    batches_name = schema.clean_table_name(schema.BATCHES.name)
    with open_warehouse(params.warehouse) as wh:
        ensure_twin_tables(wh)
        staged = wh.staged_names(run_id)
        source = _CONTRACT_ROUTINGS if _CONTRACT_ROUTINGS in staged else routings_name
        routings = wh.staged(run_id, source)
        batches = wh.staged(run_id, batches_name) if batches_name in staged else schema.BATCHES.empty()
        estimates = estimate_process(batches, routings, config)
        wh.stage(run_id, schema.PROCESS_ESTIMATES.name, estimates)
        if config.use_learned:
            wh.stage(run_id, _CONTRACT_ROUTINGS, routings)
            wh.stage(run_id, routings_name, apply_process_estimates(routings, estimates))
    changed = estimates.filter(
        (pl.col("effective_yield") != pl.col("routing_yield"))
        | (pl.col("effective_release_weeks") != pl.col("routing_release_weeks"))
    ).height
    return {"routings": estimates.height, "batches": int(estimates["batches"].sum()),
            "applied": config.use_learned, "routings_changed": changed if config.use_learned else 0}


def resolve_run(wh: Warehouse, run_id: str | None, scenario: str | None) -> dict[str, Any]:
    """The run to replay: the given one, else the latest successful run of ``scenario`` (default ``base``,
    the plan of record).

    Raises:
        ParameterError: no such run, or it did not succeed.
    """
    if run_id is None:
        runs = wh.read(schema.RUNS.name).filter(pl.col("status") == "success")
        scenario = scenario or "base"
        runs = runs.filter(pl.col("scenario") == scenario)
        if runs.is_empty():
            raise ParameterError(
                f"{wh.path} has no successful run of scenario {scenario!r} to replay; plan it first.")
        run_id = runs.sort("started_at")["run_id"][-1]
    run = wh.run(run_id)  # an unknown id: UnknownRun, a ParameterError
    if run["status"] != "success":
        raise ParameterError(
            f"run {run_id} ended {run['status']}; only a successful run has a plan to replay.")
    return run


def load_twin_inputs(wh: Warehouse, run: dict[str, Any]) -> TwinInputs:
    """Everything the replay of ``run`` reads: its inputs, plan, forecast, history and process estimates.

    The network is rebuilt from the run's clean inputs and plan settings, with the run's service-level
    overrides and, where the run planned with learned process values, the routings it planned with.
    """
    run_id = run["run_id"]
    params = json.loads(run["parameters"] or "{}")
    plan_config = PlanConfig.model_validate(params.get("plan", {}))

    def read(name: str) -> pl.DataFrame:
        return _drop_run(wh.read(name, run_id))

    inputs = wh.planning_inputs(run_id)
    overrides = params.get("service_level_overrides") or {}
    if overrides:
        inputs[schema.PRODUCTS.name] = inputs[schema.PRODUCTS.name].with_columns(
            pl.col("product_id").replace_strict(overrides, default=pl.col("service_level"),
                                                return_dtype=pl.Float64).alias("service_level"))
    own = read(schema.PROCESS_ESTIMATES.name)
    # the routings the plan used: the run's own learned values where it planned with them
    inputs[schema.ROUTINGS.name] = apply_process_estimates(inputs[schema.ROUTINGS.name],
                                                           own.filter(pl.col("applied")))
    process = own if not own.is_empty() else _process_of(wh, run, inputs[schema.ROUTINGS.name])
    run_date = run["run_date"]
    network = build_network(inputs, run_date - timedelta(days=run_date.weekday()), plan_config)
    plan = PlanTables(
        production=read(schema.PLAN_PRODUCTION.name), shipments=read(schema.PLAN_SHIPMENTS.name),
        inventory=read(schema.PLAN_INVENTORY.name), backlog=read(schema.PLAN_BACKLOG.name),
        expiry=read(schema.PLAN_EXPIRY.name),
    )
    return TwinInputs(
        network=network, plan=plan, forecast=read(schema.FORECAST.name),
        series=read(schema.FORECAST_SERIES.name), history=read(schema.DEMAND_HISTORY.name), process=process,
        max_backlog_weeks=plan_config.max_backlog_weeks,
    )


def store_twin(wh: Warehouse, run: dict[str, Any], result: TwinResult, config: TwinConfig) -> str:
    """Write a replay's three tables in one transaction; returns the new twin id."""
    twin_id = f"twin-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    ids = [pl.lit(run["run_id"]).alias("run_id"), pl.lit(twin_id).alias("twin_id")]
    summary = result.summary.with_columns(
        scenario=pl.lit(run["scenario"]), paths=pl.lit(config.paths, pl.Int64),
        seed=pl.lit(config.seed, pl.Int64),
        created_at=pl.lit(datetime.now(UTC).replace(tzinfo=None), pl.Datetime("us")),
    )
    ensure_twin_tables(wh)
    with wh.transaction():
        for table, frame in ((schema.TWIN_SUMMARY, summary), (schema.TWIN_RISK, result.risk),
                             (schema.TWIN_STOCK_FAN, result.stock_fan)):
            wh._insert(table.name, no_negative_zero(frame.with_columns(ids).select(table.column_names)))  # noqa: SLF001
    return twin_id


def replay(params: TwinParameters) -> dict[str, Any]:
    """Replay a run's plan and store the result (the caller holds the warehouse lock).

    Returns:
        ``twin_id, run_id, scenario`` and the summary rows as dicts.
    """
    with open_warehouse(params.warehouse) as wh:
        ensure_twin_tables(wh)
        run = resolve_run(wh, params.run_id, params.scenario)
        inputs = load_twin_inputs(wh, run)
        with twin_executor(params.twin) as executor:  # the blocks of paths on a Dask cluster if configured
            result = replay_plan(inputs, params.twin, executor)
        twin_id = store_twin(wh, run, result, params.twin)
    return {"twin_id": twin_id, "run_id": run["run_id"], "scenario": run["scenario"],
            "summary": result.summary.to_dicts()}


def _process_of(wh: Warehouse, run: dict[str, Any], routings: pl.DataFrame) -> pl.DataFrame:
    """Process estimates for a run that has none of its own, learned now for the replay only.

    From the run's batch records, else its base run's (a replan or scenario reuses the base's inputs but
    not its batch records): the base's estimates, else the base's batch records.
    """
    batches_name = schema.clean_table_name(schema.BATCHES.name)
    seen: set[str] = set()
    while run is not None and run["run_id"] not in seen:
        seen.add(run["run_id"])
        batches = _drop_run(wh.read(batches_name, run["run_id"]))
        if not batches.is_empty():
            return estimate_process(batches, routings, ProcessConfig(use_learned=False))
        base_id = run.get("base_run_id")
        run = wh.run(base_id) if base_id else None
        if run is not None:
            est = _drop_run(wh.read(schema.PROCESS_ESTIMATES.name, run["run_id"]))
            if not est.is_empty():
                return est
    return estimate_process(schema.BATCHES.empty(), routings, ProcessConfig(use_learned=False))


def _drop_run(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop("run_id") if "run_id" in frame.columns else frame
