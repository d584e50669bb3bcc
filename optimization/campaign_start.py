"""A MIP start for campaigns: the LP relaxation's production rounded to one product a week per suite.

The LP relaxation spreads a suite over several products a week. The rounding keeps, per campaign
resource and week, the product that uses most of its hours; a week without production stays set up for
the product before it (an idle week costs no changeover); a campaign shorter than the resource's minimum
(other than the first) is handed back to the product before it; a campaign longer than the maximum is
broken by an idle, cleaned week every ``max + 1`` weeks. Only the setup binaries are given: HiGHS fixes
them and completes the rest (batches, flows) itself, and discards the start if it cannot.
"""

from __future__ import annotations

import polars as pl

__all__ = ["rounded_setups"]

RT = ["resource_id", "t"]


def rounded_setups(setup: pl.DataFrame) -> pl.DataFrame:
    """``col, start`` (0 or 1) for every setup binary, from the relaxation's production.

    Args:
        setup: the ``setup_for`` frame with ``make``, the relaxation's units started of its routing-week,
            ``hours_per_unit``, ``min_campaign_weeks`` and ``max_campaign_weeks``.
    """
    busy = setup.with_columns(load=pl.col("make") * pl.col("hours_per_unit").fill_null(0.0) + pl.col("make") * 1e-9)
    chosen = (
        busy.filter(pl.col("load") > 1e-6)
        .sort([*RT, "load"], descending=[False, False, True])
        .group_by(RT, maintain_order=True)
        .first()
        .select(*RT, "product_id")
    )
    weeks = (
        setup.select("resource_id", "t", "min_campaign_weeks", "max_campaign_weeks")
        .unique(RT)
        .join(chosen, on=RT, how="left", validate="1:1")
        .sort(RT)
        .with_columns(pl.col("product_id").forward_fill().over("resource_id"))  # idle: stay set up
    )
    runs = weeks.with_columns(
        run=(pl.col("product_id") != pl.col("product_id").shift(1)).fill_null(True).cum_sum().over("resource_id")
    )
    sizes = (
        runs.group_by("resource_id", "run")
        .agg(pl.col("product_id").first(), pl.len().alias("n"), pl.col("min_campaign_weeks").first())
        .sort("resource_id", "run")
        .with_columns(before=pl.col("product_id").shift(1).over("resource_id"))
        .with_columns(
            keep=pl.when((pl.col("n") < pl.col("min_campaign_weeks")) & pl.col("before").is_not_null())
            .then(pl.col("before"))
            .otherwise(pl.col("product_id"))
        )
    )
    merged = (
        runs.join(sizes.select("resource_id", "run", "keep"), on=["resource_id", "run"], validate="m:1")
        .with_columns(product_id="keep")
        .with_columns(
            run=(pl.col("product_id") != pl.col("product_id").shift(1)).fill_null(True).cum_sum().over("resource_id")
        )
        .with_columns(pos=pl.int_range(pl.len()).over("resource_id", "run"))
        .with_columns(
            product_id=pl.when(
                pl.col("max_campaign_weeks").is_not_null()
                & (pl.col("pos") % (pl.col("max_campaign_weeks") + 1) == pl.col("max_campaign_weeks"))
            )
            .then(None)  # a cleaned, idle week breaks a campaign at its maximum
            .otherwise("product_id")
        )
        .select(*RT, on_product="product_id")
    )
    return setup.join(merged, on=RT, how="left", validate="m:1").select(
        "col", start=(pl.col("product_id") == pl.col("on_product")).fill_null(False).cast(pl.Float64)
    )
