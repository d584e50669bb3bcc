"""Seeded random planning networks for property tests and benchmarks (no I/O, numpy RNG).

:func:`random_inputs` builds every input entity plus a demand frame for ``n_products`` products made at
``n_plants`` plants (``resources_per_plant`` resources each, every product routed on one or two
resources), shipped to ``n_dcs`` DCs over plant→DC lanes (some capacity-limited) and plant→plant
lanes, with opening lots (some expiring, some in quarantine), receipts and calendar shutdowns.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from data_contracts import schema
from optimization.examples import START

__all__ = ["random_inputs"]


def _typed(table: schema.Table, data: dict) -> pl.DataFrame:
    frame = pl.DataFrame(data)
    return frame.select(  # columns with a default (campaign, ...) may be left out
        (pl.col(c) if c in frame.columns else pl.lit(table.defaults[c])).cast(t).alias(c)
        for c, t in table.columns.items()
    )


def random_inputs(
    seed: int,
    n_products: int = 5,
    n_plants: int = 2,
    n_dcs: int = 3,
    horizon: int = 8,
    resources_per_plant: int = 2,
    shelf_life_share: float = 0.3,
    start: date = START,
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Input entities and a demand frame of a random network.

    Args:
        seed: RNG seed.
        n_products, n_plants, n_dcs: network size.
        horizon: weeks of demand generated.
        resources_per_plant: resources at every plant.
        shelf_life_share: share of products with a shelf life (between 2 and 2·horizon weeks).
        start: Monday of week 0.

    Returns:
        ``(inputs, demand)``: entity name → frame, and ``product_id, site_id, week, quantity``.
    """
    rng = np.random.default_rng(seed)
    pids = [f"P{i:04d}" for i in range(n_products)]
    plants = [f"PL{i}" for i in range(n_plants)]
    dcs = [f"DC{i}" for i in range(n_dcs)]
    shelf = np.where(
        rng.random(n_products) < shelf_life_share, rng.integers(2, 2 * horizon + 1, n_products), -1
    )
    products = _typed(
        schema.PRODUCTS,
        dict(
            product_id=pids,
            name=pids,
            family=rng.choice(["vaccines", "mabs"], n_products).tolist(),
            unit="doses",
            shelf_life_weeks=[int(s) if s > 0 else None for s in shelf],
            unit_cost=rng.uniform(5, 50, n_products),
            holding_cost_per_week=rng.uniform(0.05, 0.5, n_products),
            backlog_penalty=rng.uniform(50, 200, n_products),
            priority=rng.integers(1, 4, n_products),
            service_level=rng.uniform(0.8, 0.99, n_products),
            shelf_life_from="manufacture",
        ),
    )
    sites = _typed(
        schema.SITES,
        dict(
            site_id=plants + dcs,
            name=plants + dcs,
            site_type=["plant"] * n_plants + ["dc"] * n_dcs,
            region="eu",
        ),
    )
    rids = [f"{p}-R{j}" for p in plants for j in range(resources_per_plant)]
    mean_demand = rng.uniform(20, 200, n_products)
    hours_per_unit = rng.uniform(0.01, 0.05, n_products)
    # enough hours on average for ~90 % of demand: capacity binds now and then
    load = float((mean_demand * hours_per_unit).sum()) * n_dcs * 0.6 / len(rids) * 1.5
    resources = _typed(
        schema.RESOURCES,
        dict(
            resource_id=rids,
            site_id=[r.split("-")[0] for r in rids],
            name=rids,
            hours_per_week=rng.uniform(0.7, 1.1, len(rids)) * load,
        ),
    )
    first = rng.integers(0, len(rids), n_products)
    second = (first + 1 + rng.integers(0, len(rids) - 1, n_products)) % len(rids)
    use_second = rng.random(n_products) < 0.5
    r_prod = pids + [p for p, u in zip(pids, use_second) if u]
    r_res = [rids[i] for i in first] + [rids[i] for i, u in zip(second, use_second) if u]
    n_r = len(r_prod)
    batch = np.where(rng.random(n_r) < 0.3, np.round(rng.uniform(50, 300, n_r)), np.nan)
    routings = _typed(
        schema.ROUTINGS,
        dict(
            product_id=r_prod,
            resource_id=r_res,
            hours_per_unit=np.concatenate([hours_per_unit, hours_per_unit[use_second]])
            * rng.uniform(0.9, 1.2, n_r),
            **{"yield": rng.uniform(0.85, 1.0, n_r)},
            cost_per_unit=rng.uniform(1, 10, n_r),
            release_weeks=rng.integers(0, 4, n_r),
            min_batch=[None] * n_r,
            batch_size=[None if np.isnan(b) else float(b) for b in batch],
        ),
    )
    lane_from = [p for p in plants for _ in dcs] + [a for a in plants for b in plants if a != b]
    lane_to = [d for _ in plants for d in dcs] + [b for a in plants for b in plants if a != b]
    n_l = len(lane_from)
    cap = np.where(
        rng.random(n_l) < 0.2, rng.uniform(0.5, 1.5, n_l) * mean_demand.sum() / max(n_plants, 1), np.nan
    )
    lanes = _typed(
        schema.LANES,
        dict(
            from_site=lane_from,
            to_site=lane_to,
            lead_time_weeks=rng.integers(0, 3, n_l),
            cost_per_unit=rng.uniform(0.1, 2.0, n_l),
            capacity_per_week=[None if np.isnan(c) else float(c) for c in cap],
        ),
    )
    n_lots = max(1, n_products * 2)
    lot_site = rng.choice(plants + dcs, n_lots)
    lot_prod = rng.choice(pids, n_lots)
    expiry_weeks = rng.integers(-1, 2 * horizon, n_lots)
    inventory = _typed(
        schema.INVENTORY,
        dict(
            as_of_date=start,
            product_id=lot_prod,
            site_id=lot_site,
            lot_id=[f"L{i}" for i in range(n_lots)],
            quantity=rng.uniform(0, 300, n_lots),
            expiry_date=[
                start + timedelta(weeks=int(w), days=int(d)) if w >= 0 else None
                for w, d in zip(expiry_weeks, rng.integers(0, 7, n_lots))
            ],
            status=np.where(rng.random(n_lots) < 0.2, "quarantine", "released").tolist(),
        ),
    )
    n_rc = max(1, n_products // 2)
    receipts = _typed(
        schema.RECEIPTS,
        dict(
            product_id=rng.choice(pids, n_rc),
            site_id=rng.choice(plants, n_rc),
            week=[start + timedelta(weeks=int(w)) for w in rng.integers(0, horizon, n_rc)],
            quantity=rng.uniform(10, 200, n_rc),
            kind="production",
        ),
    ).unique(["product_id", "site_id", "week", "kind"])
    shut = rng.choice(rids, max(1, len(rids) // 2), replace=False)
    calendar = _typed(
        schema.CALENDAR,
        dict(
            resource_id=shut,
            week=[start + timedelta(weeks=int(w)) for w in rng.integers(0, horizon, len(shut))],
            hours_available=0.0,
        ),
    )
    dp, dd, dw = np.meshgrid(np.arange(n_products), np.arange(n_dcs), np.arange(horizon), indexing="ij")
    keep = rng.random(dp.size) < 0.8
    qty = rng.poisson(mean_demand[dp.ravel()] * 0.6)[keep]
    demand = pl.DataFrame(
        dict(
            product_id=np.array(pids)[dp.ravel()[keep]],
            site_id=np.array(dcs)[dd.ravel()[keep]],
            week=[start + timedelta(weeks=int(w)) for w in dw.ravel()[keep]],
            quantity=qty.astype(float),
        )
    ).with_columns(pl.col("week").cast(pl.Date))
    inputs = dict(
        products=products,
        sites=sites,
        resources=resources,
        routings=routings,
        lanes=lanes,
        inventory=inventory,
        receipts=receipts,
        calendar=calendar,
    )
    return inputs, demand
