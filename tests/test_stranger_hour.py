"""A stranger's hour (stop 24): M1 and PBS demand as orders of an invented network, a second load, a what-if, a
replan, the analysts' queries, source configs with typos. Each test is a defect found there, on generated data
(the demo network, 5 products), and fails without its fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from cli.main import app
from test_sources_validate import _copy, valid_input  # noqa: F401 (the small demo input, a copy of it per test)


@pytest.mark.parametrize(("option", "value", "floor"), [("--products", "3", "5"), ("--weeks-history", "10", "30")])
def test_generate_demo_refuses_too_small_a_network_as_a_usage_error(tmp_path, option, value, floor):
    """``--products 3`` passed the option's check (min 1) and failed inside the generator: ``failed:
    ValueError``, exit 1, the code for an unexpected failure. Now the option says its floor, exit 2, nothing
    written."""
    result = CliRunner().invoke(app, ["generate-demo", "--out", str(tmp_path / "demo"), option, value])
    assert result.exit_code == 2, result.output
    assert f"greater than or equal to {floor}" in " ".join(result.output.replace("│", " ").split()), result.output
    assert "failed:" not in result.output and not (tmp_path / "demo").exists()


@pytest.fixture(scope="module")
def planned(valid_input, tmp_path_factory) -> Path:  # noqa: F811
    """A warehouse holding one weekly plan of the small demo input (copy the file before writing to it)."""
    tmp = tmp_path_factory.mktemp("planned")
    folder = _copy(valid_input, tmp)
    warehouse = tmp / "w.duckdb"
    weekly = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse), "--horizon",
                                      "4", "--no-prefect"])
    assert weekly.exit_code == 0, weekly.output
    return warehouse


def test_replan_without_base_never_takes_a_what_if(planned, tmp_path):
    """``plantwin replan`` took the latest successful run as its base, whatever it was: after a ``scenario
    run`` (+30% demand, a line shut down) a plain replan of scenario ``base`` planned the what-if's demand and
    shutdown as the base plan, without a word. Its default base is now the latest run that is not a what-if."""
    warehouse = tmp_path / "w.duckdb"
    shutil.copy(planned, warehouse)
    runner = CliRunner()
    what_if = tmp_path / "surge.yaml"
    what_if.write_text("name: surge\ndemand:\n  - {multiplier: 1.3}\n", encoding="utf-8")
    scenario = runner.invoke(app, ["scenario", "run", str(what_if), "--warehouse", str(warehouse), "--no-prefect"])
    assert scenario.exit_code == 0, scenario.output
    replan = runner.invoke(app, ["replan", "--warehouse", str(warehouse), "--no-prefect"])
    assert replan.exit_code == 0, replan.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs = dict(con.execute("SELECT kind, run_id FROM runs").fetchall())
        (base,) = con.execute("SELECT base_run_id FROM runs WHERE kind = 'replan'").fetchone()
        assert base == runs["weekly_planning"], runs
        demand = dict(con.execute("SELECT run_id, sum(mean) FROM forecast GROUP BY run_id").fetchall())
    assert demand[runs["replan"]] == pytest.approx(demand[runs["weekly_planning"]])
    assert demand[runs["scenario"]] == pytest.approx(1.3 * demand[runs["weekly_planning"]])


def test_a_report_goes_to_the_folder_asked(planned, tmp_path):
    """``plantwin report`` could only write beside the warehouse (an analyst's copy of a snapshot on a share
    they cannot write to, a folder of reports): ``--out`` takes a folder (made if missing) or an .html file;
    one that cannot be written is a usage error naming it, exit 2, not ``failed: FileNotFoundError``."""
    runner = CliRunner()
    before = sorted(p.name for p in planned.parent.iterdir())
    result = runner.invoke(app, ["report", "--warehouse", str(planned), "--out", str(tmp_path / "reports" / "w1")])
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "reports" / "w1").iterdir()
    assert written.name.startswith("report-run-") and "<h1>plantwin plan" in written.read_text(encoding="utf-8")
    assert result.output.strip() == str(written)
    one = runner.invoke(app, ["report", "--warehouse", str(planned), "--out", str(tmp_path / "plan.html")])
    assert one.exit_code == 0, one.output
    assert "<h1>plantwin plan" in (tmp_path / "plan.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in planned.parent.iterdir()) == before  # nothing beside the warehouse
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    refused = runner.invoke(app, ["report", "--warehouse", str(planned), "--out", str(blocked / "reports")])
    assert refused.exit_code == 2, refused.output
    assert f"error: cannot write the report to {blocked / 'reports'}" in " ".join(refused.output.split())
