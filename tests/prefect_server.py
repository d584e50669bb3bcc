"""A real Prefect server and worker on 127.0.0.1 for tests, stopped by process id (and process group)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PrefectServer:
    """A running server: its API URL, the environment that talks to it, and what was started."""

    api_url: str
    env: dict[str, str]
    home: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def cli(self, *args: str, cwd: Path | None = None, timeout: float = 300,
            extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a ``prefect`` CLI command against this server; raises with its output if it fails."""
        env = {**self.env, **(extra_env or {})}
        done = subprocess.run([str(BIN / "prefect"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise AssertionError(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def start_worker(self, pool: str, cwd: Path, log: Path) -> subprocess.Popen:
        """Start a process worker in its own process group (so it and its flow runs stop together)."""
        proc = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", pool, "--limit", "4"],
            cwd=cwd, env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append(proc)
        return proc

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API; like Prefect's own client, retry when the server says it is busy (503)."""
        for attempt in range(6):
            try:
                response = httpx.request(method, f"{self.api_url}{path}", timeout=30, **kwargs)
            except httpx.TransportError:
                if attempt == 5:
                    raise
            else:
                if response.status_code not in (502, 503, 504) or attempt == 5:
                    response.raise_for_status()
                    return response.json() if response.content else None
            time.sleep(min(2**attempt, 10))

    def run_deployment(self, name: str, parameters: dict[str, Any]) -> str:
        """Create a flow run of deployment ``flow/deployment`` with parameters; returns its id."""
        deployment = self.api("GET", f"/deployments/name/{name}")
        run = self.api("POST", f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters})
        return run["id"]

    def wait(self, flow_run_id: str, timeout: float = 420) -> dict[str, Any]:
        """Poll a flow run until it reaches a final state; returns the flow run."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/flow_runs/{flow_run_id}")
            if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                return run
            time.sleep(2)
        raise AssertionError(f"flow run {flow_run_id} did not finish in {timeout} s: {run['state']}")

    def task_runs(self, flow_run_id: str) -> list[dict[str, Any]]:
        return self.api("POST", "/task_runs/filter",
                        json={"flow_runs": {"id": {"any_": [flow_run_id]}}, "limit": 200})

    def artifacts(self, flow_run_id: str) -> list[dict[str, Any]]:
        return self.api("POST", "/artifacts/filter",
                        json={"artifacts": {"flow_run_id": {"any_": [flow_run_id]}}, "limit": 50})


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextmanager
def prefect_server(home: Path, log_dir: Path) -> Iterator[PrefectServer]:
    """Start ``prefect server start`` on 127.0.0.1 with its own PREFECT_HOME; stop it and its workers after."""
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        # no scheduler service: prefect.yaml's schedules are live (weekly-planning Mondays 05:00, nightly-refresh
        # 02:00, Brussels), and a suite running across one of those minutes had its deployment run on the
        # tests' warehouse beside theirs (stop 40's CI, Monday 04:00 UTC: two successful runs where one was
        # asserted). The schedules are still deployed and checked; only nothing fires them.
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    }
    env.pop("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", None)
    server_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
    server = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=server_env, stdout=(log_dir / "server.log").open("w"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    handle = PrefectServer(api_url, env, home, [server])
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("prefect server did not start:\n" + (log_dir / "server.log").read_text())
            time.sleep(0.5)
        yield handle
    finally:
        for proc in reversed(handle.processes):
            _stop(proc)
