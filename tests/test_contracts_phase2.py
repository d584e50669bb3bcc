"""Input contracts, phase 2: bounds, dates, cross-entity network rules, report and Data Docs."""

from __future__ import annotations

import datetime as dt
import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ContractConfig
from data_contracts.report import keep_data_docs_request, render_data_docs, validation_report, write_data_docs
from data_contracts.rules import entity_checks
from data_contracts.testing import TINY_RUN_DATE, all_as_raw, tiny_inputs
from data_contracts.validate import validate_inputs

LENIENT = ContractConfig(max_reject_share=1.0)


def add_row(raw: dict[str, pl.DataFrame], entity: str, **values: str | None) -> int:
    """Append a copy of the entity's first raw row with ``values`` changed; returns its source row."""
    f = raw[entity]
    row = f.height + 1
    new = f.head(1).with_columns(
        *(pl.lit(v, pl.String).alias(c) for c, v in values.items()),
        pl.lit(row, pl.Int64).alias(schema.SOURCE_ROW),
    )
    raw[entity] = pl.concat([f, new])
    return row


def rules_by_row(outcome, entity: str) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    q = outcome.quarantine.filter(pl.col("entity") == entity)
    for row, rule in q.select("source_row", "rule").iter_rows():
        out.setdefault(row, set()).add(rule)
    return out


@pytest.fixture(scope="module")
def bounds():
    """Valid tiny inputs plus appended rows, each breaking one bound (or testing a lenient parse)."""
    raw = all_as_raw(tiny_inputs())
    rows = {
        "sl_one": add_row(raw, "products", product_id="P4", service_level="1"),
        "sl_zero": add_row(raw, "products", product_id="P5", service_level="0"),
        "prio": add_row(raw, "products", product_id="P6", priority="0"),
        "shelf": add_row(raw, "products", product_id="P7", shelf_life_weeks="0"),
        "cost": add_row(raw, "products", product_id="P8", unit_cost="-0.5"),
        "dc_res": add_row(raw, "resources", resource_id="R3", site_id="DC1"),
        "yield0": add_row(raw, "routings", product_id="P1", resource_id="R2", **{"yield": "0"}),
        "yield_hi": add_row(raw, "routings", product_id="P2", resource_id="R2", **{"yield": "1.0001"}),
        "rel_frac": add_row(raw, "routings", product_id="P3", resource_id="R1", release_weeks="1.5"),
        "at_dc": add_row(raw, "routings", product_id="P2", resource_id="R3"),
        "lead_neg": add_row(raw, "lanes", from_site="DC1", to_site="DC2", lead_time_weeks="-1"),
        "self": add_row(raw, "lanes", from_site="DC1", to_site="DC1"),
        "future": add_row(raw, "orders", order_id="O5", order_date="2026-03-03"),
        "huge": add_row(raw, "orders", order_id="O6", quantity="20000000"),
        "tuesday": add_row(raw, "orders", order_id="O7", requested_week="2026-02-03"),
        "sci": add_row(raw, "orders", order_id="O8", quantity="3.0e2"),
        "stamp": add_row(raw, "orders", order_id="O9", order_date="2026-01-05T10:30:00"),
        "expired": add_row(raw, "inventory", lot_id="L3", expiry_date="2026-02-28"),
        "snap_future": add_row(raw, "inventory", lot_id="L4", as_of_date="2026-03-03"),
        "kind": add_row(raw, "receipts", kind="purchase"),
        "qc_bad": add_row(raw, "batches", batch_id="B2", qc_passed="maybe"),
        "qc_yes": add_row(raw, "batches", batch_id="B3", qc_passed="YES"),
    }
    return validate_inputs(raw, TINY_RUN_DATE, LENIENT), rows


def test_service_level_priority_shelf_life_cost_bounds(bounds):
    out, r = bounds
    assert rules_by_row(out, "products") == {
        r["sl_one"]: {"range"},
        r["sl_zero"]: {"range"},
        r["prio"]: {"range"},
        r["shelf"]: {"positive"},
        r["cost"]: {"non_negative"},
    }
    reasons = out.quarantine.filter(pl.col("entity") == "products").get_column("reason").to_list()
    assert "service_level '1' is not in (0, 1)" in reasons


def test_yield_release_weeks_and_resource_at_a_dc(bounds):
    out, r = bounds
    assert rules_by_row(out, "resources") == {r["dc_res"]: {"resource_at_plant"}}
    assert rules_by_row(out, "routings") == {
        r["yield0"]: {"range"},
        r["yield_hi"]: {"range"},
        r["rel_frac"]: {"type"},
        r["at_dc"]: {"known_resource"},  # R3 sits at a DC: rejected in resources, unknown here
    }
    assert out.clean["routings"].height == 3


def test_lane_lead_time_and_self_loop(bounds):
    out, r = bounds
    assert rules_by_row(out, "lanes") == {r["lead_neg"]: {"non_negative"}, r["self"]: {"lane_self_loop"}}


def test_order_dates_quantity_bound_and_weeks(bounds):
    out, r = bounds
    assert rules_by_row(out, "orders") == {
        r["future"]: {"date_range"},
        r["huge"]: {"max_quantity"},
        r["tuesday"]: {"week_is_monday"},
    }
    reason = out.quarantine.filter(pl.col("rule") == "max_quantity").get_column("reason").item()
    assert reason == "quantity '20000000' exceeds the sanity bound of 10,000,000 units"
    clean = out.clean["orders"]
    assert clean.filter(pl.col("order_id") == "O8").get_column("quantity").item() == 300.0
    assert clean.filter(pl.col("order_id") == "O9").get_column("order_date").item() == date(2026, 1, 5)


def test_inventory_expired_lot_and_future_snapshot(bounds):
    out, r = bounds
    assert rules_by_row(out, "inventory") == {r["expired"]: {"not_expired"}, r["snap_future"]: {"date_range"}}


def test_receipt_kind_and_batch_booleans(bounds):
    out, r = bounds
    assert rules_by_row(out, "receipts") == {r["kind"]: {"allowed_values"}}
    assert rules_by_row(out, "batches") == {r["qc_bad"]: {"type"}}
    assert out.clean["batches"].get_column("qc_passed").to_list() == [True, True]


def test_max_quantity_is_configurable():
    checks = entity_checks(
        schema.ORDERS,
        {"products": tiny_inputs()["products"], "sites": tiny_inputs()["sites"]},
        TINY_RUN_DATE,
        ContractConfig(max_quantity=50.0),
    )
    bound = [c for c in checks if c.rule == "max_quantity"]
    assert [c.expectation.max_value for c in bound] == [50.0]
    assert "50 units" in bound[0].reason


# ----------------------------------------------------------------------------------------- network
@pytest.fixture(scope="module")
def network():
    """DC2 loses its lane from the plant; DC1 ⇄ DC2 with zero lead time is a cycle (both rejected)."""
    raw = all_as_raw(tiny_inputs())
    raw["lanes"] = raw["lanes"].filter(pl.col("to_site") != "DC2")
    a = add_row(raw, "lanes", from_site="DC1", to_site="DC2", lead_time_weeks="0")
    b = add_row(raw, "lanes", from_site="DC2", to_site="DC1", lead_time_weeks="0")
    return validate_inputs(raw, TINY_RUN_DATE, LENIENT), (a, b)


def test_zero_lead_time_cycle_rejected(network):
    out, (a, b) = network
    assert rules_by_row(out, "lanes") == {a: {"zero_lead_cycle"}, b: {"zero_lead_cycle"}}
    assert out.clean["lanes"].select("from_site", "to_site").rows() == [("PL1", "DC1")]


def test_unreachable_demand_is_a_warning_not_a_reject(network):
    out, _ = network
    assert out.clean["orders"].height == 4
    assert sorted(out.warnings.get_column("key")) == ["P1|DC2", "P2|DC2"]
    assert (out.warnings.get_column("rule") == "demand_reachable").all()
    row = out.results.filter(pl.col("entity") == "network").row(0, named=True)
    # P3 at DC1 is cancelled only: 3 product × site pairs have demand
    assert row == {
        "entity": "network",
        "expectation": "demand_reachable(product_id, site_id)",
        "success": False,
        "element_count": 3,
        "unexpected_count": 2,
    }


# ----------------------------------------------------------------------------------------- report, docs
def test_validation_report_lists_failed_rules_counts_and_rows(network):
    out, _ = network
    text = validation_report(out)
    assert "2 rows quarantined; 2 warnings" in text
    assert "zero_lead_cycle(from_site, to_site, lead_time_weeks)" in text
    assert "FAILED" in text
    assert "lanes.csv row 2 [zero_lead_cycle]: from_site 'DC1', to_site 'DC2', lead_time_weeks '0'" in text
    assert "network [demand_reachable] P1|DC2" in text
    assert "not_null(order_id)" not in text  # passed expectations only with all_expectations
    assert "not_null(order_id)" in validation_report(out, all_expectations=True)


def test_write_data_docs_builds_a_site_per_entity(network, tmp_path):
    out, _ = network
    index = write_data_docs(out, tmp_path / "docs", run_name="run-1")
    assert index == (tmp_path / "docs" / "index.html").resolve() and index.exists()
    pages = {p.parent.parent.parent.name: p for p in (tmp_path / "docs" / "validations").rglob("*.html")}
    assert set(pages) == set(out.validations)
    lanes = pages["lanes"].read_text()
    assert "expect_column_values_to_be_in_set" in lanes.lower() or "values must belong" in lanes.lower()
    assert "__zero_lead_cycle" in lanes


def _pages(site: Path, run_time: str) -> dict[str, str]:
    """A Data Docs site's pages, without what differs between any two builds of one site: GX's element ids
    and the time stamps of the build (the run's own time, ``run_time``, is kept)."""
    def same(text: str) -> str:
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<id>", text)
        return re.sub(r"\d{8}T\d{6}\.\d{6}Z", lambda m: m[0] if m[0] == run_time else "<stamp>", text)

    return {str(p.relative_to(site)): same(p.read_text()) for p in site.rglob("*.html")}


def test_a_clean_runs_data_docs_on_request_are_those_it_would_have_written(tmp_path):
    """No row broke an expectation: the run keeps the results; rendered later they are the site the run
    writes under ``data_docs: always`` (same suites, expectations, arguments, counts, run name and time)."""
    out = validate_inputs(all_as_raw(tiny_inputs()), TINY_RUN_DATE, LENIENT)
    when = dt.datetime(2026, 3, 2, 6, 30)
    kept = keep_data_docs_request(out, tmp_path / "later", "run-1", when)
    assert kept is not None and not (tmp_path / "later" / "index.html").exists()
    written = write_data_docs(out, tmp_path / "now", run_name="run-1", run_time=when)
    rendered = render_data_docs(tmp_path / "later")
    assert rendered.exists() and written.exists()
    stamp = "20260302T063000.000000Z"  # the run's time, in the pages' paths and shown on them
    now, later = _pages(tmp_path / "now", stamp), _pages(tmp_path / "later", stamp)
    assert {Path(p).parts[1] for p in later if p.startswith("validations")} == set(out.validations)
    assert later == now
    orders = next(text for p, text in later.items() if p.endswith("orders.html"))
    assert "__too_long_order_id" in orders and "values must never be null" in orders


def test_a_run_with_broken_rows_writes_its_data_docs(network, tmp_path):
    out, _ = network  # GX ran on the broken lanes: it is loaded anyway, the site is written at once
    assert keep_data_docs_request(out, tmp_path / "docs", "run-1", dt.datetime(2026, 3, 2)) is None
    assert not (tmp_path / "docs").exists()


def test_plantwin_data_docs_writes_a_kept_site_and_the_summary_says_where(tmp_path):
    from typer.testing import CliRunner

    from cli.main import app
    from report.summary import data_docs_line
    from warehouse.paths import data_docs_dir

    warehouse = tmp_path / "plan.duckdb"
    out = validate_inputs(all_as_raw(tiny_inputs()), TINY_RUN_DATE, LENIENT)
    keep_data_docs_request(out, data_docs_dir(warehouse) / "run-1", "run-1", dt.datetime(2026, 3, 2))
    assert "on request, plantwin data-docs --run run-1" in data_docs_line(warehouse, "run-1")
    done = CliRunner().invoke(app, ["data-docs", "--run", "run-1", "--warehouse", str(warehouse)])
    index = (data_docs_dir(warehouse) / "run-1" / "index.html").resolve()
    assert done.exit_code == 0 and done.output.strip() == str(index) and index.exists()
    assert data_docs_line(warehouse, "run-1") == f"data docs: {index}"
    missing = CliRunner().invoke(app, ["data-docs", "--run", "run-2", "--warehouse", str(warehouse)])
    assert missing.exit_code == 2 and "no Data Docs" in missing.output
    assert data_docs_line(warehouse, "run-2") is None


def test_the_contracts_stage_gives_the_data_docs_line_the_summary_prints(tmp_path, monkeypatch):
    """The command that writes a clean run's Data Docs on request was spelt twice, the stage's with the
    warehouse as given (a relative path, wrong from any other folder) and another prefix; it is one line now."""
    from flows.settings import RunParameters
    from flows.stages import _data_docs
    from report.summary import data_docs_line

    monkeypatch.chdir(tmp_path)
    params = RunParameters(input_dir=tmp_path, warehouse=Path("plan.duckdb"))
    out = validate_inputs(all_as_raw(tiny_inputs()), TINY_RUN_DATE, LENIENT)
    said = _data_docs(params, "on_failure", out, "run-1")
    assert said == data_docs_line(Path("plan.duckdb"), "run-1")
    assert said == f"data docs: on request, plantwin data-docs --run run-1 --warehouse {tmp_path / 'plan.duckdb'}"
