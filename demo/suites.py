"""Plant-like bioreactor suites for the multi-level demo: few high-volume products per 2,000 L suite, the rest
on single-use bioreactors.

Part of the seeded demo generator (:mod:`demo.network`); ``demo_network(levels=True)`` (``plantwin demo``)
applies it to the single-level network before :func:`demo.levels.add_levels` splits the monoclonals into drug
substance and vials, so the drug substances inherit these routings. The single-level network (tests, the big
generated networks) keeps its mixed suites. Why these numbers: ``docs/campaigns.md``.

- **Suites by volume.** The products made on the ``Bioreactor 2000L`` suites (monoclonals, enzyme-replacement
  therapies, other biologics) are ranked by the suite hours a week of demand takes (expected weekly demand ×
  hours per unit / yield on the primary routing). The largest :data:`SUITE_PRODUCTS` × (number of suites)
  go to the suites, dealt out in snake order (largest to suite 1, 2, … n, then n … 1) so each suite gets
  high- and lower-volume products and about the same load; a product on a suite has that one routing (no
  alternate: a licensed process runs where it was validated). Suites left without products are dropped.
- **Batches.** A suite holds several 2,000 L production bioreactors running staggered 12–14-day fed-batches
  and one purification train; it harvests about :data:`SUITE_BATCHES_PER_WEEK` batches a week. A batch takes
  ``hours_per_week / SUITE_BATCHES_PER_WEEK`` of the suite's hours; the batch size is that over the product's
  hours per unit, rounded to two significant digits, and production is in whole batches (``min_batch`` =
  ``batch_size``).
- **Load.** Each suite's hours per unit are scaled so its products' expected load takes 80–88% of its weekly
  hours (changeovers come out of the rest).
- **Single-use bioreactors.** The other products go to one single-use bioreactor train per plant
  (``<plant>-SUB1``, ``Single-use bioreactor 500L``, not campaign-run: a bag swap between products is part of
  the rate), at the plant of their former primary routing, with an alternate at the other plant when they
  had one; sized like a planner sizes a train: its primary products' demand in their busiest quarter
  (``peak``: the highest 13-week mean of the coming year's expected demand) takes 80–88% of its hours, as
  the suites' take of theirs. (Until stop 23 it was sized on the year's mean at 75–85%: the low-volume
  biologics are seasonal, their first quarter 1.23× the year's mean, and ``BE-SUB1`` ran at 100% all 26
  weeks of the demo's plan.) Cost per unit 1.25× the suite's (consumables, smaller scale). The batch sizes
  and minimum runs of the former routings stay.
- **History.** Batch records follow their product to its new primary resource; calendar rows of a dropped
  suite go.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from data_contracts import schema
from demo.supply import SUB_LABEL, SUITE_LABEL, free_resources

__all__ = ["SUITE_PRODUCTS", "SUITE_BATCHES_PER_WEEK", "SUB_UTIL", "PEAK_WEEKS", "peak_load", "plant_suites"]

#: products per 2,000 L suite (the highest-volume ones, campaign-run when campaigns are on)
SUITE_PRODUCTS = 3
#: harvests a suite makes in a week at full rate (4 production bioreactors, 12–14-day fed-batch, staggered)
SUITE_BATCHES_PER_WEEK = 2.0
#: single-use bioreactor train per plant: hours a week, target utilisation range (at its products' busiest
#: quarter), cost factor against a suite
_SUB_HOURS = 140.0
SUB_UTIL = (0.80, 0.88)
#: weeks of the window a train is sized on (a quarter)
PEAK_WEEKS = 13
_SUB_COST = 1.25
_SUITE_UTIL = (0.80, 0.88)


def _nice(x: pl.Expr) -> pl.Expr:
    """Round to two significant digits (batch sizes like 1,200 or 350), at least 1."""
    x = pl.max_horizontal(x, pl.lit(1.0))
    mag = pl.lit(10.0).pow(x.log10().floor() - 1)
    return (x / mag).round(0) * mag


def peak_load(weekly: np.ndarray, weeks: int = PEAK_WEEKS) -> np.ndarray:
    """Each row's highest mean over ``weeks`` consecutive columns (the busiest quarter of a product's
    expected weekly demand); rows shorter than ``weeks`` give their mean."""
    weekly = np.asarray(weekly, dtype=np.float64)
    w = min(weeks, weekly.shape[1])
    csum = np.concatenate([np.zeros((weekly.shape[0], 1)), np.cumsum(weekly, axis=1)], axis=1)
    return (csum[:, w:] - csum[:, :-w]).max(axis=1) / w


def plant_suites(frames: dict[str, pl.DataFrame], load_units: np.ndarray, level: np.ndarray,
                 rng: np.random.Generator, peak: np.ndarray | None = None) -> dict[str, pl.DataFrame]:
    """The single-level network with its bioreactor products split into plant-like suites and single-use
    trains (see the module docstring).

    Args:
        frames: the single-level network (entity → frame), products in catalog order.
        load_units: expected weekly demand per product of ``frames["products"]`` (catalog order).
        level: each product's weekly demand level per DC (ranks products without future demand).
        rng: random generator (the suites' and trains' target utilisation).
        peak: expected weekly demand per product in its busiest quarter (:func:`peak_load`; sizes the
            single-use trains); None sizes them on ``load_units``.

    Returns:
        Every entity; ``resources``, ``routings``, ``calendar`` and ``batches`` changed.
    """
    resources, routings = frames[schema.RESOURCES.name], frames[schema.ROUTINGS.name]
    products = frames[schema.PRODUCTS.name]
    ref = pl.DataFrame({"product_id": products["product_id"],
                        "load": np.where(load_units > 0, load_units, level).astype(np.float64)})
    suites = resources.filter(pl.col("name").str.starts_with(SUITE_LABEL)).sort("resource_id")
    on_suite = routings.join(suites.select("resource_id", "site_id"), on="resource_id")
    if on_suite.height == 0:
        return frames
    # each product's primary routing: the fastest (build_supply's primary is the one with no slow-down)
    primary = (
        on_suite.sort("product_id", "hours_per_unit", "resource_id")
        .unique("product_id", keep="first", maintain_order=True)
        .join(ref, on="product_id")
        .with_columns(suite_hours=pl.col("load") * pl.col("hours_per_unit") / pl.col("yield"))
        .sort(["suite_hours", "product_id"], descending=[True, False])
        .with_row_index("rank")
    )
    n_suites = suites.height
    n_campaign = min(primary.height, SUITE_PRODUCTS * n_suites)
    used = -(-n_campaign // SUITE_PRODUCTS)  # suites needed for SUITE_PRODUCTS each
    rank = primary["rank"].to_numpy()
    lap, pos = rank // used, rank % used
    slot = np.where(lap % 2 == 0, pos, used - 1 - pos)  # snake order
    primary = primary.with_columns(
        to_suite=pl.Series(rank < n_campaign),
        suite=pl.Series(suites["resource_id"].gather(np.minimum(slot, used - 1)).to_list()),
    )
    # suites: one routing per product, hours scaled to the target load, batches of a half-week
    suite_util = pl.DataFrame({"suite": suites["resource_id"],
                               "util": rng.uniform(*_SUITE_UTIL, n_suites),
                               "hours_per_week": suites["hours_per_week"]})
    campaign = (
        primary.filter(pl.col("to_suite"))
        .join(suite_util, on="suite")
        .with_columns(scale=pl.col("util") * pl.col("hours_per_week")
                      / pl.col("suite_hours").sum().over("suite"))
        .with_columns(hpu=pl.col("hours_per_unit") * pl.col("scale"))
        .with_columns(batch=_nice(pl.col("hours_per_week") / SUITE_BATCHES_PER_WEEK / pl.col("hpu")))
        .select(
            "product_id",
            pl.col("suite").alias("resource_id"),
            pl.col("hpu").round(8).alias("hours_per_unit"),
            "yield",
            "cost_per_unit",
            "release_weeks",
            pl.col("batch").alias("min_batch"),
            pl.col("batch").alias("batch_size"),
        )
    )
    # single-use trains: the other products, at the plant of their primary, an alternate where they had one
    peak_ref = ref if peak is None else ref.with_columns(
        load=pl.Series(np.where(peak > 0, peak, ref["load"].to_numpy()).astype(np.float64)))
    small = primary.filter(~pl.col("to_suite")).select("product_id").join(peak_ref, on="product_id")
    sub_rows = (
        on_suite.join(small, on="product_id")
        .with_columns(is_primary=pl.col("hours_per_unit") == pl.col("hours_per_unit").min().over("product_id"))
        .with_columns(resource_id=pl.col("site_id").str.split("-").list.get(1) + "-SUB1")
        .sort("product_id", "hours_per_unit", "resource_id")
        .unique(["product_id", "resource_id"], keep="first", maintain_order=True)
    )
    sub_ids = sub_rows["resource_id"].unique().sort()
    sub_util = pl.DataFrame({"resource_id": sub_ids, "util": rng.uniform(*SUB_UTIL, sub_ids.len())})
    sub_load = (
        sub_rows.filter(pl.col("is_primary"))
        .group_by("resource_id")
        .agg((pl.col("load") * pl.col("hours_per_unit") / pl.col("yield")).sum().alias("res_hours"))
    )
    sub = (
        sub_rows.join(sub_util, on="resource_id")
        .join(sub_load, on="resource_id", how="left")
        .with_columns(scale=pl.col("util") * _SUB_HOURS
                      / pl.max_horizontal(pl.col("res_hours").fill_null(0.0), pl.lit(1e-9)))
        .select(
            "product_id",
            "resource_id",
            (pl.col("hours_per_unit") * pl.col("scale")).round(8).alias("hours_per_unit"),
            "yield",
            (pl.col("cost_per_unit") * _SUB_COST).round(2).alias("cost_per_unit"),
            "release_weeks",
            "min_batch",
            "batch_size",
        )
    )
    sub_res = free_resources(
        sub_rows.select("resource_id", "site_id").unique("resource_id").sort("resource_id").with_columns(
            name=pl.format(f"{SUB_LABEL} #1 ({{}})", "site_id"), hours_per_week=pl.lit(_SUB_HOURS))
    )
    kept_suites = campaign["resource_id"].unique().implode()
    drop = suites.filter(~pl.col("resource_id").is_in(kept_suites))["resource_id"].implode()
    out = dict(frames)
    out[schema.RESOURCES.name] = pl.concat(
        [resources.filter(~pl.col("resource_id").is_in(drop)), sub_res])
    out[schema.ROUTINGS.name] = (
        pl.concat([
            routings.join(on_suite.select("product_id", "resource_id"), on=["product_id", "resource_id"],
                          how="anti"),
            campaign.cast(schema.ROUTINGS.schema),
            sub.cast(schema.ROUTINGS.schema),
        ])
        .sort("product_id", "resource_id")
    )
    out[schema.CALENDAR.name] = frames[schema.CALENDAR.name].filter(~pl.col("resource_id").is_in(drop))
    new_primary = pl.concat([  # what each moved product's resource was sized on
        campaign.select("product_id", new_resource="resource_id"),
        sub_rows.filter(pl.col("is_primary")).unique("product_id", keep="first")
        .select("product_id", new_resource="resource_id"),
    ])
    batches = frames[schema.BATCHES.name]
    out[schema.BATCHES.name] = (
        batches.join(new_primary, on="product_id", how="left")
        .with_columns(resource_id=pl.coalesce("new_resource", "resource_id"))
        .select(batches.columns)
    )
    return out
