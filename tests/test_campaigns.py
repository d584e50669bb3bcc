"""Campaign-run resources: tiny instances solved by hand, and the input rules of the campaign columns and
the ``changeovers`` entity."""

from __future__ import annotations

import polars as pl
import pytest

from data_contracts import schema
from optimization import PlanConfig, PlanInputError, build_network, plan_supply
from optimization import examples as ex

NO_SS = pl.DataFrame()
# holding 1 a unit-week, production 1 a unit, no terminal condition: the costs below are counted by hand
CONFIG = PlanConfig(horizon_weeks=8, terminal_condition=False)


def _plan(inputs, demand_rows, config=CONFIG):
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in demand_rows])
    net = build_network(inputs, ex.START, config)
    return plan_supply(net, demand, NO_SS, config)


def _kpi(result, name):
    return result.tables["plan_kpis"].filter(pl.col("kpi") == name)["value"].item()


def _suite(**campaign) -> dict[str, pl.DataFrame]:
    """Products A and B (holding 1, backlog penalty 1000) on one 100-hour suite R at plant P, which serves
    the demand itself; 1 hour a unit."""
    return ex.inputs(
        dcs=(),
        products=ex.products(
            dict(product_id="A", holding_cost_per_week=1.0, backlog_penalty=1000.0),
            dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=1000.0),
        ),
        resources=ex.resources(dict(resource_id="R", site_id="P", hours_per_week=100.0, **campaign)),
        routings=ex.routings(dict(product_id="A", resource_id="R"), dict(product_id="B", resource_id="R")),
        lanes=ex.lanes(),
    )


# A wants 50 every week, B 100 in week 4 only; the suite makes 100 a week of one product
BUILD_AHEAD = [("A", "P", t, 50.0) for t in range(8)] + [("B", "P", 4, 100.0)]


def test_without_campaigns_the_model_stays_an_lp():
    r = _plan(_suite(), BUILD_AHEAD)
    assert r.problem_type == "LP"
    assert r.tables["plan_campaigns"].height == 0
    assert "cost_changeover" not in r.tables["plan_kpis"]["kpi"].to_list()


def test_long_minimum_campaign_forces_building_ahead():
    # one-week campaigns: B in week 4, A's week-4 demand made in week 3 → 50 unit-weeks held
    short = _plan(_suite(campaign=True, min_campaign_weeks=1), BUILD_AHEAD)
    assert short.problem_type == "MIP" and short.solver_status == "Optimal"
    assert _kpi(short, "cost_holding") == pytest.approx(50.0)
    assert _kpi(short, "cost_backlog") == pytest.approx(0.0)
    # three-week campaigns: B occupies weeks 4-6 (or 3-5), so A's demand of those weeks is built in weeks 0-3:
    # closing stock of A 0, 50, 100, 150, 100, 50, 0 (or 50, 100, 150, 100, 50, 0) → 450 unit-weeks
    long = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD)
    assert long.solver_status == "Optimal"
    assert _kpi(long, "cost_holding") == pytest.approx(450.0)
    assert _kpi(long, "cost_backlog") == pytest.approx(0.0)
    assert long.objective == pytest.approx(short.objective + 400.0)
    campaigns = long.tables["plan_campaigns"]
    b = campaigns.filter(pl.col("product_id") == "B")
    assert b.height == 1 and b["weeks"].item() >= 3 and b["quantity"].item() == pytest.approx(100.0)
    # one product a week: no week has two products started
    prod = long.tables["plan_production"]
    assert prod.group_by("week").len()["len"].max() == 1
    # stock of A built ahead: at least 100 on hand at the end of week 3
    inv = long.tables["plan_inventory"].filter((pl.col("product_id") == "A") & (pl.col("week") == ex.week(3)))
    assert inv["closing"].item() >= 100.0 - 1e-6


def _two_runs(time_blocks: bool = True, **campaign):
    # A wanted 60 in weeks 2 and 5; holding A costs 10 a unit-week; B needs the suite in week 3
    inputs = _suite(campaign=True, **campaign)
    inputs["products"] = ex.products(
        dict(product_id="A", holding_cost_per_week=10.0, backlog_penalty=1000.0),
        dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=1000.0),
    )
    return _plan(inputs, [("A", "P", 2, 60.0), ("A", "P", 5, 60.0), ("B", "P", 3, 100.0)],
                 PlanConfig(horizon_weeks=6, terminal_condition=False, campaign_time_blocks=time_blocks))


def test_changeover_makes_one_long_campaign_cheaper_than_two_short_ones():
    # cheap switch (100): A in week 2, B in week 3, A again in week 5 → 2 changeovers, no stock held
    cheap = _two_runs(changeover_cost=100.0)
    assert _kpi(cheap, "changeovers") == pytest.approx(2.0)
    assert _kpi(cheap, "cost_holding") == pytest.approx(0.0)
    assert _kpi(cheap, "cost_changeover") == pytest.approx(200.0)
    # dear switch (5,000): one changeover instead of two. B first (the plan's first campaign: no changeover),
    # made by week 1 and held to week 3 (100 × 2 weeks = 200), then one campaign of A from week 2 to the end
    # making 60 in weeks 2 and 5 (A first instead would hold 60 A for 3 weeks: 1,800)
    dear = _two_runs(changeover_cost=5000.0)
    assert _kpi(dear, "changeovers") == pytest.approx(1.0)
    assert _kpi(dear, "cost_changeover") == pytest.approx(5000.0)
    assert _kpi(dear, "cost_holding") == pytest.approx(200.0)
    assert dear.objective == pytest.approx(cheap.objective - 200.0 + 5000.0 + 200.0)
    a = dear.tables["plan_campaigns"].filter(pl.col("product_id") == "A")
    assert a.height == 1 and a["quantity"].item() == pytest.approx(120.0)
    assert a["first_week"].item() == ex.week(2) and a["last_week"].item() == ex.week(5)


def test_changeover_hours_take_capacity_in_the_week_of_the_switch():
    # 30 changeover hours: a week that starts a campaign has 70 hours left for production, and the capacity
    # table counts the 30 as used
    r = _two_runs(changeover_hours=30.0)
    cap = r.tables["plan_capacity"]
    assert (cap["hours_used"] <= cap["hours_available"] + 1e-6).all()
    switched = r.tables["plan_campaigns"].filter(pl.col("changeover_hours") > 0)
    assert switched.height >= 1
    assert _kpi(r, "changeover_hours") == pytest.approx(30.0 * switched.height)
    for row in switched.iter_rows(named=True):
        week = cap.filter(pl.col("week") == row["first_week"])
        made = r.tables["plan_production"].filter(pl.col("week") == row["first_week"])["hours"].sum()
        assert week["hours_used"].item() == pytest.approx(made + 30.0)


def test_sequence_dependent_changeover_from_the_changeovers_entity():
    inputs = _suite(campaign=True, changeover_cost=5000.0)
    inputs["products"] = ex.products(
        dict(product_id="A", holding_cost_per_week=10.0, backlog_penalty=1000.0),
        dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=1000.0),
    )
    # B → A and A → B are cheap on this suite: the two-campaign plan wins again
    inputs["changeovers"] = ex.frame(schema.CHANGEOVERS, [
        dict(resource_id="R", from_product_id="A", to_product_id="B", hours=0.0, cost=100.0),
        dict(resource_id="R", from_product_id="B", to_product_id="A", hours=0.0, cost=100.0),
    ])
    r = _plan(inputs, [("A", "P", 2, 60.0), ("A", "P", 5, 60.0), ("B", "P", 3, 100.0)],
              PlanConfig(horizon_weeks=6, terminal_condition=False))
    assert _kpi(r, "cost_changeover") == pytest.approx(200.0)
    assert _kpi(r, "cost_holding") == pytest.approx(0.0)
    switched = r.tables["plan_campaigns"].filter(pl.col("from_product_id").is_not_null())
    assert sorted(switched["changeover_cost"].to_list()) == [100.0, 100.0]


def test_maximum_campaign_length_forces_a_switch():
    # only A wanted, 50 a week; at most 3 weeks set up for A in a row → some 4-week window switches
    r = _plan(_suite(campaign=True, max_campaign_weeks=3), [("A", "P", t, 50.0) for t in range(8)])
    campaigns = r.tables["plan_campaigns"]
    assert campaigns["weeks"].max() <= 3
    assert _kpi(r, "cost_backlog") == pytest.approx(0.0)


def test_the_kpi_counts_the_changeovers_plan_campaigns_and_scenario_compare_show():
    # A wants the whole suite every week, at most 3 weeks a campaign, a free switch (no hours, no cost): a week
    # idles and A starts again. The MIP's switch variable is 1 there, and the KPI used to count it (1) where
    # plan_campaigns shows no changeover and `scenario compare` counted 0.
    r = _plan(_suite(campaign=True, max_campaign_weeks=3), [("A", "P", t, 100.0) for t in range(8)])
    campaigns = r.tables["plan_campaigns"]
    assert campaigns.height == 2 and campaigns["from_product_id"].null_count() == 2
    assert campaigns["changeover_hours"].sum() == 0.0 and campaigns["changeover_cost"].sum() == 0.0
    assert _kpi(r, "campaigns") == 2 and _kpi(r, "changeovers") == 0
    # a switch that costs is one in both: the restart's cost is in its campaign's row
    paid = _plan(_suite(campaign=True, max_campaign_weeks=3, changeover_cost=10.0),
                 [("A", "P", t, 100.0) for t in range(8)])
    assert paid.tables["plan_campaigns"]["changeover_cost"].sort().to_list() == [0.0, 10.0]
    assert _kpi(paid, "changeovers") == 1


# ---------------------------------------------------------------------------------------------- input rules
def test_min_campaign_above_max_is_refused():
    with pytest.raises(PlanInputError, match=r"resources\.max_campaign_weeks: min_campaign_weeks is above"):
        build_network(_suite(campaign=True, min_campaign_weeks=4, max_campaign_weeks=2), ex.START, CONFIG)


def test_negative_changeover_hours_are_refused():
    with pytest.raises(PlanInputError, match=r"resources\.changeover_hours: must be >= 0; rows resource_id=R"):
        build_network(_suite(campaign=True, changeover_hours=-5.0), ex.START, CONFIG)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (dict(resource_id="R", from_product_id="A", to_product_id="Z", hours=1.0, cost=1.0),
         r"changeovers\.to_product_id: unknown product \['Z'\]"),
        (dict(resource_id="Q", from_product_id="A", to_product_id="B", hours=1.0, cost=1.0),
         r"changeovers\.resource_id: unknown resource \['Q'\]"),
        (dict(resource_id="R", from_product_id="A", to_product_id="B", hours=-1.0, cost=1.0),
         r"changeovers\.hours: must be >= 0"),
        (dict(resource_id="R", site_id="P", from_product_id="A", to_product_id="B", hours=1.0, cost=1.0),
         r"changeovers\.resource_id: give exactly one of resource_id and site_id"),
        (dict(resource_id="R", from_product_id="A", to_product_id="A", hours=1.0, cost=1.0),
         r"changeovers\.to_product_id: a changeover switches between two products"),
    ],
)
def test_bad_changeovers_are_refused(row, message):
    inputs = _suite(campaign=True)
    inputs["changeovers"] = ex.frame(schema.CHANGEOVERS, [row])
    with pytest.raises(PlanInputError, match=message):
        build_network(inputs, ex.START, CONFIG)


def test_changeover_on_a_resource_that_is_not_campaign_run_is_refused():
    inputs = _suite()
    inputs["changeovers"] = ex.frame(schema.CHANGEOVERS, [
        dict(resource_id="R", from_product_id="A", to_product_id="B", hours=1.0, cost=1.0)])
    with pytest.raises(PlanInputError, match="not campaign-run"):
        build_network(inputs, ex.START, CONFIG)


# ---------------------------------------------------------------------------------------------- shortages
def _reasons(r):
    return r.tables["plan_shortages"].group_by("product_id").agg(pl.col("reason").unique()).sort("product_id")


def test_shortage_behind_a_minimum_campaign_is_campaign_length():
    # A (2-week shelf life: it cannot be built far ahead) wanted 100 in weeks 0 and 3, B (dearer to keep
    # waiting) 100 in week 1; campaigns last 3 weeks at least. Best: A in week 0, B in weeks 1-3, A again
    # from week 4, so A's week-3 demand waits a week (100 × 1,000); B first instead keeps A's week-0 demand
    # waiting as long and holds B a week (100 more)
    inputs = _suite(campaign=True, min_campaign_weeks=3)
    inputs["products"] = ex.products(
        dict(product_id="A", holding_cost_per_week=1.0, backlog_penalty=1000.0, shelf_life_weeks=2),
        dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=2000.0),
    )
    r = _plan(inputs, [("A", "P", 0, 100.0), ("A", "P", 3, 100.0), ("B", "P", 1, 100.0)],
              PlanConfig(horizon_weeks=6, terminal_condition=False))
    assert _kpi(r, "cost_backlog") == pytest.approx(100_000.0)
    b = r.tables["plan_campaigns"].filter(pl.col("product_id") == "B")
    assert b["first_week"].item() == ex.week(1) and b["weeks"].item() == 3
    short = r.tables["plan_shortages"]
    assert short["product_id"].to_list() == ["A"] and short["week"].to_list() == [ex.week(3)]
    assert short["reason"].item() == "campaign_length"
    assert short["detail"].item().startswith("R is set up for B in 2027-W02–2027-W04")


def test_shortage_not_worth_a_changeover_is_changeover():
    # the suite runs A flat out for its 100 a week; B wants 10 in week 2, but a switch costs 100,000
    inputs = _suite(campaign=True, changeover_cost=100_000.0)
    r = _plan(inputs, [("A", "P", t, 90.0) for t in range(4)] + [("B", "P", 2, 10.0)],
              PlanConfig(horizon_weeks=4, terminal_condition=False))
    short = r.tables["plan_shortages"]
    assert set(short["product_id"].to_list()) == {"B"}
    assert set(short["reason"].to_list()) == {"changeover"}
    assert "a switch costs 0.0 hours and 100,000" in short["detail"][0]


def test_a_changeover_reason_quotes_the_changeovers_tables_switch():
    # as above with the A → B switch named in the changeovers table at 24 hours and 150,000: the detail
    # quoted the resource's default (0 hours, 100,000) "(or the changeovers table's figure)"
    inputs = _suite(campaign=True, changeover_cost=100_000.0)
    inputs["changeovers"] = ex.frame(schema.CHANGEOVERS, [
        dict(resource_id="R", from_product_id="A", to_product_id="B", hours=24.0, cost=150_000.0)])
    r = _plan(inputs, [("A", "P", t, 90.0) for t in range(4)] + [("B", "P", 2, 10.0)],
              PlanConfig(horizon_weeks=4, terminal_condition=False))
    short = r.tables["plan_shortages"]
    assert set(short["reason"].to_list()) == {"changeover"}
    assert short["detail"][0].endswith("a switch costs 24.0 hours and 150,000, more than serving it saves")


def test_a_fill_waiting_for_its_drug_substance_behind_a_campaign_is_changeover():
    # as above, but B is a drug substance: the sold item is its fill F (1 of B a unit, made on a free line RF).
    # F wants 10 in week 2; the suite runs A, and a switch to B costs 100,000. F's own routing is on no
    # campaign resource, so the reason was "cost" ("serving it would cost more than the backlog penalty
    # saves"): the suite's campaign held its component, which is what a planner must be told.
    inputs = _suite(campaign=True, changeover_cost=100_000.0)
    inputs["products"] = ex.products(
        dict(product_id="A", holding_cost_per_week=1.0, backlog_penalty=1000.0),
        dict(product_id="B", family="drug_substance", holding_cost_per_week=1.0, backlog_penalty=0.0),
        dict(product_id="F", holding_cost_per_week=1.0, backlog_penalty=1000.0),
    )
    inputs["resources"] = ex.resources(
        dict(resource_id="R", site_id="P", hours_per_week=100.0, campaign=True, changeover_cost=100_000.0),
        dict(resource_id="RF", site_id="P", hours_per_week=100.0),
    )
    inputs["routings"] = ex.routings(dict(product_id="A", resource_id="R"), dict(product_id="B", resource_id="R"),
                                     dict(product_id="F", resource_id="RF"))
    inputs["bom"] = ex.bom(dict(parent_id="F", component_id="B", quantity_per=1.0))
    r = _plan(inputs, [("A", "P", t, 90.0) for t in range(4)] + [("F", "P", 2, 10.0)],
              PlanConfig(horizon_weeks=4, terminal_condition=False))
    assert r.tables["plan_campaigns"]["product_id"].to_list() == ["A"]
    short = r.tables["plan_shortages"]
    assert short["product_id"].unique().to_list() == ["F"]
    assert set(short["reason"].to_list()) == {"changeover"}
    assert short["detail"][0].startswith("its component B waits: R is set up for A in 2027-W01–2027-W04; "
                                         "a switch costs 0.0 hours and 100,000")


def test_a_suite_full_for_whole_batches_is_named_full_not_cost():
    # A wants 100 a week; the suite's 100 hours make batches of 40 (1 hour a unit): two a week, 80 units, and
    # the 20 hours left hold no batch. The LP with every integer fixed leaves those 20 hours slack (dual 0),
    # so the reason was "cost" ("serving it would cost more than the backlog penalty saves", at a penalty
    # of 1,000 against a cost of 1): the suite is full, for whole batches
    inputs = _suite(campaign=True)
    inputs["routings"] = ex.routings(dict(product_id="A", resource_id="R", batch_size=40.0))
    r = _plan(inputs, [("A", "P", t, 100.0) for t in range(4)], PlanConfig(horizon_weeks=4, terminal_condition=False))
    assert r.tables["plan_production"]["quantity"].to_list() == [80.0] * 4
    short = r.tables["plan_shortages"]
    assert set(short["reason"].to_list()) == {"capacity"}
    assert set(short["resource_id"].to_list()) == {"R"}
    assert "R at P is full (whole batches: its 20.0 free hours hold no batch of 40.0); +" in short["detail"][0]


# ---------------------------------------------------------------------------------------------- MIP start
def test_sequenced_setups_follow_the_relaxation_with_campaign_lengths():
    from optimization.campaign_start import sequenced_setups

    # one suite of 100 hours, 6 weeks, campaigns of 2 to 3 weeks; the relaxation makes 60 hours of A and
    # 40 of B every week. Week 0: A is furthest behind (A 180 h due by week 2, B 120) → A for its minimum
    # 2 weeks, still behind (A due 240 by week 3, made 200) → a 3rd week, its maximum; then B, behind by
    # 200 → B for weeks 3-5 (B's maximum ends with the horizon)
    rows = [
        dict(product_id=p, resource_id="R", t=t, col=i, make=60.0 if p == "A" else 40.0, hours_per_unit=1.0,
             hours_available=100.0, min_campaign_weeks=2, max_campaign_weeks=3, changeover_hours=10.0)
        for i, (p, t) in enumerate((p, t) for p in "AB" for t in range(6))
    ]
    start = sequenced_setups(pl.DataFrame(rows))
    on = dict(zip(start["col"].to_list(), start["start"].to_list()))
    chosen = {t: p for i, (p, t) in enumerate((p, t) for p in "AB" for t in range(6)) if on[i] == 1.0}
    assert chosen == {0: "A", 1: "A", 2: "A", 3: "B", 4: "B", 5: "B"}


def test_warm_start_does_not_change_the_optimum():
    cold = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD,
                 PlanConfig(horizon_weeks=8, terminal_condition=False, campaign_warm_start=False))
    warm = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD)
    assert warm.objective == pytest.approx(cold.objective)


# -------------------------------------------------------------------------------------- valid inequalities
def _relaxation_and_optimum(without: str | None = None) -> tuple[float, float]:
    """A wanted 50 a week for 4 weeks on a 100-unit suite, campaigns of at most 2 weeks, a switch 100:
    the LP relaxation's and the MIP's objective, optionally with one constraint family removed."""
    import pulp

    from optimization.model import build_model
    from optimization.pulp_highs import BulkHiGHS

    config = PlanConfig(horizon_weeks=4, terminal_condition=False, campaign_start_cuts=True)
    net = build_network(_suite(campaign=True, max_campaign_weeks=2, changeover_cost=100.0), ex.START, config)
    demand = pl.DataFrame(
        {"product_id": ["A"] * 4, "site_id": ["P"] * 4, "t": [0, 1, 2, 3], "quantity": [50.0] * 4}
    )
    none = {"product_id": pl.String, "site_id": pl.String, "t": pl.Int64}
    safety = pl.DataFrame(schema={**none, "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    out = []
    for mip in (False, True):
        model = build_model(net, demand, safety, scheduled, config)
        prob = model.builder.prob
        if without is not None:
            for name in model.builder.rows[without]["name"].to_list():
                del prob._constraints[name]
        prob.solve(BulkHiGHS(mip=mip, msg=False, variables=model.builder.variables))
        out.append(pulp.value(prob.objective))
    return out[0], out[1]


def test_campaign_start_cuts_are_off_by_default():
    config = PlanConfig(horizon_weeks=4, terminal_condition=False)
    assert not config.campaign_start_cuts
    r = _plan(_suite(campaign=True, max_campaign_weeks=2, changeover_cost=100.0),
              [("A", "P", t, 50.0) for t in range(4)], config)
    assert r.objective == pytest.approx(350.0)  # the hand optimum below, without the cuts


def test_campaign_start_window_cuts_the_relaxation_and_keeps_the_optimum():
    # the optimum by hand: production 200; A set up in weeks 0-1 and 3 (or 0 and 2-3): one switch (100) and
    # 50 units held one week (50) → 350; without a switch, weeks 0-1 make all 200 and hold 200 unit-weeks
    relaxed, optimum = _relaxation_and_optimum()
    relaxed_without, optimum_without = _relaxation_and_optimum(without="campaign_start")
    assert optimum == pytest.approx(350.0) and optimum_without == pytest.approx(350.0)
    # without it the relaxation sets A up 2/3 of every week (3 weeks in a row hold at most 2) and never
    # switches: production alone, 200. With it, weeks 2 and 3 lie in a campaign that started in week 1, 2
    # or 3: y ≥ 0.5 each needs switches of 0.5 (50), the cheapest way to make them → 250
    assert relaxed_without == pytest.approx(200.0)
    assert relaxed == pytest.approx(250.0)


def test_a_campaign_limit_shorter_than_the_relaxation_still_gives_a_plan():
    # the relaxation is let finish (within time_limit_seconds) and the start's completion gets at least as
    # long, so even a limit no solve can meet ends with the plan, here the optimum of the hand case above
    tiny = PlanConfig(horizon_weeks=8, terminal_condition=False, campaign_time_limit_seconds=1e-4)
    r = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD, tiny)
    assert r.problem_type == "MIP" and r.solver_status in ("Optimal", "Feasible")
    default = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD)
    assert r.objective == pytest.approx(default.objective)
    assert _kpi(r, "cost_holding") == pytest.approx(450.0)


def built_model(inputs, demand_rows, config):
    """The campaign model of ``inputs`` for ``demand_rows`` (no safety stock, nothing scheduled), unsolved."""
    from optimization.model import build_model

    net = build_network(inputs, ex.START, config)
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in demand_rows])
    demand = demand.with_columns(t=net.week_index()).drop("week")
    safety = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64,
                                  "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    return build_model(net, demand, safety, scheduled, config)


def test_fix_and_optimize_improves_a_bad_start_to_the_optimum():
    import time

    import numpy as np
    import pulp

    from optimization.pulp_highs import BulkHiGHS
    from optimization.solve import _improve_by_resource

    config = PlanConfig(horizon_weeks=8, terminal_condition=False)
    model = built_model(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD, config)
    variables = model.builder.variables
    # a bad start: the suite set up for A all 8 weeks, so B's 100 in week 4 is never made
    setup = model.frames["setup_for"]
    bad = [(variables[c], 1.0 if p == "A" else 0.0) for c, p in zip(setup["col"], setup["product_id"])]
    for v, x in bad:
        v.lowBound = v.upBound = x
    model.builder.prob.solve(BulkHiGHS(mip=True, msg=False, variables=variables))
    for v, _ in bad:
        v.lowBound, v.upBound = 0, 1
    start = (np.arange(len(variables), dtype=np.int32), np.array([v.varValue or 0.0 for v in variables]))
    model.start_objective = pulp.value(model.builder.prob.objective)
    optimum = _plan(_suite(campaign=True, min_campaign_weeks=3), BUILD_AHEAD).objective
    assert model.start_objective > optimum + 1000.0  # B short: at least 1000 of backlog
    _, values = _improve_by_resource(model, config, start, time.perf_counter() + 60.0)
    assert model.start_objective == pytest.approx(optimum)
    b = [values[c] for c, p in zip(setup["col"], setup["product_id"]) if p == "B"]
    assert sum(b) >= 1.0  # the suite now makes B


def _relaxation_and_optimum_need(bound: bool, rows, weeks: int = 8, **campaign) -> tuple[float, float]:
    """The LP relaxation's and the MIP's objective on the two-product suite, with or without the
    ``campaign_need`` big-M."""
    import pulp

    from optimization.model import build_model
    from optimization.pulp_highs import BulkHiGHS

    config = PlanConfig(horizon_weeks=weeks, terminal_condition=False, campaign_need_bound=bound)
    net = build_network(_suite(campaign=True, **campaign), ex.START, config)
    demand = pl.DataFrame(
        [dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows],
        schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64, "quantity": pl.Float64},
    )
    safety = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64,
                                  "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    out = []
    for mip in (False, True):
        model = build_model(net, demand, safety, scheduled, config)
        model.builder.prob.solve(BulkHiGHS(mip=mip, msg=False, variables=model.builder.variables))
        out.append(pulp.value(model.builder.prob.objective))
    return out[0], out[1]


def test_need_bound_cuts_the_relaxation_and_keeps_the_optimum():
    # A wants 50 every week, B only 10 in week 4; 100 units a week of one product. By hand: the week B is
    # made, A makes nothing, so A's demand of that week is built a week ahead: 410 of production + 50 of
    # holding (B in week 4; B in week 3 costs 10 + 50) → 460. The relaxation without the bound sets B up
    # a tenth of week 4 and A the rest: no holding, 410. With it, B's starts are at most its whole demand
    # (10) × its setup, so making B's 10 takes a whole week of setup: half of weeks 3 and 4 each leaves A
    # its 50 in both, with 5 of B made in week 3 and held a week → 415.
    rows = [("A", "P", t, 50.0) for t in range(8)] + [("B", "P", 4, 10.0)]
    relaxed_without, optimum_without = _relaxation_and_optimum_need(False, rows)
    relaxed, optimum = _relaxation_and_optimum_need(True, rows)
    assert optimum_without == pytest.approx(460.0) and optimum == pytest.approx(460.0)
    assert relaxed_without == pytest.approx(410.0)
    assert relaxed == pytest.approx(415.0)


def test_need_bound_counts_backlog_that_may_still_wait():
    # a start may serve demand of earlier weeks (backlog): the bound of a week is every week's demand when
    # backlog never lapses, and from max_backlog_weeks before it when it does
    from optimization.campaign_links import campaign_need

    config = PlanConfig(horizon_weeks=6, terminal_condition=False)
    net = build_network(_suite(campaign=True), ex.START, config)
    setup = pl.DataFrame({"product_id": ["A"] * 6, "resource_id": ["R"] * 6, "t": list(range(6))})
    demand = pl.DataFrame({"product_id": ["A", "A"], "site_id": ["P", "P"], "t": [1, 3], "quantity": [30.0, 20.0]})
    safety = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64,
                                  "safety_stock": pl.Float64})
    ever = campaign_need(net, demand, safety, None, setup).sort("t")["need"].to_list()
    assert ever == pytest.approx([50.0] * 6)
    lapsing = campaign_need(net, demand, safety, None, setup, max_backlog_weeks=1).sort("t")["need"].to_list()
    # week t counts demand of weeks ≥ t − 1: weeks 0-2 both, 3-4 the 20 of week 3, 5 nothing
    assert lapsing == pytest.approx([50.0, 50.0, 50.0, 20.0, 20.0, 0.0])


def test_fix_and_optimize_passes_start_with_the_most_idle_suite():
    import numpy as np

    from optimization.campaign_start import idle_setup_hours

    # R1 set up both weeks (100 h each), makes 150 h and switches once (10 h): 40 idle; R2 set up one week
    # (80 h) and makes 10 h: 70 idle, so R2's pass comes first
    setup = pl.DataFrame({
        "resource_id": ["R1", "R1", "R2", "R2"], "col": [0, 1, 2, 3], "make_col": [4, 5, 6, 7],
        "hours_available": [100.0, 100.0, 80.0, 80.0], "hours_per_unit": [1.0, 1.0, 2.0, 2.0],
    })
    switch = pl.DataFrame({"resource_id": ["R1"], "col": [8], "changeover_hours": [10.0]})
    values = np.array([1, 1, 1, 0, 90, 60, 5, 0, 1], dtype=float)
    order = idle_setup_hours(setup, switch, values)
    assert order["resource_id"].to_list() == ["R2", "R1"]
    assert order["idle"].to_list() == pytest.approx([70.0, 40.0])
    assert order["col"].to_list() == [[2, 3], [0, 1]]


def test_pair_switch_keeps_named_switches_from_paying_the_relaxation():
    # A and B want 50 each in weeks 1-3 on a 200-unit suite; a switch costs 1,000 by default, 400 when
    # named (A → B, B → A: a delta of −600), holding 1. By hand: A in week 0 makes its 150 (closing 150,
    # 100, 50: 300 held), B's campaign in weeks 1-3 makes its 50 as they fall, one named switch 400,
    # production 300 → 1,000 (B first is the same; a second switch costs more than it saves). Without pair_switch the relaxation sets A and B up half of every
    # week, makes the demand as it falls, never switches, yet collects the −600 delta of both pairs at
    # 0.5 in weeks 1-3: 300 − 1,800 = −1,500, below the LP without campaigns (300). With it a pair costs
    # its switch (1,000 − 600 > 0), so the relaxation is that LP: 300.
    import pulp

    from optimization.model import build_model
    from optimization.pulp_highs import BulkHiGHS

    inputs = _suite(campaign=True, changeover_cost=1000.0)
    inputs["resources"] = inputs["resources"].with_columns(hours_per_week=pl.lit(200.0))
    inputs["changeovers"] = ex.frame(schema.CHANGEOVERS, [
        dict(resource_id="R", from_product_id="A", to_product_id="B", hours=0.0, cost=400.0),
        dict(resource_id="R", from_product_id="B", to_product_id="A", hours=0.0, cost=400.0),
    ])
    config = PlanConfig(horizon_weeks=4, terminal_condition=False)
    net = build_network(inputs, ex.START, config)
    demand = pl.DataFrame([dict(product_id=p, site_id="P", t=t, quantity=50.0) for p in "AB" for t in (1, 2, 3)])
    safety = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "t": pl.Int64,
                                  "safety_stock": pl.Float64})
    scheduled = pl.DataFrame(schema={"product_id": pl.String, "resource_id": pl.String, "t": pl.Int64,
                                     "quantity": pl.Float64})
    out = {}
    for without in (None, "pair_switch"):
        for mip in (False, True):
            model = build_model(net, demand, safety, scheduled, config)
            prob = model.builder.prob
            if without is not None:
                assert model.builder.rows[without].height == 6  # into A and B, weeks 1-3
                for name in model.builder.rows[without]["name"].to_list():
                    del prob._constraints[name]
            prob.solve(BulkHiGHS(mip=mip, msg=False, variables=model.builder.variables))
            out[without, mip] = pulp.value(prob.objective)
    assert out[None, True] == pytest.approx(1000.0) and out["pair_switch", True] == pytest.approx(1000.0)
    assert out["pair_switch", False] == pytest.approx(-1500.0)
    assert out[None, False] == pytest.approx(300.0)
    r = _plan(inputs, [("A", "P", t, 50.0) for t in (1, 2, 3)] + [("B", "P", t, 50.0) for t in (1, 2, 3)],
              config)
    assert r.objective == pytest.approx(1000.0) and _kpi(r, "cost_changeover") == pytest.approx(400.0)


def test_a_campaign_routing_without_batch_size_or_min_batch_is_warned_of_with_its_row(tmp_path):
    """A routing on a campaign-run suite with no batch size was planned continuously and nothing said so. Now
    validate (and a run, in ``run_warnings``) names its file and row and what to set; a ``min_batch`` alone
    (a continuous process with a minimum run) or a ``batch_size`` is quiet."""
    from typer.testing import CliRunner

    from cli.main import app
    from demo.network import demo_network, write_demo

    folder = tmp_path / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40, campaigns=True), folder)
    routings = pl.read_csv(folder / "routings.csv", infer_schema=False).with_row_index("row", offset=1)
    suites = pl.read_csv(folder / "resources.csv").filter(pl.col("campaign"))["resource_id"]
    on_suite = routings.filter(pl.col("resource_id").is_in(suites.implode()))["row"]
    assert on_suite.len() >= 3
    bare, run_only = on_suite[-1], on_suite[-2]  # the others get a batch size
    row = routings.filter(pl.col("row") == bare).row(0, named=True)
    is_suite = pl.col("row").is_in(on_suite.implode())
    routings.with_columns(
        pl.when(pl.col("row").is_in([bare, run_only])).then(None).when(is_suite).then(pl.lit("20"))
        .otherwise(pl.col("batch_size")).alias("batch_size"),
        pl.when(pl.col("row") == bare).then(None).when(is_suite).then(pl.lit("20"))
        .otherwise(pl.col("min_batch")).alias("min_batch"),
    ).drop("row").write_csv(folder / "routings.csv")
    result = CliRunner().invoke(app, ["validate", "--input", str(folder)])
    out = " ".join(result.output.split())
    assert result.exit_code == 0, result.output
    assert out.count("[continuous_campaign]") == 1, out
    assert (f"routings.csv row {row['row']}: product {row['product_id']} on the campaign-run resource "
            f"{row['resource_id']} has neither batch_size nor min_batch") in out
