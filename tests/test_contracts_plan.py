"""Output contracts on a hand-made plan: PL1 makes P1 and ships to DC1 (1 week) over two weeks."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import PlanContractError
from data_contracts.plan import validate_plan

W1, W2 = date(2026, 3, 2), date(2026, 3, 9)
LANES = pl.DataFrame({"from_site": ["PL1"], "to_site": ["DC1"]})
RESOURCES = pl.DataFrame({"resource_id": ["R1"], "site_id": ["PL1"]})


def plan() -> dict[str, pl.DataFrame]:
    """PL1: 10 on hand + 5 released − 8 shipped = 7, then 7 + 0 = 7. DC1: 0, then 8 arrive − 6 served = 2."""
    inv = pl.DataFrame(
        [
            ("P1", "PL1", W1, 10.0, 5.0, 0.0, 0.0, 8.0, 0.0, 0.0, 7.0),
            ("P1", "PL1", W2, 7.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0),
            ("P1", "DC1", W1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            ("P1", "DC1", W2, 0.0, 0.0, 0.0, 8.0, 0.0, 6.0, 0.0, 2.0),
        ],
        schema=[
            "product_id",
            "site_id",
            "week",
            "opening",
            "released",
            "receipts",
            "arrivals",
            "departures",
            "served",
            "expired",
            "closing",
        ],
        orient="row",
    ).with_columns(
        pl.lit(0.0).alias("consumed"), pl.lit(0.0).alias("safety_stock"), pl.lit(0.0).alias("safety_shortfall")
    )
    cap = pl.DataFrame(
        {
            "resource_id": ["R1", "R1"],
            "site_id": ["PL1", "PL1"],
            "week": [W1, W2],
            "hours_used": [50.0, 0.0],
            "hours_available": [120.0, 120.0],
        }
    )
    ship = pl.DataFrame(
        {
            "product_id": ["P1"],
            "from_site": ["PL1"],
            "to_site": ["DC1"],
            "week": [W1],
            "arrival_week": [W2],
            "quantity": [8.0],
            "cost": [1.6],
        }
    )
    prod = pl.DataFrame({"product_id": ["P1"], "resource_id": ["R1"], "site_id": ["PL1"], "week": [W1]})
    return {
        schema.PLAN_INVENTORY.name: inv,
        schema.PLAN_CAPACITY.name: cap,
        schema.PLAN_SHIPMENTS.name: ship,
        schema.PLAN_PRODUCTION.name: prod,
    }


def edit(tables: dict[str, pl.DataFrame], name: str, row: int, **values: object) -> dict[str, pl.DataFrame]:
    f = tables[name]
    idx = pl.int_range(pl.len()) == row
    tables[name] = f.with_columns(
        pl.when(idx).then(pl.lit(v)).otherwise(pl.col(c)).alias(c) for c, v in values.items()
    )
    return tables


def test_balanced_plan_passes_with_one_result_per_expectation():
    results = validate_plan(plan(), LANES, RESOURCES)
    assert results.get_column("success").all()
    assert (results.get_column("entity") == "plan").all()
    assert results.get_column("expectation").is_unique().all()
    names = set(results.get_column("expectation"))
    assert {
        "plan_capacity:capacity(resource_id, week, hours_used, hours_available)",
        "plan_shipments:known_lane(from_site, to_site)",
        "plan_production:known_resource(resource_id, site_id)",
    } <= names


def test_stock_balance_broken_names_the_row():
    tables = edit(plan(), schema.PLAN_INVENTORY.name, 3, closing=3.0)
    with pytest.raises(PlanContractError) as err:
        validate_plan(tables, LANES)
    msg = str(err.value)
    assert "plan_inventory: 1 of 4 rows break stock_balance" in msg
    assert "product_id=P1, site_id=DC1, week=2026-03-09" in msg and "closing=3.0" in msg
    failed = err.value.results.filter(~pl.col("success"))
    assert failed.height == 1 and failed.get_column("unexpected_count").item() == 1


def test_balance_within_tolerance_passes_and_beyond_fails():
    validate_plan(edit(plan(), schema.PLAN_INVENTORY.name, 3, closing=2.0 + 5e-7), LANES)
    with pytest.raises(PlanContractError, match="stock_balance"):
        validate_plan(edit(plan(), schema.PLAN_INVENTORY.name, 3, closing=2.0 + 5e-6), LANES)


def test_negative_stock_rejected_even_when_balanced():
    # DC1 week 2 serves 9 of 8 arrived: balanced, but closing −1
    tables = edit(plan(), schema.PLAN_INVENTORY.name, 3, served=9.0, closing=-1.0)
    with pytest.raises(PlanContractError) as err:
        validate_plan(tables, LANES)
    assert "non_negative_stock" in str(err.value) and "stock_balance" not in str(err.value)


def test_capacity_exceeded():
    tables = edit(plan(), schema.PLAN_CAPACITY.name, 0, hours_used=120.01)
    with pytest.raises(
        PlanContractError, match=r"(?s)plan_capacity: 1 of 2 rows break capacity.*resource_id=R1"
    ):
        validate_plan(tables, LANES)
    validate_plan(edit(plan(), schema.PLAN_CAPACITY.name, 0, hours_used=120.0 + 1e-9), LANES)


def test_shipment_on_a_lane_that_does_not_exist():
    tables = edit(plan(), schema.PLAN_SHIPMENTS.name, 0, from_site="DC1", to_site="PL1")
    with pytest.raises(PlanContractError, match=r"(?s)known_lane.*from_site=DC1, to_site=PL1"):
        validate_plan(tables, LANES)


def test_production_on_unknown_resource_only_checked_with_resources():
    tables = edit(plan(), schema.PLAN_PRODUCTION.name, 0, resource_id="R9")
    validate_plan(tables, LANES)
    with pytest.raises(PlanContractError, match="known_resource"):
        validate_plan(tables, LANES, RESOURCES)


def test_missing_plan_table():
    tables = plan()
    del tables[schema.PLAN_CAPACITY.name]
    with pytest.raises(PlanContractError, match=r"plan_capacity: plan table missing \(rule: plan_tables\)"):
        validate_plan(tables, LANES)


def _gx_on_every_row(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """What GX itself finds when handed every row of every table (the output contracts before stop 32)."""
    from data_contracts import plan as contracts
    from data_contracts.gx_runner import GxValidator

    validator, out = GxValidator("every-row"), []
    work = [
        (schema.PLAN_INVENTORY, contracts._inventory_checks(1e-6, 1e-9)),
        (schema.PLAN_CAPACITY, contracts._capacity_checks(1e-6, 1e-9)),
        (schema.PLAN_SHIPMENTS, contracts._shipment_checks(LANES, 1e-6)),
        (schema.PLAN_PRODUCTION, contracts._production_checks(RESOURCES)),
    ]
    for t, checks in work:
        _, outcomes = validator.validate(t.name, tables[t.name], checks)
        out += [(f"{t.name}:{o.check.name}", o.success, o.element_count, o.unexpected_count, o.rows)
                for o in outcomes]
    return pl.DataFrame(out, schema=["expectation", "success", "element_count", "unexpected_count", "rows"],
                        orient="row")


def test_broken_rows_found_in_polars_are_the_rows_great_expectations_finds():
    # four rules broken at once, in three tables: each result counts what GX counts on every row
    tables = edit(plan(), schema.PLAN_INVENTORY.name, 3, served=9.0, closing=-1.0)
    tables = edit(tables, schema.PLAN_INVENTORY.name, 1, closing=8.0)
    tables = edit(tables, schema.PLAN_CAPACITY.name, 0, hours_used=121.0)
    tables = edit(tables, schema.PLAN_SHIPMENTS.name, 0, from_site="DC1", to_site="PL1")
    with pytest.raises(PlanContractError) as err:
        validate_plan(tables, LANES, RESOURCES)
    got = err.value.results.select("expectation", "success", "element_count", "unexpected_count")
    want = _gx_on_every_row(tables)
    assert want.filter(~pl.col("success")).height == 4
    assert got.sort("expectation").equals(want.drop("rows").sort("expectation"))
    assert "product_id=P1, site_id=PL1, week=2026-03-09" in str(err.value)  # GX's row, named


def test_a_plan_that_breaks_nothing_is_checked_without_great_expectations(tmp_path):
    # every plan the solver returns keeps its contracts: they are read in polars, GX is neither imported nor
    # handed a row (on the big network: 420,000 inventory rows and the import, ~3 CPU-s of the plan stage)
    import json
    import subprocess
    import sys
    from pathlib import Path

    body = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_contracts_plan import LANES, RESOURCES, plan\n"
        "from data_contracts.plan import validate_plan\n"
        "results = validate_plan(plan(), LANES, RESOURCES)\n"
        "print(json.dumps({'gx': 'great_expectations' in sys.modules, 'results': results.rows()}, default=str))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", body, str(root / "tests")], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["gx"] is False
    want = _gx_on_every_row(plan())
    assert want["success"].all()
    assert sorted((e, s, n, u) for _, e, s, n, u in out["results"]) == sorted(
        want.select("expectation", "success", "element_count", "unexpected_count").rows())
