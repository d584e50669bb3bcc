"""The blocks path's solver choice: HiGHS's method by block size, and the order blocks go to the workers.

Interior point with crossover must end where the dual simplex ends: the same objective as the exact PuLP
model, the hand-solved prices, the worth of an hour re-solved from its basis, and a basis a replan can start
from.
"""

from __future__ import annotations

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.decompose_highs import block_method, solve_order

NO_SS = pl.DataFrame()


def _plan(inputs, demand, safety=NO_SS, warm_start=None, **cfg):
    config = PlanConfig(**cfg)
    return plan_supply(build_network(inputs, ex.START, config), demand, safety, config, warm_start=warm_start)


def test_auto_takes_interior_point_for_large_cold_blocks_only():
    config = PlanConfig(lp_method="auto", ipm_min_block_size=1000)
    assert block_method(600, 400, False, config) == "ipm"  # at the threshold
    assert block_method(600, 399, False, config) == "choose"  # below it: HiGHS's dual simplex
    assert block_method(600_000, 280_000, True, config) == "choose"  # a stored basis needs the simplex
    assert block_method(10**6, 10**6, False, PlanConfig()) == "choose"  # HiGHS's choice unless asked
    for method in ("choose", "simplex", "ipm", "pdlp"):  # a named method is taken for every block
        named = PlanConfig(lp_method=method, ipm_min_block_size=1000)
        assert block_method(10, 10, False, named) == method
        assert block_method(10**6, 10**6, True, named) == method


def test_blocks_go_to_the_workers_largest_first():
    sizes = [(10, 5), (600, 280), (40, 40), (300, 580), (1, 1), (80, 0)]
    assert solve_order(sizes) == [1, 3, 2, 5, 0, 4]  # 880 twice: the lower number first; 80 before 15
    assert solve_order([]) == []


def test_interior_point_blocks_keep_the_hand_optimum_prices_and_the_worth_of_an_hour():
    # test_optimization_blocks' hand case: 30 h/week, 40 wanted in each of two weeks per product →
    # 3060 each; an hour is worth 199 in week 0 and 99 in week 1 (duals and re-solves from the basis)
    demand = ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0), ("B", "D", 0, 40.0), ("B", "D", 1, 40.0))
    two = ex.two_products(hours=30.0)
    simplex = _plan(two, demand, horizon_weeks=2, solve_path="blocks", lp_method="choose")
    ipm = _plan(two, demand, horizon_weeks=2, solve_path="blocks", lp_method="auto",
                ipm_min_block_size=1)
    assert ipm.solver_status == "Optimal" and ipm.blocks.methods == ["ipm", "ipm"]
    assert ipm.attempts == ("highs: Optimal (2 blocks, 2 by interior point)",)
    assert simplex.blocks.methods == ["choose", "choose"]
    assert simplex.attempts == ("highs: Optimal (2 blocks)",)
    assert ipm.objective == pytest.approx(2 * 3060.0)
    cap = ipm.tables["plan_capacity"]
    assert cap["shadow_price"].to_list() == pytest.approx([199.0, 99.0, 199.0, 99.0])
    assert cap.select("price_hour_more", "price_hour_less").row(0) == pytest.approx((199.0, 199.0))
    for name, table in simplex.tables.items():  # unique optimum: every plan table is the same
        assert ipm.tables[name].equals(table), name
    # the worth-of-an-hour re-solves ran last on each block, by the dual simplex from crossover's basis
    for h in ipm.blocks.highs:
        assert h.getInfo().ipm_iteration_count == 0 and h.getBasis().valid


@pytest.mark.parametrize("seed", [1, 5])
def test_interior_point_blocks_match_the_exact_model_on_random_networks(seed):
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(
        seed=seed, n_products=24, n_plants=2, n_dcs=3, horizon=10, resources_per_plant=6
    )
    routings = inputs["routings"]  # split products over the resources: several sub-networks
    rids = sorted(routings["resource_id"].unique().to_list())
    pids = sorted(routings["product_id"].unique().to_list())
    inputs["routings"] = routings.filter(
        pl.col("resource_id").replace_strict({r: i % 4 for i, r in enumerate(rids)}, return_dtype=pl.Int64)
        == pl.col("product_id").replace_strict({p: i % 4 for i, p in enumerate(pids)}, return_dtype=pl.Int64)
    )
    safety = demand.select("product_id", "site_id", "week", safety_stock=pl.col("quantity") * 0.5)
    exact = _plan(inputs, demand, safety, horizon_weeks=10, solve_path="pulp")
    sizes = _plan(inputs, demand, safety, horizon_weeks=10, solve_path="blocks", lp_method="choose").blocks
    # the threshold between the largest block and the rest: the largest by interior point, the rest simplex
    totals = sorted((c + r for c, r in sizes.block_sizes), reverse=True)
    assert len(totals) > 1 and totals[0] > totals[1]
    mixed = _plan(inputs, demand, safety, horizon_weeks=10, solve_path="blocks", lp_method="auto",
                  ipm_min_block_size=totals[0])
    assert exact.solver_status == mixed.solver_status == "Optimal"
    assert sorted(mixed.blocks.methods) == ["choose"] * (len(totals) - 1) + ["ipm"]
    assert mixed.objective == pytest.approx(exact.objective, rel=1e-7)
    cap = mixed.tables["plan_capacity"]
    assert cap.filter(pl.col("hours_used") > pl.col("hours_available") + 1e-6).height == 0


def test_a_block_solved_by_interior_point_files_a_basis_a_replan_starts_from():
    demand = ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0), ("B", "D", 0, 40.0), ("B", "D", 1, 40.0))
    base = _plan(ex.two_products(hours=30.0), demand, horizon_weeks=2, solve_path="blocks", lp_method="auto",
                 ipm_min_block_size=1)
    bases = {}
    for key, h in zip(base.blocks.keys, base.blocks.highs):
        basis = h.getBasis()
        assert basis.valid  # crossover ended at a vertex
        bases[key] = basis

    def warm(key, h) -> bool:
        if key not in bases:
            return False
        h.setBasis(bases[key])
        return True

    again = _plan(ex.two_products(hours=30.0), demand, horizon_weeks=2, warm_start=warm, solve_path="blocks",
                  lp_method="auto", ipm_min_block_size=1)
    assert again.blocks.warm == 2 and again.blocks.methods == ["choose", "choose"]
    assert again.blocks.iterations == [0, 0]  # the interior point's vertex is optimal as it stands
    assert again.objective == pytest.approx(base.objective, rel=1e-9)


@pytest.mark.parametrize("seed", [3, 11])
def test_devex_pricing_reaches_the_same_optimum_as_highs_own_choice(seed):
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(seed=seed, n_products=24, n_plants=2, n_dcs=3, horizon=10)
    safety = demand.select("product_id", "site_id", "week", safety_stock=pl.col("quantity") * 0.5)
    exact = _plan(inputs, demand, safety, horizon_weeks=10, solve_path="pulp")
    plans = {w: _plan(inputs, demand, safety, horizon_weeks=10, solve_path="blocks", simplex_edge_weights=w)
             for w in ("devex", "choose", "steepest")}
    assert PlanConfig().simplex_edge_weights == "devex"
    for weights, plan in plans.items():
        assert plan.solver_status == "Optimal", weights
        assert plan.objective == pytest.approx(exact.objective, rel=1e-7), weights
        strategy = {"devex": 1, "choose": -1, "steepest": 2}[weights]  # HiGHS's option, as each block ran
        assert {h.getOptionValue("simplex_dual_edge_weight_strategy")[1] for h in plan.blocks.highs} == {strategy}
