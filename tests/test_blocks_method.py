

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
        assert {h.getOptionValue("simplex_dual_edge_weight_strategy") for h in plan.blocks.highs} == {strategy}
