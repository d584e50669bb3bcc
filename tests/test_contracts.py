"""Input contracts, phase 1: structure errors, row-level rules, thresholds, results."""

from __future__ import annotations

import json

import polars as pl
import pytest

from data_contracts import schema
from data_contracts.config import ContractConfig, ContractError
from data_contracts.testing import TINY_RUN_DATE, all_as_raw, tiny_inputs
from data_contracts.validate import validate_inputs

LENIENT = ContractConfig(max_reject_share=1.0)


def set_cell(raw: dict[str, pl.DataFrame], entity: str, row: int, column: str, value: str | None) -> None:
    """Overwrite the raw text of ``column`` in data row ``row`` (1-based) of ``entity``, in place."""
    f = raw[entity]
    raw[entity] = f.with_columns(
        pl.when(pl.col(schema.SOURCE_ROW) == row)
        .then(pl.lit(value, pl.String))
        .otherwise(pl.col(column))
        .alias(column)
    )


def rules_of(outcome, entity: str) -> dict[int, set[str]]:
    q = outcome.quarantine.filter(pl.col("entity") == entity)
    out: dict[int, set[str]] = {}
    for row, rule in q.select("source_row", "rule").iter_rows():
        out.setdefault(row, set()).add(rule)
    return out


@pytest.fixture(scope="module")
def valid_outcome():
    return validate_inputs(all_as_raw(tiny_inputs()), TINY_RUN_DATE)


def test_valid_set_passes_all_rows_clean_and_typed(valid_outcome):
    typed = tiny_inputs()
    assert valid_outcome.quarantine.height == 0
    assert set(valid_outcome.clean) == set(typed)
    for entity, frame in typed.items():
        clean = valid_outcome.clean[entity]
        assert clean.schema == schema.table(entity).schema, entity
        assert clean.equals(frame), entity
    assert valid_outcome.results.get_column("success").all()
    assert valid_outcome.warnings.height == 0


def test_results_one_row_per_expectation_with_counts(valid_outcome):
    res = valid_outcome.results
    assert res.columns == ["entity", "expectation", "success", "element_count", "unexpected_count"]
    assert res.select(pl.struct("entity", "expectation").is_unique().all()).item()
    orders = res.filter(pl.col("entity") == "orders")
    names = set(orders.get_column("expectation"))
    assert {
        "type(quantity)",
        "not_null(order_id)",
        "unique(order_id)",
        "non_negative(quantity)",
        "known_product(product_id)",
        "known_site(site_id)",
        "allowed_values(status)",
    } <= names
    assert (orders.get_column("element_count") == 4).all()
    assert (orders.get_column("unexpected_count") == 0).all()


# ----------------------------------------------------------------------------------------- structure
def test_missing_column_raises_naming_file_column_rule():
    raw = all_as_raw(tiny_inputs())
    raw["orders"] = raw["orders"].drop("quantity")
    with pytest.raises(
        ContractError, match=r"orders\.csv: missing column 'quantity' \(rule: required_columns\)"
    ):
        validate_inputs(raw, TINY_RUN_DATE)


def test_column_empty_in_every_row_counts_as_missing():
    raw = all_as_raw(tiny_inputs())
    raw["products"] = raw["products"].with_columns(pl.lit(None, pl.String).alias("unit_cost"))
    with pytest.raises(ContractError, match=r"products\.csv: missing column 'unit_cost'.*required_columns"):
        validate_inputs(raw, TINY_RUN_DATE)


def test_missing_required_entity_and_empty_master_data_reported_together():
    raw = all_as_raw(tiny_inputs())
    del raw["inventory"]
    raw["lanes"] = raw["lanes"].clear()
    with pytest.raises(ContractError) as err:
        validate_inputs(raw, TINY_RUN_DATE)
    assert "inventory: no input file (rule: required_entities)" in str(err.value)
    # an empty frame names no file: the entity stands for it
    assert "lanes: master data lanes has no rows (rule: master_data_not_empty)" in str(err.value)


def test_orders_with_no_rows_stop_the_run():
    raw = all_as_raw(tiny_inputs())
    raw["orders"] = raw["orders"].head(0)
    with pytest.raises(ContractError, match=r"orders: no order lines.*\(rule: orders_not_empty\)"):
        validate_inputs(raw, TINY_RUN_DATE)


def test_optional_entities_may_be_absent():
    raw = all_as_raw(tiny_inputs())
    for name in schema.OPTIONAL_ENTITIES:
        del raw[name]
    out = validate_inputs(raw, TINY_RUN_DATE)
    assert set(out.clean) == set(raw)
    assert out.quarantine.height == 0


@pytest.fixture(scope="module")
def reshaped_outcome():
    """Orders without their defaulted ``status`` column; extra columns in sites and orders (JSON)."""
    raw = all_as_raw(tiny_inputs())
    raw["orders"] = (
        raw["orders"].drop("status").with_columns(pl.lit('{"channel":"web"}').alias(schema.RAW_EXTRA))
    )
    raw["sites"] = raw["sites"].with_columns(pl.lit("x").alias("manager"))
    return validate_inputs(raw, TINY_RUN_DATE)


def test_column_with_default_may_be_absent_and_is_filled(reshaped_outcome):
    assert reshaped_outcome.clean["orders"].get_column("status").to_list() == ["open"] * 4
    assert reshaped_outcome.clean["orders"].columns == schema.ORDERS.column_names


def test_extra_column_dropped_with_note_in_results(reshaped_outcome):
    assert reshaped_outcome.clean["sites"].columns == schema.SITES.column_names
    notes = reshaped_outcome.results.filter(pl.col("expectation").str.starts_with("extra_column_dropped"))
    assert sorted(notes.select("entity", "expectation").iter_rows()) == [
        ("orders", "extra_column_dropped(channel)"),
        ("sites", "extra_column_dropped(manager)"),
    ]
    assert notes.get_column("success").all()
    assert reshaped_outcome.quarantine.height == 0


# ----------------------------------------------------------------------------------------- row rules
@pytest.fixture(scope="module")
def broken_outcome():
    """One break per rule, each on its own row, validated once."""
    raw = all_as_raw(tiny_inputs())
    set_cell(raw, "sites", 3, "site_type", "warehouse")  # DC2: bad site_type → DC2 unknown after
    set_cell(raw, "orders", 1, "quantity", "12,5")  # text in a number column
    set_cell(raw, "orders", 3, "order_id", "O2")  # duplicate of row 2
    set_cell(raw, "inventory", 1, "product_id", "P9")  # unknown product
    set_cell(raw, "inventory", 2, "quantity", "-1")  # negative quantity
    set_cell(raw, "products", 3, "product_id", None)  # null key → P3 unknown after
    set_cell(raw, "receipts", 1, "site_id", "DC9")  # unknown site
    return validate_inputs(raw, TINY_RUN_DATE, LENIENT)


def test_bad_site_type_quarantined(broken_outcome):
    assert rules_of(broken_outcome, "sites") == {3: {"allowed_values"}}
    q = broken_outcome.quarantine.filter(pl.col("entity") == "sites").row(0, named=True)
    assert q["reason"] == "site_type 'warehouse' is not one of plant, dc"
    assert json.loads(q["row_values"]) == {
        "site_id": "DC2",
        "name": "DC South",
        "site_type": "warehouse",
        "region": "EU",
    }
    assert q["source_file"] == "sites.csv" and q["load_id"] == "ld-test"


def test_text_in_number_column_is_a_type_break_only(broken_outcome):
    rules = rules_of(broken_outcome, "orders")
    # '12,5' is recognised as a decimal comma (issue 16): its own rule, with the fix; not also not_null: the
    # cast made it null, the file did not
    assert rules[1] == {"decimal_comma"}
    reason = broken_outcome.quarantine.filter((pl.col("entity") == "orders") & (pl.col("source_row") == 1))
    assert reason.get_column("reason").to_list() == [
        "quantity '12,5' has a decimal comma, but numbers are read with \".\" as decimal point: if the source "
        "writes numbers so, declare decimal: \",\" in its source config (or export with \".\"); if the comma "
        "groups thousands (1,500), export without it"]


def test_duplicate_key_rejects_every_row_sharing_it(broken_outcome):
    rules = rules_of(broken_outcome, "orders")
    assert "unique" in rules[2] and "unique" in rules[3]


def test_rejected_master_rows_make_references_unknown(broken_outcome):
    rules = rules_of(broken_outcome, "orders")
    # O2 and O4 are at DC2, rejected in sites (bad site_type); O3 is for P3, rejected in products.
    assert "known_site" in rules[2] and "known_site" in rules[4]
    assert "known_product" in rules[3]
    assert broken_outcome.clean["orders"].height == 0


def test_null_key_quarantined(broken_outcome):
    assert rules_of(broken_outcome, "products") == {3: {"not_null"}}
    assert broken_outcome.clean["products"].get_column("product_id").to_list() == ["P1", "P2"]


def test_unknown_product_and_negative_quantity(broken_outcome):
    rules = rules_of(broken_outcome, "inventory")
    assert rules == {1: {"known_product"}, 2: {"non_negative"}}
    reason = (
        broken_outcome.quarantine.filter(
            (pl.col("entity") == "inventory") & (pl.col("rule") == "non_negative")
        )
        .get_column("reason")
        .item()
    )
    assert reason == "quantity '-1' is negative"


def test_good_rows_stay_clean_when_others_break(broken_outcome):
    assert broken_outcome.clean["sites"].get_column("site_id").to_list() == ["PL1", "DC1"]
    assert broken_outcome.clean["routings"].get_column("product_id").to_list() == ["P1", "P2"]
    assert broken_outcome.clean["lanes"].height == 1  # PL1→DC2 lost with DC2


def test_results_count_the_breaks(broken_outcome):
    res = broken_outcome.results
    row = res.filter((pl.col("entity") == "orders") & (pl.col("expectation") == "unique(order_id)")).row(
        0, named=True
    )
    assert row == {
        "entity": "orders",
        "expectation": "unique(order_id)",
        "success": False,
        "element_count": 4,
        "unexpected_count": 2,
    }
    t = res.filter((pl.col("entity") == "orders") & (pl.col("expectation") == "type(quantity)")).row(
        0, named=True
    )
    assert (t["success"], t["unexpected_count"]) == (False, 1)


def test_unknown_site(broken_outcome):
    assert rules_of(broken_outcome, "receipts") == {1: {"known_site"}}
    reason = broken_outcome.quarantine.filter(pl.col("entity") == "receipts").get_column("reason").item()
    assert reason == "site_id 'DC9' is not a valid sites site_id (unknown, or rejected in sites)"


# ----------------------------------------------------------------------------------------- threshold
def test_reject_share_above_threshold_raises_naming_entity_share_rule_rows():
    raw = all_as_raw(tiny_inputs())
    set_cell(raw, "orders", 2, "quantity", "-5")
    with pytest.raises(ContractError) as err:
        validate_inputs(raw, TINY_RUN_DATE, ContractConfig(max_reject_share=0.2))
    msg = str(err.value)
    assert "orders.csv: 1 of 4 orders rows rejected (25.0%), above the allowed 20.0%" in msg
    assert "non_negative (1 rows)" in msg
    assert "orders.csv row 2: quantity '-5' is negative" in msg
    assert err.value.outcome.quarantine.height == 1


def test_reject_share_at_threshold_passes_and_per_entity_override():
    raw = all_as_raw(tiny_inputs())
    set_cell(raw, "orders", 2, "quantity", "-5")
    out = validate_inputs(raw, TINY_RUN_DATE, ContractConfig(max_reject_share=0.25))
    assert out.clean["orders"].height == 3
    with pytest.raises(ContractError, match="orders"):
        validate_inputs(
            raw,
            TINY_RUN_DATE,
            ContractConfig(max_reject_share=0.5, max_reject_share_by_entity={"orders": 0.1}),
        )


def test_config_rejects_unknown_keys_and_entities():
    with pytest.raises(ValueError):
        ContractConfig(max_reject_shares=0.1)
    with pytest.raises(ValueError):
        ContractConfig(max_reject_share_by_entity={"ordres": 0.1})
