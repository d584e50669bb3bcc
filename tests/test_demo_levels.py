"""The demo network over several levels: drug substance → filled mAb, antigen bulk → filled bulk → pack."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from data_contracts.network import bom_cycles
from demo.network import DEMO_RUN_DATE, demo_network
from optimization import PlanConfig, build_network, plan_supply


@pytest.fixture(scope="module")
def net() -> dict[str, pl.DataFrame]:
    return demo_network(products=20, dcs=3, weeks_history=60, seed=5, levels=True)


def test_monoclonals_and_vaccines_get_their_levels(net):
    p, bom, rt = net["products"], net["bom"], net["routings"]
    fam = dict(zip(p["product_id"], p["family"], strict=True))
    mabs = [i for i, f in fam.items() if f == "monoclonal"]
    vacs = [i for i, f in fam.items() if f == "vaccine"]
    edges = set(zip(bom["parent_id"], bom["component_id"], strict=True))
    assert {(m, f"DS-{m}") for m in mabs} <= edges
    assert {(v, f"FB-{v}") for v in vacs} | {(f"FB-{v}", f"AG-{v}") for v in vacs} <= edges
    assert len(edges) == len(mabs) + 2 * len(vacs)
    assert bom_cycles(bom).height == 0
    assert set(rt["product_id"]) == set(p["product_id"])  # every intermediate has a routing
    # the sold products keep their demand; intermediates have none
    assert set(net["orders"]["product_id"]) <= {i for i, f in fam.items() if f not in
                                                  {"drug_substance", "filled_bulk", "antigen_bulk"}}
    # drug substance is made on the bioreactors the mAbs used to be made on, the vials on filling lines
    ds = rt.filter(pl.col("product_id").str.starts_with("DS-"))
    assert ds["resource_id"].str.contains("-BR").all()
    assert rt.filter(pl.col("product_id").is_in(mabs))["resource_id"].str.contains("-FLM").all()
    freezer = net["storage"]
    assert set(freezer["family"]) == {"drug_substance"} and (freezer["capacity"] > 0).all()
    ds_lots = net["inventory"].filter(pl.col("product_id").str.starts_with("DS-"))
    assert (ds_lots["expiry_date"] > DEMO_RUN_DATE + timedelta(weeks=13)).all()


def test_single_level_demo_is_the_old_network(net):
    flat = demo_network(products=20, dcs=3, weeks_history=60, seed=5, levels=False)
    assert flat["bom"].height == 0 and flat["storage"].height == 0
    assert flat["orders"].equals(net["orders"])  # the levels change supply, not demand
    sold = net["products"].filter(pl.col("product_id").is_in(flat["products"]["product_id"].implode()))
    assert sold.equals(flat["products"])


def _demand(orders: pl.DataFrame, weeks: int) -> pl.DataFrame:
    """The last 13 weeks' mean weekly demand per product × DC, flat over the horizon (no forecast needed)."""
    recent = orders.filter(
        pl.col("status") != "cancelled",
        pl.col("requested_week").is_between(DEMO_RUN_DATE - timedelta(weeks=13), DEMO_RUN_DATE - timedelta(days=1)),
    )
    mean = recent.group_by("product_id", "site_id").agg((pl.col("quantity").sum() / 13).alias("quantity"))
    horizon = pl.DataFrame({"week": [DEMO_RUN_DATE + timedelta(weeks=k) for k in range(weeks)]})
    return mean.join(horizon, how="cross").select("product_id", "site_id", "week", "quantity")


def test_the_demo_plans_through_its_levels(net):
    # 26 weeks planned, demand beyond them: the terminal condition keeps the network producing to the end
    cfg = PlanConfig(horizon_weeks=26)
    network = build_network(net, DEMO_RUN_DATE, cfg)
    r = plan_supply(network, _demand(net["orders"], 36), pl.DataFrame(), cfg)
    assert r.solver_status == "Optimal"
    prod, inv = r.tables["plan_production"], r.tables["plan_inventory"]
    made = set(prod["product_id"])
    assert any(i.startswith("DS-") for i in made) and any(i.startswith("AG-") for i in made)
    # what each site consumes of a component is what the parents started there need
    per = net["bom"].select("parent_id", "component_id", f=pl.col("quantity_per") / (1 - pl.col("scrap")))
    need = (
        prod.join(per, left_on="product_id", right_on="parent_id")
        .group_by(pl.col("component_id").alias("product_id"), "site_id", "week")
        .agg((pl.col("quantity") * pl.col("f")).sum().alias("need"))
    )
    used = inv.filter(pl.col("consumed") > 1e-6).select("product_id", "site_id", "week", "consumed")
    both = need.join(used, on=["product_id", "site_id", "week"], how="full", coalesce=True).fill_null(0.0)
    assert ((both["need"] - both["consumed"]).abs() <= 1e-6 * (1 + both["need"])).all()
    # freezers hold no more drug substance than they can
    ds = inv.filter(pl.col("product_id").str.starts_with("DS-")).group_by("site_id", "week").agg(
        pl.col("closing").sum()
    ).join(net["storage"], on="site_id")
    assert (ds["closing"] <= ds["capacity"] + 1e-6).all()
    kpi = dict(r.tables["plan_kpis"].select("kpi", "value").rows())
    assert kpi["fill_rate_units"] > 0.8


@pytest.mark.slow
def test_the_weekly_run_plans_the_levels_from_the_input_folder(tmp_path):
    """Input files → contracts → forecast → plan: the bom and the freezers reach the LP and the tables."""
    from demo.network import write_demo
    from flows import pipeline
    from flows.settings import RunParameters
    from data_contracts import schema
    from warehouse.db import open_warehouse

    frames = demo_network(products=6, dcs=2, weeks_history=80, seed=11, levels=True)
    write_demo(frames, tmp_path / "input")
    warehouse = tmp_path / "warehouse.duckdb"
    pipeline.weekly(RunParameters(input_dir=tmp_path / "input", warehouse=warehouse, run_date=DEMO_RUN_DATE,
                                  plan=PlanConfig(horizon_weeks=8)))
    with open_warehouse(warehouse, read_only=True) as wh:
        bom = wh.read(schema.clean_table_name(schema.BOM.name))
        storage = wh.read(schema.clean_table_name(schema.STORAGE.name))
        inv = wh.read(schema.PLAN_INVENTORY.name)
        made = wh.read(schema.PLAN_PRODUCTION.name)
    assert bom.height == frames["bom"].height and storage.height == frames["storage"].height
    used = inv.filter(pl.col("consumed") > 0)
    assert set(used["product_id"].str.slice(0, 3)) >= {"DS-", "FB-"}
    assert made.filter(pl.col("product_id").str.starts_with("MAB-")).height > 0


# ------------------------------------------------------------------------------- packs per market
def test_regional_packs_split_each_vaccine_by_market_and_share_its_filled_bulk(net):
    packs = demo_network(products=20, dcs=3, weeks_history=60, seed=5, levels=True, regional_packs=True)
    sites = packs["sites"].select("site_id", market=pl.col("region").str.split("-").list.first())
    vacs = net["products"].filter(pl.col("family") == "vaccine")["product_id"].to_list()
    bom = packs["bom"]
    for v in vacs:
        # every pack of v is fed by v's one filled bulk; v itself is gone
        parents = bom.filter(pl.col("component_id") == f"FB-{v}")["parent_id"].sort().to_list()
        assert parents and all(p.startswith(f"{v}-") for p in parents)
        assert v not in packs["products"]["product_id"].to_list()
        # each pack is sold only at its own market's DCs, and the orders are the same orders as before
        sold = packs["orders"].filter(pl.col("product_id").is_in(parents)).join(sites, on="site_id")
        assert sold.select((pl.col("product_id") == pl.lit(v + "-") + pl.col("market")).all()).item()
        before = net["orders"].filter(pl.col("product_id") == v)
        assert sorted(sold["order_id"].to_list()) == sorted(before["order_id"].to_list())
        assert set(parents) == {f"{v}-{m}" for m in sold["market"].unique()}
    # each pack has its routings (packaging lines); everything else is unchanged
    assert set(packs["routings"]["product_id"]) == set(packs["products"]["product_id"])
    assert packs["inventory"]["quantity"].sum() == pytest.approx(net["inventory"]["quantity"].sum())
    other = [b.filter(~pl.col("component_id").str.starts_with("FB-")).sort("parent_id", "component_id")
             for b in (packs["bom"], net["bom"])]
    assert other[0].equals(other[1])


def test_one_filled_bulk_short_for_two_packs_serves_the_dearer_market_first():
    # FB (100 on hand at P, no production) feeds packs K-EU (sold at DE, penalty 10) and K-US (sold at DU,
    # penalty 5), 1 FB a pack, packed at P in a week (release 0), lanes 0 weeks, 4 weeks of horizon.
    # EU wants 60, US wants 60 in week 1: EU gets 60, US the other 40 → US is 20 short from week 1 on:
    # backlog 20 × 3 weeks (1, 2, 3) × 5 = 300; packing 100 × 1 = 100.
    from optimization import examples as ex

    inputs = ex.inputs(
        dcs=("DE", "DU"),
        products=ex.products(
            dict(product_id="K-EU", backlog_penalty=10.0, holding_cost_per_week=0.0),
            dict(product_id="K-US", backlog_penalty=5.0, holding_cost_per_week=0.0),
            dict(product_id="FB", family="filled_bulk", backlog_penalty=0.0, holding_cost_per_week=0.0),
        ),
        resources=ex.resources(dict(resource_id="PK", site_id="P", hours_per_week=1000.0)),
        routings=ex.routings(
            dict(product_id="K-EU", resource_id="PK", release_weeks=0, cost_per_unit=1.0),
            dict(product_id="K-US", resource_id="PK", release_weeks=0, cost_per_unit=1.0),
        ),
        lanes=ex.lanes(dict(from_site="P", to_site="DE", lead_time_weeks=0, cost_per_unit=0.0),
                       dict(from_site="P", to_site="DU", lead_time_weeks=0, cost_per_unit=0.0)),
        inventory=ex.inventory(dict(product_id="FB", site_id="P", quantity=100.0)),
        bom=ex.bom(dict(parent_id="K-EU", component_id="FB", quantity_per=1.0),
                   dict(parent_id="K-US", component_id="FB", quantity_per=1.0)),
    )
    cfg = PlanConfig(horizon_weeks=4, terminal_condition=False)
    net = build_network(inputs, ex.START, cfg)
    demand = ex.demand(dict(product_id="K-EU", site_id="DE", t=1, quantity=60.0),
                       dict(product_id="K-US", site_id="DU", t=1, quantity=60.0))
    r = plan_supply(net, demand, pl.DataFrame(), cfg)
    made = r.tables["plan_production"].group_by("product_id").agg(pl.col("quantity").sum())
    assert dict(made.iter_rows()) == pytest.approx({"K-EU": 60.0, "K-US": 40.0})
    assert r.objective == pytest.approx(400.0)
