"""The forecast on a real Dask cluster started here (2 worker processes on 127.0.0.1): the same frames as the
local engine, the work done by the cluster's workers, and a clear error for an address nobody answers."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pydantic import ValidationError
from typer.testing import CliRunner

from flows.cluster import ClusterError, arrays_from_the_heap, check_workers, forecast_executor, worker_versions
from forecasting import ForecastConfig, forecast_demand
from forecasting.synthetic import synthetic_series

distributed = pytest.importorskip("distributed")

H = 8


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # its health HTTP server: local, free port
    ) as local:
        yield local


@pytest.fixture(scope="module")
def series() -> pl.DataFrame:
    # every class: seasonal, smooth, intermittent, lumpy, trend and new series → several chunks per phase
    return synthetic_series(n=40, weeks=120, seed=16)


def _config(**kw) -> ForecastConfig:
    return ForecastConfig(backtest_windows=2, chunks_per_job=2, **kw)


def _assert_same(a, b) -> None:
    for name in ("forecast", "series", "backtest"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def test_cluster_forecast_is_identical_to_the_local_engine(cluster, series):
    with forecast_executor(_config(cluster=cluster.scheduler_address)) as (executor, config):
        assert executor is not None and config.n_jobs == 2  # chunks sized by the cluster's worker threads
        with distributed.get_task_stream(executor.client) as stream:
            remote = forecast_demand(series, H, config, executor)
    ran = [t for t in stream.data if t["key"].startswith("run_task")]
    assert len(ran) >= 4 and len({t["worker"] for t in ran}) == 2  # the chunks ran on both workers

    # the local engine (one process under parallel_min_series series; other chunks): the same numbers.
    # bench/distributed.py also checks the process pool of 2, which cuts the same chunks as this cluster.
    local = forecast_demand(series, H, _config(n_jobs=1))
    _assert_same(remote, local)
    assert remote.forecast.height == series.get_column("unique_id").n_unique() * H


def test_no_cluster_setting_changes_nothing(series):
    config = _config(n_jobs=1)
    with forecast_executor(config) as (executor, same):
        assert executor is None and same is config


def test_workers_run_the_pipelines_code(cluster):
    assert len(worker_versions()["forecasting"]) == 12  # a digest of the code, not "missing"
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as client:
        there = client.run(worker_versions)
        assert len(there) == 2
        assert all(v == worker_versions() for v in there.values())
        check_workers(client, cluster.scheduler_address)  # the same: passes
        assert all(client.run(arrays_from_the_heap).values())  # glibc workers: a fixed mmap threshold
        # a pipeline on other code (another statsforecast, edited forecasting) refuses both workers
        other = {**worker_versions(), "statsforecast": "0.0.1", "forecasting": "0123456789ab"}
        with pytest.raises(ClusterError, match=r"workers do not run the pipeline's code") as error:
            check_workers(client, cluster.scheduler_address, here=other)
    assert all(worker in str(error.value) for worker in there)


def test_an_address_nobody_answers_fails_fast_naming_the_setting():
    config = _config(cluster="tcp://127.0.0.1:9", cluster_timeout_s=1)
    with pytest.raises(ClusterError, match=r"forecast\.cluster = 'tcp://127\.0\.0\.1:9'.*no Dask scheduler"):
        with forecast_executor(config):
            pass


@pytest.mark.parametrize("bad", ["127.0.0.1:8786", "dask", "tcp://", ""])
def test_cluster_must_be_an_address_or_local(bad):
    with pytest.raises(ValidationError, match="cluster must be a Dask scheduler address"):
        ForecastConfig(cluster=bad)


def test_cli_forecast_on_the_cluster_writes_the_local_forecast(cluster, series, tmp_path):
    from cli.main import app

    source = tmp_path / "series.parquet"
    series.write_parquet(source)
    outs = {}
    for name, extra in {"local": [], "cluster": ["--cluster", cluster.scheduler_address]}.items():
        outs[name] = tmp_path / f"{name}.parquet"
        result = CliRunner().invoke(app, ["forecast", "--series", str(source), "--horizon", str(H),
                                          "--out", str(outs[name]), *extra])
        assert result.exit_code == 0, result.output
    assert_frame_equal(pl.read_parquet(outs["cluster"]), pl.read_parquet(outs["local"]), check_exact=True)


def test_cli_names_the_setting_when_the_cluster_is_unreachable(tmp_path, series):
    from cli.main import app

    source = tmp_path / "series.parquet"
    series.write_parquet(source)
    result = CliRunner().invoke(app, ["forecast", "--series", str(source), "--horizon", str(H),
                                      "--out", str(tmp_path / "out.parquet"), "--cluster", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "forecast.cluster" in result.output and not (tmp_path / "out.parquet").exists()


def test_local_starts_a_cluster_of_n_jobs_workers_and_stops_it():
    with forecast_executor(_config(cluster="local", n_jobs=2)) as (executor, config):
        assert config.n_jobs == 2 and len(executor.client.nthreads()) == 2
        assert executor.client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert list(executor.map(abs, [-3, 2, -1])) == [3, 2, 1]  # results in the items' order
        client = executor.client
    assert client.status == "closed"


@pytest.mark.slow
def test_weekly_run_with_forecast_cluster_stores_the_local_forecast(cluster, tmp_path):
    """The pipeline's forecast stage (direct path) with ``forecast.cluster`` set: the stored forecast,
    series choices and backtest scores equal a run without it."""
    from data_contracts import schema
    from demo.network import DEMO_RUN_DATE, demo_network, write_demo
    from flows import pipeline
    from flows.settings import RunParameters
    from optimization import PlanConfig
    from warehouse.db import open_warehouse

    folder = tmp_path / "input"
    write_demo(demo_network(products=6, dcs=2, weeks_history=80, seed=11), folder)
    tables = {}
    for name, forecast in {"local": ForecastConfig(),
                           "cluster": ForecastConfig(cluster=cluster.scheduler_address)}.items():
        warehouse = tmp_path / name / "warehouse.duckdb"
        with distributed.Client(cluster.scheduler_address, set_as_default=False) as watcher:
            with distributed.get_task_stream(watcher) as stream:  # every task the scheduler runs
                pipeline.weekly(RunParameters(input_dir=folder, warehouse=warehouse, run_date=DEMO_RUN_DATE,
                                              plan=PlanConfig(horizon_weeks=8), forecast=forecast))
        chunks = [t for t in stream.data if t["key"].startswith("run_task")]
        assert bool(chunks) == (name == "cluster")  # the cluster ran the chunks only when configured
        with open_warehouse(warehouse, read_only=True) as wh:
            tables[name] = {t: wh.read(t).drop("run_id").sort(pl.all()) for t in
                            (schema.FORECAST.name, schema.FORECAST_SERIES.name, schema.FORECAST_BACKTEST.name)}
    assert tables["local"][schema.FORECAST.name].height > 0
    for table, frame in tables["cluster"].items():
        assert_frame_equal(frame, tables["local"][table], check_exact=True)


# ------------------------------------------------------------------------------------- the twin's paths
def test_twin_on_the_cluster_is_identical_to_the_local_replay(cluster):
    from test_twin_blocks import assert_same_result, noisy_inputs

    from flows.cluster import twin_executor
    from twin.config import TwinConfig
    from twin.replay import replay_plan
    from twin.sim import BLOCK_PATHS

    inputs, config = noisy_inputs(), TwinConfig(paths=3 * BLOCK_PATHS + 17, seed=7)  # 4 blocks, one short
    local = replay_plan(inputs, config)
    with twin_executor(config.model_copy(update={"cluster": cluster.scheduler_address})) as executor:
        with distributed.get_task_stream(executor.client) as stream:
            remote = replay_plan(inputs, config, executor)
    ran = [t for t in stream.data if t["key"].startswith("_replay_block")]
    assert len(ran) == 4 and len({t["worker"] for t in ran}) == 2  # the blocks ran on both workers
    assert_same_result(remote, local)


def _stored_run(tmp_path):
    """test_twin's plan stored as a successful run (with a forecast that spreads) in a new warehouse."""
    from test_twin import stored_run

    from optimization import PlanConfig

    path = tmp_path / "wh.duckdb"
    stored_run(path, PlanConfig(horizon_weeks=8), spread=0.3)
    return path


def test_twin_stage_with_twin_cluster_stores_the_local_tables(cluster, tmp_path):
    """The flow's edge: ``twin.cluster`` set, the stored twin tables equal a replay without it."""
    from data_contracts import schema
    from flows.settings import TwinParameters
    from flows.stages_twin import replay
    from twin.config import TwinConfig
    from warehouse.db import open_warehouse

    path = _stored_run(tmp_path)
    ids = {}
    for name, where in {"local": None, "cluster": cluster.scheduler_address}.items():
        ids[name] = replay(TwinParameters(warehouse=path, twin=TwinConfig(paths=600, seed=2, cluster=where)))
    with open_warehouse(path, read_only=True) as wh:
        for table in (schema.TWIN_SUMMARY, schema.TWIN_RISK, schema.TWIN_STOCK_FAN):
            frames = {name: wh.read(table.name).filter(pl.col("twin_id") == out["twin_id"])
                      .drop("twin_id", "created_at", strict=False) for name, out in ids.items()}
            assert frames["local"].height > 0
            assert_frame_equal(frames["cluster"], frames["local"], check_exact=True)


def test_twin_cluster_nobody_answers_fails_naming_the_setting_and_stores_nothing(tmp_path):
    from data_contracts import schema
    from flows.settings import TwinParameters
    from flows.stages_twin import replay
    from twin.config import TwinConfig
    from warehouse.db import open_warehouse

    path = _stored_run(tmp_path)
    config = TwinConfig(paths=20, cluster="tcp://127.0.0.1:9", cluster_timeout_s=1)
    with pytest.raises(ClusterError, match=r"twin\.cluster = 'tcp://127\.0\.0\.1:9'.*no Dask scheduler"):
        replay(TwinParameters(warehouse=path, twin=config))
    with open_warehouse(path, read_only=True) as wh:
        assert wh.read(schema.TWIN_SUMMARY.name).is_empty()


@pytest.mark.parametrize("bad", ["127.0.0.1:8786", "dask", ""])
def test_twin_cluster_must_be_an_address_or_local(bad):
    from twin.config import TwinConfig

    with pytest.raises(ValidationError, match="cluster must be a Dask scheduler address"):
        TwinConfig(cluster=bad)
