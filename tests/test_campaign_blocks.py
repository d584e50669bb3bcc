"""Campaign networks on the blocks path: independent suites solved as separate MIPs give the plan of the
whole model, and the combined gap is counted over the blocks."""

from __future__ import annotations

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.plan import uses_blocks
from optimization.solve import block_gaps

NO_SS = pl.DataFrame()


def _two_suites(batch_size: float | None = None, min_batch: float | None = None) -> dict[str, pl.DataFrame]:
    """Suite R1 makes A and B, suite R2 makes C and D (100 hours a week each, 1 hour a unit, at plant P,
    which serves the demand itself): the suites share nothing, so the network is two blocks.

    R1 runs three-week minimum campaigns: B's 100 in week 4 takes weeks 4-6 (or 3-5), so A's 50 a week of
    those weeks is built ahead: 450 unit-weeks held (tests/test_campaigns.py solves the same suite alone).
    R2 switches at 5,000: C wanted 60 in weeks 2 and 5 (holding 10), D 100 in week 3 (holding 1): D first,
    held 2 weeks (200), then one campaign of C: one changeover (5,000), holding 200.
    """
    return ex.inputs(
        dcs=(),
        products=ex.products(
            dict(product_id="A", holding_cost_per_week=1.0, backlog_penalty=1000.0),
            dict(product_id="B", holding_cost_per_week=1.0, backlog_penalty=1000.0),
            dict(product_id="C", holding_cost_per_week=10.0, backlog_penalty=1000.0),
            dict(product_id="D", holding_cost_per_week=1.0, backlog_penalty=1000.0),
        ),
        resources=ex.resources(
            dict(resource_id="R1", site_id="P", hours_per_week=100.0, campaign=True, min_campaign_weeks=3),
            dict(resource_id="R2", site_id="P", hours_per_week=100.0, campaign=True, changeover_cost=5000.0),
        ),
        routings=ex.routings(
            dict(product_id="A", resource_id="R1", batch_size=batch_size, min_batch=min_batch),
            dict(product_id="B", resource_id="R1", batch_size=batch_size, min_batch=min_batch),
            dict(product_id="C", resource_id="R2", batch_size=batch_size, min_batch=min_batch),
            dict(product_id="D", resource_id="R2", batch_size=batch_size, min_batch=min_batch),
        ),
        lanes=ex.lanes(),
    )


DEMAND = (
    [("A", "P", t, 50.0) for t in range(8)]
    + [("B", "P", 4, 100.0), ("C", "P", 2, 60.0), ("C", "P", 5, 60.0), ("D", "P", 3, 100.0)]
)


def _plan(path: str, batch_size: float | None = None, min_batch: float | None = None, **cfg):
    config = PlanConfig(horizon_weeks=8, terminal_condition=False, solve_path=path, **cfg)
    net = build_network(_two_suites(batch_size, min_batch), ex.START, config)
    demand = ex.demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in DEMAND])
    return net, config, plan_supply(net, demand, NO_SS, config)


def _kpi(result, name):
    return result.tables["plan_kpis"].filter(pl.col("kpi") == name)["value"].item()


def test_independent_suites_give_the_whole_models_plan_through_the_blocks_path():
    net, config, blocks = _plan("blocks")
    assert uses_blocks(net, config)
    # the whole model as its MIP solves it (the blocks with time, on by default since stop 29, reach the same
    # objective with another of the tied schedules: checked after the plan comparison)
    _, _, whole = _plan("pulp", campaign_time_blocks=False)
    assert blocks.problem_type == whole.problem_type == "MIP"
    assert blocks.solver_status == whole.solver_status == "Optimal"
    assert blocks.blocks is not None and len(blocks.blocks.block_sizes) == 2
    assert blocks.blocks.mip_blocks == [0, 1]
    # by hand: production 400 (A) + 100 (B) + 120 (C) + 100 (D) = 720; holding 450 (R1) + 200 (R2);
    # one changeover on R2 at 5,000; R1's one switch (to B) costs nothing by default
    assert _kpi(blocks, "cost_holding") == pytest.approx(650.0)
    assert _kpi(blocks, "cost_changeover") == pytest.approx(5000.0)
    assert _kpi(blocks, "cost_backlog") == pytest.approx(0.0)
    assert blocks.objective == pytest.approx(whole.objective)
    assert 0.0 <= blocks.mip_gap <= config.mip_gap  # HiGHS stops each block within mip_gap, as whole
    for table in ("plan_campaigns", "plan_production"):
        keys = ["resource_id", "product_id", "first_week"] if table == "plan_campaigns" else [
            "resource_id", "product_id", "week"]
        assert blocks.tables[table].height == whole.tables[table].height
        a, b = (r.tables[table].sort(keys) for r in (blocks, whole))
        assert a.select(keys).equals(b.select(keys))
    c = blocks.tables["plan_campaigns"].filter(pl.col("product_id") == "C")
    assert c.height == 1 and c["quantity"].item() == pytest.approx(120.0)
    _, _, timed = _plan("pulp")  # the default: blocks with time
    assert timed.solver_status == "Optimal" and timed.objective == pytest.approx(whole.objective)
    # one product a suite-week
    prod = blocks.tables["plan_production"]
    assert prod.group_by("resource_id", "week").len()["len"].max() == 1
    # the fixed-integer LP's duals reach the capacity table (with batches fixed they are not unique, so
    # only their presence and sign are compared with the whole model's)
    cap_b, cap_w = (r.tables["plan_capacity"].sort("resource_id", "week") for r in (blocks, whole))
    assert cap_b["shadow_price"].null_count() == cap_w["shadow_price"].null_count() == 0
    assert (cap_b["shadow_price"] >= -1e-9).all()


def test_combined_gap_is_sum_of_incumbents_against_sum_of_bounds():
    # block 0 an LP (100 = its bound), block 1 a MIP at 300 with bound 240 (gap 20%), block 2 a MIP at 100
    # with bound 90 (gap 10%): overall (500 − 430) / 500 = 14%, worst 20%, bounds 430
    gap, worst, bound = block_gaps([100.0, 300.0, 100.0], [100.0, 240.0, 90.0], [1, 2])
    assert gap == pytest.approx(0.14)
    assert worst == pytest.approx(0.20)
    assert bound == pytest.approx(430.0)


@pytest.mark.parametrize(("batch_size", "min_batch"), [(None, None), (30.0, None), (30.0, 60.0)])
def test_a_block_whose_mip_gets_no_time_ends_with_the_starts_plan(monkeypatch, batch_size, min_batch):
    # no time at all after the relaxation and the start (the least a step gets set to 0 too): HiGHS's MIP
    # stops at once, and each block ends with its start, the relaxation sequenced into campaigns, its
    # batches (of 30, where given) rounded down, a lot under its minimum (60, where given) not started, and
    # the LP solved again; a plan with its gap, one product a suite-week, whole batches of at least the
    # minimum, no better than the optimum
    import optimization.solve as solve

    monkeypatch.setattr(solve, "MIN_MIP_SECONDS", 0.0)
    _, _, r = _plan("blocks", batch_size, min_batch, campaign_time_limit_seconds=1e-3)
    assert r.solver_status == "Feasible" and r.problem_type == "MIP"
    state = r.blocks
    assert state.mip_blocks == [0, 1]
    gap, worst, _ = block_gaps(state.objectives, state.bounds, state.mip_blocks)
    assert r.mip_gap == pytest.approx(gap) and 0.0 < gap <= worst
    assert f"worst block's gap {worst:.2%}" in r.attempts[0]
    _, _, best = _plan("pulp", batch_size, min_batch)
    assert r.objective >= best.objective - 1e-6
    prod = r.tables["plan_production"]
    assert prod.height > 0 and prod.group_by("resource_id", "week").len()["len"].max() == 1
    if batch_size:
        assert ((prod["quantity"] / batch_size).round(6) % 1 == 0).all()
    if min_batch:
        assert (prod["quantity"] >= min_batch - 1e-6).all()
    assert _kpi(r, "cost_total") == pytest.approx(r.objective)


@pytest.mark.parametrize("changeover, weeks, optimum", [(50.0, 6, 550_550.0), (10.0, 4, 150_390.0)])
def test_a_block_prices_the_hour_of_a_week_without_a_switch_by_hand(changeover, weeks, optimum):
    # B wants 100 in week 0, A 120 a week after it, on one 100-hour campaign suite (1 hour a unit, holding 1,
    # backlog 1,000; tests/test_campaign_fit.py's hand case on the blocks path). By hand: B in week 0, then A:
    # with the setups fixed an hour more in week k ≥ 1 is one more A then and one fewer late in every week
    # from k to the last: (weeks − k) × 1,000 − 1 of production. In a week without a switch the campaign link
    # row (A ≤ 100 × setup) is the capacity row itself; left in the block's fixed-integer LP it took all or
    # part of the hour's dual (50-hour switch, 6 weeks: week 3 priced 0; 10-hour switch, 4 weeks: week 2
    # priced 1,817.3). The optimum: A short 120 − (100 − switch) in week 1 and 20 more each week after, at
    # 1,000 a week, plus the units made. Week 0 (B, its demand met, its dual anywhere between the two sides) is not asserted.
    demand = ex.demand(dict(product_id="B", site_id="P", t=0, quantity=100.0),
                       *[dict(product_id="A", site_id="P", t=t, quantity=120.0) for t in range(1, weeks)])
    resources = ex.resources(dict(resource_id="R", site_id="P", hours_per_week=100.0, campaign=True,
                                  changeover_hours=changeover))
    inputs = ex.inputs(
        dcs=(),
        products=ex.products(*(dict(product_id=p, holding_cost_per_week=1.0, backlog_penalty=1000.0) for p in "AB")),
        resources=resources,
        routings=ex.routings(*(dict(product_id=p, resource_id="R") for p in "AB")),
        lanes=ex.lanes(),
    )
    config = PlanConfig(horizon_weeks=weeks, terminal_condition=False, solve_path="blocks")
    net = build_network(inputs, ex.START, config)
    assert uses_blocks(net, config)
    r = plan_supply(net, demand, pl.DataFrame(), config)
    assert r.objective == pytest.approx(optimum)
    prices = r.tables["plan_capacity"].sort("week")["shadow_price"].to_list()
    assert prices[1:] == pytest.approx([(weeks - k) * 1_000.0 - 1.0 for k in range(1, weeks)])
    assert set(r.tables["plan_shortages"]["reason"].to_list()) == {"capacity"}


def _switch_suite(changeover: float, min_batch: float | None = None, lane: float | None = None):
    """B then A on one 100-hour campaign suite R at plant P (1 hour a unit, holding 1, backlog 1,000; the hand
    case above) and, with ``lane``, C made on its own resource R2 at P for the DC D through a lane of ``lane``
    units a week (holding 1, backlog 100): a block of its own, whose lane binds the blocks together."""
    products = [dict(product_id=p, holding_cost_per_week=1.0, backlog_penalty=1000.0) for p in "AB"]
    resources = [dict(resource_id="R", site_id="P", hours_per_week=100.0, campaign=True, changeover_hours=changeover)]
    routings = [dict(product_id=p, resource_id="R", min_batch=min_batch) for p in "AB"]
    if lane is None:
        return ex.inputs(dcs=(), products=ex.products(*products), resources=ex.resources(*resources),
                         routings=ex.routings(*routings), lanes=ex.lanes())
    return ex.inputs(
        products=ex.products(*products, dict(product_id="C", holding_cost_per_week=1.0, backlog_penalty=100.0)),
        resources=ex.resources(*resources, dict(resource_id="R2", site_id="P", hours_per_week=100.0)),
        routings=ex.routings(*routings, dict(product_id="C", resource_id="R2")),
        lanes=ex.lanes(dict(from_site="P", to_site="D", capacity_per_week=lane)),
    )


@pytest.mark.parametrize("min_batch, lane, weeks, optimum", [
    (None, 10.0, 4, 130_440.0), (None, 10.0, 6, 321_660.0),  # a binding lane: the whole model re-solved
    (50.0, None, 4, 120_400.0), (50.0, None, 6, 300_600.0),  # lot sizing in the campaign block
    (50.0, 10.0, 4, 130_440.0),  # both
])
def test_the_hour_prices_by_hand_survive_a_binding_lane_and_lot_sizing(min_batch, lane, weeks, optimum):
    # The hand case above with a switch that costs no hours: B wants 100 in week 0, A 120 a week after it, on
    # the 100-hour suite R. By hand: B in week 0, then A 100 a week, short 20, 40, … (20 more each week) at
    # 1,000 a unit-week, plus 1 a unit made: 4 weeks 120,000 + 400 = 120,400, 6 weeks 300,000 + 600 = 300,600.
    # An hour more in week k ≥ 1 is one more A then and one fewer late in every week from k to the last:
    # (weeks − k) × 1,000 − 1, its shadow price and its price of an hour more (the shortages' explanation).
    # With a lane, C (its own block, on R2) wants 20 a week at D through a lane of 10 a week: 10 shipped and
    # made a week, short 10, 20, … at 100: 4 weeks 10,000 + 40, 6 weeks 21,000 + 60. The blocks ignore the
    # lane, their plan breaks it, and the whole model
    # is re-solved with the suite's setups fixed: there the link rows A ≤ 100 × setup came back, and in the
    # weeks without a switch's hours (all of A's here) an hour more was worth 0 (week 1: 0 for 2,999). With
    # a minimum batch (50: 100 a week reach it) lot sizing's row A ≤ m × lot, m at least the week's 100
    # units, was left in the block's fixed-integer LP: the last week's hour priced 0 for 999.
    demand = ex.demand(dict(product_id="B", site_id="P", t=0, quantity=100.0),
                       *[dict(product_id="A", site_id="P", t=t, quantity=120.0) for t in range(1, weeks)],
                       *[dict(product_id="C", site_id="D", t=t, quantity=20.0) for t in range(weeks) if lane])
    config = PlanConfig(horizon_weeks=weeks, terminal_condition=False, solve_path="blocks")
    net = build_network(_switch_suite(0.0, min_batch, lane), ex.START, config)
    r = plan_supply(net, demand, pl.DataFrame(), config)
    assert ("lanes bind: whole model re-solved" in r.attempts[0]) == (lane is not None)
    assert r.objective == pytest.approx(optimum)
    suite = r.tables["plan_capacity"].filter(pl.col("resource_id") == "R").sort("week")
    hand = [(weeks - k) * 1_000.0 - 1.0 for k in range(1, weeks)]
    assert suite["shadow_price"].to_list()[1:] == pytest.approx(hand)
    more = suite.select("price_hour_more").to_series().to_list()
    assert more[1] == pytest.approx(hand[0])  # the week the shortages' explanation measures
    shortages = r.tables["plan_shortages"]
    assert set(shortages.filter(pl.col("product_id") == "A")["reason"].to_list()) == {"capacity"}
