"""`scenario compare` on hand-written plan rows: what a what-if loses, where and from when.

A planner's hour (stop 27): a bioreactor down for three weeks on the demo lost 14,827 more units of MAB-02 at
four DCs that were already short, from ten weeks earlier, and the comparison listed only 1,510 units of
shortages that appeared; it also summed each week's backlog (a unit late three weeks counted three times)
where the run summary counts units late.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from data_contracts import schema
from report.compare import compare_runs, format_comparison
from report.sections import comparison_section
from warehouse.connection import connect
from warehouse.db import Warehouse

W = [date(2026, 5, 4) + timedelta(weeks=k) for k in range(4)]


@pytest.fixture()
def con():
    con = connect(":memory:")
    Warehouse(con, Path(":memory:")).migrate()
    # run A: P1 at D1 is 10 units late in week 1, still waiting in week 2 (backlog 10, none of week 2 late)
    # run B: P1 at D1 goes short from week 0: 30 late, then 10 more of week 1's (backlog 40), then cleared;
    #        P2 at D2 goes short in B only; P3 at D1 is short the same in both
    rows = [
        ("A", "P1", "D1", W[1], 10.0, 10.0), ("A", "P1", "D1", W[2], 10.0, 0.0),
        ("A", "P3", "D1", W[3], 5.0, 5.0),
        ("B", "P1", "D1", W[0], 30.0, 30.0), ("B", "P1", "D1", W[1], 40.0, 10.0),
        ("B", "P2", "D2", W[2], 7.0, 7.0), ("B", "P3", "D1", W[3], 5.2, 5.2),
    ]
    con.executemany(f"INSERT INTO {schema.PLAN_SHORTAGES.name} (run_id, product_id, site_id, week, "
                    "short_quantity, late_units, short_value, reason) VALUES (?, ?, ?, ?, ?, ?, 0, 'capacity')", rows)
    yield con
    con.close()


def test_a_shortage_that_deepens_is_listed_with_its_units_late_and_first_week(con):
    c = compare_runs(con, "A", "B")
    assert c.shortages_changed.rows() == [("P1", "D1", 10.0, 40.0, 30.0, W[1], W[0])]  # P3's 0.2 is noise
    assert c.shortages_new.select("product_id", "short_b", "weeks_b", "first_b").rows() == [("P2", 7.0, 1, W[2])]
    text = format_comparison(c)
    grow = text.split("shortages that grow or shrink in B")[1].split("capacity")[0]
    assert "P1" in grow and "10 →" in grow and "(+30)" in grow and f"from {W[1]} → {W[0]}" in grow
    assert "P3" not in grow
    html = comparison_section(c)
    assert "Shortages that grow or shrink in B (1)" in html and f"{W[1]} → {W[0]}" in html


def test_units_late_count_a_unit_once_however_long_it_waits(con):
    # A's P1 waits two weeks: one unit late each, 10 in all (the summary's figure), not 20 unit-weeks
    gone = compare_runs(con, "B", "A")
    assert gone.shortages_gone.select("product_id", "short_a").rows() == [("P2", 7.0)]
    assert gone.shortages_changed.filter(product_id="P1")["short_b"].to_list() == [10.0]
