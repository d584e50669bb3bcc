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
        # the what-if's +30% moves the forecast; the booked orders stay firm (stop 26)
        (surge,) = con.execute("SELECT sum(greatest(1.3 * (mean - coalesce(booked_added, 0)), coalesce(booked, 0))) "
                               "FROM forecast WHERE run_id = ?", [runs["weekly_planning"]]).fetchone()
    assert demand[runs["replan"]] == pytest.approx(demand[runs["weekly_planning"]])
    assert demand[runs["scenario"]] == pytest.approx(surge)
    assert surge < 1.3 * demand[runs["weekly_planning"]]  # the demo books orders above its forecast


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
    # beside the warehouse, where the report's name is taken (by a folder here; a read-only share the same)
    snapshot = tmp_path / "share" / "w.published.duckdb"
    snapshot.parent.mkdir()
    shutil.copy(planned.with_name("w.published.duckdb"), snapshot)
    (snapshot.parent / written.name).mkdir()
    beside = runner.invoke(app, ["report", "--warehouse", str(snapshot)])
    assert beside.exit_code == 2, beside.output  # was: failed: IsADirectoryError, exit 1
    assert f"error: cannot write the report to {snapshot.parent / written.name}" in " ".join(beside.output.split())


def test_a_full_extract_read_as_a_delta_is_warned_of(valid_input, tmp_path):  # noqa: F811
    """The second load of the same full order book, two lines gone, no ``orders: {mode: snapshot}``: the two
    lines still counted as demand (incremental mode, documented) and nothing said so. The run now warns, naming
    how many and the setting; declared a snapshot, nothing is warned of (those lines are closed)."""
    folder = _copy(valid_input, tmp_path)
    runner = CliRunner()

    def run(warehouse: Path, *source: str):
        result = runner.invoke(app, ["run", *(source or ("--input", str(folder))), "--warehouse", str(warehouse),
                                     "--horizon", "4", "--no-prefect"])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    config = tmp_path / "snapshot.yaml"
    config.write_text(f"source: {{type: folder, path: {folder.name}}}\norders: {{mode: snapshot}}\n", encoding="utf-8")
    first = run(tmp_path / "delta.duckdb"), run(tmp_path / "full.duckdb", "--source", str(config))
    assert all("missing_from_extract" not in out for out in first), first
    orders = (folder / "orders.csv").read_text(encoding="utf-8").splitlines()
    (folder / "orders.csv").write_text("\n".join(orders[:5] + orders[7:]) + "\n", encoding="utf-8")
    delta = run(tmp_path / "delta.duckdb")
    n = len(orders) - 1
    assert (f"warning: orders.csv: 2 of the {n} order_id values of the previous load ({folder / 'orders.csv'}) are "
            "not in this one, which repeats 99.8% of them as a full extract would: in incremental mode (the "
            "default) a line never disappears, so those 2 still count with their last version; if every load is "
            "the whole orders book, declare orders: {mode: snapshot} in a source config; to cancel a line, send it "
            "with status cancelled (rule: missing_from_extract)") in delta, delta
    with duckdb.connect(str(tmp_path / "delta.duckdb"), read_only=True) as con:
        assert con.execute("SELECT entity, rule, key FROM run_warnings").fetchall() == [
            ("orders", "missing_from_extract", "order_id")]
    assert "missing_from_extract" not in run(tmp_path / "full.duckdb", "--source", str(config))


@pytest.mark.parametrize(("text", "said"), [
    ("source: {type: folder, path: input}\ndecimals: ','\n",
     "src.yaml: decimals: Extra inputs are not permitted; did you mean 'decimal'? (rule: source_config)"),
    ("source: {type: folder, path: input}\norders: {mod: snapshot}\n",
     "src.yaml: orders.mod: Extra inputs are not permitted; did you mean 'mode'? (rule: source_config)"),
    ("source: {type: folder, path: input\n",
     "src.yaml: cannot be parsed: line 2, column 1: expected ',' or '}', but got '<stream end>' (while parsing a "
     "flow mapping) (rule: source_config)"),
])
def test_a_source_config_typo_says_where_and_what_was_meant(valid_input, tmp_path, text, said):  # noqa: F811
    """A misspelt key was refused as pydantic's "Extra inputs are not permitted" with no hint of the right one,
    and a YAML syntax error without its line. Now the near key is named, and the line and column."""
    _copy(valid_input, tmp_path)
    config = tmp_path / "src.yaml"
    config.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", "--source", str(config)])
    assert result.exit_code == 2, result.output
    assert f"error: {said}." in " ".join(result.output.split()), result.output


def test_the_first_of_each_month_is_not_called_a_sunday_week():
    """Monthly figures written as orders on the first of each month: the months starting on a Sunday (187 of
    1,000 rows) were quarantined as ``sunday_week`` and the "How to fix" advised ``week_start: sunday``, which
    would refuse every other row. A file whose labels are other days too gets the Monday hint for all."""
    import polars as pl

    from data_contracts.formats import fix_hints

    def quarantine(rules: list[str], file: str = "orders.csv") -> pl.DataFrame:
        return pl.DataFrame({"source_file": file, "source_row": range(1, len(rules) + 1), "rule": rules})

    mixed = fix_hints(quarantine(["week_is_monday"] * 3 + ["sunday_week"] * 2))
    assert len(mixed) == 1 and mixed[0].startswith("  orders.csv: 5 row(s) [week_is_monday]: weeks are identified "
                                                   "by their Monday, and these labels are other days"), mixed
    assert "week_start: sunday" not in mixed[0]
    sundays = fix_hints(pl.concat([quarantine(["sunday_week"] * 2), quarantine(["week_is_monday"], "calendar.csv")]))
    assert [line.split(":")[0] for line in sundays] == ["  calendar.csv", "  orders.csv"], sundays
    assert "[sunday_week]" in sundays[1] and "week_start: sunday" in sundays[1]


def test_a_sunday_rows_reason_suggests_week_start_sunday_only_where_all_labels_are(valid_input,  # noqa: F811
                                                                                   tmp_path):
    """The file-level hint left ``week_start: sunday`` out for a file mixing Sundays with other days, but each
    Sunday row's reason still suggested it. Now the rows say what the hint says; a file of Sundays keeps
    it."""
    from test_sources_validate import _set_orders

    def reasons(folder: Path) -> list[str]:
        result = CliRunner().invoke(app, ["validate", "--input", str(folder)])
        lines = [" ".join(line.split()) for line in result.output.splitlines()]
        return [line for line in lines if line.startswith("orders.csv row ") and "[sunday_week]" in line]

    sundays = _copy(valid_input, tmp_path / "sundays")
    _set_orders(sundays, range(1, 3), requested_week="2026-03-01")  # a Sunday
    only = reasons(sundays)
    assert len(only) == 2 and all("declare week_start: sunday" in r for r in only), only
    mixed = _copy(valid_input, tmp_path / "mixed")
    _set_orders(mixed, range(1, 3), requested_week="2026-03-01")
    _set_orders(mixed, range(3, 5), requested_week="2026-04-01")  # a Wednesday: the first of a month
    among = reasons(mixed)
    assert len(among) == 2, among
    assert all("week_start" not in r and "export each as the Monday of its ISO week" in r
               for r in among), among
    # every line on the first of a month, the first five a Sunday: refused, and neither the refusal's first
    # rows (all Sundays) nor any row or hint suggests the setting
    monthly = _copy(valid_input, tmp_path / "monthly")
    _set_orders(monthly, range(1, 6), requested_week="2026-03-01")
    _set_orders(monthly, range(6, 100_000), requested_week="2026-04-01")
    result = CliRunner().invoke(app, ["validate", "--input", str(monthly)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2 and "(rule: max_reject_share)" in out, out
    assert "orders.csv row 1: requested_week '2026-03-01' is a Sunday" in out, out
    assert "week_start: sunday" not in out, out


def test_returns_written_as_negative_lines_get_a_hint(valid_input, tmp_path):  # noqa: F811
    """Returns in an ERP's order extract (-5.0) were quarantined as ``non_negative`` with "is negative" and no
    word of what to do; validate's "How to fix" now says returns are no demand and how to export them."""
    import polars as pl

    folder = _copy(valid_input, tmp_path)
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    orders.with_columns(pl.when(pl.int_range(pl.len()) < 3).then(pl.lit("-5.0")).otherwise(pl.col("quantity"))
                        .alias("quantity")).write_csv(folder / "orders.csv")
    result = CliRunner().invoke(app, ["validate", "--input", str(folder)])
    assert result.exit_code == 1, result.output
    assert ("orders.csv: 3 row(s) [non_negative]: negative values where the contract allows none. In orders these "
            "are mostly returns or credit notes") in " ".join(result.output.split()), result.output
