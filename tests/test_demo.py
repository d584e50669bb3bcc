"""Tests of the seeded demo network generator (demo.network)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from data_contracts import schema
from demo.network import DEMO_RUN_DATE, demo_network, demo_special_cases, generate_demo, write_demo
from demo.demand import _split_lines

RUN = DEMO_RUN_DATE


@pytest.fixture(scope="module")
def net() -> dict[str, pl.DataFrame]:
    return demo_network(levels=True)  # as `plantwin demo` writes it


@pytest.fixture(scope="module")
def single() -> dict[str, pl.DataFrame]:
    """The demo with every product made in one step: the sold catalog and the capacity sizing (the levels
    of ``demo/levels.py`` are tested in ``test_demo_levels.py``)."""
    return demo_network()


@pytest.fixture(scope="module")
def full() -> dict[str, pl.DataFrame]:
    """Every option on, so every entity has rows: levels and campaign-run bioreactor suites."""
    return demo_network(levels=True, campaigns=True)


@pytest.fixture(scope="module")
def small() -> dict[str, pl.DataFrame]:
    return demo_network(products=5, dcs=2, weeks_history=60, seed=3, levels=True, campaigns=True)


def _weekly(orders: pl.DataFrame) -> pl.DataFrame:
    """Weekly demand per product (cancelled lines out)."""
    return (
        orders.filter(pl.col("status") != "cancelled")
        .group_by("product_id", "requested_week")
        .agg(pl.col("quantity").sum())
    )


# ---------------------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("which", ["full", "small"])
def test_every_entity_has_the_contract_schema(which: str, request: pytest.FixtureRequest) -> None:
    frames = request.getfixturevalue(which)
    assert list(frames) == [t.name for t in schema.INPUT_ENTITIES]
    for t in schema.INPUT_ENTITIES:
        assert frames[t.name].schema == t.schema, t.name
        assert frames[t.name].height > 0, t.name


@pytest.mark.parametrize("which", ["net", "full", "small"])
def test_keys_unique_and_required_columns_non_null(which: str, request: pytest.FixtureRequest) -> None:
    frames = request.getfixturevalue(which)
    for t in schema.INPUT_ENTITIES:
        frame = frames[t.name]
        assert frame.select(t.key).is_duplicated().sum() == 0, t.name
        for col in t.column_names:
            if col not in t.nullable:
                assert frame[col].null_count() == 0, (t.name, col)


# ---------------------------------------------------------------------------------------------- master data
def test_products_families_and_attributes(single: dict[str, pl.DataFrame]) -> None:
    p = single["products"]
    assert p.height == 40
    assert p["family"].n_unique() >= 4
    assert {"flu_vaccine", "monoclonal", "enzyme_replacement"} <= set(p["family"])
    assert p["product_id"].str.contains(r"^(FLU-[QPH]|MAB-|ERT-|VAC-|BIO-)\d{2,}$").all()
    assert p["priority"].is_between(1, 3).all()
    assert (p.filter(pl.col("family").is_in(["enzyme_replacement", "monoclonal"]))["priority"] == 1).all()
    assert p["service_level"].is_between(0.90, 0.99).all()
    shelf = p["shelf_life_weeks"].drop_nulls()
    assert shelf.is_between(26, 104).all()
    assert p.filter(pl.col("family") == "flu_vaccine")["shelf_life_weeks"].is_between(26, 40).all()
    assert 0.1 <= p["shelf_life_weeks"].null_count() / p.height <= 0.3
    ratio = p["holding_cost_per_week"] / p["unit_cost"]
    assert ratio.is_between(0.0019, 0.0051).all()
    assert (p["backlog_penalty"] >= 3 * p["unit_cost"]).all()


def test_sites_resources_routings(net: dict[str, pl.DataFrame]) -> None:
    sites, res, rt = net["sites"], net["resources"], net["routings"]
    plants = sites.filter(pl.col("site_type") == "plant")["site_id"]
    assert plants.len() == 2 and set(sites["site_type"]) == {"plant", "dc"}
    assert sites.filter(pl.col("site_type") == "dc").height == 5
    assert sites.filter(pl.col("site_type") == "dc")["region"].n_unique() == 5
    assert res.height >= 5 and res["site_id"].is_in(plants.implode()).all()
    assert (res["hours_per_week"] > 0).all()
    assert set(rt["product_id"]) == set(net["products"]["product_id"])
    assert rt["resource_id"].is_in(res["resource_id"].implode()).all()
    assert rt["release_weeks"].is_between(2, 6).all()
    assert rt["yield"].is_between(0.5, 1.0).all() and (rt["hours_per_unit"] > 0).all()
    assert rt.group_by("product_id").len()["len"].max() == 2  # alternate routings exist
    assert 0 < rt["batch_size"].null_count() < rt.height
    assert 0 < rt["min_batch"].null_count() < rt.height
    per_resource = rt.group_by("resource_id").len()["len"]
    assert per_resource.max() <= 15


def test_lanes_reach_every_dc_from_every_plant(net: dict[str, pl.DataFrame]) -> None:
    lanes, sites = net["lanes"], net["sites"]
    plants = sites.filter(pl.col("site_type") == "plant")["site_id"].to_list()
    dcs = sites.filter(pl.col("site_type") == "dc")["site_id"].to_list()
    pairs = set(zip(lanes["from_site"], lanes["to_site"], strict=True))
    assert {(a, b) for a in plants for b in dcs} <= pairs
    assert {(a, b) for a in plants for b in plants if a != b} <= pairs
    assert lanes["lead_time_weeks"].is_between(1, 4).all()
    assert 0 < lanes["capacity_per_week"].null_count() < lanes.height


# ---------------------------------------------------------------------------------------------- orders
@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5000), st.integers(1, 12)), min_size=1, max_size=30), st.integers(0, 99))
def test_split_lines_keeps_each_weeks_total(cells: list[tuple[int, int]], seed: int) -> None:
    """The vectorised split against the obvious per-cell loop: n lines per cell, whole, summing to q."""
    q = np.array([c[0] for c in cells], dtype=float)
    n = np.array([min(c[1], c[0]) for c in cells])
    cell, qty = _split_lines(q, n, np.random.default_rng(seed))
    assert (qty >= 0).all() and (qty == np.round(qty)).all()
    for i in range(len(cells)):
        assert (cell == i).sum() == n[i]
        assert qty[cell == i].sum() == q[i]


def test_split_lines_tiny_example() -> None:
    cell, qty = _split_lines(np.array([10.0, 1.0]), np.array([3, 1]), np.random.default_rng(0))
    assert cell.tolist() == [0, 0, 0, 1]
    assert qty[:3].sum() == 10 and qty[3] == 1


def test_orders_are_lines_at_dcs_and_never_after_run_date(net: dict[str, pl.DataFrame]) -> None:
    o, sites = net["orders"], net["sites"]
    dcs = sites.filter(pl.col("site_type") == "dc")["site_id"]
    assert o.height >= 100_000
    assert o["product_id"].is_in(net["products"]["product_id"].implode()).all()
    assert o["site_id"].is_in(dcs.implode()).all()
    assert (o["requested_week"].dt.weekday() == 1).all()
    assert o["order_date"].max() <= RUN
    assert (o["quantity"] > 0).all()
    assert set(o["status"]) == {"open", "shipped", "cancelled"}
    lines_per_cell = o.group_by("product_id", "site_id", "requested_week").len()["len"].mean()
    assert lines_per_cell > 3  # several lines per product × DC × week
    assert o["site_id"].n_unique() == 5
    series = o.select("product_id", "site_id").unique().height
    assert 0.75 * 40 * 5 <= series < 40 * 5  # most products at most DCs, not all


def test_order_shares_and_history_window(net: dict[str, pl.DataFrame]) -> None:
    o = net["orders"]
    n = o.height
    assert 0.01 < (o["status"] == "cancelled").sum() / n < 0.03
    late = (o["order_date"] > o["requested_week"]).sum() / n
    assert 0.02 < late < 0.04
    hist = o.filter(pl.col("requested_week") < RUN)
    assert hist["requested_week"].max() == RUN - timedelta(weeks=1)
    assert hist["requested_week"].min() == RUN - timedelta(weeks=156)
    future = o.filter(pl.col("requested_week") >= RUN)
    assert 0 < future.height < 0.03 * n
    assert (future["status"] != "shipped").all()
    lead = (hist["requested_week"] - hist["order_date"]).dt.total_days()
    assert lead.median() > 3


def test_flu_is_seasonal(net: dict[str, pl.DataFrame]) -> None:
    w = _weekly(net["orders"]).filter(pl.col("product_id").str.starts_with("FLU"))
    month = pl.col("requested_week").dt.month()
    for pid in w["product_id"].unique():
        s = w.filter(pl.col("product_id") == pid)
        autumn = s.filter(month.is_between(9, 11))["quantity"].sum() / 39  # 3 seasons × 13 weeks
        spring = s.filter(month.is_between(3, 5), pl.col("requested_week") < RUN)["quantity"].sum() / 39
        assert autumn > 8 * spring, pid


def test_launch_and_phase_out(net: dict[str, pl.DataFrame]) -> None:
    cases = demo_special_cases(40)
    assert len(cases["launch"]) == 1 and len(cases["phase_out"]) == 1
    names = dict(zip(net["products"]["product_id"], net["products"]["name"], strict=True))
    assert names[cases["launch"][0]].endswith("[launch]")
    assert names[cases["phase_out"][0]].endswith("[phase-out]")
    w = _weekly(net["orders"]).filter(pl.col("requested_week") < RUN)
    launch = w.filter(pl.col("product_id") == cases["launch"][0])
    assert 0 < launch.height < 26
    assert launch["requested_week"].min() > RUN - timedelta(weeks=26)
    out = w.filter(pl.col("product_id") == cases["phase_out"][0])
    early = out.filter(pl.col("requested_week") < RUN - timedelta(weeks=52))["quantity"].mean()
    last8 = out.filter(pl.col("requested_week") >= RUN - timedelta(weeks=8))["quantity"].sum()
    assert early > 0 and last8 <= 0.01 * early


def test_demand_patterns_by_family(net: dict[str, pl.DataFrame]) -> None:
    o = net["orders"].filter(pl.col("requested_week") < RUN)
    cells = o.group_by("product_id", "site_id", "requested_week").agg(pl.col("quantity").sum())
    weeks = cells.group_by("product_id", "site_id").len().with_columns(share=pl.col("len") / 156)
    fam = net["products"].select("product_id", "family")
    share = weeks.join(fam, on="product_id").group_by("family").agg(pl.col("share").median())
    got = dict(zip(share["family"], share["share"], strict=True))
    assert got["enzyme_replacement"] < 0.5  # intermittent: most weeks zero
    assert got["monoclonal"] > 0.95


# ---------------------------------------------------------------------------------------------- stock
def test_inventory_lots(net: dict[str, pl.DataFrame]) -> None:
    inv, p = net["inventory"], net["products"]
    assert (inv["as_of_date"] == RUN).all()
    assert inv["site_id"].is_in(net["sites"]["site_id"].implode()).all()
    assert set(inv["status"]) == {"released", "quarantine"}
    assert (inv["status"] == "quarantine").sum() < 0.1 * inv.height
    assert (inv["quantity"] > 0).all()
    lots = inv.group_by("product_id", "site_id").len()["len"]
    assert lots.min() >= 2 and lots.max() == 4
    assert inv.filter(pl.col("site_id").str.starts_with("PL-")).height > 0
    j = inv.join(p.select("product_id", "shelf_life_weeks"), on="product_id")
    assert (j["expiry_date"].is_null() == j["shelf_life_weeks"].is_null()).all()
    exp = j["expiry_date"].drop_nulls()
    assert (exp > RUN).all()
    assert 0 < (exp <= RUN + timedelta(weeks=4)).sum() < 0.1 * exp.len()
    assert (exp <= RUN + timedelta(weeks=26)).sum() > (exp <= RUN + timedelta(weeks=4)).sum()


def test_receipts_calendar_batches(net: dict[str, pl.DataFrame]) -> None:
    rc, cal, b, rt = net["receipts"], net["calendar"], net["batches"], net["routings"]
    assert set(rc["kind"]) == {"production", "transfer"}
    assert (rc["week"] >= RUN).all() and (rc["week"] < RUN + timedelta(weeks=7)).all()
    assert (rc["week"].dt.weekday() == 1).all() and (rc["quantity"] > 0).all()
    assert (cal["week"].dt.weekday() == 1).all()
    zero = cal.filter(pl.col("hours_available") == 0)
    assert zero.height >= 2
    in_horizon = pl.col("week") < RUN + timedelta(weeks=26)
    summer = zero.filter(pl.col("week").dt.month().is_between(6, 9), in_horizon)
    assert summer.group_by("resource_id").len()["len"].max() >= 2  # a 2–3 week shutdown in the horizon
    reduced = cal.join(net["resources"], on="resource_id")
    assert (reduced["hours_available"] < reduced["hours_per_week"]).all()
    assert 200 <= b.height <= 800
    assert (b["release_date"] > b["start_date"]).all() and (b["release_date"] < RUN).all()
    assert (b["actual_qty"] <= b["planned_qty"]).all()
    assert 0.8 < b["qc_passed"].mean() < 1.0
    assert b.join(rt, on=["product_id", "resource_id"], how="anti").height == 0
    obs = b.group_by("product_id", "resource_id").agg(
        (pl.col("actual_qty").sum() / pl.col("planned_qty").sum()).alias("true"), pl.len()
    ).join(rt, on=["product_id", "resource_id"]).filter(pl.col("len") >= 4)
    assert (obs["yield"] - obs["true"] > 0.025).sum() >= 3  # master-data yields are optimistic for some


def test_capacity_is_tight_and_flu_peak_needs_prebuild(single: dict[str, pl.DataFrame]) -> None:
    """With each product on its cheapest-in-hours routing, last year's demand loads the plants 60–100%
    (capacity is sized on the coming year's, which is higher: mAb growth, the launch ramp), and flu's
    peak week alone needs more hours than every resource able to make flu has."""
    net = single
    o = net["orders"].filter(pl.col("status") != "cancelled", pl.col("requested_week") < RUN,
                             pl.col("requested_week") >= RUN - timedelta(weeks=52))
    rt = net["routings"].with_columns(h=pl.col("hours_per_unit") / pl.col("yield"))
    best = rt.group_by("product_id").agg(pl.col("h").min())
    need = o.group_by("product_id").agg(pl.col("quantity").sum()).join(best, on="product_id")
    util = (need["quantity"] * need["h"]).sum() / 52 / net["resources"]["hours_per_week"].sum()
    assert 0.6 < util < 1.0
    flu_w = _weekly(o.filter(pl.col("product_id").str.starts_with("FLU"))).join(best, on="product_id")
    peak = flu_w.group_by("requested_week").agg((pl.col("quantity") * pl.col("h")).sum())["quantity"].max()
    flu_res = rt.filter(pl.col("product_id").str.starts_with("FLU"))["resource_id"].unique().implode()
    flu_hours = net["resources"].filter(pl.col("resource_id").is_in(flu_res))["hours_per_week"].sum()
    assert peak > flu_hours


# ---------------------------------------------------------------------------------------------- I/O, knobs
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_demo_round_trips(fmt: str, small: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    paths = write_demo(small, tmp_path, fmt)
    assert set(paths) == set(small)
    for t in schema.INPUT_ENTITIES:
        assert paths[t.name] == tmp_path / f"{t.name}.{fmt}"
        if fmt == "csv":
            back = pl.read_csv(paths[t.name], schema=t.schema)
        else:
            back = pl.read_parquet(paths[t.name])
        assert_frame_equal(back, small[t.name])


def test_csv_dates_are_iso(small: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    path = write_demo({"orders": small["orders"]}, tmp_path)["orders"]
    header, first = path.read_text().splitlines()[:2]
    assert header.split(",") == schema.ORDERS.column_names
    assert date.fromisoformat(first.split(",")[1])


def test_generate_demo_writes_every_entity(tmp_path: Path) -> None:
    paths = generate_demo(tmp_path, file_format="parquet", products=5, dcs=1, weeks_history=40, levels=True,
                          campaigns=True)
    expected = sorted([f"{t.name}.parquet" for t in schema.INPUT_ENTITIES] + [schema.READY_MARKER])
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    written_last = (tmp_path / schema.READY_MARKER).stat().st_mtime_ns
    assert max(p.stat().st_mtime_ns for p in tmp_path.iterdir()) == written_last
    assert pl.read_parquet(paths["orders"])["site_id"].n_unique() == 1


def test_writing_over_an_earlier_demo_leaves_nothing_of_it_to_be_read(tmp_path: Path) -> None:
    """`plantwin demo` after `plantwin demo --campaigns`, or CSV after Parquet, into the same folder: the
    folder holds the new demo only (the campaign demo's changeovers.csv used to stay, and the run refused
    all 16 of its rows); the old checksum manifest goes too."""
    from warehouse.sources import entity_files

    generate_demo(tmp_path, file_format="parquet", products=5, dcs=1, weeks_history=40, campaigns=True)
    (tmp_path / schema.CHECKSUMS_MANIFEST).write_text("0" * 64 + "  orders.parquet\n")
    (tmp_path / "notes.txt").write_text("the planner's own file")
    generate_demo(tmp_path, products=5, dcs=1, weeks_history=40)
    written = [f"{name}.csv" for name, frame in demo_network(products=5, dcs=1, weeks_history=40).items()
               if frame.height]
    assert "changeovers.csv" not in written  # the plain demo has none
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*written, schema.READY_MARKER, "notes.txt"])
    assert [name for name, _ in entity_files(tmp_path)] == [name.removesuffix(".csv") for name in written]


def test_same_arguments_same_frames_other_seed_other_orders(net: dict[str, pl.DataFrame]) -> None:
    again = demo_network(levels=True)
    for name, frame in net.items():
        assert_frame_equal(again[name], frame)
    other = demo_network(seed=8, levels=True)
    assert not other["orders"].equals(net["orders"])
    assert other["products"]["product_id"].equals(net["products"]["product_id"])


def test_small_network(small: dict[str, pl.DataFrame]) -> None:
    sold = small["products"].filter(~pl.col("family").is_in(["drug_substance", "filled_bulk", "antigen_bulk"]))
    assert sold.height == 5 and sold["family"].n_unique() == 5
    assert small["sites"].filter(pl.col("site_type") == "dc").height == 2
    hist = small["orders"].filter(pl.col("requested_week") < RUN)
    assert hist["requested_week"].min() == RUN - timedelta(weeks=60)
    cases = demo_special_cases(5)
    assert cases["launch"][0] != cases["phase_out"][0]
    assert small["resources"].height >= 5


def test_knobs_scale_families_special_cases_dcs_and_resources() -> None:
    big = demo_network(products=400, dcs=14, weeks_history=40)
    p = big["products"]
    fam = p.group_by("family").len()
    assert fam["len"].min() >= 40
    assert p["name"].str.ends_with("[launch]").sum() == 10
    assert p["name"].str.ends_with("[phase-out]").sum() == 10
    dcs = big["sites"].filter(pl.col("site_type") == "dc")
    assert dcs.height == 14 and dcs["site_id"].n_unique() == 14
    assert big["sites"].filter(pl.col("site_type") == "plant").height == 2
    assert big["resources"].height >= 40
    assert big["routings"].group_by("resource_id").len()["len"].max() <= 15
    assert set(big["orders"]["site_id"]) == set(dcs["site_id"])


@pytest.mark.parametrize(
    "kwargs",
    [{"products": 4}, {"dcs": 0}, {"weeks_history": 20}, {"run_date": date(2026, 5, 5)}],
)
def test_bad_knobs_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        demo_network(**kwargs)  # type: ignore[arg-type]


def test_write_demo_rejects_unknown_entity_and_format(small: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not input entities"):
        write_demo({"nope": small["orders"]}, tmp_path)
    with pytest.raises(ValueError, match="file_format"):
        write_demo(small, tmp_path, "xlsx")  # type: ignore[arg-type]


def test_campaigns_are_opt_in_and_run_the_bioreactor_suites(net: dict[str, pl.DataFrame],
                                                           full: dict[str, pl.DataFrame]) -> None:
    """The default demo switches freely (an LP); with campaigns only the bioreactor suites are campaign-run,
    and the changeovers name products routed on that suite."""
    assert not net["resources"]["campaign"].any() and net["changeovers"].height == 0
    suites = full["resources"].filter(pl.col("campaign"))
    assert suites.height > 0 and suites["name"].str.starts_with("Bioreactor").all()
    assert full["resources"].filter(~pl.col("campaign"))["name"].str.starts_with("Bioreactor").sum() == 0
    routed = full["routings"].select("resource_id", from_product_id="product_id")
    assert full["changeovers"].join(routed, on=["resource_id", "from_product_id"], how="anti").height == 0
    for name in net:
        if name not in ("resources", "changeovers"):
            assert_frame_equal(net[name], full[name])
