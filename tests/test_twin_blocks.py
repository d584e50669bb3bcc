"""The twin's paths in seeded blocks: a block's paths depend on the seed and its number alone, the blocks
combine into the figures of all paths at once, and whoever runs the blocks gives the same tables (the Dask
cluster's case is in tests/test_distributed.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from data_contracts import schema
from optimization import PlanConfig
from test_twin import H, _solved, _twin_inputs
from twin.config import TwinConfig
from twin.demand import build_demand_sampler
from twin.index import build_index
from twin.process import ProcessConfig, estimate_process
from twin.replay import _replay_block, replay_plan
from twin.sim import BLOCK_PATHS, FAN, BlockOutcome, PathBlock, combine_blocks, path_blocks, simulate_blocks


def noisy_inputs():
    """test_twin's network with demand spread and a process that fails, yields and releases at random."""
    net, plan, demand, inputs = _solved(PlanConfig(horizon_weeks=H))
    process = estimate_process(schema.BATCHES.empty(), inputs["routings"], ProcessConfig()).with_columns(
        learned_failure_rate=pl.lit(0.1), yield_sd=pl.lit(0.05), learned_release_weeks=pl.lit(1.4),
        release_weeks_sd=pl.lit(0.8))
    return _twin_inputs(net, plan, demand, inputs, process=process, spread=0.4, backlog=2)


def assert_same_result(a, b) -> None:
    for name in ("summary", "risk", "stock_fan", "weekly"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_path_blocks_cover_the_paths_in_order():
    blocks = path_blocks(2 * BLOCK_PATHS + 7, seed=4)
    assert [(b.number, b.first, b.paths) for b in blocks] == [
        (0, 0, BLOCK_PATHS), (1, BLOCK_PATHS, BLOCK_PATHS), (2, 2 * BLOCK_PATHS, 7)]
    assert path_blocks(3, seed=4, size=5) == [PathBlock(0, 0, 3, 4)]
    # a block's streams: its seed and number alone (not the number of paths or blocks around it)
    a, b = PathBlock(1, 10, 10, 4).generators(2), PathBlock(1, 99, 3, 4).generators(2)
    assert all((x.random(5) == y.random(5)).all() for x, y in zip(a, b, strict=True))
    assert not (PathBlock(2, 10, 10, 4).generators(1)[0].random(5) == PathBlock(1, 10, 10, 4).generators(1)[0]
                .random(5)).any()
    assert not (PathBlock(1, 10, 10, 5).generators(1)[0].random(5) == a[0].random(5)).any()


def test_the_tables_are_the_same_whoever_runs_the_blocks():
    inputs, config = noisy_inputs(), TwinConfig(paths=2 * BLOCK_PATHS + 13, seed=9)
    here = replay_plan(inputs, config)
    with ThreadPoolExecutor(max_workers=3) as pool:  # blocks finish out of order, results come in order
        threads = replay_plan(inputs, config, pool)
    assert_same_result(here, threads)
    other_seed = replay_plan(inputs, config.model_copy(update={"seed": 10}))
    assert not other_seed.summary.equals(here.summary)  # the check sees a difference when there is one


def test_a_longer_replay_starts_with_the_paths_of_a_shorter_one():
    """Path i is the same path whatever the number of paths: the first block of a two-block replay is the
    one-block replay, path for path (demand, process and every figure of the week loop)."""
    inputs = noisy_inputs()
    config = TwinConfig(paths=BLOCK_PATHS, seed=3)
    index = build_index(inputs.network, inputs.plan, inputs.forecast.select("product_id", "site_id").unique())
    sampler = build_demand_sampler(index, inputs.forecast, inputs.series, inputs.history, config,
                                   np.random.default_rng(0), inputs.network.week_index())
    run_block = partial(_replay_block, index, sampler, inputs.process, inputs.max_backlog_weeks, config)
    one = simulate_blocks(run_block, BLOCK_PATHS, seed=3)
    two = simulate_blocks(run_block, 2 * BLOCK_PATHS, seed=3)
    for name in ("demand", "on_time", "short_weeks", "served_weeks", "above_plan", "expired_units",
                 "released_sold", "end_stock"):
        assert np.array_equal(getattr(two, name)[:BLOCK_PATHS], getattr(one, name)), name
    assert not np.array_equal(two.demand[BLOCK_PATHS:], one.demand)  # block 1 draws other paths
    assert one.demand.std(axis=0).max() > 0 and one.end_stock.std(axis=0).max() > 0  # the paths vary


def _block(rng: np.random.Generator, paths: int, n: int = 3, d: int = 2, h: int = 4) -> BlockOutcome:
    per_path = {k: rng.random((paths, d)) for k in ("demand", "on_time", "short_weeks", "demand_weeks",
                                                     "served_weeks", "above_plan")}
    short = rng.random((paths, d, h)) < 0.3
    return BlockOutcome(
        **per_path, short_count=short.sum(axis=0), expired_units=rng.random(paths),
        expired_value=rng.random(paths), released_sold=rng.random(paths),
        unserved=rng.random(paths), end_stock=rng.random((paths, n)),
        closing=rng.random((n, h, paths)), sums={"closing": rng.random((n, h)), "backlog": rng.random((d, h))},
    )


@pytest.mark.parametrize("sizes", [(5,), (3, 5), (1, 4, 2, 6)])
def test_combined_blocks_are_the_figures_of_all_paths_at_once(sizes):
    rng = np.random.default_rng(sum(sizes))
    blocks = [_block(rng, s) for s in sizes]
    out = combine_blocks(blocks)
    closing = np.concatenate([b.closing for b in blocks], axis=2)
    # the naive version: percentiles over every path's closing stock, week by week, node by node
    n, h, p = closing.shape
    for i in range(n):
        for t in range(h):
            assert np.array_equal(out.fan[:, i, t], np.percentile(closing[i, t, :], FAN))
    assert out.demand.shape == (p, 2) and np.array_equal(out.demand[:sizes[0]], blocks[0].demand)
    assert np.array_equal(out.short_prob, sum(b.short_count for b in blocks) / p)
    assert np.allclose(out.mean["closing"], sum(b.sums["closing"] for b in blocks) / p)
    assert out.expired_units.shape == (p,) and out.end_stock.shape == (p, 3)
    assert np.array_equal(out.released_sold, np.concatenate([b.released_sold for b in blocks]))
    assert np.array_equal(out.above_plan, np.concatenate([b.above_plan for b in blocks]))
