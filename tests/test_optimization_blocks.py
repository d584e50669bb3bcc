"""The `blocks` solve path: the same LP built as arrays and solved as independent sub-networks.

Hand-solved cases (the optimum asserted) and the exact PuLP model side by side on random networks: the
blocks path is exact, so objectives agree to solver precision, and where the optimum is unique so do the
plan tables.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from optimization.decompose_blocks import block_labels
from optimization.plan import uses_blocks

NO_SS = pl.DataFrame()
EXACT = dict(solve_path="pulp")
BLOCKS = dict(solve_path="blocks")


def _plan(inputs, demand, safety=NO_SS, warm_start=None, **cfg):
    config = PlanConfig(**cfg)
    return plan_supply(build_network(inputs, ex.START, config), demand, safety, config, warm_start=warm_start)


def test_block_labels_link_groups_through_shared_rows_but_not_coupling_rows():
    # columns of groups 0..4; row 0 links groups 0 and 2, row 1 links 2 and 3, row 2 (coupling) links 1 and 4
    col_group = np.array([0, 0, 1, 2, 3, 4])
    entries = pl.DataFrame({"row": [0, 0, 1, 1, 2, 2, 3], "col": [0, 3, 3, 4, 2, 5, 1]})
    coupling = np.array([False, False, True, False])
    assert block_labels(col_group, entries, coupling).tolist() == [0, 0, 1, 0, 0, 2]
    coupling[:] = False
    assert block_labels(col_group, entries, coupling).tolist() == [0, 0, 1, 0, 0, 1]


def test_independent_products_are_two_blocks_with_the_hand_optimum_prices_and_plan():
    # each product alone is test_optimization's short-capacity case: 30 h/week, 40 wanted in each of two
    # weeks → backlog 10 then 20 (3000) + production 60 = 3060 each; an hour is worth 199 in week 0, 99 in 1
    inputs = ex.two_products(None, hours=30.0)
    demand = ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0), ("B", "D", 0, 40.0), ("B", "D", 1, 40.0))
    blocks = _plan(inputs, demand, horizon_weeks=2, **BLOCKS)
    exact = _plan(inputs, demand, horizon_weeks=2, **EXACT)
    assert blocks.solver_status == exact.solver_status == "Optimal"
    assert blocks.attempts == ("highs: Optimal (2 blocks)",)
    assert blocks.objective == pytest.approx(2 * 3060.0) and exact.objective == pytest.approx(2 * 3060.0)
    cap = blocks.tables["plan_capacity"]
    assert cap["shadow_price"].to_list() == pytest.approx([199.0, 99.0, 199.0, 99.0])
    assert cap.select("price_hour_more", "price_hour_less").row(0) == pytest.approx((199.0, 199.0))
    for name, table in exact.tables.items():  # unique optimum: every plan table is the same
        assert blocks.tables[name].equals(table), name


def test_a_binding_lane_couples_the_blocks_and_the_whole_model_is_solved():
    # 10 of A and 10 of B wanted in week 1; the lane carries 10 a week. Alone, each block makes and ships
    # in week 1 (20 on the lane); together one product is made and shipped in week 0 and held a week at D
    # (10 × 0.1): production 20 + holding 1 = 21.
    inputs = ex.two_products(10.0)
    demand = ex.demand_of(("A", "D", 1, 10.0), ("B", "D", 1, 10.0))
    blocks = _plan(inputs, demand, horizon_weeks=2, **BLOCKS)
    assert blocks.solver_status == "Optimal"
    assert blocks.attempts == ("highs: Optimal (2 blocks, lanes bind: whole model re-solved)",)
    assert blocks.objective == pytest.approx(21.0)
    assert _plan(inputs, demand, horizon_weeks=2, **EXACT).objective == pytest.approx(21.0)
    ships = blocks.tables["plan_shipments"].group_by("week").agg(pl.col("quantity").sum()).sort("week")
    assert ships["quantity"].to_list() == pytest.approx([10.0, 10.0])
    # a lane wide enough for both: the blocks' own plans stand, nothing is held
    wide = _plan(ex.two_products(20.0), demand, horizon_weeks=2, **BLOCKS)
    assert wide.attempts == ("highs: Optimal (2 blocks)",) and wide.objective == pytest.approx(20.0)


@pytest.mark.parametrize("seed", [1, 5, 11])
def test_blocks_match_the_exact_model_on_random_networks(seed):
    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(
        seed=seed, n_products=24, n_plants=2, n_dcs=3, horizon=10, resources_per_plant=6
    )
    # split products over the resources so the network falls apart into sub-networks
    routings = inputs["routings"]
    rids = sorted(routings["resource_id"].unique().to_list())
    pids = sorted(routings["product_id"].unique().to_list())
    keep = routings.filter(
        pl.col("resource_id").replace_strict({r: i % 4 for i, r in enumerate(rids)}, return_dtype=pl.Int64)
        == pl.col("product_id").replace_strict({p: i % 4 for i, p in enumerate(pids)}, return_dtype=pl.Int64)
    )
    inputs["routings"] = keep
    safety = demand.select("product_id", "site_id", "week", safety_stock=pl.col("quantity") * 0.5)
    exact = _plan(inputs, demand, safety, horizon_weeks=10, **EXACT)
    blocks = _plan(inputs, demand, safety, horizon_weeks=10, **BLOCKS)
    assert exact.solver_status == blocks.solver_status == "Optimal"
    n_blocks = int(blocks.attempts[0].split("(")[1].split()[0])
    assert n_blocks > 1
    assert blocks.objective == pytest.approx(exact.objective, rel=1e-7)
    kpis = exact.tables["plan_kpis"].join(blocks.tables["plan_kpis"], on="kpi", suffix="_blocks")
    cost_total = kpis.filter(pl.col("kpi") == "cost_total")
    assert cost_total["value_blocks"].item() == pytest.approx(cost_total["value"].item(), rel=1e-7)
    cap = blocks.tables["plan_capacity"]
    assert cap.filter(pl.col("hours_used") > pl.col("hours_available") + 1e-6).height == 0


def test_the_demo_keeps_the_exact_model_and_a_mip_never_takes_blocks():
    from optimization.synthetic import random_inputs

    inputs, _ = random_inputs(seed=3, n_products=40, n_plants=2, n_dcs=5, horizon=4)
    net = build_network(inputs, ex.START, PlanConfig(horizon_weeks=4))
    assert not uses_blocks(net, PlanConfig())  # 40 products < blocks_min_products
    assert uses_blocks(net, PlanConfig(blocks_min_products=40))
    assert uses_blocks(net, PlanConfig(solve_path="blocks"))
    assert not uses_blocks(net, PlanConfig(solve_path="blocks", mip=True))
    assert not uses_blocks(net, PlanConfig(solve_path="pulp", blocks_min_products=1))


def _changed_block_inputs(hours_b: float):
    # A on RA, B on RB (two blocks); capacity is short for both, so the plans depend on the hours
    inputs = ex.two_products(None, hours=30.0)
    inputs["calendar"] = ex.calendar(dict(resource_id="RB", t=1, hours_available=hours_b))
    return inputs


def test_a_replan_starts_each_block_from_the_stored_basis_and_reaches_the_cold_optimum():
    import highspy

    demand = ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0), ("B", "D", 0, 40.0), ("B", "D", 1, 40.0))
    base = _plan(_changed_block_inputs(30.0), demand, horizon_weeks=2, **BLOCKS)
    stored = {key: h.getBasis() for key, h in zip(base.blocks.keys, base.blocks.highs)}

    def warm(key, h):
        return key in stored and h.setBasis(stored[key]) == highspy.HighsStatus.kOk

    # the same plan again: both blocks start at their optimum and take no iteration
    again = _plan(_changed_block_inputs(30.0), demand, horizon_weeks=2, warm_start=warm, **BLOCKS)
    assert again.blocks.warm == 2 and again.blocks.iterations == [0, 0]
    assert again.objective == pytest.approx(base.objective)
    # what-if: RB loses 10 hours in week 1 (10 more units of B backlogged a week: +1000 − 10 production);
    # B's block restarts from its old basis, A's is unchanged
    cold = _plan(_changed_block_inputs(20.0), demand, horizon_weeks=2, **BLOCKS)
    hot = _plan(_changed_block_inputs(20.0), demand, horizon_weeks=2, warm_start=warm, **BLOCKS)
    assert cold.objective == pytest.approx(2 * 3060.0 + 1000.0 - 10.0)
    assert hot.objective == pytest.approx(cold.objective) and hot.blocks.warm == 2
    assert hot.attempts == ("highs: Optimal (2 blocks, 2 warm-started)",)
    for name, table in cold.tables.items():
        assert hot.tables[name].equals(table), name


def test_bases_are_stored_beside_the_warehouse_and_offered_to_the_same_block_only(tmp_path):
    from flows.solver_bases import basis_loader, save_bases

    demand = ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0), ("B", "D", 0, 40.0), ("B", "D", 1, 40.0))
    wh = tmp_path / "plan.duckdb"
    base = _plan(_changed_block_inputs(30.0), demand, horizon_weeks=2, **BLOCKS)
    assert save_bases(wh, "run-1", base.blocks) == 2
    assert sorted(p.name for p in (tmp_path / "plan.solver-bases" / "run-1").iterdir()) == sorted(
        f"{k}.bas" for k in base.blocks.keys
    )
    assert basis_loader(wh, "run-0") is None and basis_loader(wh, None) is None
    again = _plan(_changed_block_inputs(30.0), demand, horizon_weeks=2, warm_start=basis_loader(wh, "run-1"),
                  **BLOCKS)
    assert again.blocks.warm == 2 and again.blocks.iterations == [0, 0]
    # a third week is another matrix: no block has the same key, both start cold
    longer = _plan(_changed_block_inputs(30.0), demand, horizon_weeks=3, warm_start=basis_loader(wh, "run-1"),
                   **BLOCKS)
    assert longer.blocks.warm == 0
    week_1 = ex.demand_of(("A", "D", 1, 10.0), ("B", "D", 1, 10.0))
    lanes_bind = _plan(ex.two_products(10.0), week_1, horizon_weeks=2, **BLOCKS)
    assert save_bases(wh, "run-2", lanes_bind.blocks) == 0  # lanes bound: whole model


def test_blocks_solve_after_another_highs_solve_in_the_same_process():
    # HiGHS's thread pool is global and fixed by the process's first solve: a block asking for another
    # thread count would not run (its re-solves for the worth of an hour and its basis were lost)
    from optimization.highs_direct import new_highs

    h = new_highs()
    h.addVars(1, np.zeros(1), np.ones(1))
    h.run()
    demand = ex.demand_of(("A", "D", 0, 40.0), ("A", "D", 1, 40.0), ("B", "D", 0, 40.0), ("B", "D", 1, 40.0))
    r = _plan(ex.two_products(None, hours=30.0), demand, horizon_weeks=2, **BLOCKS)
    assert r.tables["plan_capacity"].select("price_hour_more", "price_hour_less").row(0) == pytest.approx(
        (199.0, 199.0)
    )
    assert all(b.getInfo().basis_validity == 1 for b in r.blocks.highs)


def test_only_the_newest_runs_bases_and_the_base_runs_are_kept(tmp_path, monkeypatch):
    import os

    from flows import solver_bases
    from flows.solver_bases import basis_loader, save_bases

    monkeypatch.setattr(solver_bases, "KEEP_RUNS", 2)
    wh = tmp_path / "plan.duckdb"
    demand = ex.demand_of(("A", "D", 0, 40.0), ("B", "D", 0, 40.0))
    blocks = _plan(_changed_block_inputs(30.0), demand, horizon_weeks=2, **BLOCKS).blocks
    root = tmp_path / "plan.solver-bases"
    for i in range(3):
        assert save_bases(wh, f"run-{i}", blocks) == 2
        os.utime(root / f"run-{i}", (1_000 + i, 1_000 + i))  # distinct ages whatever the clock's resolution
    assert sorted(p.name for p in root.iterdir()) == ["run-1", "run-2"]  # run-0 beyond the newest two
    save_bases(wh, "run-3", blocks, base_run="run-1")  # a what-if on run-1: its bases stay
    assert sorted(p.name for p in root.iterdir()) == ["run-1", "run-2", "run-3"]
    os.utime(root / "run-3", (1_003, 1_003))
    save_bases(wh, "run-4", blocks)
    assert sorted(p.name for p in root.iterdir()) == ["run-3", "run-4"]
    assert basis_loader(wh, "run-1") is None and basis_loader(wh, "run-3") is not None


def test_a_block_is_the_same_model_whatever_order_the_input_rows_come_in():
    # the big network's frames come out of joins and group-bys in no fixed order: each block must be built
    # in an order fixed by content, or a stored basis never fits the next run's block (keys all differed)
    import highspy

    from optimization.synthetic import random_inputs

    inputs, demand = random_inputs(seed=5, n_products=24, n_plants=2, n_dcs=3, horizon=10, resources_per_plant=6)
    # no lane limits: the blocks stay independent (a binding lane solves the whole model, no block bases)
    inputs["lanes"] = inputs["lanes"].with_columns(pl.lit(None, dtype=pl.Float64).alias("capacity_per_week"))
    base = _plan(inputs, demand, horizon_weeks=10, **BLOCKS)
    assert not base.blocks.whole
    stored = {key: h.getBasis() for key, h in zip(base.blocks.keys, base.blocks.highs)}

    def warm(key, h):
        return key in stored and h.setBasis(stored[key]) == highspy.HighsStatus.kOk

    shuffled = {name: frame.sample(fraction=1.0, shuffle=True, seed=7) if isinstance(frame, pl.DataFrame)
                else frame for name, frame in inputs.items()}
    again = _plan(shuffled, demand.sample(fraction=1.0, shuffle=True, seed=8), horizon_weeks=10,
                  warm_start=warm, **BLOCKS)
    assert sorted(again.blocks.keys) == sorted(base.blocks.keys)
    assert again.blocks.warm == len(base.blocks.keys)
    assert again.blocks.iterations == [0] * len(base.blocks.keys)
    assert again.objective == pytest.approx(base.objective, rel=1e-9)


def test_a_scenario_on_a_warehouse_copied_without_its_bases_says_its_plan_started_cold(tmp_path):
    """Stop 25 saw a what-if on a copied warehouse take 65.9 s of HiGHS instead of 4.3 s with nothing said:
    the summary and ``run_warnings`` now name the folder the bases were looked for in; the original warehouse,
    whose folder is there, says nothing."""
    import shutil

    import duckdb
    from typer.testing import CliRunner

    from cli.main import app
    from demo.network import demo_network, write_demo

    folder = tmp_path / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    params = tmp_path / "blocks.yaml"
    params.write_text("plan: {solve_path: blocks, horizon_weeks: 4}\n")
    original = tmp_path / "wh" / "w.duckdb"
    runner = CliRunner()
    run = runner.invoke(app, ["run", "--input", str(folder), "--warehouse", str(original), "--params", str(params),
                              "--no-prefect"])
    assert run.exit_code == 0, run.output
    (base,) = [p.name for p in (tmp_path / "wh" / "w.solver-bases").iterdir()]
    copied = tmp_path / "copy" / "w.duckdb"
    copied.parent.mkdir()
    shutil.copy(original, copied)  # the warehouse file alone, as an analyst copies it
    what_if = tmp_path / "more.yaml"
    what_if.write_text("name: more\ndemand:\n  - {multiplier: 1.1}\n")
    said = {}
    for wh in (original, copied):
        out = runner.invoke(app, ["scenario", "run", str(what_if), "--warehouse", str(wh), "--no-prefect"])
        assert out.exit_code == 0, out.output
        with duckdb.connect(str(wh), read_only=True) as con:
            said[wh] = con.execute("SELECT w.key, w.reason FROM run_warnings w JOIN runs r USING (run_id) "
                                   "WHERE r.kind = 'scenario' AND w.rule = 'warm_start_missing'").fetchall()
        said[wh, "output"] = " ".join(out.output.split())
    assert said[original] == [] and "no solver bases" not in said[original, "output"]
    looked = str(tmp_path / "copy" / "w.solver-bases" / base)
    assert [key for key, _ in said[copied]] == [looked]
    assert f"no solver bases of the base run {base} in {looked}" in said[copied, "output"]


def test_a_blocks_plan_on_a_base_solved_with_pulp_does_not_say_its_bases_are_missing(tmp_path):
    """A base plan on the ``pulp`` path keeps no bases (``runs.solver_bases`` 0): the next plan, solved block by
    block, starts cold as it must, and saying its base's folder is missing (a warehouse copied without it)
    was false. A blocks base then keeps its bases, counted, and a plan on it starts warm, silently."""
    import duckdb
    from typer.testing import CliRunner

    from cli.main import app
    from demo.network import demo_network, write_demo

    folder = tmp_path / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    wh = tmp_path / "w.duckdb"
    runner = CliRunner()
    for path in ("pulp", "blocks", "blocks"):  # 5 products: the default takes pulp
        params = tmp_path / f"{path}.yaml"
        params.write_text(f"plan: {{solve_path: {path}, horizon_weeks: 4}}\n")
        out = runner.invoke(app, ["run", "--input", str(folder), "--warehouse", str(wh), "--params", str(params),
                                  "--no-prefect"])
        assert out.exit_code == 0, out.output
        assert "no solver bases" not in " ".join(out.output.split())
    with duckdb.connect(str(wh), read_only=True) as con:
        kept = [n for (n,) in con.execute("SELECT solver_bases FROM runs ORDER BY started_at").fetchall()]
        said = con.execute("SELECT run_id FROM run_warnings WHERE rule = 'warm_start_missing'").fetchall()
    assert kept[0] == 0 and kept[1] >= 1 and kept[2] == kept[1]
    assert said == []


def test_sort_order_is_lexsorts_order_packed_or_not():
    """The blocks' columns, rows and non-zeros are put in order by one sort of packed keys: the order is
    np.lexsort's (stable, most significant key first), ties included, and where the keys do not fit in 62
    bits it is np.lexsort itself."""
    import numpy as np

    from optimization.decompose_blocks import sort_order

    rng = np.random.default_rng(7)
    for n, highs in ((1000, (3, 5, 4)), (20_000, (25, 300, 700)), (500, (2**40, 2**30, 9))):
        keys = [rng.integers(0, h, n) for h in highs]
        assert np.array_equal(sort_order(*keys), np.lexsort(keys[::-1]))
    assert np.array_equal(sort_order(np.array([1, 0, 1, 0]), np.array([0, 0, 0, 0])), [1, 3, 0, 2])
    assert len(sort_order(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))) == 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_block_labels_are_the_components_of_a_union_find_numbered_by_smallest_group(seed):
    """Seeded random matrices (many rows repeating the same links, as every week's capacity row does):
    the blocks are the connected groups a plain union-find over the non-coupling rows finds."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_cols, n_rows, n_groups = 400, 300, 60
    col_group = rng.integers(0, n_groups, n_cols)
    col_group[:n_groups] = np.arange(n_groups)  # every group has a column
    entries = pl.DataFrame({"row": rng.integers(0, n_rows, 160), "col": rng.integers(0, n_cols, 160)}).unique()
    coupling = rng.random(n_rows) < 0.2
    parent = list(range(n_groups))

    def find(g: int) -> int:
        while parent[g] != g:
            g = parent[g]
        return g

    rows = entries.select("row", "col").to_numpy()
    by_row: dict[int, list[int]] = {}
    for r, c in rows:
        if not coupling[r]:
            by_row.setdefault(int(r), []).append(int(col_group[c]))
    for groups in by_row.values():
        for g in groups[1:]:
            a, b = find(groups[0]), find(g)
            parent[max(a, b)] = min(a, b)
    root = np.array([find(g) for g in col_group])
    want = np.searchsorted(np.unique(root), root)
    assert np.array_equal(block_labels(col_group, entries, coupling), want)
    assert len(np.unique(want)) > 1
