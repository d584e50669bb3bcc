"""Supply planning: pure functions on polars frames, a PuLP model solved by HiGHS (CBC as fallback).

Public API::

    build_network(inputs, start_week, config) -> Network        # validate inputs, index frames
    safety_stock_targets(forecast, products, network) -> frame  # product_id, site_id, week, safety_stock
    plan_supply(network, demand, safety_stock, config, scheduled_production=None) -> PlanResult

Modules: ``config`` (PlanConfig, PlanInputError), ``validation`` (input rules), ``network`` (weeks, cohorts,
presence, lead times; over ``network_cohorts``, the cohort rules, ``network_inputs``, the input entities
checked, and ``network_reach``, shortest transit and earliest presence), ``variables`` (one function per
variable family; shelf life as variable domains), ``constraints`` (one function per constraint family, named
rows), ``model`` (assembly + objective), ``lp`` (PuLP builder from frames), ``pulp_highs`` (PuLP's HiGHS class
with a bulk transfer), ``highs_direct`` (same model as highspy arrays), ``decompose`` (the arrays solved
exactly as independent sub-networks in parallel, warm-startable: large plans; over ``decompose_blocks``, the
blocks found, ordered and keyed, ``decompose_highs``, each block's HiGHS options and status, and
``decompose_price``, an hour's price range on its block), ``solve`` (status as data, fallback; over
``solver``, the solver made and its result read, ``solve_start``, the campaign MIP's start over
``solve_search`` and ``solve_bounds``, and ``solve_duals``, MIP duals and the worth of an hour re-solved from
both sides), ``terminal`` (the end-of-horizon condition), ``results``/``kpis``/``shortages`` (plan tables;
``shortages`` over ``shortage_rows``, ``shortage_capacity``, ``shortage_bom``, ``shortage_campaigns``,
``shortage_recovery``, ``shortage_reasons``, ``shortage_text``), ``scenario`` (what-if files: ``scenario``
parses, ``scenario_check``, ``scenario_apply``, ``scenario_campaigns``), ``safety_stock``,
``examples``/``synthetic`` (hand-checkable and random inputs).

May import: ``data_contracts``, pulp, highspy, polars, numpy.
Must not import: ``warehouse`` (no I/O), ``forecasting``, ``twin``, ``report``, ``flows``, ``cli``.

The public names below are imported lazily (as :mod:`forecasting`'s), so that ``from optimization import
PlanConfig`` (the run's parameters) does not pay for scipy, PuLP and highspy: a run's ingest and contracts
never solve anything (0.35 CPU-s of a fresh process's imports, docs/contracts-stage.md, stop 27).
"""

from __future__ import annotations

from data_contracts.lazy import lazy_names

_PUBLIC = {
    "Network": "optimization.network",
    "PlanConfig": "optimization.config",
    "PlanInputError": "optimization.config",
    "PlanResult": "optimization.plan",
    "build_network": "optimization.network",
    "plan_supply": "optimization.plan",
    "safety_stock_targets": "optimization.safety_stock",
}

__all__ = sorted(_PUBLIC)

__getattr__, __dir__ = lazy_names(globals(), _PUBLIC)
