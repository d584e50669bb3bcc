"""Multi-level bill of materials and storage limits: tiny plans solved by hand, and bad BOM input refused."""

from __future__ import annotations

import polars as pl
import pytest

from data_contracts import schema
from data_contracts.network import bom_cycles
from data_contracts.plan import validate_plan
from optimization import PlanConfig, PlanInputError, build_network, plan_supply
from optimization import examples as ex

NO_SS = pl.DataFrame()
CFG = PlanConfig(horizon_weeks=6)


def _plan(inputs, demand, config: PlanConfig = CFG):
    net = build_network(inputs, ex.START, config)
    return plan_supply(net, demand, NO_SS, config)


def _made(result) -> dict[tuple[str, str, int], float]:
    """(product, resource, week index) → units started."""
    prod = result.tables["plan_production"].with_columns(
        t=((pl.col("week") - pl.lit(ex.START)).dt.total_days() // 7)
    )
    return {(p, r, t): round(q, 6) for p, r, t, q in prod.select("product_id", "resource_id", "t", "quantity").rows()}


def _inv(result, product, site, t, col):
    inv = result.tables["plan_inventory"]
    return inv.filter(
        (pl.col("product_id") == product) & (pl.col("site_id") == site) & (pl.col("week") == ex.week(t))
    )[col].item()


def _three_level():
    # K (pack, sold at D) ← F (filled vial) ← S (drug substance), all at plant P, each 1 week to release.
    return ex.three_level(lead_time_weeks=0)


def test_dependent_demand_through_three_levels_with_scrap():
    # 100 K wanted at D in week 5: K starts week 4 (100, yield 1) and consumes 100 × 1 / (1 − 0.2) = 125 F;
    # 125 good F are released in week 4 from 125 / 0.9 started in week 3, which consume
    # (125 / 0.9) × 0.5 / (1 − 0.5) = 138.89 S; released in week 3 from 138.89 / 0.8 started in week 2.
    # Every item is made just in time (holding costs > 0, equal costs every week): no stock is held.
    r = _plan(_three_level(), ex.demand_of(("K", "D", 5, 100.0)))
    assert r.solver_status == "Optimal"
    f_started = 125 / 0.9
    s_started = f_started * 1.0 / 0.8
    assert _made(r) == {
        ("S", "RS", 2): round(s_started, 6),
        ("F", "RF", 3): round(f_started, 6),
        ("K", "RK", 4): 100.0,
    }
    assert r.objective == pytest.approx(s_started + f_started + 100.0)  # cost 1 per unit started
    assert _inv(r, "S", "P", 3, "released") == pytest.approx(f_started)
    assert _inv(r, "S", "P", 3, "consumed") == pytest.approx(f_started)
    assert _inv(r, "F", "P", 4, "released") == pytest.approx(125.0)
    assert _inv(r, "F", "P", 4, "consumed") == pytest.approx(125.0)
    assert _inv(r, "K", "D", 5, "served") == pytest.approx(100.0)
    assert _kpi(r, "fill_rate_units") == pytest.approx(1.0)
    net_lanes = _three_level()["lanes"]
    validate_plan(r.tables, net_lanes)  # the output contract's balance includes `consumed`


def test_component_without_supply_blocks_its_parent():
    # No S can be made (no routing) and none is in stock: F cannot start, K cannot be served.
    inputs = _three_level()
    inputs["routings"] = inputs["routings"].filter(pl.col("product_id") != "S")
    r = _plan(inputs, ex.demand_of(("K", "D", 5, 100.0)))
    assert r.solver_status == "Optimal"
    assert _made(r) == {}
    # with S on hand, exactly what the fill consumes is used: 20 S feed 20 F starts → 18 good F → 14.4 K
    inputs["inventory"] = ex.inventory(dict(product_id="S", site_id="P", quantity=20.0))
    r = _plan(inputs, ex.demand_of(("K", "D", 5, 100.0)))
    made = _made(r)
    assert sum(q for (p, _, _), q in made.items() if p == "F") == pytest.approx(20.0)
    assert sum(q for (p, _, _), q in made.items() if p == "K") == pytest.approx(20.0 * 0.9 * 0.8)


def _two_reactors(**given):
    # F (sold at D) is filled on RF, open in week 5 only; its drug substance S comes from a cheap reactor
    # RS1 open in weeks 0-1 (cost 1) or a dear one RS2 open every week (cost 5). Holding S costs 0.1.
    shut = [dict(resource_id="RF", t=t, hours_available=0.0) for t in range(5)]
    shut += [dict(resource_id="RS1", t=t, hours_available=0.0) for t in range(2, 6)]
    return ex.inputs(
        products=ex.products(
            dict(product_id="F", holding_cost_per_week=1.0),
            dict(product_id="S", family="drug_substance", holding_cost_per_week=0.1, **given.pop("s", {})),
        ),
        resources=ex.resources(
            dict(resource_id="RF", site_id="P", hours_per_week=1000.0),
            dict(resource_id="RS1", site_id="P", hours_per_week=1000.0),
            dict(resource_id="RS2", site_id="P", hours_per_week=1000.0),
        ),
        routings=ex.routings(
            dict(product_id="F", resource_id="RF"),
            dict(product_id="S", resource_id="RS1", cost_per_unit=1.0),
            dict(product_id="S", resource_id="RS2", cost_per_unit=5.0),
        ),
        calendar=ex.calendar(*shut),
        bom=ex.bom(dict(parent_id="F", component_id="S", quantity_per=1.0)),
        **given,
    )


def test_without_limits_the_substance_is_made_early_on_the_cheap_reactor():
    # 100 S on RS1 in week 1 (100) held weeks 1-4 (4 × 100 × 0.1 = 40), filled in week 5 (100): 240.
    r = _plan(_two_reactors(), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 100.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(240.0)


def test_drug_substance_shelf_life_forbids_making_it_too_early_for_the_fill():
    # S lasts 3 weeks from manufacture: made in week 1 it is usable in weeks 1-3 only, and the fill runs in
    # week 5, so S must start in week 3 or later: only RS2 is open then; just in time is week 5.
    # 100 × 5 + 100 (fill) = 600.
    r = _plan(_two_reactors(s=dict(shelf_life_weeks=3)), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS2", 5): 100.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(600.0)
    assert r.tables["plan_expiry"].height == 0
    # a 5-week shelf life lets week-1 substance reach the week-5 fill again
    r = _plan(_two_reactors(s=dict(shelf_life_weeks=5)), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 100.0, ("F", "RF", 5): 100.0}


def test_freezer_limit_forces_later_production():
    # The freezer at P holds 60 units of drug substance: 60 made early on RS1 (60 + 4 weeks × 60 × 0.1 =
    # 84), the other 40 later on RS2 in the week of the fill (200); fill 100: total 384.
    limit = ex.storage(dict(site_id="P", family="drug_substance", capacity=60.0))
    r = _plan(_two_reactors(storage=limit), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 60.0, ("S", "RS2", 5): 40.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(384.0)
    held = r.tables["plan_inventory"].filter(pl.col("product_id") == "S")["closing"]
    assert held.max() == pytest.approx(60.0)
    # a freezer of another family does not limit S
    other = ex.storage(dict(site_id="P", family="f", capacity=0.0))
    r = _plan(_two_reactors(storage=other), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r)[("S", "RS1", 1)] == 100.0


def test_a_soft_freezer_limit_is_exceeded_when_its_overflow_cost_is_below_the_saving():
    # The same 60-unit freezer with overflow_cost per unit-week over it. Making the other 40 S on RS1 in week 1
    # instead of on RS2 in week 5 saves 40 × (5 − 1) = 160 of production and costs 40 × 4 weeks × 0.1 = 16 of
    # holding plus 40 × 4 weeks × overflow_cost: worth it below 0.9 a unit-week.
    # At 0.5: all 100 on RS1 in week 1: 100 + 40 (holding) + 80 (overflow) + 100 (fill) = 320.
    soft = ex.storage(dict(site_id="P", family="drug_substance", capacity=60.0, overflow_cost=0.5))
    r = _plan(_two_reactors(storage=soft), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 100.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(320.0)
    assert _kpi(r, "cost_storage_overflow") == pytest.approx(80.0)
    assert _kpi(r, "plan_cost") == pytest.approx(320.0)  # overflow is money spent, part of the plan cost
    # at 2.0 a unit-week the limit holds as a hard one would: the plan of the hard freezer, 384, no overflow
    dear = ex.storage(dict(site_id="P", family="drug_substance", capacity=60.0, overflow_cost=2.0))
    r = _plan(_two_reactors(storage=dear), ex.demand_of(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 60.0, ("S", "RS2", 5): 40.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(384.0)
    assert _kpi(r, "cost_storage_overflow") == pytest.approx(0.0)
    # a hard limit (no overflow_cost) has no overflow component at all
    hard = _plan(_two_reactors(storage=ex.storage(dict(site_id="P", family="drug_substance", capacity=60.0))),
                 ex.demand_of(("F", "D", 5, 100.0)))
    assert "cost_storage_overflow" not in hard.tables["plan_kpis"]["kpi"].to_list()


def test_single_level_input_plans_as_before():
    # An empty bom and storage change nothing: the same plan as without the entities.
    base = _two_reactors()
    del base["bom"]
    a = _plan(base, ex.demand_of(("F", "D", 5, 100.0)))
    b = _plan({**base, "bom": ex.bom(), "storage": ex.storage()}, ex.demand_of(("F", "D", 5, 100.0)))
    assert a.objective == pytest.approx(b.objective)
    assert a.tables["plan_production"].equals(b.tables["plan_production"])
    assert (a.tables["plan_inventory"]["consumed"] == 0).all()


def _kpi(result, name):
    return result.tables["plan_kpis"].filter(pl.col("kpi") == name)["value"].item()


# ------------------------------------------------------------------------------- bad input (planning)
@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ([dict(parent_id="K", component_id="F", quantity_per=0.0)], r"bom\.quantity_per: .*> 0.*parent_id=K"),
        ([dict(parent_id="K", component_id="F", quantity_per=1.0, scrap=1.0)], r"bom\.scrap: .*\[0, 1\)"),
        ([dict(parent_id="K", component_id="X", quantity_per=1.0)], r"bom\.component_id: unknown product \['X'\]"),
        ([dict(parent_id="Y", component_id="F", quantity_per=1.0)], r"bom\.parent_id: unknown product \['Y'\]"),
        (
            [
                dict(parent_id="K", component_id="F", quantity_per=1.0),
                dict(parent_id="F", component_id="S", quantity_per=1.0),
                dict(parent_id="S", component_id="K", quantity_per=1.0),
            ],
            r"bom\.component_id: the bill of materials has a cycle F → S → K → F",
        ),
    ],
)
def test_planning_refuses_bad_bom(rows, match):
    inputs = _three_level()
    inputs["bom"] = ex.bom(*rows)
    with pytest.raises(PlanInputError, match=match):
        build_network(inputs, ex.START, CFG)


def test_planning_refuses_bad_storage():
    inputs = _three_level()
    inputs["storage"] = ex.storage(dict(site_id="P", family="nope", capacity=1.0))
    with pytest.raises(PlanInputError, match=r"storage\.family: unknown product family \['nope'\]"):
        build_network(inputs, ex.START, CFG)
    inputs["storage"] = ex.storage(dict(site_id="P", family="drug_substance", capacity=-1.0))
    with pytest.raises(PlanInputError, match=r"storage\.capacity: capacity must be >= 0"):
        build_network(inputs, ex.START, CFG)
    inputs["storage"] = ex.storage(dict(site_id="P", family="drug_substance", capacity=1.0, overflow_cost=-1.0))
    with pytest.raises(PlanInputError, match=r"storage\.overflow_cost: overflow_cost must be >= 0"):
        build_network(inputs, ex.START, CFG)


def test_bom_cycles_are_named_by_their_path():
    b = pl.DataFrame(
        {"parent_id": ["A", "B", "C", "X", "Y", "D"], "component_id": ["B", "C", "A", "Y", "Z", "D"]}
    )
    got = bom_cycles(b)
    assert got.rows() == [
        ("A", "B", "A → B → C → A"),
        ("B", "C", "A → B → C → A"),
        ("C", "A", "A → B → C → A"),
        ("D", "D", "D → D"),
    ]
    assert bom_cycles(b.filter(pl.col("parent_id") != "C")).height == 1  # only D → D is left
    assert schema.BOM.key == ("parent_id", "component_id")


# ------------------------------------------------------------------------------- bad input (contracts)
def _raw_with(bom_rows: list[tuple], storage_rows: list[tuple] | None = None):
    from data_contracts.testing import all_as_raw, tiny_inputs

    frames = tiny_inputs()
    frames["bom"] = pl.DataFrame(bom_rows, schema=schema.BOM.schema, orient="row")
    if storage_rows is not None:
        width = len(schema.STORAGE.columns)  # rows may stop before overflow_cost (empty: a hard limit)
        frames["storage"] = pl.DataFrame([(*r, *[None] * (width - len(r))) for r in storage_rows],
                                         schema=schema.STORAGE.schema, orient="row")
    return all_as_raw(frames)


def _quarantined(outcome, entity):
    q = outcome.quarantine.filter(pl.col("entity") == entity)
    return {(row, rule): reason for row, rule, reason in q.select("source_row", "rule", "reason").rows()}


def test_contracts_accept_a_valid_bom_and_storage():
    from data_contracts.testing import TINY_RUN_DATE
    from data_contracts.validate import validate_inputs

    raw = _raw_with([("P1", "P2", 0.5, 0.1), ("P3", "P2", 2.0, None)], [("PL1", "monoclonals", 500.0)])
    out = validate_inputs(raw, TINY_RUN_DATE)
    assert out.quarantine.height == 0
    assert out.clean["bom"]["scrap"].to_list() == [0.1, 0.0]  # empty scrap = 0
    assert out.clean["storage"].height == 1
    assert out.clean["storage"]["overflow_cost"].to_list() == [None]  # empty: a hard limit
    names = set(out.results.filter(pl.col("entity") == "bom")["expectation"])
    assert {"known_product(parent_id)", "known_product(component_id)", "positive(quantity_per)",
            "range(scrap)"} <= names


def test_contracts_quarantine_bad_bom_rows_naming_file_row_column_and_rule():
    from data_contracts.config import ContractConfig
    from data_contracts.testing import TINY_RUN_DATE
    from data_contracts.validate import validate_inputs

    raw = _raw_with(
        [
            ("P1", "P2", 0.0, 0.0),  # row 1: quantity_per not positive
            ("P1", "P3", 1.0, 1.0),  # row 2: scrap outside [0, 1)
            ("P1", "PX", 1.0, 0.0),  # row 3: unknown component
            ("PY", "P1", 1.0, 0.0),  # row 4: unknown parent
            ("P2", "P3", 1.0, 0.0),  # rows 5-6: P2 → P3 → P2
            ("P3", "P2", 1.0, 0.0),
        ],
        [("PL1", "nope", 1.0), ("DCX", "vaccines", 1.0), ("PL1", "vaccines", -5.0),
         ("PL1", "monoclonals", 1.0, -2.0)],  # row 4: a negative overflow cost
    )
    out = validate_inputs(raw, TINY_RUN_DATE, ContractConfig(max_reject_share=1.0))
    bom = _quarantined(out, "bom")
    assert set(bom) == {(1, "positive"), (2, "range"), (3, "known_product"), (4, "known_product"),
                        (5, "bom_cycle"), (6, "bom_cycle")}
    assert bom[(1, "positive")] == "quantity_per '0.0' is not positive"
    assert bom[(2, "range")] == "scrap '1.0' is not in [0, 1)"
    assert "component_id 'PX' is not a valid products product_id" in bom[(3, "known_product")]
    assert "parent_id 'PY'" in bom[(4, "known_product")]
    assert bom[(5, "bom_cycle")] == (
        "parent_id 'P2', component_id 'P3' lies on the cycle P2 → P3 → P2: an item cannot need itself"
    )
    names = set(out.results.filter(pl.col("entity") == "bom")["expectation"])
    assert "bom_cycle(P2 → P3 → P2)" in names
    storage = _quarantined(out, "storage")
    assert set(storage) == {(1, "known_family"), (2, "known_site"), (3, "non_negative"), (4, "non_negative")}
    assert "overflow_cost" in storage[(4, "non_negative")]
    assert out.clean["bom"].height == 0 and out.clean["storage"].height == 0


def test_contracts_refuse_a_bom_mostly_broken_naming_the_file_and_rule():
    from data_contracts.config import ContractError
    from data_contracts.testing import TINY_RUN_DATE
    from data_contracts.validate import validate_inputs

    raw = _raw_with([("P1", "P2", 1.0, 0.0), ("P2", "P1", 1.0, 0.0)])
    with pytest.raises(ContractError, match=r"bom\.csv: 2 of 2 bom rows rejected.*bom_cycle \(2 rows\)"
                       r"(?s:.*)bom\.csv row 1: parent_id 'P1', component_id 'P2' lies on the cycle P1 → P2 → P1"):
        validate_inputs(raw, TINY_RUN_DATE)


def test_plan_contract_balance_counts_consumed_stock():
    # a component row: 10 opening − 4 consumed = 6 closing balances; without the 4 consumed it does not
    from data_contracts.config import PlanContractError

    row = dict(product_id="S", site_id="P", week=ex.START, opening=10.0, released=0.0, receipts=0.0,
               arrivals=0.0, departures=0.0, served=0.0, consumed=4.0, expired=0.0, closing=6.0,
               safety_stock=0.0, safety_shortfall=0.0)
    inv = pl.DataFrame([row])
    tables = {"plan_inventory": inv, "plan_capacity": schema.PLAN_CAPACITY.empty().drop("run_id"),
              "plan_shipments": schema.PLAN_SHIPMENTS.empty().drop("run_id"),
              "plan_production": schema.PLAN_PRODUCTION.empty().drop("run_id")}
    validate_plan(tables, pl.DataFrame({"from_site": ["P"], "to_site": ["D"]}))
    tables["plan_inventory"] = inv.with_columns(consumed=pl.lit(0.0))
    with pytest.raises(PlanContractError, match="stock_balance"):
        validate_plan(tables, pl.DataFrame({"from_site": ["P"], "to_site": ["D"]}))


def test_components_get_an_end_of_horizon_target_so_the_plan_does_not_run_them_down():
    # F (sold at D, no lag) ← S (1 per unit, release lag 2). Horizon 4 weeks, demand 10 a week in weeks 0-7.
    # F's own target: F's lead time is 0, so nothing beyond the horizon is out of its reach: no target.
    # S's target: F started in weeks 4-5 (the next plan's first two weeks) can only use S left now:
    # 2 × 10 = 20 units of S at the end (stock or pipeline), each short unit priced at F's penalty.
    inputs = ex.inputs(
        products=ex.products(dict(product_id="F"), dict(product_id="S", family="ds", backlog_penalty=0.0)),
        resources=ex.resources(dict(resource_id="RF", site_id="P", hours_per_week=100.0),
                               dict(resource_id="RS", site_id="P", hours_per_week=100.0)),
        routings=ex.routings(dict(product_id="F", resource_id="RF"),
                             dict(product_id="S", resource_id="RS", release_weeks=2)),
        inventory=ex.inventory(dict(product_id="S", site_id="P", quantity=20.0)),
        bom=ex.bom(dict(parent_id="F", component_id="S", quantity_per=1.0)),
    )
    cfg = PlanConfig(horizon_weeks=4)
    demand = ex.demand_of(*[("F", "D", t, 10.0) for t in range(8)])
    r = _plan(inputs, demand, cfg)
    made = _made(r)
    # S for weeks 2-3 (released 2-3, started 0-1) and 20 more started in weeks 2-3 (released after the horizon)
    assert sum(q for (p, _, t), q in made.items() if p == "S" and t >= 2) == pytest.approx(20.0)
    assert _kpi(r, "cost_end_stock_shortfall") == pytest.approx(0.0)
    assert _kpi(r, "end_stock_target_units") == pytest.approx(0.0)  # sold units only
    off = _plan(inputs, demand, PlanConfig(horizon_weeks=4, terminal_condition=False))
    assert sum(q for (p, _, t), q in _made(off).items() if p == "S" and t >= 2) == 0.0


def test_lot_sizing_bounds_a_component_by_its_parents_need():
    # MIP with a minimum batch on S's routing that uses no hours: the big-M of "anything started" comes from
    # the need, and S has no demand of its own — its need is the parents' (125 / 0.9 / 0.8 S for 100 K).
    inputs = _three_level()
    inputs["routings"] = inputs["routings"].with_columns(
        hours_per_unit=pl.when(pl.col("product_id") == "S").then(0.0).otherwise(pl.col("hours_per_unit")),
        min_batch=pl.when(pl.col("product_id") == "S").then(10.0).otherwise(None),
    )
    cfg = PlanConfig(horizon_weeks=6, mip=True)
    r = _plan(inputs, ex.demand_of(("K", "D", 5, 100.0)), cfg)
    assert r.problem_type == "MIP" and r.solver_status == "Optimal"
    assert _made(r)[("S", "RS", 2)] == pytest.approx(125 / 0.9 / 0.8, rel=1e-6)


@pytest.mark.parametrize("solve_path", ["pulp", "blocks"])
def test_the_bill_of_materials_holds_on_both_solve_paths(solve_path):
    # The blocks path (optimization/decompose.py) keeps a parent and its components in one block through the
    # bom rows: the three-level hand case has the same plan, and with an unrelated product beside it two blocks.
    inputs = _three_level()
    inputs["products"] = pl.concat([inputs["products"], ex.products(dict(product_id="X"))])
    inputs["resources"] = pl.concat([inputs["resources"], ex.resources(dict(resource_id="RX", site_id="P", hours_per_week=1000.0))])
    inputs["routings"] = pl.concat([inputs["routings"], ex.routings(dict(product_id="X", resource_id="RX"))])
    config = PlanConfig(horizon_weeks=6, solve_path=solve_path)
    r = _plan(inputs, ex.demand_of(("K", "D", 5, 100.0), ("X", "D", 3, 10.0)), config)
    assert r.solver_status == "Optimal"
    made = _made(r)
    assert made[("S", "RS", 2)] == round(125 / 0.9 / 0.8, 6) and made[("F", "RF", 3)] == round(125 / 0.9, 6)
    assert made[("K", "RK", 4)] == 100.0 and sum(q for (p, _, _), q in made.items() if p == "X") == 10.0
    if solve_path == "blocks":
        assert r.blocks is not None and len(r.blocks.block_sizes) == 2


# ------------------------------------------------------------------------------- component safety stock
def _fill_chain(scrap: float = 0.2):
    # F (sold at D) is filled on RF at P (release 1 week, yield 0.8) and crosses a 1-week lane: F's lead
    # time to D is 2 weeks. Its drug substance S is made on RS at P with a 2-week release lag: S's own lead
    # time is 2 weeks. F takes 2 S per unit started with 20% lost in filling: 2 / 0.8 = 2.5 S a start.
    return ex.inputs(
        products=ex.products(
            dict(product_id="F", backlog_penalty=100.0, service_level=0.85),
            dict(product_id="S", family="drug_substance", backlog_penalty=0.0, service_level=0.85),
        ),
        resources=ex.resources(
            dict(resource_id="RF", site_id="P", hours_per_week=10000.0),
            dict(resource_id="RS", site_id="P", hours_per_week=10000.0),
        ),
        routings=ex.routings(
            dict(product_id="F", resource_id="RF", release_weeks=1, **{"yield": 0.8}),
            dict(product_id="S", resource_id="RS", release_weeks=2),
        ),
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
        bom=ex.bom(dict(parent_id="F", component_id="S", quantity_per=2.0, scrap=scrap)),
    )


def test_a_components_safety_stock_covers_its_own_lead_time_at_the_fill_plant():
    from optimization import safety_stock_targets
    from optimization.safety_stock import dependent_penalty

    inputs = _fill_chain()
    net = build_network(inputs, ex.START, CFG)
    qs = {"q01": 80.0, "q05": 85.0, "q10": 90.0, "q20": 95.0, "q50": 100.0, "q80": 105.0, "q90": 115.0,
          "q95": 120.0, "q99": 130.0}  # at 0.85: 110, a spread of 10 every week
    fc = pl.DataFrame([{"product_id": "F", "site_id": "D", "week": ex.week(t), "mean": 100.0, **qs}
                       for t in range(8)])
    ss = safety_stock_targets(fc, inputs["products"], net)
    # F at D: 2 weeks of lead time (release 1 + lane 1): sqrt(10² + 10²), the last week 10
    f = ss.filter(pl.col("product_id") == "F").sort("week")["safety_stock"].to_list()
    assert f == pytest.approx([10 * 2**0.5] * 7 + [10.0])
    # S at P: F wanted at D in week w starts at P in week w − 2 and takes 2.5 S per start per good 0.8:
    # a spread of 10 × 2.5 / 0.8 = 31.25 S in weeks −2 .. 5; S's own 2-week lead time: sqrt(2) × 31.25,
    # the last week 31.25
    s = ss.filter(pl.col("product_id") == "S").sort("week")
    assert s["site_id"].unique().to_list() == ["P"]
    assert s["week"].to_list() == [ex.week(t) for t in range(-2, 6)]
    assert s["safety_stock"].to_list() == pytest.approx([31.25 * 2**0.5] * 7 + [31.25])
    # its shortfall is priced by the parent: 100 (weight 1 at priority 1) × 0.8 / 2.5 = 32 a unit
    pen = dict(dependent_penalty(net).iter_rows())
    assert pen["S"] == pytest.approx(32.0) and pen["F"] == pytest.approx(100.0)
    # in the plan the buffer of S is held at P (cheap to hold, priced at its parent's penalty): closing stock
    # of S at P meets its target from week 2 on, the first week S made now can be released
    cfg = PlanConfig(horizon_weeks=6, terminal_condition=False)
    net = build_network(inputs, ex.START, cfg)
    demand = fc.select("product_id", "site_id", "week", quantity=pl.col("mean"))
    r = plan_supply(net, demand, safety_stock_targets(fc, inputs["products"], net), cfg)
    held = r.tables["plan_inventory"].filter((pl.col("product_id") == "S") & (pl.col("site_id") == "P"))
    target = ss.filter(pl.col("product_id") == "S").rename({"safety_stock": "target"})
    both = held.join(target.select("week", "target"), on="week").filter(pl.col("week") >= ex.week(2))
    assert both.height > 0
    assert (both["closing"] >= both["target"] - 1e-6).all()


def test_without_a_bom_no_component_targets_appear():
    from optimization import safety_stock_targets

    inputs = _fill_chain()
    del inputs["bom"]
    net = build_network(inputs, ex.START, CFG)
    qs = {"q01": 80.0, "q05": 85.0, "q10": 90.0, "q20": 95.0, "q50": 100.0, "q80": 105.0, "q90": 115.0,
          "q95": 120.0, "q99": 130.0}
    fc = pl.DataFrame([{"product_id": "F", "site_id": "D", "week": ex.week(t), "mean": 100.0, **qs}
                       for t in range(4)])
    assert safety_stock_targets(fc, inputs["products"], net)["product_id"].unique().to_list() == ["F"]


# ------------------------------------------------------------------------------- stop 25: a stranger's plant
def _validated(frames, entity):
    from data_contracts.config import ContractConfig
    from data_contracts.testing import TINY_RUN_DATE, all_as_raw
    from data_contracts.validate import validate_inputs

    out = validate_inputs(all_as_raw(frames), TINY_RUN_DATE, ContractConfig(max_reject_share=1.0))
    return _quarantined(out, entity), out


def test_contracts_refuse_changeovers_the_plan_would_refuse_with_their_row():
    # the planning model refused a switch from a product to itself and a changeover of a resource that is not
    # campaign-run (PlanInputError, no file or row); validate passed both (exit 0)
    from data_contracts.testing import tiny_inputs

    frames = tiny_inputs()
    frames["resources"] = frames["resources"].with_columns(campaign=pl.Series([True, False]))
    frames["changeovers"] = pl.DataFrame(
        [("R1", None, "P1", "P2", 24.0, 5000.0),  # row 1: fine
         ("R1", None, "P1", "P1", 10.0, 100.0),  # row 2: to itself
         ("R2", None, "P1", "P3", 2.0, 100.0),  # row 3: R2 is not campaign-run
         (None, "PL1", "P2", "P2", 1.0, 1.0)],  # row 4: a site's row to itself
        schema=schema.CHANGEOVERS.schema, orient="row")
    got, out = _validated(frames, "changeovers")
    assert set(got) == {(2, "changeover_self"), (3, "changeover_campaign_resource"), (4, "changeover_self")}
    assert got[(2, "changeover_self")] == (
        "from_product_id 'P1', to_product_id 'P1' is a switch from a product to itself: a campaign goes on "
        "without one; remove the row")
    assert got[(3, "changeover_campaign_resource")].startswith(
        "resource_id 'R2' is not campaign-run, so it has no changeovers: set campaign to true")
    assert out.clean["changeovers"]["from_product_id"].to_list() == ["P1"]


def test_contracts_refuse_a_routing_whose_product_expires_before_its_release():
    # P1 lives 52 weeks from manufacture: released after 52 weeks, every unit expired unreleased and the plan
    # made them anyway (a campaign of batches no one could use), exit 0; P3's life counts from its release
    from data_contracts.testing import tiny_inputs

    frames = tiny_inputs()
    frames["routings"] = frames["routings"].with_columns(release_weeks=pl.Series([52, 3, 30]))
    got, out = _validated(frames, "routings")
    assert set(got) == {(1, "expires_before_release")}
    assert got[(1, "expires_before_release")].startswith(
        "product_id 'P1', release_weeks '52' is released no sooner than the product's shelf_life_weeks")
    frames["routings"] = frames["routings"].with_columns(release_weeks=pl.Series([51, 3, 30]))
    assert _validated(frames, "routings")[0] == {}  # made in week s, usable through s + 51: released in time


def test_contracts_refuse_a_family_spelt_two_ways():
    # 'vaccines' and 'Vaccines': a storage limit of 'vaccines' silently did not hold the other spelling's products
    from data_contracts.testing import tiny_inputs

    frames = tiny_inputs()
    frames["products"] = frames["products"].with_columns(family=pl.Series(["vaccines", "monoclonals", "Vaccines"]))
    got, _ = _validated(frames, "products")
    assert set(got) == {(1, "family_spelling"), (3, "family_spelling")}
    assert got[(3, "family_spelling")].startswith("family 'Vaccines' is spelt another way in other rows")


def test_a_component_is_not_shipped_to_a_dc_that_does_not_sell_it():
    # S (drug substance) has 500 on hand at P, whose freezer holds none of it without paying 10 a unit-week;
    # the lane P → D costs nothing. The plan shipped the 500 of S to the DC, where nothing consumes it and no
    # limit holds it, and kept it there all horizon: now only K, which D sells, goes there (S is filled
    # ahead or held over the limit at P, whichever is cheaper)
    inputs = _three_level()
    inputs["inventory"] = ex.inventory(dict(product_id="S", site_id="P", quantity=500.0))
    inputs["storage"] = ex.storage(dict(site_id="P", family="drug_substance", capacity=0.0, overflow_cost=10.0))
    r = _plan(inputs, ex.demand(dict(product_id="K", site_id="D", t=3, quantity=10.0)))
    ships = r.tables["plan_shipments"]
    assert set(ships["product_id"].to_list()) == {"K"}
    inv = r.tables["plan_inventory"]
    assert inv.filter((pl.col("product_id") == "S") & (pl.col("site_id") == "D"))["closing"].sum() == 0.0


def test_contracts_refuse_a_hard_storage_limit_below_the_stock_on_hand():
    # tiny_inputs hold 20 of P2 (family monoclonals) at PL1: a hard limit of 10 there made the plan
    # Infeasible (exit 1, "no usable solution") or, with a lane out, ship the stock to a DC to hold it
    from data_contracts.testing import tiny_inputs

    frames = tiny_inputs()
    rows = [("PL1", "monoclonals", 10.0, None), ("PL1", "vaccines", 0.0, None), ("DC1", "monoclonals", 5.0, 2.0)]
    frames["storage"] = pl.DataFrame(rows, schema=schema.STORAGE.schema, orient="row")
    got, _ = _validated(frames, "storage")
    assert set(got) == {(1, "storage_below_stock")}  # no vaccines at PL1; DC1's limit is soft
    assert got[(1, "storage_below_stock")].startswith(
        "site_id 'PL1', family 'monoclonals', capacity '10.0' is below what the site holds of the family")
    frames["storage"] = pl.DataFrame([("PL1", "monoclonals", 20.0, None)], schema=schema.STORAGE.schema,
                                     orient="row")
    assert _validated(frames, "storage")[0] == {}


def test_a_component_with_orders_of_its_own_gets_one_end_of_horizon_target():
    # S is consumed by F (and K) and also sold at D: its target as a sold item and as a component were two rows
    # of one product, and the plan stopped on "join keys did not fulfill 1:1 validation" (exit 1)
    inputs = _three_level()
    rows = [dict(product_id=p, site_id="D", t=t, quantity=10.0) for p in ("K", "S") for t in range(10)]
    r = _plan(inputs, ex.demand(*rows))
    assert r.solver_status == "Optimal"
    # S's week-0 demand waits for its 1-week release; from week 1 on it is served
    backlog = r.tables["plan_backlog"].filter((pl.col("product_id") == "S") & (pl.col("week") > ex.week(0)))
    assert backlog["backlog"].sum() == pytest.approx(0.0, abs=1e-6)


def test_an_id_written_in_another_case_is_named_as_such():
    # ' ds-a ' for DS-A: blanks are stripped on reading, and the row was "not a valid products product_id
    # (unknown, …)", which does not say what to change; an id unknown in every spelling keeps those words
    from data_contracts.testing import tiny_inputs

    frames = tiny_inputs()
    frames["bom"] = pl.DataFrame([("P3", "p1", 0.5, 0.1), ("P3", "P 2", 0.5, 0.1), ("P3", "PX", 0.5, 0.1)],
                                 schema=schema.BOM.schema, orient="row")
    got, out = _validated(frames, "bom")
    assert set(got) == {(1, "known_product"), (2, "known_product"), (3, "known_product")}
    assert got[(1, "known_product")] == (
        "component_id 'p1' is not a valid products product_id, but one differs from it only in letter case or "
        "blanks: ids are matched exactly, write it as products does")
    assert "differs from it only in letter case" in got[(2, "known_product")]
    assert got[(3, "known_product")] == (
        "component_id 'PX' is not a valid products product_id (unknown, or rejected in products)")
    assert "known_product(component_id, letter case)" in set(out.results["expectation"])
