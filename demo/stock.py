"""Stock side of the demo network: on-hand lots, scheduled receipts and historical batch records.

Part of the seeded demo generator (:mod:`demo.network`). Vectorised over pairs and lots: lots are drawn
per product × site with ages up to the shelf life (so some expire within the horizon, a few within four
weeks), receipts cover work in progress and stock in transit in the first weeks, and batch records carry
true yields and QC failure rates that differ from the routings' master data for some routings.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from data_contracts import schema
from demo.catalog import PLANTS, Catalog
from demo.demand import LAUNCH_WEEKS, PHASE_OUT_END_WEEKS, Demand
from demo.supply import Supply

__all__ = ["build_inventory", "build_receipts", "build_batches"]

_EPOCH = date(1970, 1, 1)
_QUARANTINE_SHARE = 0.12  # of plant lots


def _days(d: date) -> int:
    return (d - _EPOCH).days


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _split(total: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split each total into ``n`` random whole parts (≥ 1); returns (pair index, part) per part."""
    pair = np.repeat(np.arange(len(total)), n)
    w = rng.exponential(size=len(pair))
    share = w / np.bincount(pair, weights=w, minlength=len(total))[pair]
    return pair, np.maximum(1.0, np.round(total[pair] * share))


def build_inventory(cat: Catalog, demand: Demand, supply: Supply, dc_ids: list[str], run_date: date,
                    rng: np.random.Generator) -> pl.DataFrame:
    """2–4 lots on hand at run_date per product × DC (every series) and product × plant (where it is made).

    DC stock covers 1.5–5 weeks of the coming 8 weeks' demand, plant stock 1–3 weeks of the product's
    total; flu lots are last season's and old. Some plant lots are in quarantine (recent, awaiting QC).
    """
    n_p = len(cat.pattern)
    near = demand.future_mean(8)
    # DC pairs: every series, and leftovers of phase-out products at half of their DCs
    dc_total = near * rng.uniform(1.5, 5.0, len(near))
    leftover = cat.phase_out[demand.series_product] & (rng.random(len(near)) < 0.5)
    old_stock = cat.level[demand.series_product] * rng.uniform(0.2, 1.0, len(near))
    dc_total = np.where(leftover, old_stock, dc_total)
    # plant pairs: product × plant of its routings
    pp = np.unique(supply.routing_product * len(PLANTS) + supply.routing_plant)
    pp_prod, pp_plant = pp // len(PLANTS), pp % len(PLANTS)
    prod_near = np.bincount(demand.series_product, weights=near, minlength=n_p)
    plant_total = prod_near[pp_prod] * rng.uniform(1.0, 3.0, len(pp))

    site_ids = pl.Series([p[0] for p in PLANTS] + dc_ids, dtype=pl.String)
    prod = np.concatenate([demand.series_product, pp_prod])
    site = np.concatenate([len(PLANTS) + demand.series_dc, pp_plant])
    total = np.concatenate([dc_total, plant_total])
    keep = total >= 1
    prod, site, total = prod[keep], site[keep], total[keep]
    n_lots = 2 + np.minimum(rng.poisson(0.8, len(total)), 2)  # 2–4 lots per product × site
    pair, qty = _split(total, n_lots, rng)
    lp, ls = prod[pair], site[pair]
    n = len(pair)

    shelf = cat.products["shelf_life_weeks"].fill_null(-1).to_numpy()[lp].astype(float)
    is_flu = cat.pattern[lp] == "seasonal_flu"
    quarantine = (ls < len(PLANTS)) & (rng.random(n) < _QUARANTINE_SHARE)
    age_share = np.where(is_flu, rng.uniform(0.4, 0.97, n), rng.uniform(0.0, 0.9, n))
    age_days = np.where(quarantine, rng.uniform(0, 14, n), age_share * shelf * 7)
    remaining = np.maximum(3, np.round(shelf * 7 - age_days))
    expiry = pl.Series(_days(run_date) + remaining.astype(np.int32)).cast(pl.Date)
    expiry = expiry.scatter(np.flatnonzero(shelf < 0), None)

    order = np.lexsort((ls, lp))
    frame = pl.DataFrame(
        {
            "as_of_date": pl.repeat(run_date, n, eager=True, dtype=pl.Date),
            "product_id": cat.products["product_id"].gather(lp),
            "site_id": site_ids.gather(ls),
            "lot_id": pl.repeat("", n, eager=True, dtype=pl.String),
            "quantity": qty,
            "expiry_date": expiry,
            "status": np.where(quarantine, "quarantine", "released"),
        }
    )[order]
    yy = run_date.year % 100
    return frame.with_columns(
        (pl.lit(f"L{yy:02d}-") + pl.int_range(1, n + 1).cast(pl.String).str.zfill(max(6, len(str(n)))))
        .alias("lot_id")
    ).cast(schema.INVENTORY.schema)


def build_receipts(cat: Catalog, demand: Demand, supply: Supply, dc_ids: list[str], run_date: date,
                   rng: np.random.Generator) -> pl.DataFrame:
    """Work in progress (production at plants) and stock in transit (transfers to DCs) in the first weeks."""
    n_p = len(cat.pattern)
    load = np.bincount(demand.series_product, weights=demand.future_mean(8), minlength=n_p)
    routings = supply.routings
    r_release = routings["release_weeks"].to_numpy()
    r_yield = routings["yield"].to_numpy()
    wip = supply.routing_primary & (rng.random(len(r_release)) < 0.35)
    wip_week = rng.integers(0, np.maximum(r_release, 1))
    wip_qty = np.round(load[supply.routing_product] * rng.uniform(1.0, 3.0, len(r_release)) * r_yield)
    near = demand.future_mean(4)
    move = rng.random(len(near)) < 0.2
    move_week = rng.integers(0, 3, len(near))
    move_qty = np.round(near * rng.uniform(0.5, 2.0, len(near)))

    site_ids = pl.Series([p[0] for p in PLANTS] + dc_ids, dtype=pl.String)
    prod = np.concatenate([supply.routing_product[wip], demand.series_product[move]])
    site = np.concatenate([supply.routing_plant[wip], len(PLANTS) + demand.series_dc[move]])
    week = np.concatenate([wip_week[wip], move_week[move]])
    qty = np.concatenate([wip_qty[wip], move_qty[move]])
    kind = np.concatenate([np.zeros(int(wip.sum()), int), np.ones(int(move.sum()), int)])
    frame = pl.DataFrame(
        {
            "product_id": cat.products["product_id"].gather(prod),
            "site_id": site_ids.gather(site),
            "week": _dates(_days(run_date) + 7 * week),
            "quantity": qty,
            "kind": pl.Series(["production", "transfer"]).gather(kind),
        }
    ).filter(pl.col("quantity") > 0)
    key = list(schema.RECEIPTS.key)
    return (
        frame.group_by(key).agg(pl.col("quantity").sum())
        .select(schema.RECEIPTS.column_names).cast(schema.RECEIPTS.schema).sort(key)
    )


def build_batches(cat: Catalog, demand: Demand, supply: Supply, weeks_history: int, run_date: date,
                  rng: np.random.Generator) -> pl.DataFrame:
    """Batch records over the history per routing, all decided (released or rejected) before run_date.

    Actual quantities follow each routing's true yield and QC outcomes its true failure rate
    (:attr:`Supply.true_yield`, :attr:`Supply.true_failure`), which differ from the master data for some.
    """
    routings = supply.routings
    n_r = routings.height
    release = routings["release_weeks"].to_numpy()
    n_b = np.where(supply.routing_primary, rng.integers(4, 13, n_r), rng.integers(1, 4, n_r))
    run_day = _days(run_date)
    lo = np.full(n_r, run_day - 7 * weeks_history)
    lo = np.where(cat.launch[supply.routing_product], run_day - 7 * (LAUNCH_WEEKS + 20), lo)
    hi = run_day - 7 * (release + 1)
    hi = np.where(cat.phase_out[supply.routing_product], run_day - 7 * (PHASE_OUT_END_WEEKS + 20), hi)
    hi = np.maximum(hi, lo + 7)
    b = np.repeat(np.arange(n_r), n_b)
    n = len(b)
    start = lo[b] + np.floor(rng.random(n) * (hi - lo)[b]).astype(np.int64)
    start = start - (start - _days(date(2024, 1, 1))) % 7 + rng.integers(0, 5, n)  # Monday + 0..4 days
    released = start + 7 * release[b] + rng.integers(0, 5, n)
    released = np.minimum(released, run_day - 1)
    load = np.bincount(demand.series_product, weights=demand.future_mean(), minlength=len(cat.pattern))
    ref = np.where(load > 0, load, cat.level)[supply.routing_product]
    batch_size = routings["batch_size"].fill_null(np.nan).to_numpy()
    planned_r = np.where(np.isnan(batch_size), np.maximum(1.0, np.round(ref * 2.0, -1)), batch_size)
    planned = planned_r[b] * np.where(np.isnan(batch_size[b]), rng.uniform(0.75, 1.5, n), 1.0)
    planned = np.maximum(1.0, np.round(planned))
    got = np.clip(rng.normal(supply.true_yield[b], 0.02), 0.3, 1.0)
    passed = rng.random(n) >= supply.true_failure[b]
    order = np.lexsort((b, start))
    frame = pl.DataFrame(
        {
            "batch_id": pl.repeat("", n, eager=True, dtype=pl.String),
            "product_id": routings["product_id"].gather(b),
            "resource_id": routings["resource_id"].gather(b),
            "start_date": _dates(start),
            "release_date": _dates(released),
            "planned_qty": planned,
            "actual_qty": np.round(planned * got),
            "qc_passed": passed,
        }
    )[order]
    batch_no = pl.int_range(1, n + 1).cast(pl.String).str.zfill(max(6, len(str(n))))
    return frame.with_columns((pl.lit("B-") + batch_no).alias("batch_id")) \
        .select(schema.BATCHES.column_names).cast(schema.BATCHES.schema)
