"""``plan_supply``: check the plan inputs, build the model, solve it and return the plan tables."""

from __future__ import annotations

import time
from dataclasses import dataclass

import polars as pl

from data_contracts import schema
from optimization.buckets import bucket_grid, expand_tables, to_buckets
from optimization.campaign_results import campaign_kpis
from optimization.config import PlanConfig, PlanInputError
from optimization.decompose import BlockState, WarmStart
from optimization.highs_direct import ArrayBuilder
from optimization.kpis import plan_kpis
from optimization.model import build_model
from optimization.network import Network, on_grid
from optimization.pegging import plan_pegging, plan_pegging_bom
from optimization.results import cost_components, empty_tables, plan_tables, solution_frames, with_price_range
from optimization.shortages import plan_shortages
from optimization.solve import solve_model
from optimization.solve_duals import capacity_price_range
from optimization.terminal import component_targets, terminal_targets
from optimization.validation import check_known, check_monday, check_rule, check_unique

__all__ = ["PlanResult", "plan_supply", "uses_blocks"]


@dataclass(frozen=True)
class PlanResult:
    """A solved (or not) plan.

    Attributes:
        tables: ``plan_production, plan_shipments, plan_inventory, plan_backlog, plan_expiry, plan_capacity,
            plan_shortages, plan_kpis`` with the schema columns minus ``run_id`` (empty without a solution).
        solver: solver that produced the answer (``highs`` or ``cbc``).
        solver_status: ``Optimal``, ``Feasible``, ``Infeasible``, ``Unbounded`` or ``Not Solved``.
        problem_type: ``LP`` or ``MIP``.
        objective: objective value (= ``cost_total``), None without a solution.
        mip_gap: relative gap (0 for an LP; None when the solver does not report it).
        solve_seconds: solver wall time (including the fixed-integer LP of a MIP).
        build_seconds: time spent building the model.
        attempts: each solver tried and how it ended.
        relaxation_objective: a campaign MIP's LP relaxation (a lower bound), None otherwise.
        blocks: on the ``blocks`` path, the solved blocks (:class:`~optimization.decompose.BlockState`:
            their HiGHS models with the optimal bases, keys, sizes, seconds); None on the ``pulp`` path.
    """

    tables: dict[str, pl.DataFrame]
    solver: str
    solver_status: str
    problem_type: str
    objective: float | None
    mip_gap: float | None
    solve_seconds: float
    build_seconds: float = 0.0
    attempts: tuple[str, ...] = ()
    blocks: BlockState | None = None
    relaxation_objective: float | None = None


def plan_supply(
    network: Network,
    demand: pl.DataFrame,
    safety_stock: pl.DataFrame,
    config: PlanConfig,
    scheduled_production: pl.DataFrame | None = None,
    warm_start: WarmStart | None = None,
) -> PlanResult:
    """Plan production, shipments and stock over the horizon at least cost.

    Args:
        network: from :func:`~optimization.network.build_network`.
        demand: ``product_id, site_id, week, quantity``; a product × site × week without a row has no
            demand. Weeks before the start are ignored; weeks after the horizon set the terminal
            condition (``config.terminal_condition``: the stock the plan must leave for them).
        safety_stock: ``product_id, site_id, week, safety_stock`` (may be empty).
        config: planning configuration.
        scheduled_production: ``product_id, resource_id, week, quantity``: starts fixed in the first
            ``config.frozen_weeks`` weeks; in frozen weeks nothing else starts. Production already
            started is better given as ``receipts`` of kind ``production``.
        warm_start: on the ``blocks`` path, offered each block's key and HiGHS model before it runs, to
            load a stored basis (a replan starts from its base run's; see :mod:`optimization.decompose`).

    Returns:
        The :class:`PlanResult`; an infeasible or unsolved model is a status, not an exception.

    Raises:
        PlanInputError: unknown keys, negative quantities, duplicate rows, non-Monday weeks, or a
            frozen schedule that needs more hours than a resource has.
    """
    start = time.perf_counter()
    demand = _checked(network, demand, "demand", "quantity", "site_id")
    d = _in_horizon(network, demand)
    ss = _in_horizon(network, _checked(network, safety_stock, "safety_stock", "safety_stock", "site_id"))
    sched = _scheduled(network, scheduled_production, config)
    beyond = demand.with_columns(t=network.week_index()).filter(pl.col("t") >= network.horizon).drop("week")
    terminal = terminal_targets(network, beyond, ss) if config.terminal_condition else None
    sold_target = float(terminal["target"].sum()) if terminal is not None else None
    if terminal is not None and network.bom.height:
        # an item sold as such and consumed by its parents (a drug substance with orders of its own) has
        # both targets: one row, their sum, priced as dear as its parents' (a null penalty is its own)
        terminal = (
            pl.concat([terminal, component_targets(network, beyond)], how="diagonal_relaxed")
            .group_by("product_id", maintain_order=True)
            .agg(pl.col("lead_time_demand", "safety_stock", "target").sum(), pl.col("unit_penalty").max())
        )
    builder = ArrayBuilder() if uses_blocks(network, config) else None
    grid = bucket_grid(network, config)  # far weeks in longer buckets, if asked (optimization/buckets.py)
    model_net = on_grid(network, grid)
    model = build_model(
        model_net,
        to_buckets(d, grid, "quantity"),
        to_buckets(ss, grid, "safety_stock", "mean"),
        sched,
        config,
        builder=builder,
        terminal=terminal,
    )
    build_seconds = time.perf_counter() - start
    outcome = solve_model(model, config, warm_start)
    if outcome.has_solution:
        sol = solution_frames(model)
        duals = {f: model.builder.duals(f) for f in ("capacity", "lane")} if outcome.has_duals else {}
        tables = plan_tables(model, sol, duals)
        if grid.bucketed:  # back to weeks; a bucket's binding lane is dated at its first week
            tables = expand_tables(
                tables, grid, network.start_week, ss.with_columns(week=network.week_date("t")),
                network.hours.with_columns(week=network.week_date("t")),
            )
            if duals.get("lane") is not None and "t" in duals["lane"].columns:
                duals["lane"] = duals["lane"].with_columns(t=grid.first(pl.col("t")))
        measured: list[pl.DataFrame] = []

        def price_range(keys: pl.DataFrame) -> pl.DataFrame:
            if not outcome.has_duals:
                measured.append(keys.clear())
            elif grid.bucketed:  # an hour more in a week is an hour more in its bucket
                weekly = keys.select("resource_id", "t", b=grid.containing(pl.col("t")))
                by_bucket = capacity_price_range(model, weekly.select("resource_id", t="b").unique())
                measured.append(
                    weekly.join(by_bucket.rename({"t": "b"}), on=["resource_id", "b"], how="inner").drop("b")
                )
            else:
                measured.append(capacity_price_range(model, keys))
            return measured[-1]

        tables[schema.PLAN_SHORTAGES.name] = plan_shortages(
            network,
            tables[schema.PLAN_BACKLOG.name],
            tables[schema.PLAN_CAPACITY.name],
            duals.get("lane"),
            price_range,
            tables[schema.PLAN_CAMPAIGNS.name],
            tables[schema.PLAN_INVENTORY.name],
        )
        tables[schema.PLAN_CAPACITY.name] = with_price_range(network, tables[schema.PLAN_CAPACITY.name], measured)
        tables[schema.PLAN_PEGGING.name] = plan_pegging(
            tables[schema.PLAN_INVENTORY.name], tables[schema.PLAN_PRODUCTION.name],
            tables[schema.PLAN_SHIPMENTS.name], tables[schema.PLAN_BACKLOG.name], network.bom)
        tables[schema.PLAN_PEGGING_BOM.name] = plan_pegging_bom(
            tables[schema.PLAN_PEGGING.name], tables[schema.PLAN_PRODUCTION.name], network.bom)
        tables[schema.PLAN_KPIS.name] = plan_kpis(
            tables,
            cost_components(model, sol),
            network.horizon,
            network.products.select("product_id", "unit_cost"),
            sold_target,
            extra=campaign_kpis(
                sol,
                tables[schema.PLAN_CAMPAIGNS.name],
                tables[schema.PLAN_CAPACITY.name],
                network.resources.filter(pl.col("campaign"))["resource_id"],
            ),
            components=network.components,
        )
    else:
        tables = empty_tables()
    return PlanResult(
        tables=tables,
        solver=outcome.solver,
        solver_status=outcome.status,
        problem_type=outcome.problem_type,
        objective=outcome.objective,
        mip_gap=outcome.mip_gap,
        solve_seconds=outcome.seconds,
        build_seconds=build_seconds,
        attempts=outcome.attempts,
        blocks=getattr(model.builder, "blocks", None),
        relaxation_objective=outcome.relaxation_objective,
    )


def uses_blocks(network: Network, config: PlanConfig) -> bool:
    """Whether the plan is built as arrays and solved block by block (``config.solve_path``)."""
    # lot sizing as a MIP: PuLP and HiGHS's MIP; a campaign network splits into blocks like the LP (each
    # block with campaigns solved as its own MIP, optimization/campaign_blocks.py)
    if config.mip or config.solve_path == "pulp":
        return False
    # campaigns at any size: the kept highspy model (relaxation, start, passes, MIP, fixed-integer LP on one
    # model, each from the last one's basis or incumbent) instead of PuLP re-building it for each step
    return (config.solve_path == "blocks" or network.products.height >= config.blocks_min_products
            or (network.has_campaigns and config.campaign_kept_model))


def _checked(net: Network, frame: pl.DataFrame, name: str, value: str, site_col: str) -> pl.DataFrame:
    need = ["product_id", site_col, "week", value]
    if frame.width == 0:  # no frame given at all: no rows
        frame = pl.DataFrame(schema={c: pl.String for c in need})
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise PlanInputError(f"{name}: missing column(s) {', '.join(missing)}")
    frame = frame.select(
        pl.col("product_id").cast(pl.String),
        pl.col(site_col).cast(pl.String),
        pl.col("week").cast(pl.Date),
        pl.col(value).cast(pl.Float64),
    )
    key = need[:3]
    for col in need:
        check_rule(frame, name, col, pl.col(col).is_not_null(), "null values are not allowed", key)
    check_unique(frame, name, key)
    check_known(frame, name, "product_id", net.products["product_id"], "product", key)
    known = net.resources["resource_id"] if site_col == "resource_id" else net.sites["site_id"]
    check_known(frame, name, site_col, known, site_col.removesuffix("_id"), key)
    check_monday(frame, name, "week", key)
    check_rule(frame, name, value, pl.col(value) >= 0, "must be >= 0", key)
    return frame


def _in_horizon(net: Network, frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.with_columns(t=net.week_index()).filter(pl.col("t").is_between(0, net.horizon - 1)).drop("week")
    )


def _scheduled(net: Network, scheduled: pl.DataFrame | None, config: PlanConfig) -> pl.DataFrame:
    empty = pl.DataFrame(
        schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64, "quantity": pl.Float64}
    )
    if scheduled is None or config.frozen_weeks == 0:
        return empty
    frame = _in_horizon(net, _checked(net, scheduled, "scheduled_production", "quantity", "resource_id"))
    frame = frame.filter(pl.col("t") < config.frozen_weeks)
    key = ["product_id", "resource_id"]
    unrouted = frame.join(net.routings.select(key), on=key, how="anti")
    if unrouted.height:
        raise PlanInputError(
            f"scheduled_production: no routing for {unrouted.select(key).unique().head(5).rows()}"
        )
    over = (
        frame.join(net.routings.select(*key, "hours_per_unit"), on=key, validate="m:1")
        .group_by("resource_id", "t")
        .agg((pl.col("quantity") * pl.col("hours_per_unit")).sum().alias("need"))
        .join(net.hours, on=["resource_id", "t"], validate="1:1")
        .filter(pl.col("need") > pl.col("hours_available") + 1e-9)
    )
    if over.height:
        raise PlanInputError(
            "scheduled_production: frozen starts need more hours than available (resource, week index, "
            "hours needed, hours available): "
            f"{over.select('resource_id', 't', 'need', 'hours_available').head(5).rows()}"
        )
    return frame.select(empty.columns)
