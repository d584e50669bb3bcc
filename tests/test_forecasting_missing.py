"""Issue 14: demand history that knows what it lost (quarantined lines, a partial last week)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from data_contracts import schema
from forecasting import missing_weeks, quarantined_orders, weekly_demand

MON = date(2026, 1, 5)


def _w(k: int) -> date:
    return MON + timedelta(weeks=k)


def _orders(rows):
    return pl.DataFrame(rows, schema=schema.ORDERS.schema, orient="row")


# P1|DC1 orders 10 a week for weeks 0..9; week 4's line was quarantined (decimal comma), so the clean
# orders have nothing there. The run is in week 10; the extract ends on the Monday of week 10.
ORDERS = _orders([(f"o{k}", _w(k) - timedelta(days=7), _w(k), "P1", "DC1", 10.0, "open")
                  for k in range(10) if k != 4] + [("x", _w(10), _w(11), "P1", "DC1", 1.0, "open")])
QUARANTINE = pl.DataFrame({
    "entity": ["orders", "orders"],
    "source_row": [5, 5],  # one line breaking two rules
    "row_values": ['{"order_id":"o4","product_id":"P1","site_id":"DC1","requested_week":"' + str(_w(4))
                   + '","quantity":"10,0"}'] * 2,
})
RUN = _w(10) + timedelta(days=2)


def test_quarantined_lines_parsed_once_with_their_quantity():
    lost = quarantined_orders(QUARANTINE)
    assert lost.rows() == [("P1", "DC1", _w(4), 10.0)]


def test_quarantined_week_is_imputed_never_zero():
    missing = missing_weeks(ORDERS, RUN, quarantined_orders(QUARANTINE))
    assert missing.rows() == [("P1", "DC1", _w(4), "quarantined")]
    history = weekly_demand(ORDERS, RUN, missing)
    week4 = history.filter(pl.col("week") == _w(4)).get_column("quantity").item()
    assert week4 == pytest.approx(10.0)  # the mean of the complete weeks before it, not 0
    assert history.filter(pl.col("quantity") == 0).is_empty()
    # without the knowledge the week is a fake zero: what the issue reported
    blind = weekly_demand(ORDERS, RUN)
    assert blind.filter(pl.col("week") == _w(4)).get_column("quantity").item() == 0.0


def test_partial_last_week_is_missing_and_imputed():
    # the extract stops on the Wednesday of the last history week: that week's late orders are not in it
    cut = _orders([(f"o{k}", _w(k) if k == 9 else _w(k) - timedelta(days=7), _w(k), "P1", "DC1",
                    3.0 if k == 9 else 10.0, "open") for k in range(10)]).with_columns(
        order_date=pl.when(pl.col("order_id") == "o9").then(pl.lit(_w(9) + timedelta(days=2)))
        .otherwise(pl.col("order_date")))
    missing = missing_weeks(cut, RUN)
    assert missing.rows() == [("P1", "DC1", _w(9), "partial_week")]
    history = weekly_demand(cut, RUN, missing)
    assert history.filter(pl.col("week") == _w(9)).get_column("quantity").item() == pytest.approx(10.0)
    # an extract that reaches past the last week's Sunday leaves it whole
    assert missing_weeks(ORDERS, RUN).is_empty()


def test_a_missing_first_week_starts_the_life_and_takes_the_later_mean():
    orders = _orders([(f"o{k}", _w(k), _w(k), "P1", "DC1", float(k), "open") for k in range(1, 5)]
                     + [("x", _w(6), _w(6), "P1", "DC1", 1.0, "open")])
    lost = pl.DataFrame({"product_id": ["P1"], "site_id": ["DC1"], "week": [_w(0)], "reason": ["quarantined"]})
    history = weekly_demand(orders, _w(5), lost)
    assert history.get_column("week").to_list() == [_w(k) for k in range(5)]
    assert history.get_column("quantity").to_list() == pytest.approx([2.5, 1.0, 2.0, 3.0, 4.0])
