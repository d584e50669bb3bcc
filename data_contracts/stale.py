"""Data far behind the run date: a warning row (``schema.RUN_WARNINGS``, rule ``stale_data``) per end that lies too
far back, stored with the run's other warnings.

A ``--run-date`` given years after the extract plans from an old stock, and a series silent for
``inactive_weeks`` is forecast as zero: nothing in a row is wrong, so no contract rejects it, but the
planner must be told. Pure: the caller passes the dates.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from data_contracts import schema
from data_contracts.config import WARNING_SCHEMA

__all__ = ["STALE_DATA", "stale_data_warnings"]

#: the rule's name in ``run_warnings``
STALE_DATA = "stale_data"


def stale_data_warnings(as_of: date | None, last_week: date | None, run_date: date,
                        inactive_weeks: int = 13) -> pl.DataFrame:
    """The warnings (``WARNING_SCHEMA``) where the latest inventory snapshot ``as_of`` lies more than a week
    before ``run_date``, and where the last week with demand ``last_week`` lies more than ``inactive_weeks``
    + 1 weeks before it (None: no such rows, nothing to say)."""
    rows = []
    if as_of is not None and (run_date - as_of).days > 7:
        rows.append((schema.INVENTORY.name, STALE_DATA, "as_of_date",
                     f"the inventory snapshot is of {as_of}, {(run_date - as_of).days // 7} weeks before the run "
                     f"date {run_date}: the plan starts from that stock (check --run-date or the inventory's "
                     "as_of_date)"))
    if last_week is not None and (run_date - last_week).days > 7 * (inactive_weeks + 1):
        rows.append((schema.ORDERS.name, STALE_DATA, "requested_week",
                     f"the last demand is in the week of {last_week}, {(run_date - last_week).days // 7} weeks "
                     f"before the run date {run_date}: a series without demand in {inactive_weeks} weeks is "
                     "forecast as zero (check --run-date or the orders' extract)"))
    return pl.DataFrame(rows, schema=WARNING_SCHEMA, orient="row")
