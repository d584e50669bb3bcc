"""Planning LP: tiny instances solved by hand, the optimum and the plan asserted."""

from __future__ import annotations

import polars as pl
import pytest

from data_contracts.plan import BALANCE_IN, BALANCE_OUT
from optimization import PlanConfig, PlanInputError, build_network, plan_supply, safety_stock_targets
from optimization import examples as ex

NO_SS = pl.DataFrame()


def _plan(inputs, demand, config: PlanConfig, safety=NO_SS, **kw):
    net = build_network(inputs, ex.START, config)
    return plan_supply(net, demand, safety, config, **kw)


def _col(result, table, col, **where):
    frame = result.tables[table]
    for k, v in where.items():
        frame = frame.filter(pl.col(k) == v)
    return frame[col].to_list()


def _kpi(result, name):
    return result.tables["plan_kpis"].filter(pl.col("kpi") == name)["value"].item()


def test_release_lag_and_lead_time_make_the_first_week_short():
    # start 0 → released 1 → shipped 1 → arrives 2: week-1 demand waits one week (5 × 100 backlog).
    inputs = ex.inputs(
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=1)),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1, cost_per_unit=2.0)),
    )
    r = _plan(inputs, ex.demand_of(("A", "D", 1, 5.0), ("A", "D", 3, 50.0)), PlanConfig(horizon_weeks=4))
    assert r.solver == "highs" and r.solver_status == "Optimal" and r.problem_type == "LP"
    assert r.objective == pytest.approx(55 + 110 + 500)
    assert _col(r, "plan_production", "quantity") == pytest.approx([5.0, 50.0])
    assert _col(r, "plan_production", "week") == [ex.week(0), ex.week(1)]
    assert _col(r, "plan_backlog", "backlog") == pytest.approx([5.0, 0.0, 0.0])
    short = r.tables["plan_shortages"]
    assert short["reason"].to_list() == ["release_lag"] and short["short_quantity"].to_list() == [5.0]
    assert _kpi(r, "cost_total") == pytest.approx(r.objective)
    assert _kpi(r, "cost_backlog") == pytest.approx(500.0)


def test_cheaper_of_two_routes_is_used():
    # direct lane costs 5/unit; via hub X costs 1 + 1.
    inputs = ex.inputs(
        dcs=("D", "X"),
        lanes=ex.lanes(
            dict(from_site="P", to_site="D", cost_per_unit=5.0),
            dict(from_site="P", to_site="X", cost_per_unit=1.0),
            dict(from_site="X", to_site="D", cost_per_unit=1.0),
        ),
    )
    r = _plan(inputs, ex.demand_of(("A", "D", 0, 10.0)), PlanConfig(horizon_weeks=1))
    assert r.objective == pytest.approx(10 + 20)
    ships = r.tables["plan_shipments"].select("from_site", "to_site", "quantity").rows()
    assert sorted(ships) == [("P", "X", 10.0), ("X", "D", 10.0)]


def test_short_capacity_backlogs_with_its_cost_and_shadow_prices():
    # 30 h/week, 40 demanded each of 2 weeks: backlog 10 then 20 → 3000 + production 60.
    inputs = ex.inputs(resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=30.0)))
    r = _plan(inputs, ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0)), PlanConfig(horizon_weeks=2))
    assert r.objective == pytest.approx(3060.0)
    assert _col(r, "plan_backlog", "backlog") == pytest.approx([10.0, 20.0])
    cap = r.tables["plan_capacity"]
    assert cap["hours_used"].to_list() == pytest.approx([30.0, 30.0])
    # an hour in week 0 saves a unit of backlog in weeks 0 and 1, less its production cost
    assert cap["shadow_price"].to_list() == pytest.approx([199.0, 99.0])
    short = r.tables["plan_shortages"]
    assert short["reason"].to_list() == ["capacity", "capacity"]
    # largest first; recovery in ISO weeks with the worth of an hour measured from both sides (here the
    # dual is unique: one hour more saves 199, one hour less costs 199)
    assert short["short_quantity"].to_list() == [20.0, 10.0]
    assert short["short_value"].to_list() == [200.0, 100.0]
    # units late = this week's demand not served in it; their sum is demand × (1 − on-time fill rate)
    assert short["late_units"].to_list() == [20.0, 10.0]
    assert short["late_units"].sum() == pytest.approx(80 * (1 - _kpi(r, "fill_rate_units")))
    assert short["detail"][0] == (
        "R at P is full; +20.0 hours on R in 2027-W01 recovers 20 units; an hour there is worth 199.00"
    )
    assert cap.select("price_hour_more", "price_hour_less").row(0) == pytest.approx((199.0, 199.0))
    assert _kpi(r, "fill_rate_units") == pytest.approx((30 + 30) / 80 * 0 + (30 + 20) / 80)


def test_prebuild_ahead_of_a_calendar_shutdown():
    # week 1 is shut: its 50 units are made in week 0 and held one week (50 × 0.1).
    inputs = ex.inputs(calendar=ex.calendar(dict(resource_id="R", t=1, hours_available=0.0)))
    demand = ex.demand_of(("A", "D", 0, 50.0), ("A", "D", 1, 50.0), ("A", "D", 2, 50.0))
    r = _plan(inputs, demand, PlanConfig(horizon_weeks=3))
    assert r.objective == pytest.approx(150 + 5.0)
    assert _col(r, "plan_production", "quantity") == pytest.approx([100.0, 50.0])
    assert _col(r, "plan_capacity", "hours_available") == [100.0, 0.0, 100.0]
    assert r.tables["plan_shortages"].height == 0


def test_higher_priority_product_first_when_capacity_is_short():
    inputs = ex.inputs(
        products=ex.products(dict(product_id="A", priority=1), dict(product_id="B", priority=2)),
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=10.0)),
        routings=ex.routings(dict(product_id="A", resource_id="R"), dict(product_id="B", resource_id="R")),
    )
    r = _plan(inputs, ex.demand_of(("A", "D", 0, 10.0), ("B", "D", 0, 10.0)), PlanConfig(horizon_weeks=1))
    assert r.objective == pytest.approx(10 + 10 * 100 / 2)
    assert _col(r, "plan_production", "product_id") == ["A"]


def test_input_errors_name_the_rows():
    bad = ex.inputs(products=ex.products(dict(product_id="A", holding_cost_per_week=-1.0)))
    with pytest.raises(
        PlanInputError, match=r"products.holding_cost_per_week: costs must be >= 0.*product_id=A"
    ):
        build_network(bad, ex.START, PlanConfig())
    bad = ex.inputs(routings=ex.routings(dict(product_id="A", resource_id="NOPE")))
    with pytest.raises(PlanInputError, match=r"routings.resource_id: unknown resource \['NOPE'\]"):
        build_network(bad, ex.START, PlanConfig())
    net = build_network(ex.inputs(), ex.START, PlanConfig(horizon_weeks=2))
    with pytest.raises(PlanInputError, match=r"demand.site_id: unknown site \['Z'\]"):
        plan_supply(net, ex.demand_of(("A", "Z", 0, 1.0)), NO_SS, PlanConfig(horizon_weeks=2))


def test_safety_stock_from_quantiles_over_the_lead_time():
    # lead time = release 3 + lane 1 = 4 weeks; spread q90 − mean = 10 each week → sqrt(4 × 10²) = 20.
    inputs = ex.inputs(
        products=ex.products(dict(product_id="A", service_level=0.85)),
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=3)),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
    )
    net = build_network(inputs, ex.START, PlanConfig(horizon_weeks=6))
    qs = {
        "q01": 80.0,
        "q05": 85.0,
        "q10": 90.0,
        "q20": 95.0,
        "q50": 100.0,
        "q80": 105.0,
        "q90": 115.0,
        "q95": 120.0,
        "q99": 130.0,
    }  # at 0.85: halfway between q80 and q90 = 110
    fc = pl.DataFrame(
        [{"product_id": "A", "site_id": "D", "week": ex.week(t), "mean": 100.0, **qs} for t in range(6)]
    )
    ss = safety_stock_targets(fc, inputs["products"], net)
    assert ss["safety_stock"].to_list() == pytest.approx([20.0, 20.0, 20.0, 10 * 3**0.5, 10 * 2**0.5, 10.0])


def _check_invariants(r, net, demand_weeks: int) -> None:
    inv = r.tables["plan_inventory"]
    # the plan contract's balance
    balance = pl.sum_horizontal(BALANCE_IN) - pl.sum_horizontal(BALANCE_OUT) - pl.col("closing")
    gap = inv.select(balance.abs().max()).item()
    assert gap < 1e-6
    closing_prev = inv.sort("product_id", "site_id", "week").with_columns(
        prev=pl.col("closing").shift(1).over("product_id", "site_id")
    )
    assert (
        closing_prev.filter(pl.col("prev").is_not_null())
        .select((pl.col("prev") - pl.col("opening")).abs().max())
        .item()
        < 1e-6
    )
    assert inv["closing"].min() >= -1e-9
    cap = r.tables["plan_capacity"]
    assert cap.filter(pl.col("hours_used") > pl.col("hours_available") + 1e-6).height == 0
    k = r.tables["plan_kpis"]
    parts = k.filter(pl.col("kpi").str.starts_with("cost_") & (pl.col("kpi") != "cost_total"))["value"].sum()
    assert _kpi(r, "cost_total") == pytest.approx(parts, rel=1e-9, abs=1e-6)
    assert _kpi(r, "cost_total") == pytest.approx(r.objective, rel=1e-6, abs=1e-4)


def test_random_network_balances_and_respects_capacity():
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(seed=7, n_products=6, n_plants=2, n_dcs=3, horizon=8)
    cfg = PlanConfig(horizon_weeks=8)
    net = build_network(inputs, ex.START, cfg)
    r = plan_supply(net, demand, NO_SS, cfg)
    assert r.solver_status == "Optimal"
    _check_invariants(r, net, 8)
    b = r.tables["plan_backlog"]
    assert (
        b.select(
            (
                pl.col("backlog")
                - pl.col("backlog").shift(1).over("product_id", "site_id").fill_null(0)
                - pl.col("demand")
                + pl.col("served")
                + pl.col("lost")
            )
            .abs()
            .max()
        ).item()
        < 1e-6
    )


def test_demo_sized_plan_builds_and_solves():
    # how fast is bench/lp.py's "small" size (the same seeded network): speed lives in benchmarks, not here
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(
        seed=3, n_products=40, n_plants=2, n_dcs=5, horizon=26, resources_per_plant=3
    )
    inputs["receipts"] = pl.DataFrame()  # optional entities may be empty frames
    cfg = PlanConfig()
    r = plan_supply(build_network(inputs, ex.START, cfg), demand, NO_SS, cfg)
    assert r.solver_status == "Optimal"
    production = r.tables["plan_production"]
    assert production.height > 0
    assert production["quantity"].min() >= 0


@pytest.mark.parametrize(
    ("terminal", "objective", "starts"),
    [
        # no terminal condition: a start in week 2 or 3 is released after the horizon and earns nothing, so
        # nothing starts there: 20 made for weeks 2-3, opening stock 10 held a week (1.0) → 21
        (False, 21.0, [0, 1]),
        # terminal target = demand of weeks 4-5 (release lag 2 + transit 0 = the weeks no later start can
        # reach) = 20, met by the pipeline of starts in weeks 2 and 3; week 6 lies beyond the lead time
        # and adds nothing → 21 + 20
        (True, 41.0, [0, 1, 2, 3]),
    ],
)
def test_terminal_condition_keeps_producing_in_the_last_weeks(terminal, objective, starts):
    # 10 hours a week (1 per unit) make the plan unique; release lag 2, lane without lead time
    inputs = ex.inputs(
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=10.0)),
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=2)),
        inventory=ex.inventory(dict(product_id="A", site_id="D", quantity=20.0)),
    )
    demand = ex.demand_of(*[("A", "D", t, 10.0) for t in range(7)])
    r = _plan(inputs, demand, PlanConfig(horizon_weeks=4, terminal_condition=terminal))
    assert r.objective == pytest.approx(objective)
    assert _col(r, "plan_production", "week") == [ex.week(t) for t in starts]
    assert _col(r, "plan_production", "quantity") == pytest.approx([10.0] * len(starts))
    assert _col(r, "plan_backlog", "backlog") == pytest.approx([0.0] * 4)  # only the horizon is reported
    if terminal:
        assert _kpi(r, "end_stock_target_units") == pytest.approx(20.0)
        assert _kpi(r, "end_position_units") == pytest.approx(20.0)
        assert _kpi(r, "cost_end_stock_shortfall") == pytest.approx(0.0)


def test_terminal_shortfall_is_a_service_penalty_when_capacity_cannot_meet_it():
    # 5 hours a week, no lag: 10 a week is wanted in weeks 0-1 and the terminal target is the safety
    # stock of the last week (20; replenishment is 0 weeks, so no lead-time demand). Capacity makes 10,
    # serving the horizon first (a week of backlog, 100, outweighs a unit of end stock, 0.9 × 100):
    # backlog 5 + 10 unit-weeks (1500); the end stock falls 20 short (20 × 90).
    inputs = ex.inputs(resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=5.0)))
    demand = ex.demand_of(("A", "D", 0, 10.0), ("A", "D", 1, 10.0), ("A", "D", 2, 10.0))
    safety = ex.demand(dict(product_id="A", site_id="D", t=1, quantity=20.0)).rename(
        {"quantity": "safety_stock"}
    )
    r = _plan(inputs, demand, PlanConfig(horizon_weeks=2, safety_stock_penalty_share=0.0), safety=safety)
    assert r.objective == pytest.approx(10 + 1500 + 1800)
    assert _kpi(r, "cost_end_stock_shortfall") == pytest.approx(1800.0)
    assert _kpi(r, "service_penalties") == pytest.approx(3300.0)
    assert _col(r, "plan_backlog", "served") == pytest.approx([5.0, 5.0])
    assert _kpi(r, "plan_cost") == pytest.approx(10.0)


def test_shadow_price_of_a_just_full_resource_is_a_range():
    # 10 hours make exactly the 10 units wanted: one hour more saves nothing, one hour less backlogs a
    # unit (100) and saves its production (1): the dual may be anything in [0, 99]; the range says so.
    from optimization.model import build_model
    from optimization.plan import _checked, _in_horizon, _scheduled
    from optimization.solve import solve_model
    from optimization.solve_duals import capacity_price_range

    inputs = ex.inputs(resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=10.0)))
    cfg = PlanConfig(horizon_weeks=1)
    net = build_network(inputs, ex.START, cfg)
    d = _in_horizon(net, _checked(net, ex.demand_of(("A", "D", 0, 10.0)), "demand", "quantity", "site_id"))
    model = build_model(net, d, d.clear().rename({"quantity": "safety_stock"}), _scheduled(net, None, cfg), cfg)
    assert solve_model(model, cfg).status == "Optimal"
    keys = pl.DataFrame({"resource_id": ["R"], "t": [0]})
    price = capacity_price_range(model, keys).row(0, named=True)
    assert (price["price_low"], price["price_high"]) == pytest.approx((0.0, 99.0))
    assert model.builder.duals("capacity")["pi"].abs().item() in (pytest.approx(0.0), pytest.approx(99.0))
    assert model.builder.prob.solverModel.getInfo().objective_function_value == pytest.approx(10.0)  # restored


def test_every_kpi_is_explained_in_the_schema_and_money_is_apart_from_penalties():
    from data_contracts.schema import PLAN_KPI_DOCS

    inputs = ex.inputs(
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=30.0)),
        routings=ex.routings(dict(product_id="A", resource_id="R", release_weeks=1)),
    )
    r = _plan(inputs, ex.demand_of(*[("A", "D", t, 40.0) for t in range(4)]), PlanConfig(horizon_weeks=3))
    names = {k if not k.startswith("utilisation_R") else "utilisation_<resource_id>"
             for k in r.tables["plan_kpis"]["kpi"]}
    assert names <= set(PLAN_KPI_DOCS), names - set(PLAN_KPI_DOCS)
    money = sum(_kpi(r, k) for k in ("cost_production", "cost_transport", "cost_holding", "cost_expiry"))
    penalties = sum(_kpi(r, k) for k in ("cost_backlog", "cost_lost_sales", "cost_safety_stock",
                                         "cost_end_stock_shortfall"))
    assert _kpi(r, "plan_cost") == pytest.approx(money)
    assert _kpi(r, "service_penalties") == pytest.approx(penalties)
    assert _kpi(r, "cost_total") == pytest.approx(money + penalties) == pytest.approx(r.objective)
    assert _kpi(r, "horizon_weeks") == 3
    for table in r.tables.values():  # no -0.0 anywhere
        for col, dtype in table.schema.items():
            if dtype == pl.Float64:
                assert not any(str(v) == "-0.0" for v in table[col].to_list()), col
