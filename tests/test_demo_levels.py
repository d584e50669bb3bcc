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
