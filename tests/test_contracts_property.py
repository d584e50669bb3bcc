"""Property: random breaks of a valid input never lose a good row and never let a bad row through."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data_contracts import schema
from data_contracts.config import ContractConfig
from data_contracts.testing import TINY_RUN_DATE, all_as_raw, tiny_inputs
from data_contracts.validate import validate_inputs

N_ORDERS = 12
#: mutation → (column, raw value)
MUTATIONS = {
    "null_key": ("order_id", None),
    "negate_quantity": ("quantity", "-{q}"),
    "garble_number": ("quantity", "{q}x"),
    "unknown_product": ("product_id", "P404"),
    "unknown_site": ("site_id", "DC404"),
    "garble_date": ("order_date", "2026-13-01"),
}


def base_inputs() -> dict[str, pl.DataFrame]:
    typed = tiny_inputs()
    for name in schema.OPTIONAL_ENTITIES:
        del typed[name]
    orders = typed["orders"]
    typed["orders"] = pl.concat([orders] * (N_ORDERS // orders.height)).with_columns(
        pl.format("O{}", pl.int_range(1, pl.len() + 1)).alias("order_id"),
        (pl.int_range(1, pl.len() + 1) * 10.0).alias("quantity"),  # all > 0: negating breaks them
    )
    return typed


TYPED = base_inputs()


@settings(max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.integers(1, N_ORDERS), st.sampled_from(sorted(MUTATIONS)), max_size=5))
def test_good_rows_never_lost_bad_rows_never_clean(mutations: dict[int, str]):
    raw = all_as_raw(TYPED)
    orders = raw["orders"]
    for row, kind in mutations.items():
        col, template = MUTATIONS[kind]
        current = orders.filter(pl.col(schema.SOURCE_ROW) == row).get_column("quantity").item()
        value = None if template is None else template.format(q=current)
        orders = orders.with_columns(
            pl.when(pl.col(schema.SOURCE_ROW) == row)
            .then(pl.lit(value, pl.String))
            .otherwise(pl.col(col))
            .alias(col)
        )
    raw["orders"] = orders
    out = validate_inputs(raw, TINY_RUN_DATE, ContractConfig(max_reject_share=1.0))

    bad = set(mutations)
    good_positions = [r - 1 for r in range(1, N_ORDERS + 1) if r not in bad]
    assert out.clean["orders"].equals(TYPED["orders"][good_positions])
    quarantined = out.quarantine.filter(pl.col("entity") == "orders")
    assert set(quarantined.get_column("source_row")) == bad
    for row, kind in mutations.items():
        rules = set(quarantined.filter(pl.col("source_row") == row).get_column("rule"))
        expected = {
            "null_key": "not_null",
            "negate_quantity": "non_negative",
            "garble_number": "type",
            "unknown_product": "known_product",
            "unknown_site": "known_site",
            "garble_date": "type",
        }[kind]
        assert rules == {expected}, (row, kind, rules)
    for entity in ("products", "sites", "resources", "routings", "lanes", "inventory"):
        assert out.clean[entity].equals(TYPED[entity]), entity
