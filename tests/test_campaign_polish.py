"""The polish's neighbourhood (optimization/campaign_polish.py): the setups next to a campaign's boundary."""

from __future__ import annotations

import numpy as np
import polars as pl

from optimization.campaign_polish import boundary_setups


def _setup(weeks: int) -> pl.DataFrame:
    """Suites R and S, products A and B on each, weeks 0 .. weeks - 1: one setup column per row, in order."""
    rows = [(r, p, t) for r in "RS" for p in "AB" for t in range(weeks)]
    return pl.DataFrame(rows, schema={"resource_id": pl.String, "product_id": pl.String, "t": pl.Int64},
                        orient="row").with_row_index("col").with_columns(pl.col("col").cast(pl.Int64))


def _plan(setup: pl.DataFrame, schedule: dict[str, str]) -> np.ndarray:
    """Every setup column's value for ``schedule`` (suite -> one letter a week, ``-`` set up for nothing)."""
    on = [schedule[r][t] == p for r, p, t in setup.select("resource_id", "product_id", "t").iter_rows()]
    return np.array(on, dtype=float)


def _free_weeks(setup: pl.DataFrame, free: np.ndarray) -> dict[str, list[int]]:
    kept = setup.filter(pl.Series(free))
    return {r: sorted(set(kept.filter(pl.col("resource_id") == r)["t"].to_list())) for r in "RS"}


def test_the_weeks_next_to_a_change_of_product_are_free_on_their_suite_only_by_hand():
    # R: A A A B B B B B changes between weeks 2 and 3: one week each side frees weeks 2 and 3 (both products),
    # two weeks each side 1 to 4; S: B B B B B B B B never changes, so it stays fixed
    setup = _setup(8)
    plan = _plan(setup, {"R": "AAABBBBB", "S": "BBBBBBBB"})
    assert _free_weeks(setup, boundary_setups(setup, plan, 1)) == {"R": [2, 3], "S": []}
    assert _free_weeks(setup, boundary_setups(setup, plan, 2)) == {"R": [1, 2, 3, 4], "S": []}
    assert boundary_setups(setup, plan, 1).sum() == 4  # weeks 2 and 3 of R, for A and for B


def test_a_week_set_up_for_nothing_is_a_product_of_its_own_by_hand():
    # R: A A - - B B: changes between 1 and 2 (A to nothing) and 3 and 4 (nothing to B): weeks 1-4 free;
    # S: - B B B B B: nothing to B between 0 and 1: weeks 0 and 1
    setup = _setup(6)
    plan = _plan(setup, {"R": "AA--BB", "S": "-BBBBB"})
    assert _free_weeks(setup, boundary_setups(setup, plan, 1)) == {"R": [1, 2, 3, 4], "S": [0, 1]}
