"""Pegging, by hand: which production or stock each DC's served units came from, first in, first out."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.pegging import _consumption_links, plan_pegging, plan_pegging_bom

CFG = PlanConfig(horizon_weeks=4, terminal_condition=False)


def _plan():
    """A at plant P (resource R, 100 h a week, 1 h a unit, released the week it starts), 30 on hand at D,
    one week's transit P → D. D wants 50 in week 1 and 120 in week 2: the 30 on hand serve week 1 first and
    week 0's production the other 20; week 2's 120 need 20 more made in week 0 (week 1 makes at most 100)."""
    inputs = ex.inputs(
        lanes=ex.lanes(dict(from_site="P", to_site="D", lead_time_weeks=1)),
        inventory=ex.inventory(dict(product_id="A", site_id="D", lot_id="L1", quantity=30.0)),
    )
    net = build_network(inputs, ex.START, CFG)
    demand = ex.demand(dict(product_id="A", site_id="D", t=1, quantity=50.0),
                       dict(product_id="A", site_id="D", t=2, quantity=120.0))
    r = plan_supply(net, demand, pl.DataFrame(), CFG)
    assert r.solver_status == "Optimal"
    return r.tables, net.bom


def test_served_units_are_pegged_to_the_stock_then_the_production_that_reached_them():
    t, bom = _plan()
    peg = plan_pegging(t["plan_inventory"], t["plan_production"], t["plan_shipments"], t["plan_backlog"], bom)
    served = peg.filter(pl.col("use") == "served")
    made = t["plan_production"].filter(pl.col("quantity") > 0)
    # every served unit is pegged, and no more
    assert served["quantity"].sum() == pytest.approx(170.0)
    by = {(w, s, start): q for w, s, start, q in served.select("week", "source", "start_week", "quantity").rows()}
    # week 1: the 30 on hand at D first, then 20 of what P made in week 0 (shipped then, arriving in week 1)
    assert by[(ex.week(1), "stock", None)] == pytest.approx(30.0)
    assert made.select("week", "released_quantity").rows() == [(ex.week(0), 40.0), (ex.week(1), 100.0)]
    assert by[(ex.week(1), "production", ex.week(0))] == pytest.approx(20.0)
    # week 2: the 20 of week 0 held at P (shipped first in week 1, first in, first out), then week 1's 100
    assert by[(ex.week(2), "production", ex.week(0))] == pytest.approx(20.0)
    assert by[(ex.week(2), "production", ex.week(1))] == pytest.approx(100.0)
    assert len(by) == 4
    assert set(served["source_site"]) == {"D", "P"} and set(served["resource_id"].drop_nulls()) == {"R"}
    # what is pegged is what was used: served, expired, consumed and the stock left, per site
    inv = t["plan_inventory"]
    used = inv["served"].sum() + inv["expired"].sum() + inv["consumed"].sum() + inv.filter(
        pl.col("week") == inv["week"].max())["closing"].sum()
    assert peg["quantity"].sum() == pytest.approx(used)


def test_a_plan_without_stock_rows_pegs_nothing():
    t, bom = _plan()
    empty = plan_pegging(t["plan_inventory"].clear(), t["plan_production"], t["plan_shipments"],
                         t["plan_backlog"], bom)
    assert empty.height == 0 and "quantity" in empty.columns


def _three_level_plan():
    """Pack K, sold at DC D, ← filled vial F ← drug substance S, all made at plant P, each released a week
    after it starts, and shipped to D the week it is released (lead time 0). Per K started
    1 / (1 − 0.2) = 1.25 F (scrap 20%), per F started 0.5 / (1 − 0.5) = 1.0 S; F's yield is 0.75, S's 0.8.
    On hand: 10 K at D, 25 F and 40 S at P. D wants 30 K in week 0 and 60 in week 3.

    Worked by hand (holding K 1.0, F 0.5, S 0.1 a week: every item as late as it can be made):

    - week 0's 30: the 10 K on hand, the other 20 a week late, from 20 K started in week 0 (all the 25 F on
      hand allow: 20 × 1.25), released and shipped in week 1;
    - week 3's 60: 60 K started in week 2, consuming 75 F there, released in week 2 from 100 F started in
      week 1 (75 / 0.75), which consume 100 S in week 1: the 40 on hand, then 60 released in week 1 from
      75 S started in week 0 (60 / 0.8).
    """
    inputs = ex.three_level(f_yield=0.75, lead_time_weeks=0, stock=ex.inventory(
        dict(product_id="K", site_id="D", quantity=10.0), dict(product_id="F", site_id="P", quantity=25.0),
        dict(product_id="S", site_id="P", quantity=40.0)))
    net = build_network(inputs, ex.START, CFG)
    r = plan_supply(net, ex.demand_of(("K", "D", 0, 30.0), ("K", "D", 3, 60.0)), pl.DataFrame(), CFG)
    assert r.solver_status == "Optimal"
    made = r.tables["plan_production"].filter(pl.col("quantity") > 1e-9)
    assert sorted(made.select("product_id", "week", "quantity", "released_quantity").rows()) == [
        ("F", ex.week(1), pytest.approx(100.0), pytest.approx(75.0)),
        ("K", ex.week(0), pytest.approx(20.0), pytest.approx(20.0)),
        ("K", ex.week(2), pytest.approx(60.0), pytest.approx(60.0)),
        ("S", ex.week(0), pytest.approx(75.0), pytest.approx(60.0)),
    ]
    return r.tables, net.bom


def _rows(frame: pl.DataFrame, *columns: str) -> dict:
    """``columns`` (but the last) → the last, rounded to 1e-6."""
    return {tuple(row[:-1]): round(row[-1], 6) for row in frame.select(*columns).rows()}


def test_a_late_served_unit_names_the_week_it_was_due_and_every_level_is_pegged_by_hand():
    """Level 0 (``plan_pegging``, by :func:`_three_level_plan`'s working): K at D is served 10 in week 0
    (due week 0) from the stock at D, 20 in week 1 (due week 0: a week late) from RK's week-0 start, 60 in
    week 3 (due week 3) from RK's week-2 start; F at P is consumed 25 in week 0 from its stock, by RK's
    week-0 start, 75 in week 2 from RF's week-1 start, by RK's week-2 start; S at P is consumed 100 in week 1
    by RF's week-1 start: its 40 on hand first, then RS's week-0 start.

    Through the bill of materials (``plan_pegging_bom``):

    - the 20 K served in week 1 come from RK's week-0 start (20 started, 20 released), which consumed
      25 F, all from F's stock: level 1, F stock, 20 K units (20 × 25 / 25), 25 F (20 × 25 / 20);
    - the 60 K served in week 3 come from RK's week-2 start (60 released, 75 F consumed), all from RF's
      week-1 start: level 1, 60 K units, 75 F (60 × 75 / 60). That F lot released 75 from 100 started, which
      consumed 100 S: 40 from stock, 60 from RS's week-0 start. Level 2 (parent F, RF, week 1): S stock
      60 × 40 / 100 = 24 K units and 75 × 40 / 75 = 40 S; S production 60 × 60 / 100 = 36 K units, 60 S;
    - the 10 K served from D's stock hold nothing made: no row.
    """
    t, bom = _three_level_plan()
    peg = plan_pegging(t["plan_inventory"], t["plan_production"], t["plan_shipments"], t["plan_backlog"], bom)
    w = ex.week
    level0 = ("product_id", "site_id", "week", "use", "due_week", "parent_id", "parent_resource_id",
              "parent_start_week", "source", "start_week", "quantity")
    assert _rows(peg, *level0) == {
        ("K", "D", w(0), "served", w(0), None, None, None, "stock", None): 10.0,
        ("K", "D", w(1), "served", w(0), None, None, None, "production", w(0)): 20.0,
        ("K", "D", w(3), "served", w(3), None, None, None, "production", w(2)): 60.0,
        ("F", "P", w(0), "consumed", None, "K", "RK", w(0), "stock", None): 25.0,
        ("F", "P", w(2), "consumed", None, "K", "RK", w(2), "production", w(1)): 75.0,
        ("S", "P", w(1), "consumed", None, "F", "RF", w(1), "stock", None): 40.0,
        ("S", "P", w(1), "consumed", None, "F", "RF", w(1), "production", w(0)): 60.0,
    }
    deep = plan_pegging_bom(peg, t["plan_production"], bom)
    key = ("week", "due_week", "level", "parent_id", "parent_start_week", "component_id", "component_source",
           "component_resource_id", "component_start_week", "component_release_week")
    assert _rows(deep, *key, "quantity") == {
        (w(1), w(0), 1, "K", w(0), "F", "stock", None, None, None): 20.0,
        (w(3), w(3), 1, "K", w(2), "F", "production", "RF", w(1), w(2)): 60.0,
        (w(3), w(3), 2, "F", w(1), "S", "stock", None, None, None): 24.0,
        (w(3), w(3), 2, "F", w(1), "S", "production", "RS", w(0), w(1)): 36.0,
    }
    assert _rows(deep, *key, "component_quantity") == {
        (w(1), w(0), 1, "K", w(0), "F", "stock", None, None, None): 25.0,
        (w(3), w(3), 1, "K", w(2), "F", "production", "RF", w(1), w(2)): 75.0,
        (w(3), w(3), 2, "F", w(1), "S", "stock", None, None, None): 40.0,
        (w(3), w(3), 2, "F", w(1), "S", "production", "RS", w(0), w(1)): 60.0,
    }
    # every row explains a served K at D made on RK
    assert set(deep.select("product_id", "site_id", "use", "resource_id").rows()) == {
        ("K", "D", "served", "RK")}
    # the plan stores both
    assert t["plan_pegging"].equals(peg) and t["plan_pegging_bom"].equals(deep)


_END = ["product_id", "site_id", "week", "use", "due_week", "source_site", "resource_id", "start_week"]
_LOT = ["parent_id", "parent_resource_id", "parent_start_week"]


def _off(frame: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    """The rows where ``a`` and ``b`` differ by more than round-off (1e-6 relative)."""
    return frame.filter((pl.col(a) - pl.col(b)).abs() > 1e-6 * (1.0 + pl.col(b).abs()))


def _demo_plan(config: PlanConfig):
    """The demo network over its levels (mAb: drug substance → vial; vaccine: antigen → filled bulk →
    pack), planned on its last 13 weeks' mean demand: the plan's tables and its bill of materials."""
    from demo.network import DEMO_RUN_DATE, demo_network

    net = demo_network(products=20, dcs=3, weeks_history=60, seed=5, levels=True)
    recent = net["orders"].filter(pl.col("status") != "cancelled",
                                  pl.col("requested_week") >= DEMO_RUN_DATE - timedelta(weeks=13),
                                  pl.col("requested_week") < DEMO_RUN_DATE)
    mean = recent.group_by("product_id", "site_id").agg(quantity=pl.col("quantity").sum() / 13)
    weeks = pl.DataFrame({"week": [DEMO_RUN_DATE + timedelta(weeks=k) for k in range(36)]})
    network = build_network(net, DEMO_RUN_DATE, config)
    r = plan_supply(network, mean.join(weeks, how="cross"), pl.DataFrame(), config)
    assert r.solver_status == "Optimal"
    return r.tables, network.bom


@pytest.fixture(scope="module")
def demo_plan():
    """The demo's 26 weeks, week by week."""
    return _demo_plan(PlanConfig(horizon_weeks=26))


def test_the_demo_plan_is_pegged_in_full_at_every_level(demo_plan):
    t, bom = demo_plan
    peg, deep, inv = t["plan_pegging"], t["plan_pegging_bom"], t["plan_inventory"]
    # every served unit is pegged and dated, never before it was due, at every product × site
    served = peg.filter(pl.col("use") == "served")
    assert served["due_week"].null_count() == 0 and (served["due_week"] <= served["week"]).all()
    assert served.filter(pl.col("due_week") < pl.col("week")).height > 0  # the plan serves some demand late
    pairs = inv.group_by("product_id", "site_id").agg(pl.col("served").sum()).join(
        served.group_by("product_id", "site_id").agg(pegged=pl.col("quantity").sum()),
        on=["product_id", "site_id"], how="left").with_columns(pl.col("pegged").fill_null(0.0))
    assert _off(pairs, "pegged", "served").height == 0
    # no week's demand is served beyond it
    due = served.group_by("product_id", "site_id", week="due_week").agg(pl.col("quantity").sum()).join(
        t["plan_backlog"], on=["product_id", "site_id", "week"], validate="1:1")
    assert (due["quantity"] <= due["demand"] * (1 + 1e-9) + 1e-6).all()
    # level 0's consumption is what the plan consumed, and every lot's consumption of every component is
    # pegged in full: what its start needs (started × quantity_per / (1 − scrap))
    consumed = peg.filter(pl.col("use") == "consumed")["quantity"].sum()
    assert consumed == pytest.approx(inv["consumed"].sum(), rel=1e-9) and consumed > 0
    links = _consumption_links(peg, t["plan_production"], bom)
    lots = links.group_by(*_LOT, "component_id").agg(pl.col("link").sum(), pl.col("need").first())
    assert _off(lots, "link", "need").height == 0 and lots["need"].sum() == pytest.approx(consumed, rel=1e-9)
    # through the levels: each pegged unit's share of each component is pegged in full, and holds what its
    # lot consumed per good unit (need / released), level after level
    made = peg.filter((pl.col("source") == "production") & (pl.col("use") != "consumed")).select(
        *_END, pl.col("product_id").alias("parent_id"), parent_resource_id="resource_id",
        parent_start_week="start_week", above="quantity", above_component="quantity")
    per_unit = links.group_by(*_LOT, "component_id").agg(
        per=pl.col("need").first() / pl.col("released").first())
    levels = deep["level"].max()
    assert levels == 2  # vaccines: pack ← filled bulk ← antigen
    for level in range(1, levels + 1):
        rows = deep.filter(pl.col("level") == level)
        got = rows.group_by(*_END, *_LOT, "component_id").agg(pl.col("quantity", "component_quantity").sum())
        want = (made.group_by(*_END, *_LOT).agg(pl.col("above", "above_component").sum())
                .join(per_unit, on=_LOT).with_columns(pl.col("above_component") * pl.col("per")))
        both = want.join(got, on=[*_END, *_LOT, "component_id"], how="full", nulls_equal=True, coalesce=True)
        assert both.height == want.height == got.height > 0
        assert _off(both, "quantity", "above").height == 0
        assert _off(both, "component_quantity", "above_component").height == 0
        made = rows.filter(pl.col("component_source") == "production").select(
            *_END, pl.col("component_id").alias("parent_id"), parent_resource_id="component_resource_id",
            parent_start_week="component_start_week", above="quantity", above_component="component_quantity")


def test_a_bucketed_plan_links_every_consumed_unit_to_the_lot_that_consumed_it():
    """Beyond ``bucket_after_weeks`` a plan's tables spread a bucket's consumption evenly over its weeks and
    its production by the resource's hours: week by week they differ, over the bucket they agree. Cut week
    by week, 7.6% of the demo's consumption (159,223 of 2,089,903 units) found no parent lot; laid end to
    end over the weeks, every consumed unit the pegging holds is linked."""
    t, bom = _demo_plan(PlanConfig(horizon_weeks=26, bucket_after_weeks=8))
    links = _consumption_links(t["plan_pegging"], t["plan_production"], bom)
    consumed = t["plan_pegging"].filter(pl.col("use") == "consumed")["quantity"].sum()
    assert consumed == pytest.approx(t["plan_inventory"]["consumed"].sum(), rel=1e-4)
    assert links["link"].sum() == pytest.approx(consumed, rel=1e-9)


def _round_by_round(inventory: pl.DataFrame, production: pl.DataFrame, uses: pl.DataFrame) -> pl.DataFrame:
    """The pieces as pegging every product × site in every round gives them (the pass before stop 32)."""
    from optimization import pegging as P

    last = inventory["week"].max()
    arrivals = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                    "source": pl.String, "source_site": pl.String, "resource_id": pl.String,
                                    "start_week": pl.Date, "release_week": pl.Date, "quantity": pl.Float64})
    pieces = P._fifo(P._lots(inventory, production, arrivals), uses)
    for _ in range(inventory["site_id"].n_unique()):
        shipped = P._shipped(pieces, last)
        changed = pl.concat([shipped.join(arrivals, on=shipped.columns, how="anti", nulls_equal=True),
                             arrivals.join(shipped, on=shipped.columns, how="anti", nulls_equal=True)]
                            ).select(P._BY).unique()
        if changed.height == 0:
            break
        arrivals = shipped
        again = lambda f: f.join(changed, on=P._BY, how="semi")  # noqa: E731
        pieces = pl.concat([pieces.join(changed, on=P._BY, how="anti"),
                            P._fifo(P._lots(again(inventory), again(production), again(arrivals)), again(uses))])
    return pieces


@pytest.mark.parametrize("seed", [6, 7])
def test_sites_that_ship_nothing_are_pegged_once_as_every_round_would_peg_them(seed, monkeypatch):
    """Two plants ship to each other (several rounds) and to three DCs: each product × site that ships
    nothing on is cut once, after the rounds, and the pegging is the round-by-round one to the bit."""
    from optimization import pegging as P
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(seed=seed, n_products=12, n_plants=2, n_dcs=3, horizon=8)
    cfg = PlanConfig(horizon_weeks=8)
    net = build_network(inputs, ex.START, cfg)
    r = plan_supply(net, demand, pl.DataFrame(), cfg)
    assert r.solver_status == "Optimal"
    t = r.tables
    ship = t["plan_shipments"]
    assert {("PL0", "PL1"), ("PL1", "PL0")} <= set(ship.select("from_site", "to_site").rows())
    cut: list[pl.DataFrame] = []
    fifo = P._fifo

    def counted(lots: pl.DataFrame, uses: pl.DataFrame) -> pl.DataFrame:
        cut.append(uses.select(P._BY).unique())
        return fifo(lots, uses)

    monkeypatch.setattr(P, "_fifo", counted)
    args = (t["plan_inventory"], t["plan_production"], ship, t["plan_backlog"], net.bom)
    got = plan_pegging(*args)
    assert len(cut) >= 4  # the plants' rounds (at least two), then the rest
    times = pl.concat(cut).group_by(P._BY).len()
    onward = ship.select("product_id", site_id="from_site").unique()
    ends = times.join(onward, on=P._BY, how="anti")
    assert ends.height > 0 and (ends["len"] == 1).all()
    monkeypatch.setattr(P, "_fifo", fifo)
    monkeypatch.setattr(P, "_pegged", _round_by_round)
    assert got.equals(plan_pegging(*args))
