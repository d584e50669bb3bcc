"""The digital twin: exact replay without variance, QC failure risk, demand paths, storage."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from data_contracts import schema
from optimization import PlanConfig, build_network, plan_supply
from optimization import examples as ex
from twin.process import ProcessConfig, estimate_process
from twin.replay import PlanTables, TwinConfig, TwinInputs, compare_twins, replay_plan
from twin.demand import build_demand_sampler
from twin.index import build_index

PST = ["product_id", "site_id", "week"]
H = 8
NO_SERIES = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "series_class": pl.String})
NO_HISTORY = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                  "quantity": pl.Float64})


def _inputs() -> dict[str, pl.DataFrame]:
    """2 products × plant + 2 DCs × 8 weeks: shelf life, expiring lots, a quarantine lot, a receipt,
    a capacitated slow lane and a resource too small for all demand."""
    start = ex.START
    return {
        "products": ex.products(dict(product_id="A", shelf_life_weeks=3),
                                dict(product_id="B", backlog_penalty=50.0)),
        "sites": ex.sites(["PL"], ["D1", "D2"]),
        "resources": ex.resources(dict(resource_id="R", site_id="PL", hours_per_week=80.0)),
        "routings": ex.routings(
            dict(product_id="A", resource_id="R", **{"yield": 0.9}, release_weeks=1),
            dict(product_id="B", resource_id="R", **{"yield": 0.8}, release_weeks=2, batch_size=50.0),
        ),
        "lanes": ex.lanes(dict(from_site="PL", to_site="D1", lead_time_weeks=1, cost_per_unit=0.1),
                          dict(from_site="PL", to_site="D2", lead_time_weeks=2, cost_per_unit=0.2,
                               capacity_per_week=60.0)),
        "inventory": ex.inventory(
            dict(product_id="A", site_id="D1", quantity=40.0, expiry_date=start + timedelta(weeks=2)),
            dict(product_id="A", site_id="PL", quantity=30.0, expiry_date=start + timedelta(weeks=3)),
            dict(product_id="A", site_id="D2", quantity=25.0, expiry_date=start + timedelta(weeks=1)),
            dict(product_id="B", site_id="D2", quantity=20.0),
            dict(product_id="B", site_id="PL", quantity=25.0, status="quarantine"),
        ),
        "receipts": ex.receipts(dict(product_id="A", site_id="D2", t=1, quantity=10.0)),
    }


def _demand() -> pl.DataFrame:
    rows = [dict(product_id=p, site_id=s, t=t, quantity=q + (5.0 * (t % 3)))
            for p, s, q in (("A", "D1", 20.0), ("A", "D2", 15.0), ("B", "D1", 10.0), ("B", "D2", 30.0))
            for t in range(H)]
    return ex.demand(*rows)


def _forecast(demand: pl.DataFrame, spread: float = 0.0) -> pl.DataFrame:
    """Forecast rows whose quantiles are mean × (1 + spread × z_q) (z of a normal at each level)."""
    z = {0.01: -2.326, 0.05: -1.645, 0.10: -1.282, 0.20: -0.842, 0.50: 0.0, 0.80: 0.842, 0.90: 1.282,
         0.95: 1.645, 0.99: 2.326}
    quantiles = [(pl.col("quantity") * (1 + spread * z[q])).alias(schema.quantile_column(q))
                 for q in schema.QUANTILES]
    return demand.select(*PST, pl.lit("test").alias("model"), pl.col("quantity").alias("mean"), *quantiles)


def _solved(config: PlanConfig, safety: pl.DataFrame | None = None, inputs=None, demand=None):
    inputs = inputs or _inputs()
    demand = _demand() if demand is None else demand
    net = build_network(inputs, ex.START, config)
    safety = safety if safety is not None else pl.DataFrame(
        schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "safety_stock": pl.Float64})
    result = plan_supply(net, demand, safety, config)
    assert result.solver_status == "Optimal"
    t = result.tables
    plan = PlanTables(production=t["plan_production"], shipments=t["plan_shipments"],
                      inventory=t["plan_inventory"], backlog=t["plan_backlog"], expiry=t["plan_expiry"])
    return net, plan, demand, inputs


def _twin_inputs(net, plan, demand, inputs, process=None, spread=0.0, backlog=None):
    return TwinInputs(
        network=net, plan=plan, forecast=_forecast(demand, spread), series=NO_SERIES, history=NO_HISTORY,
        process=process if process is not None else estimate_process(
            schema.BATCHES.empty(), inputs["routings"], ProcessConfig()),
        max_backlog_weeks=backlog,
    )


@pytest.mark.parametrize("max_backlog", [None, 1])
@pytest.mark.parametrize("with_safety", [False, True])
def test_without_variance_the_twin_is_the_plan(max_backlog, with_safety):
    config = PlanConfig(horizon_weeks=H, max_backlog_weeks=max_backlog)
    # a safety-stock target makes the plan hold stock back on purpose; the twin must follow it
    safety = ex.demand(*[dict(product_id="B", site_id="D2", t=t, quantity=40.0) for t in range(H)]).rename(
        {"quantity": "safety_stock"}) if with_safety else None
    net, plan, demand, inputs = _solved(config, safety)
    result = replay_plan(_twin_inputs(net, plan, demand, inputs, backlog=max_backlog),
                         TwinConfig(paths=3, demand_variance=False, process_variance=False))
    inv = plan.inventory.select(*PST, "closing", "served", "expired", "departures", "arrivals", "released")
    got = result.weekly.join(inv, on=PST, how="full", coalesce=True, suffix="_plan")
    for col in ("closing", "served", "expired", "departures", "arrivals", "released"):
        diff = (got[col].fill_null(0.0) - got[f"{col}_plan"].fill_null(0.0)).abs().max()
        assert diff < 1e-6, f"{col} differs from the plan by {diff}"
    back = result.weekly.join(plan.backlog.select(*PST, "backlog", "lost"), on=PST, how="inner",
                              suffix="_plan")
    assert back.height == plan.backlog.height
    assert (back["backlog"] - back["backlog_plan"]).abs().max() < 1e-6
    assert (back["lost"] - back["lost_plan"]).abs().max() < 1e-6
    s = {r["metric"]: r for r in result.summary.iter_rows(named=True)}
    assert plan.expiry["quantity"].sum() > 0 and plan.backlog["backlog"].sum() > 0  # the fixture bites
    for metric in ("fill_rate_units", "fill_rate_by_end", "fill_rate_weeks", "stockout_weeks",
                   "expired_units",
                   "ending_stock_units", "ending_stock_value", "short_units", "demand_units",
                   "demand_above_plan_units", "released_units"):
        assert s[metric]["mean"] == pytest.approx(s[metric]["plan_value"], abs=1e-6), metric
        assert s[metric]["p05"] == pytest.approx(s[metric]["p95"], abs=1e-6), metric


def _one_batch_plan():
    inputs = {
        "products": ex.products(dict(product_id="P")),
        "sites": ex.sites(["PL"], []),
        "resources": ex.resources(dict(resource_id="R", site_id="PL", hours_per_week=1000.0)),
        "routings": ex.routings(dict(product_id="P", resource_id="R", **{"yield": 0.9}, release_weeks=1,
                                     batch_size=100.0)),
        "lanes": ex.lanes(),
        "inventory": ex.inventory(),
    }
    demand = ex.demand(dict(product_id="P", site_id="PL", t=3, quantity=90.0))
    return _solved(PlanConfig(horizon_weeks=5), inputs=inputs, demand=demand)


def test_one_batch_fails_with_its_learned_probability():
    net, plan, demand, inputs = _one_batch_plan()
    assert plan.production.height == 1 and plan.production["batches"][0] == pytest.approx(1.0)
    p, paths = 0.2, 4000
    process = estimate_process(schema.BATCHES.empty(), inputs["routings"], ProcessConfig()).with_columns(
        learned_failure_rate=pl.lit(p), yield_sd=pl.lit(0.0), release_weeks_sd=pl.lit(0.0))
    result = replay_plan(_twin_inputs(net, plan, demand, inputs, process=process),
                         TwinConfig(paths=paths, demand_variance=False, seed=3))
    risk = result.risk.row(0, named=True)
    half_width = 2.576 * np.sqrt(p * (1 - p) / paths)  # 99% confidence interval of a share
    assert abs(risk["shortage_probability"] - p) < half_width
    assert risk["expected_short_units"] == pytest.approx(90 * risk["shortage_probability"])
    assert risk["weeks_at_risk"] == 2 and risk["at_risk_weeks"] == "2027-W04,2027-W05"  # 0.2 > 1 − 0.95


def test_late_release_and_low_yield_go_short():
    net, plan, demand, inputs = _one_batch_plan()
    base = estimate_process(schema.BATCHES.empty(), inputs["routings"], ProcessConfig()).with_columns(
        learned_failure_rate=pl.lit(0.0), yield_sd=pl.lit(0.0), release_weeks_sd=pl.lit(0.0))
    late = replay_plan(_twin_inputs(net, plan, demand, inputs,
                                    process=base.with_columns(learned_release_weeks=pl.lit(9.0))),
                       TwinConfig(paths=10, demand_variance=False))
    assert late.risk["shortage_probability"][0] == 1.0 and late.risk["expected_short_units"][0] == 90.0
    low_yield = base.with_columns(learned_yield=pl.lit(0.6))
    low = replay_plan(_twin_inputs(net, plan, demand, inputs, process=low_yield),
                      TwinConfig(paths=10, demand_variance=False))
    assert low.risk["expected_short_units"][0] == pytest.approx(90.0 - 60.0)
    # the summary says where the shortfall comes from: releases short, demand as planned
    s = {r["metric"]: r for r in low.summary.iter_rows(named=True)}
    assert s["released_units"]["mean"] == pytest.approx(s["released_units"]["plan_value"] - 30.0)
    assert s["demand_above_plan_units"]["mean"] == 0.0
    assert s["demand_units"]["mean"] == s["demand_units"]["plan_value"]


def test_demand_paths_have_the_forecasts_quantiles():
    net, plan, demand, inputs = _solved(PlanConfig(horizon_weeks=H))
    fc = _forecast(demand, spread=0.3)
    index = build_index(net, plan, fc.select("product_id", "site_id").unique())
    paths = 8000
    for rho in (0.0, 0.6):
        config = TwinConfig(paths=paths, week_correlation=rho)
        sampler = build_demand_sampler(index, fc, NO_SERIES, NO_HISTORY, config, np.random.default_rng(7),
                                       net.week_index())
        draws = np.stack([sampler.week(t) for t in range(H)], axis=2)  # (P, D, H)
        nodes = index.nodes[index.demand_nodes.tolist()].select("product_id", "site_id").with_row_index("d")
        q = fc.with_columns(t=net.week_index()).join(nodes, on=["product_id", "site_id"])
        for row in q.iter_rows(named=True):
            x = draws[:, row["d"], row["t"]]
            for level in schema.QUANTILES:
                share = float((x <= row[schema.quantile_column(level)] + 1e-9).mean())
                assert abs(share - level) < 4 * np.sqrt(level * (1 - level) / paths), (row, level, share)
        if rho:
            a, b = draws[:, 0, 2], draws[:, 0, 3]
            assert np.corrcoef(a, b)[0, 1] > 0.4  # persistent forecast errors


def test_intermittent_series_bootstrap_their_history():
    net, plan, demand, inputs = _solved(PlanConfig(horizon_weeks=H))
    fc = _forecast(demand, spread=0.3)
    history = ex.demand(*[dict(product_id="A", site_id="D1", week=ex.START - timedelta(weeks=5 - i),
                               quantity=q) for i, q in enumerate([0.0, 0.0, 5.0, 0.0, 12.0])])
    series = pl.DataFrame({"product_id": ["A"], "site_id": ["D1"], "series_class": ["intermittent"]})
    index = build_index(net, plan, fc.select("product_id", "site_id").unique())
    d = index.nodes[index.demand_nodes.tolist()].with_row_index("d").filter(
        (pl.col("product_id") == "A") & (pl.col("site_id") == "D1"))["d"][0]
    raw = build_demand_sampler(index, fc, series, history, TwinConfig(paths=8000, match_plan_mean=False),
                               np.random.default_rng(1), net.week_index())
    x = raw.week(0)[:, d]
    assert set(np.unique(x)) == {0.0, 5.0, 12.0}
    assert (x == 0).mean() == pytest.approx(0.6, abs=0.02)
    assert (x == 12).mean() == pytest.approx(0.2, abs=0.02)
    # by default the history's shape at the plan's level: its mean (3.4) brought to the planned 20
    sampler = build_demand_sampler(index, fc, series, history, TwinConfig(paths=8000),
                                   np.random.default_rng(1), net.week_index())
    planned = index.plan_demand[d, 0]
    assert planned == 20.0
    y = sampler.week(0)[:, d]
    np.testing.assert_allclose(np.unique(y), np.array([0.0, 5.0, 12.0]) * planned / 3.4)
    assert (y == 0).mean() == pytest.approx(0.6, abs=0.02)
    assert y.mean() == pytest.approx(planned, rel=0.05)


def test_demand_paths_mean_is_the_plans_demand_where_the_band_is_clipped_at_zero():
    """A symmetric band about a small mean is clipped at zero by the forecast: its quantiles' own mean is
    above the mean the plan planned against. The paths keep the shape at the plan's level."""
    net, plan, demand, inputs = _solved(PlanConfig(horizon_weeks=H))
    z = {0.01: -2.326, 0.05: -1.645, 0.10: -1.282, 0.20: -0.842, 0.50: 0.0, 0.80: 0.842, 0.90: 1.282,
         0.95: 1.645, 0.99: 2.326}
    fc = demand.select(*PST, pl.lit("test").alias("model"), pl.col("quantity").alias("mean"), *[
        (pl.col("quantity") * (1 + 1.5 * z[q])).clip(lower_bound=0).alias(schema.quantile_column(q))
        for q in schema.QUANTILES])
    index = build_index(net, plan, fc.select("product_id", "site_id").unique())
    paths = 20000
    means = {}
    for match in (False, True):
        sampler = build_demand_sampler(index, fc, NO_SERIES, NO_HISTORY,
                                       TwinConfig(paths=paths, match_plan_mean=match),
                                       np.random.default_rng(3), net.week_index())
        means[match] = np.stack([sampler.week(t) for t in range(H)], axis=2).mean(axis=0)  # (D, H)
    planned = index.plan_demand
    assert planned.sum() > 0
    assert means[False].sum() > 1.25 * planned.sum()  # the clipped band's mean: demand above the plan
    np.testing.assert_allclose(means[True].sum(axis=1), planned.sum(axis=1), rtol=0.02)
    np.testing.assert_allclose(means[True], planned, rtol=0.08)


def test_variance_widens_and_summaries_compare():
    net, plan, demand, inputs = _solved(PlanConfig(horizon_weeks=H))
    exact = replay_plan(_twin_inputs(net, plan, demand, inputs, spread=0.4),
                        TwinConfig(paths=5, demand_variance=False, process_variance=False))
    noisy = replay_plan(_twin_inputs(net, plan, demand, inputs, spread=0.4), TwinConfig(paths=400, seed=1))
    again = replay_plan(_twin_inputs(net, plan, demand, inputs, spread=0.4), TwinConfig(paths=400, seed=1))
    assert noisy.summary.equals(again.summary) and noisy.stock_fan.equals(again.stock_fan)  # seeded
    s = noisy.summary.filter(pl.col("metric") == "fill_rate_units").row(0, named=True)
    assert s["p05"] < s["p95"]
    # demand varies about the plan's quantity: some of it above the plan, the mean the plan's
    d = {r["metric"]: r for r in noisy.summary.iter_rows(named=True)}
    assert d["demand_above_plan_units"]["mean"] > 0.05 * d["demand_units"]["plan_value"]
    assert d["demand_units"]["mean"] == pytest.approx(d["demand_units"]["plan_value"], rel=0.02)
    fan = noisy.stock_fan
    assert fan.columns == [c for c in schema.TWIN_STOCK_FAN.column_names if c not in ("run_id", "twin_id")]
    for lo, hi in (("p05", "p25"), ("p25", "p50"), ("p50", "p75"), ("p75", "p95")):
        assert (fan[lo] <= fan[hi]).all()
    assert noisy.risk.columns == [c for c in schema.TWIN_RISK.column_names if c not in ("run_id", "twin_id")]
    both = compare_twins(exact.summary, noisy.summary)
    assert both.height == exact.summary.height and "delta_mean" in both.columns


def stored_run(path, config: PlanConfig, spread: float) -> str:
    """This file's plan stored as a successful ``base`` run (its inputs, plan tables and a forecast that
    spreads by ``spread``) in a new warehouse at ``path``; returns the run id."""
    from warehouse.db import open_warehouse

    net, plan, demand, inputs = _solved(config)
    forecast = _forecast(demand, spread).with_columns(  # no order booked ahead
        booked=pl.lit(None, pl.Float64), booked_added=pl.lit(None, pl.Float64), booked_band=pl.lit(None, pl.String))
    with open_warehouse(path) as wh:
        run_id = wh.start_run(kind="weekly_planning", scenario="base", run_date=ex.START + timedelta(days=2),
                              parameters={"plan": config.model_dump(mode="json")}, code_version="test")
        for name, frame in inputs.items():
            wh.stage(run_id, schema.clean_table_name(name), frame)
        for name, frame in (("plan_production", plan.production), ("plan_shipments", plan.shipments),
                            ("plan_inventory", plan.inventory), ("plan_backlog", plan.backlog),
                            ("plan_expiry", plan.expiry), ("forecast", forecast)):
            wh.stage(run_id, name, frame)
        wh.commit_run(run_id)
    return run_id


def test_replay_is_stored_under_the_run_and_a_twin_id(tmp_path):
    from flows.settings import TwinParameters
    from flows.stages_twin import replay
    from warehouse.db import open_warehouse

    path = tmp_path / "wh.duckdb"
    run_id = stored_run(path, PlanConfig(horizon_weeks=H), spread=0.2)
    out = replay(TwinParameters(warehouse=path, twin=TwinConfig(paths=20)))
    assert out["run_id"] == run_id and out["twin_id"].startswith("twin-")
    with open_warehouse(path, read_only=True) as wh:
        summary = wh.read(schema.TWIN_SUMMARY.name, run_id)
        assert summary.height == 12 and set(summary["twin_id"]) == {out["twin_id"]}
        assert summary["paths"].to_list() == [20] * 12
        assert wh.read(schema.TWIN_RISK.name, run_id).height == 4
        assert wh.read(schema.TWIN_STOCK_FAN.name, run_id).height > 0
    # the plan report shows the replay's risk table and the fan of simulated stock
    from report.page import write_report

    html = write_report(path, run_id).read_text()
    assert "Risk: the plan replayed by the digital twin" in html and "20 sample paths" in html
    assert 'class="fan-outer"' in html and 'class="fan-median"' in html
    from flows.settings import ParameterError

    with pytest.raises(ParameterError, match="no successful run of scenario 'what-if'"):
        replay(TwinParameters(warehouse=path, scenario="what-if", twin=TwinConfig(paths=2)))
    with pytest.raises(ParameterError, match="no run 'run-x'"):
        replay(TwinParameters(warehouse=path, run_id="run-x", twin=TwinConfig(paths=2)))


def test_a_shipment_short_of_stock_catches_up_with_the_lanes_next_shipment():
    """Starts released a week late on half the paths: a planned shipment finds its stock missing, and a
    later one finds two releases. With catch-up the later shipment takes what the earlier one owed; without
    it the late units stay at the plant while the DC goes short."""
    inputs = {
        "products": ex.products(dict(product_id="P")),
        "sites": ex.sites(["PL"], ["D1"]),
        "resources": ex.resources(dict(resource_id="R", site_id="PL", hours_per_week=1000.0)),
        "routings": ex.routings(dict(product_id="P", resource_id="R", **{"yield": 1.0}, release_weeks=1)),
        "lanes": ex.lanes(dict(from_site="PL", to_site="D1", lead_time_weeks=1, cost_per_unit=0.1)),
        "inventory": ex.inventory(),
    }
    demand = ex.demand(*[dict(product_id="P", site_id="D1", t=t, quantity=50.0) for t in range(2, H)])
    net, plan, demand, inputs = _solved(PlanConfig(horizon_weeks=H), inputs=inputs, demand=demand)
    assert plan.shipments.filter(pl.col("quantity") > 0).height >= 4  # the lane ships week after week
    process = estimate_process(schema.BATCHES.empty(), inputs["routings"], ProcessConfig()).with_columns(
        learned_failure_rate=pl.lit(0.0), yield_sd=pl.lit(0.0), release_weeks_sd=pl.lit(0.0),
        learned_yield=pl.lit(1.0), learned_release_weeks=pl.lit(1.5))  # a week late on half the paths
    twin = _twin_inputs(net, plan, demand, inputs, process=process)
    out, by_end = {}, {}
    for catch_up in (False, True):
        r = replay_plan(twin, TwinConfig(paths=400, seed=5, demand_variance=False,
                                         catch_up_shipments=catch_up))
        s = {m["metric"]: m for m in r.summary.iter_rows(named=True)}
        last = r.weekly.filter(pl.col("week") == r.weekly["week"].max())
        by_end[catch_up] = s["fill_rate_by_end"]["mean"]
        out[catch_up] = (s["short_units"]["mean"], s["released_units"]["mean"],
                         last.filter(pl.col("site_id") == "PL")["closing"].sum(),
                         last.filter(pl.col("site_id") == "D1")["closing"].sum())
    (short_off, rel_off, plant_off, _), (short_on, rel_on, plant_on, dc_on) = out[False], out[True]
    assert rel_on == rel_off  # the same releases on the same paths
    assert plant_off > 10.0 and short_off > 10.0  # stranded at the plant while the DC is short
    assert short_on < short_off - 10.0 and plant_on < plant_off - 10.0
    # what no longer waits at the plant reached the DC: served, or in its stock at the end
    assert (short_off - short_on) + dc_on >= (plant_off - plant_on) - 1e-6
    # late is not never: by the horizon's end the DC has served more than on time
    assert by_end[True] > 1.0 - short_on / 300.0 and by_end[True] > by_end[False]


def test_plantwin_twin_replays_one_side_and_prints_how_to_read_it(tmp_path, monkeypatch):
    """``--variance process`` keeps demand as planned (no demand above the plan's quantity), ``demand``
    keeps production as planned (the plan's releases in full); the summary ends with its reading."""
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    path = tmp_path / "wh.duckdb"
    stored_run(path, PlanConfig(horizon_weeks=H), spread=0.4)
    runner = CliRunner()

    def figures(*extra: str) -> dict[str, list[str]]:
        result = runner.invoke(app, ["twin", "--warehouse", str(path), "--paths", "200", *extra])
        assert result.exit_code == 0, result.output
        assert "reading (the replay follows the plan, without re-planning):" in result.output
        return {line.split()[0]: line.split()[1:] for line in result.output.splitlines()
                if line.startswith("  ") and len(line.split()) == 6}

    process, demand = figures("--variance", "process"), figures("--variance", "demand")
    assert process["demand_above_plan_units"][1] == "0"  # the mean over paths: demand as planned
    assert demand["demand_above_plan_units"][1] != "0"
    assert demand["released_units"][0] == demand["released_units"][1]  # production as planned
    bad = runner.invoke(app, ["twin", "--warehouse", str(path), "--variance", "weather"])
    assert bad.exit_code == 2 and "--variance must be both, process or demand" in bad.output
