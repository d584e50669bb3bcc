"""The Prefect artifacts' content, rendered from a run's facts (no server needed)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flows.artifacts import shortage_rows, summary_markdown
from report.summary import RunFacts


def _facts(**over) -> RunFacts:
    base = dict(
        run={"run_id": "run-2", "kind": "weekly_planning", "scenario": "base", "run_date": "2026-05-04",
             "solver": "highs", "solver_status": "Optimal", "problem_type": "LP"},
        kpis={"fill_rate_units": 0.95, "cost_total": 1200.0},
        previous_run_id="run-1",
        previous_kpis={"fill_rate_units": 0.90, "cost_total": 1000.0},
        busiest=pl.DataFrame({"resource_id": ["FL1"], "site_id": ["PL1"], "used": [90.0], "available": [100.0],
                              "weeks_at_capacity": [3], "utilisation": [0.9]}),
        shortages=pl.DataFrame({"product_id": ["P1", "P2"], "site_id": ["DC1", "DC1"], "short": [40.0, 5.0],
                                "weeks": [2, 1], "reason": ["capacity", "release_lag"],
                                "detail": ["FL1 full in weeks 3-4", "inside the release time"]}),
        failed_rules=pl.DataFrame({"entity": ["orders"], "expectation": ["known_product(product_id)"],
                                   "unexpected_count": [3]}),
        quarantined=3,
        warehouse=Path("/data/warehouse.duckdb"),
    )
    return RunFacts(**(base | over))


def test_summary_shows_kpis_and_their_change_since_the_last_run():
    text = summary_markdown(_facts(), report_path=Path("/data/report.html"))
    assert "| fill_rate_units | 95.0% | 90.0% | +5.0 pts |" in text
    assert "| cost_total | 1,200 | 1,000 | +200 |" in text
    assert "Compared with run `run-1`." in text
    assert "3 row(s) quarantined" in text and "known_product(product_id)" in text
    assert "| FL1 | PL1 | 90.0% | 3 |" in text
    assert "/data/warehouse.published.duckdb" in text and "/data/report.html" in text


def test_first_run_and_refresh_runs_say_so():
    text = summary_markdown(_facts(previous_run_id=None, previous_kpis={},
                                   run={"run_id": "r", "kind": "nightly_refresh", "scenario": "base",
                                        "run_date": "2026-05-04", "solver": None, "solver_status": None,
                                        "problem_type": None},
                                   failed_rules=pl.DataFrame(schema={"entity": pl.String, "expectation": pl.String,
                                                                     "unexpected_count": pl.Int64}),
                                   quarantined=0))
    assert "No earlier run of this scenario" in text and "forecast refresh" in text
    assert "Every expectation passed" in text
    assert "| fill_rate_units | 95.0% | – | – |" in text


def test_shortage_rows_keep_the_order_and_reasons():
    rows = shortage_rows(_facts())
    assert [(r["product"], r["units_short"], r["reason"]) for r in rows] == [
        ("P1", 40.0, "capacity"), ("P2", 5.0, "release_lag")]


def test_runs_of_another_horizon_are_not_compared():
    text = summary_markdown(_facts(
        run={"run_id": "run-2", "kind": "weekly_planning", "scenario": "base", "run_date": "2026-05-04",
             "solver": "highs", "solver_status": "Optimal", "problem_type": "LP",
             "parameters": '{"plan": {"horizon_weeks": 13}, "demand_file": null}'},
        comparable=False))
    assert "13 weeks (demand: forecast)" in text
    assert "| fill_rate_units | 95.0% | 90.0% | not comparable |" in text
    assert "planned another horizon or demand source: not comparable" in text


def test_a_plan_not_proven_within_the_gap_asked_is_noted():
    run = {"run_id": "run-2", "kind": "weekly_planning", "scenario": "base", "run_date": "2026-05-04",
           "solver": "highs", "solver_status": "Feasible", "problem_type": "MIP", "mip_gap": 0.2,
           "parameters": '{"plan": {"mip_gap": 0.01}}'}
    text = summary_markdown(_facts(run=run))
    assert "**Feasible** (MIP). **Note:** this plan is proven within 20.00% of the cheapest possible" in text
    assert "**Note:**" not in summary_markdown(_facts(run=run | {"mip_gap": 0.009}))
