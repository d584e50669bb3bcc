"""A command loads only the libraries it uses: each costs seconds in a fresh process (Great Expectations,
statsforecast, Prefect), and a planner's command should answer in seconds.

Each case runs the command in a fresh interpreter and lists which of the heavy libraries are in
``sys.modules`` when it ends. The direct path (no Prefect server configured, no ``--prefect``) never imports
Prefect; only the stages that need them import Great Expectations (the input or plan contracts where a row
is broken, and their Data Docs) and statsforecast (the forecast).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from demo.network import DEMO_RUN_DATE, demo_network, write_demo

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("prefect", "great_expectations", "statsforecast", "pulp", "highspy", "dask", "distributed")

#: runs the command line in-process, then writes which heavy libraries were loaded to the file in argv[1]
_DUMP = """
import atexit, json, sys
out, argv = sys.argv[1], sys.argv[2:]
heavy = {heavy!r}
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(m for m in heavy if m in sys.modules))))
{body}
"""
_CLI = """
from cli.main import app
app(argv)
"""


def _loaded(body: str, *args: str, cwd: Path, ok: tuple[int, ...] = (0,), heavy: tuple[str, ...] = HEAVY
            ) -> set[str]:
    """The ``heavy`` libraries loaded by ``body`` (Python run with ``argv`` = ``args``) in a fresh process."""
    out = cwd / "loaded.json"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", _DUMP.format(heavy=heavy, body=body), str(out), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode in ok, done.stdout[-2000:] + done.stderr[-3000:]
    return set(json.loads(out.read_text()))


@pytest.fixture(scope="module")
def network(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("imports") / "input"
    write_demo(demo_network(products=5, dcs=2, weeks_history=60, seed=5), folder)
    return folder


def test_the_command_line_starts_without_any_heavy_library(tmp_path):
    assert _loaded("import cli.main", cwd=tmp_path) == set()


def test_settings_and_the_direct_path_load_no_prefect_gx_or_statsforecast(tmp_path):
    # what every planning command imports before its first stage: the parameters and the run bodies
    body = "import flows.settings, flows.pipeline, flows.stages, flows.stages_twin, flows.stages_scenario"
    assert _loaded(body, cwd=tmp_path).isdisjoint({"prefect", "great_expectations", "statsforecast"})


def test_the_ingest_and_contracts_stages_load_no_solver(tmp_path):
    # what a run's first stages import (the bench's child, a nightly refresh before its forecast): the run's
    # parameters and the stages, without scipy, PuLP or highspy (0.35 CPU-s), which only the plan stage loads
    loaded = _loaded("import flows.settings, flows.stages, flows.stages_forecast, flows.stages_plan",
                     cwd=tmp_path, heavy=(*HEAVY, "scipy"))
    assert loaded.isdisjoint({"scipy", "pulp", "highspy", "statsforecast"})


def test_the_prefect_flows_still_import_prefect(tmp_path):
    # the other side of the test above: the check sees an import when there is one
    assert "prefect" in _loaded("import flows.weekly", cwd=tmp_path)


def test_validate_on_clean_inputs_loads_no_heavy_library(network, tmp_path):
    # every check passes in SQL and polars: Great Expectations would be handed no row, so it is not loaded
    loaded = _loaded(_CLI, "validate", "--input", str(network), cwd=tmp_path, ok=(0,))
    assert loaded.isdisjoint({"great_expectations", "prefect", "statsforecast", "pulp", "highspy", "dask"})


def test_validate_hands_broken_rows_to_great_expectations_but_loads_no_prefect_or_solver(network, tmp_path):
    import shutil

    import polars as pl

    folder = tmp_path / "input"
    shutil.copytree(network, folder)
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    orders.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("-4")).otherwise(pl.col("quantity"))
                        .alias("quantity")).write_csv(folder / "orders.csv")
    loaded = _loaded(_CLI, "validate", "--input", str(folder), cwd=tmp_path, ok=(1,))
    assert "great_expectations" in loaded  # the contracts are Great Expectations suites: GX checks the broken row
    assert loaded.isdisjoint({"prefect", "statsforecast", "pulp", "highspy", "dask"})


def test_the_data_dictionary_loads_no_heavy_library(tmp_path):
    assert _loaded(_CLI, "dictionary", "--out", str(tmp_path / "dictionary.md"), cwd=tmp_path) == set()
    assert (tmp_path / "dictionary.md").stat().st_size > 0


@pytest.mark.slow
def test_run_twin_report_and_compare_load_only_what_they_use(network, tmp_path):
    warehouse = tmp_path / "w.duckdb"
    run = _loaded(_CLI, "run", "--input", str(network), "--warehouse", str(warehouse), "--run-date",
                  str(DEMO_RUN_DATE), "--horizon", "6", cwd=tmp_path)
    assert {"statsforecast", "pulp"} <= run  # forecast, plan
    # clean inputs and a plan that keeps its contracts: GX is handed no row, not even imported (stop 32)
    assert "great_expectations" not in run
    assert "prefect" not in run
    twin = _loaded(_CLI, "twin", "--warehouse", str(warehouse), "--paths", "20", cwd=tmp_path)
    assert twin.isdisjoint({"prefect", "great_expectations", "statsforecast", "dask"})
    report = _loaded(_CLI, "report", "--warehouse", str(warehouse), cwd=tmp_path)
    # (PuLP comes with the optimization package's KPIs, a tenth of a second; the heavy ones stay out)
    assert report.isdisjoint({"prefect", "great_expectations", "statsforecast", "dask"})
    compare = _loaded(_CLI, "scenario", "compare", "base", "base", "--warehouse", str(warehouse), "--no-report",
                      cwd=tmp_path)
    assert compare.isdisjoint({"prefect", "great_expectations", "statsforecast", "dask"})


def test_the_packages_public_names_load_lazily_and_are_listed(tmp_path):
    body = "import data_contracts, forecasting\nfrom forecasting import ForecastConfig, to_series"
    assert _loaded(body, cwd=tmp_path) == set()  # the settings and series helpers need no heavy library
    import data_contracts
    import forecasting

    for package in (data_contracts, forecasting):
        assert set(package.__all__) <= set(dir(package))
        with pytest.raises(AttributeError, match=f"module '{package.__name__}' has no attribute 'nope'"):
            package.nope  # noqa: B018
    assert data_contracts.validate_plan is __import__("data_contracts.plan").plan.validate_plan
