"""Campaigns on campaign-run resources: the rows over a campaign's weeks, its least length
(``min_campaign``), its most (``max_campaign``) and the valid inequality that a week set up for a product
follows one of its switches by less than that most (``campaign_start``). The variables are
:mod:`optimization.campaigns`'.
"""

from __future__ import annotations

import polars as pl

from optimization.campaigns import PRT, _terms
from optimization.lp import ModelBuilder

__all__ = ["campaign_length_max", "campaign_length_min", "campaign_start_window"]


def campaign_length_min(mb: ModelBuilder, setup: pl.DataFrame, switch: pl.DataFrame) -> pl.DataFrame:
    """``min_campaign[p,r,t]``: setup(t) ≥ switches of the last ``min_campaign_weeks`` weeks (a campaign
    that started less than its minimum ago is still set up). Campaigns cut by the horizon's end are not
    held to it."""
    window = (
        switch.filter(pl.col("min_campaign_weeks") > 1)
        .select(*PRT, "col", "min_campaign_weeks")
        .with_columns(k=pl.int_ranges(0, pl.col("min_campaign_weeks")))
        .explode("k")
        .with_columns(t=pl.col("t") + pl.col("k"))
    )
    rows = setup.join(window.select(PRT).unique(), on=PRT, how="semi")
    terms = pl.concat([_terms(rows, {c: c for c in PRT}, 1.0), _terms(window, {c: c for c in PRT}, -1.0)])
    return mb.add_constraints(
        "min_campaign", rows.select(PRT).with_columns(rhs=pl.lit(0.0)), PRT, terms, ">=", "rhs"
    )


def campaign_length_max(mb: ModelBuilder, setup: pl.DataFrame, first_week: int) -> pl.DataFrame:
    """``max_campaign[p,r,t]``: of the ``max_campaign_weeks + 1`` weeks ending in ``t``, at most
    ``max_campaign_weeks`` are set up for ``p``."""
    capped = setup.filter(pl.col("max_campaign_weeks").is_not_null())
    rows = capped.filter(pl.col("t") >= first_week + pl.col("max_campaign_weeks")).select(
        *PRT, rhs=pl.col("max_campaign_weeks").cast(pl.Float64)
    )
    window = (
        capped.select(*PRT, "col", "max_campaign_weeks")
        .with_columns(k=pl.int_ranges(0, pl.col("max_campaign_weeks") + 1))
        .explode("k")
        .with_columns(t=pl.col("t") + pl.col("k"))
        .join(rows.select(PRT), on=PRT, how="semi")
    )
    return mb.add_constraints("max_campaign", rows, PRT, _terms(window, {c: c for c in PRT}, 1.0), "<=", "rhs")


def campaign_start_window(
    mb: ModelBuilder, setup: pl.DataFrame, switch: pl.DataFrame, first_week: int
) -> pl.DataFrame:
    """``campaign_start[p,r,t]``: setup(t) ≤ switches of ``p`` in the last ``max_campaign_weeks`` weeks.

    A valid inequality, not a new rule: a week set up for ``p`` lies in a campaign no longer than its
    maximum, so that campaign started within the last ``max_campaign_weeks`` weeks, after ``first_week``
    (where a start is free) once ``t ≥ first_week + max_campaign_weeks``, and its start is a switch. The
    integer plans are the same as with ``max_campaign`` alone, but the relaxation can no longer keep a
    suite on a steady fractional mix of products with no switch at all: each product set up a share
    ``s`` of a week needs ``s`` switches in the weeks before it (a lower bound on changeovers).
    """
    capped = setup.filter(pl.col("max_campaign_weeks").is_not_null())
    rows = capped.filter(pl.col("t") >= first_week + pl.col("max_campaign_weeks")).select(
        *PRT, "max_campaign_weeks"
    )
    window = (
        rows.with_columns(k=pl.int_ranges(0, pl.col("max_campaign_weeks")))
        .explode("k")
        .select("product_id", "resource_id", "t", u=pl.col("t") - pl.col("k"))
        .join(switch.select("product_id", "resource_id", pl.col("t").alias("u"), "col"),
              on=["product_id", "resource_id", "u"])
    )
    k = {c: c for c in PRT}
    own = setup.join(rows.select(PRT), on=PRT, how="semi")
    terms = pl.concat([_terms(own, k, 1.0), _terms(window, k, -1.0)])
    return mb.add_constraints(
        "campaign_start", rows.select(PRT).with_columns(rhs=pl.lit(0.0)), PRT, terms, "<=", "rhs"
    )
