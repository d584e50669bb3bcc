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


def _d(*rows):
    return ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows])


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
    return ex.inputs(
        products=ex.products(
            dict(product_id="K", holding_cost_per_week=1.0),
            dict(product_id="F", family="filled", holding_cost_per_week=0.5),
            dict(product_id="S", family="drug_substance", holding_cost_per_week=0.1),
        ),
        resources=ex.resources(
            dict(resource_id="RK", site_id="P", hours_per_week=1000.0),
            dict(resource_id="RF", site_id="P", hours_per_week=1000.0),
            dict(resource_id="RS", site_id="P", hours_per_week=1000.0),
        ),
        routings=ex.routings(
            dict(product_id="K", resource_id="RK", release_weeks=1),
            dict(product_id="F", resource_id="RF", release_weeks=1, **{"yield": 0.9}),
            dict(product_id="S", resource_id="RS", release_weeks=1, **{"yield": 0.8}),
        ),
        bom=ex.bom(
            dict(parent_id="K", component_id="F", quantity_per=1.0, scrap=0.2),
            dict(parent_id="F", component_id="S", quantity_per=0.5, scrap=0.5),
        ),
    )


def test_dependent_demand_through_three_levels_with_scrap():
    # 100 K wanted at D in week 5: K starts week 4 (100, yield 1) and consumes 100 × 1 / (1 − 0.2) = 125 F;
    # 125 good F are released in week 4 from 125 / 0.9 started in week 3, which consume
    # (125 / 0.9) × 0.5 / (1 − 0.5) = 138.89 S; released in week 3 from 138.89 / 0.8 started in week 2.
    # Every item is made just in time (holding costs > 0, equal costs every week): no stock is held.
    r = _plan(_three_level(), _d(("K", "D", 5, 100.0)))
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
    r = _plan(inputs, _d(("K", "D", 5, 100.0)))
    assert r.solver_status == "Optimal"
    assert _made(r) == {}
    # with S on hand, exactly what the fill consumes is used: 20 S feed 20 F starts → 18 good F → 14.4 K
    inputs["inventory"] = ex.inventory(dict(product_id="S", site_id="P", quantity=20.0))
    r = _plan(inputs, _d(("K", "D", 5, 100.0)))
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
    r = _plan(_two_reactors(), _d(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 100.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(240.0)


def test_drug_substance_shelf_life_forbids_making_it_too_early_for_the_fill():
    # S lasts 3 weeks from manufacture: made in week 1 it is usable in weeks 1-3 only, and the fill runs in
    # week 5, so S must start in week 3 or later: only RS2 is open then; just in time is week 5.
    # 100 × 5 + 100 (fill) = 600.
    r = _plan(_two_reactors(s=dict(shelf_life_weeks=3)), _d(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS2", 5): 100.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(600.0)
    assert r.tables["plan_expiry"].height == 0
    # a 5-week shelf life lets week-1 substance reach the week-5 fill again
    r = _plan(_two_reactors(s=dict(shelf_life_weeks=5)), _d(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 100.0, ("F", "RF", 5): 100.0}


def test_freezer_limit_forces_later_production():
    # The freezer at P holds 60 units of drug substance: 60 made early on RS1 (60 + 4 weeks × 60 × 0.1 =
    # 84), the other 40 later on RS2 in the week of the fill (200); fill 100: total 384.
    limit = ex.storage(dict(site_id="P", family="drug_substance", capacity=60.0))
    r = _plan(_two_reactors(storage=limit), _d(("F", "D", 5, 100.0)))
    assert _made(r) == {("S", "RS1", 1): 60.0, ("S", "RS2", 5): 40.0, ("F", "RF", 5): 100.0}
    assert r.objective == pytest.approx(384.0)
    held = r.tables["plan_inventory"].filter(pl.col("product_id") == "S")["closing"]
    assert held.max() == pytest.approx(60.0)
    # a freezer of another family does not limit S
    other = ex.storage(dict(site_id="P", family="f", capacity=0.0))
    r = _plan(_two_reactors(storage=other), _d(("F", "D", 5, 100.0)))
    assert _made(r)[("S", "RS1", 1)] == 100.0


def test_single_level_input_plans_as_before():
    # An empty bom and storage change nothing: the same plan as without the entities.
    base = _two_reactors()
    del base["bom"]
    a = _plan(base, _d(("F", "D", 5, 100.0)))
    b = _plan({**base, "bom": ex.bom(), "storage": ex.storage()}, _d(("F", "D", 5, 100.0)))
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
