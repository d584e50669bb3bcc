"""What a run noticed that rejects no row is stored (``run_warnings``, ``runs.warnings``) and shown where planners
and analysts look: the run summary, the plan report, the published snapshot; a replan keeps its base's.

Before stop 24 the network's per-pair list was only in ``plantwin validate``, and the stale-data and
thousands-point warnings only in the run summary, the thousands scan re-reading the raw rows at every read.
Generated data only (the demo network, 5 products).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from data_contracts import schema
from data_contracts.findings import (component_demand_warnings, demand_outlier_warnings, short_backtest_warnings,
                                     stale_data_warnings)
from test_first_hour import _as_of, _thousands_points
from test_sources_validate import _copy, valid_input  # noqa: F401 (the small demo input, a copy of it per test)


@pytest.fixture(scope="module")
def noticed(valid_input, tmp_path_factory) -> dict:  # noqa: F811
    """One run whose inputs hold all three kinds: one product's routings removed (its demand reaches no
    plant), order quantities written as thousands grouped by a point, and a run date 60 weeks after the
    extract."""
    tmp = tmp_path_factory.mktemp("noticed")
    folder = _copy(valid_input, tmp)
    routings = pl.read_csv(folder / "routings.csv", infer_schema=False)
    gone = routings["product_id"][0]
    routings.filter(pl.col("product_id") != gone).write_csv(folder / "routings.csv")
    pairs = sorted(f"{p}|{s}" for p, s in pl.read_csv(folder / "orders.csv", infer_schema=False)
                   .filter(pl.col("product_id") == gone).select("product_id", "site_id").unique().iter_rows())
    _thousands_points(folder)
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False, separator=";")
    kept = orders.filter(pl.col("product_id") != gone)
    typo = kept.row(kept.height // 2, named=True)  # a quantity typed with extra digits, in a live series
    orders.with_columns(pl.when(pl.col("order_id") == typo["order_id"]).then(pl.lit("9999999"))
                        .otherwise(pl.col("quantity")).alias("quantity")).write_csv(folder / "orders.csv", separator=";")
    late = _as_of(folder) + timedelta(weeks=60)
    late -= timedelta(days=late.weekday())
    warehouse = tmp / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse), "--horizon", "4",
                                      "--run-date", late.isoformat(), "--no-prefect"])
    assert result.exit_code == 0, result.output
    return {"warehouse": warehouse, "pairs": pairs, "output": " ".join(result.output.split()), "folder": folder,
            "typo": typo}


def _warnings(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(f"SELECT run_id, entity, rule, key FROM {schema.RUN_WARNINGS.name} "
                           "ORDER BY run_id, rule, entity, key").fetchall()


def test_a_run_stores_every_warning_once_and_counts_them(noticed):
    """The per-pair list of the network check, the thousands-point column and both stale-data ends are rows
    of ``run_warnings`` (in the published snapshot too), and ``runs.warnings`` counts them."""
    from warehouse.publish import published_path

    rows = _warnings(noticed["warehouse"])
    run_id = rows[0][0]
    typo = noticed["typo"]
    monday = date.fromisoformat(typo["requested_week"])
    assert [r[1:] for r in rows] == [
        ("orders", "demand_outlier", f"{typo['product_id']}|{typo['site_id']}|{monday}"),
        *(("network", "demand_reachable", pair) for pair in noticed["pairs"]),
        ("inventory", "stale_data", "as_of_date"),
        ("orders", "stale_data", "requested_week"),
        ("orders", "thousands_point", "quantity"),
    ]
    assert _warnings(published_path(noticed["warehouse"])) == rows
    with duckdb.connect(str(noticed["warehouse"]), read_only=True) as con:
        assert con.execute("SELECT run_id, warnings FROM runs").fetchall() == [(run_id, len(rows))]


def test_the_summary_shows_each_stored_warning(noticed):
    """The run's summary names each pair no plant reaches (it used to give only the check and its count)."""
    out = noticed["output"]
    for pair in noticed["pairs"]:
        product, site = pair.split("|")
        assert f"warning: demand for product {product} at site {site} (" in out, out
    assert "warning: orders.csv: every one of the 847 quantity values with a point looks like thousands" in out
    assert "warning: the inventory snapshot is of " in out and "warning: the last demand is in the week of " in out
    assert f"warning: demand for product {noticed['typo']['product_id']} at site {noticed['typo']['site_id']} in the " \
           f"week of {noticed['typo']['requested_week']} is " in out, out
    assert f"{len(noticed['pairs']) + 4} warning(s): see table run_warnings" in out, out


def test_the_summary_reads_the_stored_warnings_not_the_raw_rows(noticed, tmp_path):
    """The thousands scan runs once, in the contracts stage: the summary reads ``run_warnings``, so what the
    table says is what it prints (a summary that scanned the raw rows again would still print the scan's
    words)."""
    from report.summary import run_summary

    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(noticed["warehouse"].read_bytes())
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"UPDATE {schema.RUN_WARNINGS.name} SET reason = 'stored words' WHERE rule = 'thousands_point'")
        (run_id,) = con.execute("SELECT run_id FROM runs").fetchone()
    text = run_summary(warehouse, run_id)
    assert "warning: stored words" in text, text
    assert "looks like thousands" not in text, text


def test_an_older_warehouses_past_run_shows_its_warnings_again(noticed, tmp_path):
    """A warehouse laid out before ``run_warnings`` (no table, no ``runs.warnings``): its past run's summary
    re-scanned the raw rows and showed the thousands-point and stale-data warnings. Migrated, the warnings
    its rows still give are stored for that run, once, and the summary shows them again."""
    from report.summary import run_summary
    from warehouse.db import open_warehouse

    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(noticed["warehouse"].read_bytes())
    with duckdb.connect(str(warehouse)) as con:  # the layout of the code before
        con.execute(f"DROP TABLE {schema.RUN_WARNINGS.name}")
        con.execute(f"ALTER TABLE {schema.RUNS.name} DROP COLUMN warnings")
        con.execute(f"COMMENT ON TABLE {schema.RUNS.name} IS 'plantwin-schema older'")
        (run_id,) = con.execute("SELECT run_id FROM runs").fetchone()
    # read-only before any migration (the summary and `plantwin report` open it so): the same warnings
    before = " ".join(run_summary(warehouse, run_id).split())
    for words in ("warning: orders.csv: every one of the 847 quantity values with a point looks like thousands",
                  "warning: the inventory snapshot is of ", "warning: the last demand is in the week of "):
        assert words in before, before
    report = CliRunner().invoke(app, ["report", "--warehouse", str(warehouse), "--out", str(tmp_path / "r.html")])
    assert report.exit_code == 0, report.output
    assert "thousands_point" in (tmp_path / "r.html").read_text(encoding="utf-8")
    for _ in range(2):  # a second migration adds nothing
        with open_warehouse(warehouse) as wh:
            wh.con.execute(f"COMMENT ON TABLE {schema.RUNS.name} IS 'plantwin-schema older'")
    assert [r[1:] for r in _warnings(warehouse)] == [
        ("inventory", "stale_data", "as_of_date"), ("orders", "stale_data", "requested_week"),
        ("orders", "thousands_point", "quantity")]
    text = " ".join(run_summary(warehouse, run_id).split())
    assert "warning: orders.csv: every one of the 847 quantity values with a point looks like thousands" in text, text
    assert "warning: the inventory snapshot is of " in text and "warning: the last demand is in the week of " in text
    assert "3 warning(s): see table run_warnings" in text, text


def test_the_report_shows_the_warnings(noticed):
    """The plan report has a Warnings section with every stored row."""
    html = next(noticed["warehouse"].parent.glob("report-*.html")).read_text(encoding="utf-8")
    assert '<section id="warnings"><h2>Warnings (' + str(len(noticed["pairs"]) + 4) + ")</h2>" in html
    for pair in noticed["pairs"]:
        assert f"<td>{pair}</td>" in html, pair
    assert "thousands_point" in html and "stale_data" in html and "demand_outlier" in html


def test_a_replan_keeps_its_base_runs_warnings(noticed, tmp_path):
    """A replan plans on the base run's validated inputs: what their checks noticed holds for it as well."""
    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(noticed["warehouse"].read_bytes())
    result = CliRunner().invoke(app, ["replan", "--warehouse", str(warehouse), "--no-prefect"])
    assert result.exit_code == 0, result.output
    rows = _warnings(warehouse)
    by_run: dict[str, list] = {}
    for r in rows:
        by_run.setdefault(r[0], []).append(r[1:])
    assert len(by_run) == 2 and len({tuple(v) for v in by_run.values()}) == 1, by_run
    assert "warning: orders.csv: every one of the 847 quantity values" in " ".join(result.output.split())


def test_a_failed_runs_warnings_are_kept(valid_input, tmp_path):  # noqa: F811
    """Refused for too many rejected order lines: the quarantine and results were kept, the warnings were not.
    Now they are kept too, and counted on the failed run."""
    folder = _copy(valid_input, tmp_path)
    _thousands_points(folder)
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False, separator=";")
    orders.with_columns(pl.when(pl.int_range(pl.len()) < 100).then(pl.lit("DC-NOWHERE"))
                        .otherwise(pl.col("site_id")).alias("site_id")).write_csv(folder / "orders.csv", separator=";")
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse), "--horizon", "4",
                                      "--no-prefect"])
    assert result.exit_code == 2, result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("SELECT status, warnings FROM runs").fetchall() == [("failed", 1)]
        assert con.execute(f"SELECT entity, rule, key FROM {schema.RUN_WARNINGS.name}").fetchall() == [
            ("orders", "thousands_point", "quantity")]


def test_stale_data_warnings_name_both_ends():
    """The pure rule: a snapshot more than a week old, a last demand more than inactive + 1 weeks old."""
    run = date(2026, 5, 4)
    assert stale_data_warnings(run - timedelta(days=7), run - timedelta(weeks=14), run).is_empty()
    both = stale_data_warnings(run - timedelta(days=8), run - timedelta(weeks=15), run)
    assert both.select("entity", "rule", "key").rows() == [("inventory", "stale_data", "as_of_date"),
                                                          ("orders", "stale_data", "requested_week")]
    assert "1 weeks before the run date 2026-05-04" in both["reason"][0]
    assert stale_data_warnings(None, None, run).is_empty()


def test_short_backtest_warnings_say_what_the_bands_stand_on():
    """The pure rule: quiet where the backtest scored the plan's horizon (or nothing was forecast from
    history); one row naming the backtest's horizon and the weeks past it, or the lognormal guess."""
    assert short_backtest_warnings(26, 26, 10).is_empty() and short_backtest_warnings(26, None, 0).is_empty()
    cut = short_backtest_warnings(26, 14, 10)
    assert cut.select("entity", "rule", "key").rows() == [("orders", "short_backtest", "horizon_weeks")]
    assert "a 14-week backtest, and weeks 15-26 take its errors grown as they grew over its 14 weeks" in (
        cut["reason"][0])
    assert "a 25-week backtest, and week 26 takes its errors" in short_backtest_warnings(26, 25, 10)["reason"][0]
    assert "all 10 series forecast from their history are the wide lognormal one" in (
        short_backtest_warnings(26, None, 10)["reason"][0])


def test_a_run_on_too_short_a_history_for_its_horizon_says_so(valid_input, tmp_path):  # noqa: F811
    """The small demo input has 40 weeks of history: a backtest window needs 26 weeks of training, so a
    26-week plan's backtest scores 13 weeks (half its series have 39 weeks of history or more: the others
    start later), and the run says so. A 4-week plan's is whole, and quiet: the `noticed` run's warnings are
    counted exactly (test_the_summary_shows_each_stored_warning)."""
    folder = _copy(valid_input, tmp_path)
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse), "--no-prefect"])
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"SELECT entity, rule, key, reason FROM {schema.RUN_WARNINGS.name} "
                           "WHERE rule = 'short_backtest'").fetchall()
    assert [r[:3] for r in rows] == [("orders", "short_backtest", "horizon_weeks")]
    assert "a 13-week backtest, and weeks 14-26 take its errors grown" in rows[0][3]
    assert "warning: the demand history is too short to backtest any series 26 weeks ahead" in " ".join(
        result.output.split())


def test_a_week_a_hundred_times_its_series_is_warned_of_a_recurring_peak_is_not():
    """A quantity with extra digits (PBS-like scripts, one line typed 99999 in a series of ~37 a week) passed
    every rule and the forecast followed it: 5.4% of units on time. Warned of when a week is over 100× the
    series' median week with demand and 10× every week more than four weeks away (a typo repeated in the next
    week still is one); a yearly peak (a safety net's January) is the series' own; fewer than 8 weeks with
    demand: not judged."""
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(12)]

    def history(product: str, quantities: list[float]) -> pl.DataFrame:
        return pl.DataFrame({"product_id": product, "site_id": "DC1", "week": weeks[:len(quantities)],
                             "quantity": quantities})

    frames = pl.concat([
        history("TYPO", [37.0] * 5 + [99_999.0] + [36.0] * 6),
        history("YEARLY", [1.0] * 5 + [500.0] + [1.0] * 5 + [480.0]),  # a peak seen twice
        history("SHORT", [0.0] * 5 + [1.0] * 6 + [5_000.0]),  # 7 weeks with demand
        history("ZEROS", [0.0, 2.0] * 5 + [0.0, 2.0]),
        history("TWICE", [20.0] * 5 + [90_000.0, 90_000.0] + [20.0] * 5),  # the typo in the next week's lines too
    ])
    found = demand_outlier_warnings(frames)
    assert found.select("entity", "rule", "key").rows() == [
        ("orders", "demand_outlier", "TWICE|DC1|2026-02-09"), ("orders", "demand_outlier", "TWICE|DC1|2026-02-16"),
        ("orders", "demand_outlier", "TYPO|DC1|2026-02-09")]
    found = found.filter(pl.col("key").str.starts_with("TYPO"))
    assert found["reason"][0].startswith("demand for product TYPO at site DC1 in the week of 2026-02-09 is 99999.0, "
                                         "2740× the series' median week with demand (36.5)")


QUANTITIES = [
    ["41.0", "3.240", "1.500", "2.000"],  # a decimal first: no warning
    ["3.240", "1.500", "12.500.000"],  # every value with a point grouped: three
    ["3.240", "1.500"],  # grouped, but fewer than three
    ["41", "7", None],  # no point at all
    ["3.240", None, "1.500", "2.000", "41"],  # grouped, blanks and whole numbers beside them
    [" 3.240 ", "1.500", "-2.000", "+7.000"],  # signs and blanks around
    ["0.125", "1.500", "2.000", "3.000"],  # a first group never starts with 0
    ["3.240", "1.500", "2.000", "7.5"],  # the last one a decimal
    ["1.000"] * 5000 + ["2.5"],  # the decimal far down
]


@pytest.mark.parametrize("values", QUANTITIES, ids=range(len(QUANTITIES)))
def test_the_thousands_scan_finds_what_counting_every_value_finds(values):
    """The thousands-point scan stops at the first value with a point that is not grouped; what it finds is
    what counting every value finds (polars: the values with a point, the grouped ones, equal and ≥ 3)."""
    from warehouse.connection import connect
    from warehouse.db import Warehouse
    from warehouse.reads import _THOUSANDS_POINT, thousands_points

    con = connect(":memory:")
    try:
        wh = Warehouse(con, Path(":memory:"))
        wh.migrate()
        for load, quantities in (("ld-a", values), ("ld-b", ["9.999"] * 4)):  # another load beside it
            # landed as the warehouse stores order lines (typed quantities, the text kept where not canonical)
            frame = pl.DataFrame({"quantity": quantities}, schema={"quantity": pl.String}).with_row_index(
                schema.SOURCE_ROW, 1).with_columns(pl.lit(load).alias(schema.LOAD_ID),
                                                   pl.lit("orders.csv").alias(schema.SOURCE_FILE))
            wh._insert_raw(schema.ORDERS.name, frame.select(
                pl.col(c) if c in frame.columns else pl.lit(None, pl.String).alias(c)
                for c in wh.con.execute(f"SELECT * FROM {schema.raw_table_name(schema.ORDERS.name)} LIMIT 0").pl().columns
            ).with_columns(pl.col(schema.SOURCE_ROW).cast(pl.Int64)))
        found = thousands_points(con, {schema.ORDERS.name: "ld-a"})
    finally:
        con.close()
    q = pl.Series(values, dtype=pl.String)
    dotted = int(q.str.contains(".", literal=True).sum())
    grouped = int(q.str.strip_chars(" ").str.contains(_THOUSANDS_POINT).sum())
    expected = [("orders", "quantity", "orders.csv", grouped)] if grouped >= 3 and grouped == dotted else []
    assert found == expected
    assert any(found) == (values in (QUANTITIES[1], QUANTITIES[4], QUANTITIES[5]))  # not vacuous


def test_orders_for_a_component_of_the_bill_of_materials_are_warned_of():
    """A drug substance with orders (internal transfers entered as orders, say) passed every rule and was
    forecast and planned as demand of its own beside what its fills consume, nothing said."""
    weeks = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(3)]
    history = pl.DataFrame({"product_id": ["DS", "DS", "DS", "PACK", "DS"], "site_id": ["DC1"] * 4 + ["PL1"],
                            "week": [*weeks, weeks[0], weeks[0]], "quantity": [5.0, 0.0, 7.0, 9.0, 0.0]})
    bom = pl.DataFrame({"parent_id": ["PACK"], "component_id": ["DS"], "quantity_per": [1.0], "scrap": [0.0]})
    found = component_demand_warnings(history, bom)
    assert found.select("entity", "rule", "key").rows() == [("orders", "component_demand", "DS|DC1")]
    assert found["reason"][0].startswith("DS is a component in the bill of materials and has orders of its own "
                                         "at DC1 (2 weeks, 12 units)")
    assert component_demand_warnings(history, bom.clear()).is_empty()


def _cut_last_line(orders: Path, keep: int | None) -> int:
    """End ``orders`` without a final newline; its last line cut to ``keep`` characters (None: whole).
    Returns the last row's number (the data rows)."""
    lines = orders.read_text().splitlines()
    last = lines[-1] if keep is None else lines[-1][:keep]
    orders.write_text("\n".join(lines[:-1] + [last]))
    return len(lines) - 1


def test_a_file_cut_off_mid_line_is_warned_of_with_its_row(valid_input, tmp_path):  # noqa: F811
    """An exporter that died mid-line: the last row goes to quarantine for its missing cells as before, and a
    stored warning names the file and row and says the rest never arrived (validate shows it too)."""
    folder = _copy(valid_input, tmp_path)
    row = _cut_last_line(folder / "orders.csv", keep=5)
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse), "--horizon", "4",
                                      "--no-prefect"])
    assert result.exit_code == 0, result.output
    words = f"orders.csv: the file ends mid-line at row {row:,}: the export may have been cut off; re-export it"
    assert f"warning: {words}" in " ".join(result.output.split()), result.output
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f"SELECT entity, rule, key FROM {schema.RUN_WARNINGS.name} "
                           "WHERE rule = 'cut_off_file'").fetchall() == [("orders", "cut_off_file", "orders.csv")]
        (quarantined,) = con.execute(f"SELECT count(*) FROM {schema.QUARANTINE.name} WHERE entity = 'orders'").fetchone()
        assert quarantined >= 1  # the cut row, as before
    checked = CliRunner().invoke(app, ["validate", "--input", str(folder)])
    assert words in " ".join(checked.output.split()), checked.output


def test_a_complete_last_line_without_a_newline_is_not_warned_of(valid_input, tmp_path):  # noqa: F811
    """Many exporters end the last line without a newline: every cell is there, nothing is cut off."""
    folder = _copy(valid_input, tmp_path)
    _cut_last_line(folder / "orders.csv", keep=None)
    checked = CliRunner().invoke(app, ["validate", "--input", str(folder)])
    assert checked.exit_code == 0, checked.output
    assert "cut_off_file" not in checked.output and "ends mid-line" not in checked.output, checked.output


def test_a_plan_not_proven_within_the_gap_asked_says_so(noticed, tmp_path):
    """A campaign MIP stopped by its time limit is a plan and the run succeeds, but it may be far from the
    best (80 products with campaigns: 61% from its bound in 60 s): the summary and the report's header say
    how far and which setting gives more time. A plan within the gap asked, or an LP, says nothing more."""
    from report.page import write_report
    from report.summary import run_summary
    from warehouse.views import solver_note

    warehouse = tmp_path / "w.duckdb"
    warehouse.write_bytes(noticed["warehouse"].read_bytes())
    with duckdb.connect(str(warehouse)) as con:
        (run_id,) = con.execute("SELECT run_id FROM runs").fetchone()
    assert "this plan is proven within" not in run_summary(warehouse, run_id)  # the LP
    with duckdb.connect(str(warehouse)) as con:  # as a campaign MIP stopped by its time limit leaves it
        con.execute("UPDATE runs SET problem_type = 'MIP', solver_status = 'Feasible', mip_gap = 0.6145")
    text = " ".join(run_summary(warehouse, run_id).split())
    assert ("gap 61.45% this plan is proven within 61.45% of the cheapest possible, not the 1.00% asked "
            "(plan.mip_gap)") in text, text
    assert "plan.campaign_time_limit_seconds" in text
    html = write_report(warehouse, run_id).read_text(encoding="utf-8")
    assert "Feasible (gap 61.45%)" in html and '<div class="notice">This plan is proven within 61.45%' in html
    row = {"problem_type": "MIP", "parameters": '{"plan": {"mip_gap": 0.05}}'}
    assert solver_note(row | {"mip_gap": 0.05}) is None and solver_note(row | {"mip_gap": None}) is None
    assert "not the 5.00% asked" in solver_note(row | {"mip_gap": 0.0501})
    assert solver_note({"problem_type": "LP", "mip_gap": 0.5}) is None
    assert "not the 0.00% asked" in solver_note(row | {"mip_gap": 0.001, "parameters": '{"plan": {"mip_gap": 0}}'})
