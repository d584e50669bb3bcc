"""The shortages to explain: one row per product × demand site × week with backlog or lost units, keyed by
``PST`` (product, site, week index), the key every explanation is joined on.

Each explanation (:mod:`optimization.shortage_capacity`, :mod:`optimization.shortage_bom`,
:mod:`optimization.shortage_campaigns`) returns at most one row per ``PST``, which
:func:`optimization.shortages.plan_shortages` joins to these rows ``1:1``.
"""

from __future__ import annotations

import polars as pl

from optimization.network import Network

__all__ = ["PST", "short_rows", "weeks_from_start"]

#: the key of a shortage row: product, demand site and week index
PST = ["product_id", "site_id", "t"]


def short_rows(net: Network, backlog: pl.DataFrame) -> pl.DataFrame:
    """The plan_backlog rows with units short (backlog + lost above 1e-6), with their week index ``t``, the
    units ``short`` and ``replen``: the first week new production can reach the site (null: no path)."""
    return (
        backlog.with_columns(t=net.week_index(), short=pl.col("backlog") + pl.col("lost"))
        .filter(pl.col("short") > 1e-6)
        .join(net.replenishment_weeks.rename({"weeks": "replen"}), on=["product_id", "site_id"], how="left")
    )


def weeks_from_start(net: Network, col: str) -> pl.Expr:
    """Whole weeks from the plan's first Monday to the date column ``col``."""
    return ((pl.col(col) - pl.lit(net.start_week)).dt.total_days() // 7).cast(pl.Int64)
