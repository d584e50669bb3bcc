"""The plan stage: the supply plan solved against the run's forecast (or a consensus demand file), its tables
staged and the output contracts checked on it.

:func:`plan` reads the run's validated planning inputs and forecast, applies the service-level overrides
(:func:`_with_service_levels`), plans the demand with its booked orders (:func:`_planned_demand`) and the
frozen weeks' production of the plan of record (:func:`_frozen_production`), warm-starts from the plan it
builds on (:func:`_base_plan_run`) and stages the plan tables and its own warnings (:func:`_plan_warnings`).
It uses :mod:`flows.stages`' helpers (:func:`~flows.stages.fault_point`, :func:`~flows.stages.monday`, the
staged reads); that module imports nothing of it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from data_contracts import schema
from flows.settings import ParameterError, PlanningParameters
from flows.stages import _MASTER, _append_stage, _staged_clean, fault_point, monday
from forecasting.consensus import consume_forecast, rebase_forecast
from warehouse.db import open_warehouse
from warehouse.sources import read_demand_file
from warehouse.views import latest_base_run

__all__ = ["plan"]


def plan(params: PlanningParameters, run_id: str, run_date: date) -> dict[str, Any]:
    """Solve the supply plan against the forecast (or the given demand); stage the plan tables."""
    fault_point("plan")
    # scipy, PuLP and highspy load here, not with this module: the ingest and contracts never solve
    # (0.35 CPU-s of every run's imports, docs/contracts-stage.md, stop 27)
    from flows.solver_bases import basis_loader, missing_bases_warning, save_bases
    from optimization import build_network, plan_supply, safety_stock_targets
    from optimization.kpis import booked_kpis

    with open_warehouse(params.warehouse) as wh:
        inputs = {t.name: _staged_clean(wh, run_id, t) for t in _MASTER}
        fc = wh.staged(run_id, schema.FORECAST.name)
    products = _with_service_levels(inputs[schema.PRODUCTS.name], params.service_level_overrides)
    inputs[schema.PRODUCTS.name] = products
    start_week = monday(run_date)
    network = build_network(inputs, start_week, params.plan)
    demand, fc, added = _planned_demand(fc, params.demand_file, products, inputs[schema.SITES.name])
    safety = safety_stock_targets(fc, products, network)
    base_run = _base_plan_run(params, run_id)
    warm = basis_loader(params.warehouse, base_run)  # a large plan's blocks start there
    result = plan_supply(network, demand, safety, params.plan, _frozen_production(params, run_id), warm)
    saved = save_bases(params.warehouse, run_id, result.blocks, base_run)
    fault_point("plan-solved")
    kpis = schema.PLAN_KPIS.name  # the booked orders' figures against the demand this plan was given
    tables = {**result.tables, kpis: pl.concat([result.tables[kpis], booked_kpis(added)])}
    with open_warehouse(params.warehouse) as wh:
        for name, frame in tables.items():
            wh.stage(run_id, name, frame)
        base_saved = wh.run(base_run)["solver_bases"] if base_run is not None else None
        _plan_warnings(wh, run_id, missing_bases_warning(params.warehouse, base_run, result.blocks, base_saved))
        wh.update_run(
            run_id, solver=result.solver, solver_status=result.solver_status,
            problem_type=result.problem_type, objective=result.objective, mip_gap=result.mip_gap,
            solve_seconds=result.solve_seconds, solver_bases=saved,
        )
    # "Feasible": a MIP stopped at its time limit or gap with a plan in hand (the gap is stored with the run).
    if result.solver_status not in ("Optimal", "Feasible"):
        raise RuntimeError(
            f"the planning model has no usable solution: {result.solver_status} "
            f"(solver {result.solver}, tried {', '.join(result.attempts) or result.solver}); no plan is published."
        )
    # Output contracts: a plan that breaks balance, capacity or lanes is a bug and must never be published.
    from data_contracts.plan import validate_plan  # Great Expectations loads here, not with this module

    checks = validate_plan(result.tables, inputs[schema.LANES.name], inputs[schema.RESOURCES.name])
    with open_warehouse(params.warehouse) as wh:
        _append_stage(wh, run_id, schema.CONTRACT_RESULTS.name, checks)
    return {"solver_status": result.solver_status, "objective": result.objective,
            "solve_seconds": result.solve_seconds}


# ---------------------------------------------------------------------------------------------- helpers
def _planned_demand(fc: pl.DataFrame, demand_file: Path | None, products: pl.DataFrame,
                    sites: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The demand a plan is given, the forecast its safety stock is sized on, and what its booked orders
    added above the demand given, series by series (``booked``, ``booked_added``: :func:`booked_kpis`).

    Booked orders consume whatever demand is planned: the forecast (the forecast stage's, or a scenario's
    changed one, staged with its ``booked_added``), or a consensus file's quantity as far as the file goes
    (beyond its last week the forecast sets the terminal target): there they add what is above the file's
    quantity, not above the forecast."""
    booked = fc.filter(pl.col("booked").is_not_null()).select("product_id", "site_id", "week",
                                                              pl.col("booked").alias("quantity"))
    added = fc
    fc = consume_forecast(fc, booked)
    demand = fc.select("product_id", "site_id", "week", pl.col("mean").alias("quantity"))
    if demand_file is None:
        return demand, fc, added
    given = read_demand_file(demand_file, products, sites)
    last = given["week"].max()
    in_file = consume_forecast(given.select(demand.columns), booked.filter(pl.col("week") <= last), (),
                               value_col="quantity")
    demand = pl.concat([in_file.select(demand.columns), demand.filter(pl.col("week") > last)],
                       how="vertical_relaxed")
    columns = ["product_id", "site_id", "week", "booked", "booked_added"]
    added = pl.concat([in_file.select(columns), added.filter(pl.col("week") > last).select(columns)])
    return demand, rebase_forecast(fc, demand), added  # the consensus keeps the forecast's error distribution


def _frozen_production(params: PlanningParameters, run_id: str) -> pl.DataFrame | None:
    """Production already scheduled for the frozen weeks: the plan of record this run replaces.

    A replan or scenario keeps its base run's starts; a weekly run keeps the latest successful base plan's.
    """
    if params.plan.frozen_weeks == 0:
        return None
    with open_warehouse(params.warehouse) as wh:
        source = wh.run(run_id)["base_run_id"] or latest_base_run(wh.con)
        if source is None:
            return None
        return wh.read(schema.PLAN_PRODUCTION.name, source).select("product_id", "resource_id", "week", "quantity")


def _base_plan_run(params: PlanningParameters, run_id: str) -> str | None:
    """The run a plan builds on: a replan's or scenario's base, else the latest successful base plan."""
    with open_warehouse(params.warehouse) as wh:
        return wh.run(run_id)["base_run_id"] or latest_base_run(wh.con)


def _with_service_levels(products: pl.DataFrame, overrides: dict[str, float]) -> pl.DataFrame:
    unknown = sorted(set(overrides) - set(products["product_id"].to_list()))
    if unknown:
        raise ParameterError(f"service_level_overrides name unknown products: {', '.join(unknown)}")
    if not overrides:
        return products
    return products.with_columns(
        pl.col("product_id").replace_strict(overrides, default=pl.col("service_level"), return_dtype=pl.Float64)
        .alias("service_level")
    )


def _plan_warnings(wh, run_id: str, frame: pl.DataFrame) -> None:
    """Stage the plan stage's own warnings: a replan or scenario copied its base run's warnings, whose
    ``warm_start_missing`` was about the base's plan, not this one's."""
    from flows.solver_bases import WARM_START_MISSING  # with the plan stage's solver (see plan())

    name = schema.RUN_WARNINGS.name
    if name in wh.staged_names(run_id):
        kept = wh.staged(run_id, name).filter(pl.col("rule") != WARM_START_MISSING)
        frame = pl.concat([kept, frame], how="vertical_relaxed")
    wh.stage(run_id, name, frame)
