"""The deployments of prefect.yaml on a real Prefect server and process worker, on 127.0.0.1.

One server, one work pool, `prefect deploy --all` from the repository's prefect.yaml, one worker; the
weekly plan triggered with parameters, a transient I/O failure retried, a failing stage, two runs at once,
and parameters refused before any work.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import duckdb
import httpx
import pytest

from demo.network import DEMO_RUN_DATE, demo_network, write_demo
from warehouse.publish import published_path

from prefect_server import prefect_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
POOL = "plantwin-process"  # the name prefect.yaml's work pool definition uses
WEEKLY = "weekly-planning/weekly-planning"


def _deploy_env(input_dir: Path, warehouse: Path) -> dict[str, str]:
    return {"PWD": str(REPO), "PREFECT_CLI_PROMPT": "false", "PLANTWIN_INPUT_DIR": str(input_dir),
            "PLANTWIN_WAREHOUSE": str(warehouse)}


@pytest.fixture(scope="module")
def server(tmp_path_factory, network, warehouse):
    home = tmp_path_factory.mktemp("prefect-home")
    logs = tmp_path_factory.mktemp("prefect-logs")
    with prefect_server(home, logs) as srv:
        srv.cli("work-pool", "create", POOL, "--type", "process")
        srv.cli("deploy", "--all", cwd=REPO, extra_env=_deploy_env(network, warehouse))
        srv.start_worker(POOL, cwd=REPO, log=logs / "worker.log")
        srv.logs = logs
        yield srv


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("deploy-network") / "input"
    write_demo(demo_network(products=6, dcs=2, weeks_history=80, seed=11), folder)
    return folder


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("deploy-wh") / "warehouse.duckdb"


def _params(input_dir: Path, warehouse: Path, **plan) -> dict:
    return {"params": {"input_dir": str(input_dir), "warehouse": str(warehouse),
                       "run_date": DEMO_RUN_DATE.isoformat(), "plan": {"horizon_weeks": 10, **plan}}}


def _query(warehouse: Path, sql: str, *args):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql, list(args)).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def first_run(server, network, warehouse):
    flow_run_id = server.run_deployment(WEEKLY, _params(network, warehouse))
    run = server.wait(flow_run_id)
    assert run["state"]["type"] == "COMPLETED", (server.logs / "worker.log").read_text()[-3000:]
    return flow_run_id


def test_weekly_planning_runs_from_the_deployment(server, first_run, warehouse):
    (status, kind), = _query(warehouse, "SELECT status, kind FROM runs")
    assert (status, kind) == ("success", "weekly_planning")
    for table in ("forecast", "plan_production", "plan_inventory", "plan_kpis", "plan_capacity"):
        assert _query(warehouse, f"SELECT count(*) FROM {table}")[0][0] > 0, table
    keys = {a["key"] for a in server.artifacts(first_run)}
    assert {"weekly-planning-summary", "weekly-planning-shortages"} <= keys
    summary = next(a for a in server.artifacts(first_run) if a["key"] == "weekly-planning-summary")
    assert "fill_rate_units" in summary["data"] and str(warehouse) in summary["data"]
    assert published_path(warehouse).exists()


def test_deployments_carry_schedules_and_the_working_directory(server):
    for name, cron in (("nightly-refresh/nightly-refresh", "0 2 * * *"), (WEEKLY, "0 5 * * 1")):
        deployment = server.api("GET", f"/deployments/name/{name}")
        schedules = [s["schedule"] for s in deployment["schedules"]]
        assert [(s["cron"], s["timezone"]) for s in schedules] == [(cron, "Europe/Brussels")]
        assert deployment["pull_steps"] == [
            {"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
        assert deployment["work_pool_name"] == POOL


def test_a_transient_io_failure_is_retried(server, first_run, network, tmp_path):
    late = tmp_path / "arrives-late"
    warehouse = tmp_path / "warehouse.duckdb"
    flow_run_id = server.run_deployment(WEEKLY, _params(late, warehouse))

    def deliver_after_first_failure():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            runs = [t for t in server.task_runs(flow_run_id) if t["name"].startswith("ingest")]
            if runs and runs[0]["state"] and runs[0]["state"]["name"] in ("AwaitingRetry", "Retrying"):
                shutil.copytree(network, late)
                return
            time.sleep(0.3)

    courier = threading.Thread(target=deliver_after_first_failure)
    courier.start()
    run = server.wait(flow_run_id)
    courier.join()
    assert run["state"]["type"] == "COMPLETED"
    ingest = next(t for t in server.task_runs(flow_run_id) if t["name"].startswith("ingest"))
    assert ingest["run_count"] >= 2  # failed while the folder was missing, then succeeded


def test_a_failing_stage_fails_the_run_and_leaves_no_outputs(server, first_run, network, warehouse, tmp_path):
    broken = tmp_path / "input"
    shutil.copytree(network, broken)
    products = (broken / "products.csv").read_text().splitlines()
    # every product with a service level of 7: more than 5% rejected, the contracts stop the run
    header = products[0].split(",")
    at = header.index("service_level")
    rows = [",".join(v if i != at else "7" for i, v in enumerate(line.split(","))) for line in products[1:]]
    (broken / "products.csv").write_text("\n".join([products[0], *rows]) + "\n")
    published_before = published_path(warehouse).read_bytes()

    flow_run_id = server.run_deployment(WEEKLY, _params(broken, warehouse))
    run = server.wait(flow_run_id)
    assert run["state"]["type"] == "FAILED"
    tasks = {t["name"].rsplit("-", 1)[0]: t for t in server.task_runs(flow_run_id)}
    assert tasks["contracts"]["state"]["type"] == "FAILED"
    assert tasks["contracts"]["run_count"] == 1  # pure stages do not retry
    assert tasks["ingest"]["run_count"] == 1
    (run_id, error), = _query(warehouse, "SELECT run_id, error FROM runs WHERE status = 'failed'")
    assert "products" in error and "service_level" in error
    for table in ("clean_orders", "forecast", "plan_production", "plan_kpis"):
        assert _query(warehouse, f"SELECT count(*) FROM {table} WHERE run_id = ?", run_id)[0][0] == 0
    assert published_path(warehouse).read_bytes() == published_before
    assert len(_query(warehouse, "SELECT run_id FROM runs WHERE status = 'success'")) == 1


def test_two_runs_at_once_do_not_interleave(server, first_run, network, warehouse):
    before = {r for (r,) in _query(warehouse, "SELECT run_id FROM runs")}
    ids = [server.run_deployment(WEEKLY, _params(network, warehouse)) for _ in range(2)]
    states = [server.wait(i, timeout=600)["state"]["type"] for i in ids]
    assert states == ["COMPLETED", "COMPLETED"]
    new = _query(warehouse, "SELECT run_id, status, started_at, finished_at FROM runs ORDER BY started_at")
    new = [r for r in new if r[0] not in before]
    assert [r[1] for r in new] == ["success", "success"]
    assert new[0][3] <= new[1][2]  # the second started after the first finished: no interleaving
    for run_id, *_ in new:
        counts = [_query(warehouse, f"SELECT count(*) FROM {t} WHERE run_id = ?", run_id)[0][0]
                  for t in ("forecast", "plan_inventory", "plan_kpis")]
        assert min(counts) > 0
    stages = _query(warehouse, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'stage_%'")
    assert stages == []


def test_bad_parameters_are_refused_before_any_work(server, first_run, network, warehouse):
    before = _query(warehouse, "SELECT count(*) FROM runs")[0][0]
    # the server checks the parameter schema: a horizon of 0 weeks never becomes a flow run
    with pytest.raises(httpx.HTTPStatusError) as info:
        server.run_deployment(WEEKLY, _params(network, warehouse, horizon_weeks=0))
    assert "horizon_weeks" in info.value.response.text
    # a well-formed but unknown scenario fails the flow run before it touches the warehouse
    flow_run_id = server.run_deployment(
        WEEKLY, {"params": {**_params(network, warehouse)["params"], "scenario": "no-such-scenario"}})
    run = server.wait(flow_run_id)
    assert run["state"]["type"] == "FAILED"
    assert "unknown scenario 'no-such-scenario'" in run["state"]["message"]
    assert server.task_runs(flow_run_id) == []
    assert _query(warehouse, "SELECT count(*) FROM runs")[0][0] == before


def test_a_deployment_whose_input_folder_does_not_exist_fails_at_deploy_time(server, tmp_path):
    """Not at 02:00: `prefect deploy` stops, naming the deployment, the setting and the folder."""
    missing = tmp_path / "no-such-input"
    with pytest.raises(AssertionError) as failed:
        server.cli("deploy", "--all", cwd=REPO, extra_env=_deploy_env(missing, tmp_path / "w.duckdb"))
    text = " ".join(str(failed.value).split())
    assert "deployment 'nightly-refresh': params.input_dir" in text
    assert f"the input folder {missing} does not exist" in text
    assert not (REPO / "plantwin-data").exists()  # nothing is left in the checkout


def test_the_tests_server_fires_no_schedule(server, first_run):
    """prefect.yaml's schedules are live; the tests' server runs no scheduler service, so none of them makes a
    flow run on the tests' warehouse. With the scheduler on, the server had made scheduled runs of both
    scheduled deployments within a minute of the deploy, and a suite that crossed Monday 04:00 UTC had
    weekly-planning run beside its tests (stop 40's CI). Last in the module: minutes after the deploy."""
    scheduled = server.api("POST", "/flow_runs/filter",
                           json={"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}})
    assert scheduled == []
    runs = server.api("POST", "/flow_runs/filter", json={})
    assert all(r["auto_scheduled"] is False for r in runs), [r["name"] for r in runs if r["auto_scheduled"]]
