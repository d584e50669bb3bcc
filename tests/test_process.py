"""Learning the process from batch records: shrinkage toward the routing, convergence, the plan switch."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest

from data_contracts import schema
from flows.stages_twin import learn_process
from optimization import examples as ex
from twin.process import ProcessConfig, apply_process_estimates, estimate_process
from warehouse.db import open_warehouse

ROUTINGS = ex.routings(
    dict(product_id="A", resource_id="R1", **{"yield": 0.92}, release_weeks=3),
    dict(product_id="B", resource_id="R1", **{"yield": 0.80}, release_weeks=2),
)


def _batches(n: int, true_yield: float, failure: float, weeks: int, seed: int = 1, product: str = "A",
             extra_day: int = 0) -> pl.DataFrame:
    """``n`` decided batches of product A on R1 with the given truth; starts on Mondays a week apart."""
    rng = np.random.default_rng(seed)
    start = [date(2024, 1, 1) + timedelta(weeks=i) for i in range(n)]
    return ex.frame(schema.BATCHES, [
        dict(batch_id=f"{product}{i}", product_id=product, resource_id="R1", start_date=s,
             release_date=s + timedelta(weeks=weeks, days=extra_day), planned_qty=1000.0,
             actual_qty=float(round(1000 * rng.normal(true_yield, 0.02))),
             qc_passed=bool(rng.random() >= failure))
        for i, s in enumerate(start)
    ])


def _row(est: pl.DataFrame, product: str = "A") -> dict:
    return est.filter(pl.col("product_id") == product).row(0, named=True)


def test_learned_yield_converges_to_the_truth_with_many_batches():
    est = estimate_process(_batches(400, 0.85, 0.10, 4), ROUTINGS, ProcessConfig(window_batches=400))
    a = _row(est)
    assert a["batches"] == 400
    assert a["learned_yield"] == pytest.approx(0.85, abs=0.005)
    assert a["yield_sd"] == pytest.approx(0.02, abs=0.004)
    assert a["learned_failure_rate"] == pytest.approx(0.10, abs=0.04)
    assert a["learned_release_weeks"] == pytest.approx(4.0, abs=0.06)  # prior 3 with weight 5 of 405
    assert a["effective_release_weeks"] == 4
    assert a["effective_yield"] == pytest.approx(a["learned_yield"] * (1 - a["learned_failure_rate"]))


def test_two_batches_stay_near_the_routing():
    batches = _batches(2, 0.80, 0.0, 3)
    est = estimate_process(batches, ROUTINGS, ProcessConfig(prior_batches=5))
    a = _row(est)
    observed = float((batches["actual_qty"] / batches["planned_qty"]).mean())
    # conjugate normal shrinkage: (5 × 0.92 + 2 × observed) / 7
    assert a["learned_yield"] == pytest.approx((5 * 0.92 + 2 * observed) / 7)
    assert abs(a["learned_yield"] - 0.92) < abs(a["learned_yield"] - observed)
    assert a["routing_yield"] == 0.92 and a["routing_release_weeks"] == 3


def test_only_the_most_recent_batches_count():
    old = _batches(30, 0.70, 0.0, 3, seed=2)
    recent = _batches(10, 0.90, 0.0, 3, seed=3).with_columns(
        pl.col("start_date") + pl.duration(weeks=100), pl.col("release_date") + pl.duration(weeks=100),
        (pl.col("batch_id") + "r").alias("batch_id"))
    config = ProcessConfig(window_batches=10, prior_batches=0)
    est = estimate_process(pl.concat([old, recent]), ROUTINGS, config)
    assert _row(est)["batches"] == 10
    assert _row(est)["learned_yield"] == pytest.approx(0.90, abs=0.02)


def test_routing_without_batches_keeps_its_values_and_gets_the_pooled_failure_rate():
    batches = _batches(50, 0.9, 0.2, 3)
    est = estimate_process(batches, ROUTINGS, ProcessConfig(window_batches=50))
    b = _row(est, "B")
    pooled = float((~batches["qc_passed"]).mean())
    assert b["batches"] == 0 and b["last_batch_start"] is None
    assert b["learned_yield"] == 0.80 and b["learned_release_weeks"] == 2.0
    assert b["learned_failure_rate"] == pytest.approx(pooled)
    assert b["effective_release_weeks"] == 2


def test_weeks_to_release_count_calendar_weeks_and_round_up():
    # started Monday, released Friday of the week three weeks later: 3 weeks in weekly buckets
    est = estimate_process(_batches(20, 0.9, 0.0, 3, extra_day=4), ROUTINGS, ProcessConfig(prior_batches=0))
    assert _row(est)["learned_release_weeks"] == 3.0 and _row(est)["effective_release_weeks"] == 3
    # one batch in five a week late: mean 3.2 → planned with 4 (rounded up)
    late = _batches(20, 0.9, 0.0, 3).with_columns(
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(pl.col("release_date") + pl.duration(weeks=1))
        .otherwise(pl.col("release_date")).alias("release_date"))
    a = _row(estimate_process(late, ROUTINGS, ProcessConfig(prior_batches=0)))
    assert a["learned_release_weeks"] == pytest.approx(3.2) and a["effective_release_weeks"] == 4


def test_undecided_and_failed_batches():
    b = _batches(10, 0.9, 0.0, 3).with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(None).otherwise(pl.col("release_date"))
        .alias("release_date"),
        pl.when(pl.int_range(pl.len()) >= 8).then(False).otherwise(pl.col("qc_passed")).alias("qc_passed"),
        pl.when(pl.int_range(pl.len()) >= 8).then(0.0).otherwise(pl.col("actual_qty")).alias("actual_qty"),
    )
    a = _row(estimate_process(b, ROUTINGS, ProcessConfig(prior_batches=0, failure_prior_batches=0)))
    assert a["batches"] == 8 and a["failed_batches"] == 2  # 2 undecided left out
    assert a["learned_failure_rate"] == pytest.approx(0.25)
    assert a["learned_yield"] > 0.85  # rejected batches' zero quantities are not yields


def test_apply_process_estimates_replaces_yield_and_release_weeks():
    est = estimate_process(_batches(40, 0.85, 0.1, 4), ROUTINGS, ProcessConfig())
    out = apply_process_estimates(ROUTINGS, est)
    assert out.columns == ROUTINGS.columns and out.height == ROUTINGS.height
    a, est_a = out.filter(pl.col("product_id") == "A").row(0, named=True), _row(est)
    assert a["yield"] == est_a["effective_yield"] and a["release_weeks"] == est_a["effective_release_weeks"]
    # idempotent: applying again changes nothing; no estimate: unchanged
    assert apply_process_estimates(out, est).equals(out)
    assert apply_process_estimates(ROUTINGS, est.filter(pl.col("product_id") == "A"))["yield"][1] == 0.80


@pytest.mark.parametrize("use_learned", [True, False])
def test_learn_process_stage_stages_estimates_and_routings(tmp_path, use_learned):
    path = tmp_path / "wh.duckdb"
    with open_warehouse(path) as wh:
        run_id = wh.start_run(kind="weekly_planning", scenario="base", run_date=date(2024, 6, 3),
                              parameters={}, code_version="test")
        wh.stage(run_id, schema.clean_table_name("routings"), ROUTINGS)
        wh.stage(run_id, schema.clean_table_name("batches"), _batches(40, 0.85, 0.1, 4))
    params = SimpleNamespace(warehouse=path, process=ProcessConfig(use_learned=use_learned))
    first = learn_process(params, run_id)
    again = learn_process(params, run_id)  # a retried stage starts from the contract's routings again
    assert first == again and first["applied"] is use_learned
    with open_warehouse(path) as wh:
        est = wh.staged(run_id, schema.PROCESS_ESTIMATES.name)
        routings = wh.staged(run_id, schema.clean_table_name("routings"))
        assert est["applied"].to_list() == [use_learned] * 2
        a = routings.filter(pl.col("product_id") == "A").row(0, named=True)
        assert a["yield"] == (_row(est)["effective_yield"] if use_learned else 0.92)
        wh.commit_run(run_id)
        assert wh.read(schema.PROCESS_ESTIMATES.name, run_id).height == 2
