"""Property tests on random small networks: balance, capacity, lane capacity, shelf life, costs."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts.plan import BALANCE_IN, BALANCE_OUT
from optimization import PlanConfig, build_network
from optimization import examples as ex
from optimization.model import build_model
from optimization.plan import _checked, _in_horizon, _scheduled
from optimization.results import cost_components, plan_tables, solution_frames
from optimization.solve import solve_model
from optimization.synthetic import random_inputs


def _solve(seed, n_products, n_dcs, horizon, share, max_backlog, mip, life_from="manufacture"):
    inputs, demand = random_inputs(
        seed=seed, n_products=n_products, n_plants=2, n_dcs=n_dcs, horizon=horizon, shelf_life_share=0.6
    )
    inputs["products"] = inputs["products"].with_columns(shelf_life_from=pl.lit(life_from))
    cfg = PlanConfig(
        horizon_weeks=horizon,
        min_shelf_life_share_at_dc=share,
        max_backlog_weeks=max_backlog,
        mip=mip,
        time_limit_seconds=20,
    )
    net = build_network(inputs, ex.START, cfg)
    d = _in_horizon(net, _checked(net, demand, "demand", "quantity", "site_id"))
    ss = d.select("product_id", "site_id", "t", safety_stock=pl.col("quantity") * 0.3)
    model = build_model(net, d, ss, _scheduled(net, None, cfg), cfg)
    outcome = solve_model(model, cfg)
    return net, model, outcome


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 10_000),
    n_products=st.integers(1, 4),
    n_dcs=st.integers(1, 3),
    horizon=st.integers(2, 8),
    share=st.sampled_from([0.0, 0.5]),
    max_backlog=st.sampled_from([None, 0, 2]),
    mip=st.booleans(),
    life_from=st.sampled_from(["manufacture", "release"]),
)
def test_random_plans_keep_every_invariant(
    seed, n_products, n_dcs, horizon, share, max_backlog, mip, life_from
):
    net, model, outcome = _solve(seed, n_products, n_dcs, horizon, share, max_backlog, mip, life_from)
    assert outcome.status in ("Optimal", "Feasible")
    sol = solution_frames(model)
    tables = plan_tables(model, sol, {})
    inv = tables["plan_inventory"]
    # the plan contract's balance
    flow = pl.sum_horizontal(BALANCE_IN) - pl.sum_horizontal(BALANCE_OUT) - pl.col("closing")
    assert inv.select(flow.abs().max()).item() < 1e-6
    assert inv["closing"].min() >= 0
    cap = tables["plan_capacity"]
    assert cap.filter(pl.col("hours_used") > pl.col("hours_available") + 1e-6).height == 0
    lanes = net.lanes.filter(pl.col("capacity_per_week").is_not_null())
    shipped = (
        tables["plan_shipments"]
        .join(lanes, on=["from_site", "to_site"])
        .group_by("from_site", "to_site", "week")
        .agg(pl.col("quantity").sum(), pl.col("capacity_per_week").first())
    )
    assert shipped.filter(pl.col("quantity") > pl.col("capacity_per_week") + 1e-6).height == 0
    # shelf life: nothing is held, served or shipped after its last usable week; arrivals at DCs keep the share
    life = net.products.select("product_id", "shelf_life_weeks")
    for fam in ("stock", "served"):
        live = sol[fam].filter(pl.col("value") > 1e-7)
        assert live.filter(pl.col("t") > pl.col("cohort")).height == 0
    arrivals = (
        sol["ship"]
        .filter(pl.col("value") > 1e-7)
        .join(life, on="product_id")
        .join(net.sites.rename({"site_id": "to_site"}), on="to_site")
        .filter(
            (pl.col("site_type") == "dc")
            & pl.col("shelf_life_weeks").is_not_null()
            & (pl.col("cohort") < 10**6)
        )
    )
    assert (
        arrivals.filter(
            pl.col("cohort") - pl.col("arrival") + 1 < share * pl.col("shelf_life_weeks") - 1e-9
        ).height
        == 0
    )
    # produced units are never older than their shelf life: a start in week s (life from manufacture)
    # or a release in week τ (life from release) is used by s + L − 1 or τ + L − 1
    life_start = pl.col("t") if life_from == "manufacture" else pl.col("release_t")
    made = (
        sol["make"]
        .filter((pl.col("value") > 1e-7) & pl.col("cohort").is_not_null())
        .join(life, on="product_id")
    )
    assert (
        made.filter(
            pl.col("shelf_life_weeks").is_not_null()
            & (pl.col("cohort") < 10**6)
            & (pl.col("cohort") != life_start + pl.col("shelf_life_weeks") - 1)
        ).height
        == 0
    )
    costs = cost_components(model, sol)
    assert costs["cost_total"] == pytest.approx(sum(v for k, v in costs.items() if k != "cost_total"))
    assert costs["cost_total"] == pytest.approx(outcome.objective, rel=1e-6, abs=1e-4)
    if max_backlog is not None:
        assert tables["plan_backlog"]["backlog"].min() >= 0
    if mip:
        batches = sol.get("batches")
        if batches is not None and batches.height:
            assert (batches["value"] - batches["value"].round()).abs().max() < 1e-6


@pytest.mark.parametrize("seed", [1, 2])
def test_bulk_transfer_and_highspy_arrays_match_pulps_own_highs(seed):
    """The fast paths (BulkHiGHS transfer, ArrayBuilder arrays) against PuLP's stock HiGHS class."""
    import pulp

    from optimization.highs_direct import ArrayBuilder

    inputs, demand = random_inputs(seed=seed, n_products=4, n_plants=2, n_dcs=2, horizon=6)
    cfg = PlanConfig(horizon_weeks=6, min_shelf_life_share_at_dc=0.3, max_backlog_weeks=2)
    net = build_network(inputs, ex.START, cfg)
    d = _in_horizon(net, _checked(net, demand, "demand", "quantity", "site_id"))
    ss = d.select("product_id", "site_id", "t", safety_stock=pl.col("quantity") * 0.3)
    fast = build_model(net, d, ss, _scheduled(net, None, cfg), cfg)
    assert solve_model(fast, cfg).status == "Optimal"
    slow = build_model(net, d, ss, _scheduled(net, None, cfg), cfg)
    assert slow.builder.prob.solve(pulp.HiGHS(msg=False)) == pulp.LpStatusOptimal
    arrays = build_model(net, d, ss, _scheduled(net, None, cfg), cfg, builder=ArrayBuilder())
    assert arrays.builder.solve() == "Optimal"
    reference = pulp.value(slow.builder.prob.objective)
    assert pulp.value(fast.builder.prob.objective) == pytest.approx(reference, rel=1e-9)
    assert arrays.builder.objective == pytest.approx(reference, rel=1e-9)
    # every constraint family has the same rows in the three builds (duals themselves need not be unique)
    for family in fast.builder.rows:
        keys = [c for c in fast.builder.rows[family].columns if c != "name"]
        assert fast.builder.rows[family].select(keys).equals(arrays.builder.rows[family].select(keys))
