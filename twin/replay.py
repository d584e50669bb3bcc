"""The digital twin: a Monte Carlo replay of a stored plan over sample paths. Pure functions on frames.

:func:`replay_plan` takes the plan of a run as it was stored (production starts, shipments, the demand
planned against), the network it was solved on, the forecast and demand history of the run and what
was learned about the process (:mod:`twin.process`), and replays the plan on ``paths`` sample
paths, a seeded block of paths at a time (numpy arrays with paths as an axis; only the weeks are a Python
loop), here or on an executor the caller hands over (:func:`twin.sim.simulate_blocks`):

* production starts as planned, batch by batch; each batch fails QC with its learned probability, yields
  a sampled quantity and is released after a sampled delay (:mod:`twin.supply`); a parent's start draws
  its components from the plant's usable stock and is cut, to whole batches, where they are short
  (:mod:`twin.bom`);
* shipments leave as planned where stock allows (:mod:`twin.sim`);
* demand follows sample paths with the forecast's quantiles, intermittent series a bootstrap of their
  history (:mod:`twin.demand`), served first-expiry-first-out from the site's stock;
* backlog, lost demand and expiry follow the plan's rules.

With both variances off (:class:`TwinConfig`) every path is the plan itself, so the twin reproduces the
plan's fill rate, stock and expiry. The result is three frames: ``twin_summary`` (each figure's mean
and P5/P50/P95 over the paths beside the plan's value), ``twin_risk`` (per product × demand site) and
``twin_stock_fan`` (closing stock percentiles per product × site × week), the schema's columns without
``run_id`` and ``twin_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import polars as pl

from data_contracts import schema
from optimization.network import Network
from twin.config import TwinConfig
from twin.demand import DemandSampler, build_demand_sampler
from twin.index import PlanTables, TwinIndex, build_index
from twin.sim import FAN, BlockOutcome, PathBlock, SimOutcome, simulate, simulate_blocks
from twin.supply import failed_rows, sample_releases

__all__ = ["PlanTables", "TwinConfig", "TwinInputs", "TwinResult", "compare_twins", "plan_figures",
           "replay_plan", "stock_fan"]

_OUT = ("run_id", "twin_id")


@dataclass(frozen=True)
class TwinInputs:
    """Everything a replay reads.

    Attributes:
        network: the planning network the plan was solved on.
        plan: the stored plan tables.
        forecast: ``product_id, site_id, week, mean, q01 … q99``.
        series: ``product_id, site_id, series_class`` (forecast_series).
        history: ``product_id, site_id, week, quantity`` (demand_history).
        process: ``process_estimates`` columns (learned yield, failure rate, release weeks and spreads).
        max_backlog_weeks: the plan's maximum backlog age (None = backlog never lapses).
    """

    network: Network
    plan: PlanTables
    forecast: pl.DataFrame
    series: pl.DataFrame
    history: pl.DataFrame
    process: pl.DataFrame
    max_backlog_weeks: int | None = None


@dataclass(frozen=True)
class TwinResult:
    """A replay's frames (schema columns without ``run_id, twin_id``) and per-week path means.

    Attributes:
        summary: ``twin_summary`` rows (``scenario, paths, seed, created_at`` left to the caller).
        risk: ``twin_risk`` rows.
        stock_fan: ``twin_stock_fan`` rows.
        weekly: ``product_id, site_id, week`` and the mean over paths of ``closing, served, expired,
            arrivals, departures, released, receipts, consumed, backlog, lost, demand`` (not stored; for
            checks).
    """

    summary: pl.DataFrame
    risk: pl.DataFrame
    stock_fan: pl.DataFrame
    weekly: pl.DataFrame


def replay_plan(inputs: TwinInputs, config: TwinConfig, executor: Any = None) -> TwinResult:
    """Replay a stored plan on ``config.paths`` sample paths, in seeded blocks of paths (:mod:`twin.sim`).

    Args:
        inputs: what the replay reads.
        config: the replay's settings.
        executor: runs the blocks (``map(fn, items)`` returning results in order, e.g. the pipeline's Dask
            cluster: ``flows/cluster.py``); None runs them here. The result is the same either way.

    Raises:
        KeyError: the plan names a product or product × site the network does not have.
    """
    net = inputs.network
    index = build_index(net, inputs.plan, inputs.forecast.select("product_id", "site_id").unique())
    sampler = build_demand_sampler(index, inputs.forecast, inputs.series, inputs.history, config,
                                   np.random.default_rng(config.seed), net.week_index())  # each block reseeds it
    failed = pl.DataFrame([f.model_dump() for f in config.failed_batches], schema={
        "resource_id": pl.String, "week": pl.Date, "product_id": pl.String, "batches": pl.Int64,
    }).with_columns(t=net.week_index())
    run_block = partial(_replay_block, index, sampler, inputs.process, inputs.max_backlog_weeks, config,
                        failed=failed_rows(index, failed))
    out = simulate_blocks(run_block, config.paths, config.seed, executor)
    weeks = net.weeks.select("t", "week")
    return TwinResult(
        summary=_summary(index, out, plan_figures(inputs.plan, net, config.shortage_tolerance),
                         ~index.nodes["product_id"].is_in(net.components.implode()).to_numpy()),
        risk=_risk(index, out, net, weeks, config.shortage_tolerance),
        stock_fan=stock_fan(index.nodes, out.fan, weeks, inputs.plan.inventory),
        weekly=_weekly(index, out, weeks),
    )


def _replay_block(
    index: TwinIndex, sampler: DemandSampler, process: pl.DataFrame, max_backlog_weeks: int | None,
    config: TwinConfig, block: PathBlock, failed: np.ndarray | None = None,
) -> BlockOutcome:
    """One block of paths: its own demand and process streams, then the week loop (``failed``: batches
    failing on every path per production row, :func:`twin.supply.failed_rows`)."""
    demand_rng, process_rng = block.generators(2)
    release_t, released = sample_releases(index, process, block.paths, config.process_variance, process_rng,
                                          failed)
    demand = replace(sampler, rng=demand_rng, paths=block.paths, _z=None)
    return simulate(index, release_t, released, demand, max_backlog_weeks, config.shortage_tolerance,
                    config.follow_plan_service, config.catch_up_shipments)


# ---------------------------------------------------------------------------------------------- figures
_METRICS = {
    "fill_rate_units": "share", "fill_rate_by_end": "share", "fill_rate_weeks": "share",
    "stockout_weeks": "weeks", "short_units": "units",
    "expired_units": "units", "expiry_cost": "currency", "ending_stock_units": "units",
    "ending_stock_value": "currency", "demand_units": "units", "demand_above_plan_units": "units",
    "released_units": "units",
}


def plan_figures(plan: PlanTables, net: Network, tolerance: float = 1e-6) -> dict[str, float | None]:
    """The plan's own value of each twin figure (the same definitions as on the paths)."""
    b = plan.backlog
    demand = float(b["demand"].sum())
    last = b.filter(pl.col("week") == b["week"].max()) if b.height else b
    unserved = float(b["lost"].sum()) + (float(last["backlog"].sum()) if last.height else 0.0)
    sold = plan.production.filter(pl.col("product_id").is_in(b["product_id"].unique().implode()))
    released = sold.with_columns(t=net.week_index("release_week")).filter(
        pl.col("t").is_between(0, net.horizon - 1))["released_quantity"].sum()
    on_time = float(
        b.select((pl.col("demand") - pl.col("backlog") - pl.col("lost")).clip(lower_bound=0).sum()).item())
    short = (pl.col("backlog") + pl.col("lost")) > tolerance
    with_demand = b.filter(pl.col("demand") > tolerance)
    inv = plan.inventory
    end = inv.filter(pl.col("week") == inv["week"].max()) if inv.height else inv
    sold_end = end.filter(~pl.col("product_id").is_in(net.components.implode()))
    value = end.join(net.products.select("product_id", "unit_cost"), on="product_id", how="left").select(
        (pl.col("closing") * pl.col("unit_cost")).sum()).item() if end.height else 0.0
    return {
        "fill_rate_units": on_time / demand if demand > 0 else None,
        "fill_rate_by_end": 1.0 - unserved / demand if demand > 0 else None,
        "fill_rate_weeks": with_demand.filter(~short).height / with_demand.height if with_demand.height
        else None,
        "stockout_weeks": float(b.filter(short).height),
        "short_units": demand - on_time,
        "expired_units": float(plan.expiry["quantity"].sum()),
        "expiry_cost": float(plan.expiry["cost"].sum()),
        "ending_stock_units": float(sold_end["closing"].sum()) if sold_end.height else 0.0,
        "ending_stock_value": float(value or 0.0),
        "demand_units": demand,
        "demand_above_plan_units": 0.0,
        "released_units": float(released or 0.0),
    }


def _summary(index: TwinIndex, out: SimOutcome, plan: dict[str, float | None], sold_nodes: np.ndarray
             ) -> pl.DataFrame:
    """Each figure over the paths beside the plan's; ``sold_nodes`` (N,) marks the nodes of items sold as such
    (the ending stock's units count only them)."""
    demand = out.demand.sum(axis=1)
    weeks = out.demand_weeks.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_path = {
            "fill_rate_units": np.where(demand > 0, out.on_time.sum(axis=1) / demand, np.nan),
            "fill_rate_by_end": np.where(demand > 0, 1.0 - out.unserved / demand, np.nan),
            "fill_rate_weeks": np.where(weeks > 0, out.served_weeks.sum(axis=1) / weeks, np.nan),
        }
    per_path |= {
        "stockout_weeks": out.short_weeks.sum(axis=1),
        "short_units": demand - out.on_time.sum(axis=1),
        "expired_units": out.expired_units,
        "expiry_cost": out.expired_value,
        "ending_stock_units": out.end_stock[:, sold_nodes].sum(axis=1),
        "ending_stock_value": out.end_stock @ index.unit_cost,
        "demand_units": demand,
        "demand_above_plan_units": out.above_plan.sum(axis=1),
        "released_units": out.released_sold,
    }
    rows = []
    for metric, unit in _METRICS.items():
        v = per_path[metric][~np.isnan(per_path[metric])]
        q = np.percentile(v, [5, 50, 95]) if v.size else [None] * 3
        rows.append((metric, unit, plan[metric], float(v.mean()) if v.size else None,
                     *(float(x) if x is not None else None for x in q)))
    return pl.DataFrame(rows, orient="row", schema={
        "metric": pl.String, "unit": pl.String, "plan_value": pl.Float64, "mean": pl.Float64,
        "p05": pl.Float64, "p50": pl.Float64, "p95": pl.Float64,
    })


def _iso(d: pl.Expr) -> pl.Expr:
    return d.dt.strftime("%G-W%V")


def _risk(index: TwinIndex, out: SimOutcome, net: Network, weeks: pl.DataFrame, tol: float) -> pl.DataFrame:
    d, h = out.short_prob.shape
    keys = index.nodes[index.demand_nodes.tolist()].select("product_id", "site_id").with_row_index("pos")
    target = keys.join(net.products.select("product_id", "service_level"), on="product_id", how="left",
                       validate="m:1")["service_level"].to_numpy()
    demand, short = out.demand.mean(axis=0), (out.demand - out.on_time).mean(axis=0)
    dw = out.demand_weeks.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        fill = np.where(demand > tol, 1.0 - short / demand, np.nan)
        achieved = np.where(dw > 0, out.served_weeks.sum(axis=0) / dw, np.nan)
    at_risk = out.short_prob > (1.0 - target)[:, None]
    risk_weeks = (
        pl.DataFrame({"pos": np.repeat(np.arange(d), h), "t": np.tile(np.arange(h), d),
                      "risk": at_risk.ravel()}, schema={"pos": pl.UInt32, "t": pl.Int64, "risk": pl.Boolean})
        .filter("risk").join(weeks, on="t", validate="m:1").sort("pos", "t")
        .group_by("pos").agg(pl.col("week").first().alias("first_week_at_risk"),
                             _iso(pl.col("week")).str.join(",").alias("at_risk_weeks"))
    )
    frame = keys.with_columns(
        shortage_probability=pl.Series(((out.short_weeks > 0).mean(axis=0))),
        expected_short_units=pl.Series(short),
        expected_demand=pl.Series(demand),
        fill_rate=pl.Series(fill).fill_nan(None),
        service_level_achieved=pl.Series(achieved).fill_nan(None),
        service_level_target=pl.Series(target),
        weeks_at_risk=pl.Series(at_risk.sum(axis=1).astype(np.int64)),
    ).join(risk_weeks, on="pos", how="left", validate="1:1").with_columns(
        meets_target=pl.col("service_level_achieved").fill_null(1.0) >= pl.col("service_level_target"),
        at_risk_weeks=pl.col("at_risk_weeks").fill_null(""),  # no week at risk
    )
    return _columns(schema.TWIN_RISK, frame.sort("product_id", "site_id"))


def stock_fan(
    nodes: pl.DataFrame, fan: np.ndarray, weeks: pl.DataFrame, plan_inventory: pl.DataFrame
) -> pl.DataFrame:
    """The fan chart of projected stock: P5/P25/P50/P75/P95 of closing stock per product × site × week.

    Args:
        nodes: ``node, product_id, site_id`` (node = row number of ``fan``'s second axis).
        fan: (5, N, H) percentiles over the paths, in the order of :data:`FAN`.
        weeks: ``t, week``.
        plan_inventory: the plan's ``product_id, site_id, week, closing`` (its line on the chart).

    Returns:
        The ``twin_stock_fan`` columns without ``run_id, twin_id``, sorted by product, site, week.
    """
    n, h = fan.shape[1], fan.shape[2]
    frame = pl.DataFrame({
        "node": np.repeat(np.arange(n), h), "t": np.tile(np.arange(h), n),
        **{f"p{q:02d}": fan[i].ravel() for i, q in enumerate(FAN)},
    }, schema_overrides={"node": pl.Int64, "t": pl.Int64})
    frame = (
        frame.join(nodes, on="node", validate="m:1").join(weeks, on="t", validate="m:1")
        .join(plan_inventory.select("product_id", "site_id", "week", pl.col("closing").alias("plan_closing")),
              on=["product_id", "site_id", "week"], how="left", validate="1:1")
    )
    return _columns(schema.TWIN_STOCK_FAN, frame.sort("product_id", "site_id", "week"))


def compare_twins(base: pl.DataFrame, other: pl.DataFrame) -> pl.DataFrame:
    """Two replays' summaries side by side: ``metric, unit, base_mean, other_mean, delta_mean`` and P5/P95."""
    cols = ["mean", "p05", "p95"]
    a = base.select("metric", "unit", *[pl.col(c).alias(f"base_{c}") for c in cols])
    b = other.select("metric", *[pl.col(c).alias(f"other_{c}") for c in cols])
    return a.join(b, on="metric", how="full", coalesce=True, validate="1:1").with_columns(
        delta_mean=pl.col("other_mean") - pl.col("base_mean")
    )


def _weekly(index: TwinIndex, out: SimOutcome, weeks: pl.DataFrame) -> pl.DataFrame:
    n, h = out.mean["closing"].shape
    frame = pl.DataFrame({"node": np.repeat(np.arange(n), h), "t": np.tile(np.arange(h), n),
                          **{k: v.ravel() for k, v in out.mean.items() if v.shape[0] == n}},
                         schema_overrides={"node": pl.Int64, "t": pl.Int64})
    d = len(index.demand_nodes)
    dem = pl.DataFrame({"node": np.repeat(index.demand_nodes, h), "t": np.tile(np.arange(h), d),
                        **{k: out.mean[k].ravel() for k in ("backlog", "lost", "demand")}},
                       schema_overrides={"node": pl.Int64, "t": pl.Int64})
    return (
        frame.join(dem, on=["node", "t"], how="left", validate="1:1")
        .with_columns(pl.col("backlog", "lost", "demand").fill_null(0.0))  # no demand at the node
        .join(index.nodes, on="node", validate="m:1").join(weeks, on="t", validate="m:1")
        .drop("node", "t").sort("product_id", "site_id", "week")
    )


def _columns(table: schema.Table, frame: pl.DataFrame) -> pl.DataFrame:
    cols = [c for c in table.column_names if c not in _OUT]
    return frame.select(pl.col(c).cast(table.columns[c]) for c in cols)
