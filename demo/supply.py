"""Supply side of the demo network: resources, routings, lanes and the resource calendar.

Part of the seeded demo generator (:mod:`demo.network`). Resources are sized from the expected load of
the products they make, so the network runs at ~80–90% average utilisation: the autumn flu peak cannot be
made in season and a summer maintenance shutdown makes it tighter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from data_contracts import schema
from demo.catalog import FAMILIES, PLANTS, Catalog

__all__ = [
    "Supply", "build_supply", "build_lanes", "build_calendar", "campaign_suites", "free_resources", "PRODUCTS_PER_RESOURCE",
    "SUITE_CAMPAIGN", "SAME_FAMILY_SWITCH", "PLANT_SUITE_CAMPAIGN", "PLANT_SAME_FAMILY_SWITCH", "SUITE_LABEL",
    "SUB_LABEL",
]

#: target number of products made (as primary routing) per resource
PRODUCTS_PER_RESOURCE = 7
_KIND_NAME = {"fill": ("FL", "Filling line"), "bio": ("BR", "Bioreactor 2000L")}
#: name prefix of a 2,000 L bioreactor suite (campaign-run with ``campaigns``) and of a single-use train
SUITE_LABEL = _KIND_NAME["bio"][1]
SUB_LABEL = "Single-use bioreactor 500L"
#: the campaigns of the single-level network's mixed suites (8–10 products each, short batches: the tests'
#: and the big generated networks' stress case, not a plant): a switch costs two shifts and its cost, a
#: campaign lasts 2 to 8 weeks
SUITE_CAMPAIGN = {"changeover_hours": 16.0, "changeover_cost": 40_000.0, "min_campaign_weeks": 2,
                  "max_campaign_weeks": 8}


#: a switch between two products of one family on a suite (same platform process, shorter cleaning)
SAME_FAMILY_SWITCH = {"hours": 8.0, "cost": 25_000.0}
#: the campaigns of the multi-level demo's plant-like suites (:mod:`demo.suites`, reasons in
#: ``docs/campaigns.md``): a switch costs four days (cleaning in place, swab and rinse tests and their
#: release, the next product's seed train) and its cost (cleaning, tests, a run-in's media); a campaign runs at
#: least 4 weeks (about 8 harvests, to earn the switch back) and at most 13 (a cell bank's in-vitro age)
PLANT_SUITE_CAMPAIGN = {"changeover_hours": 96.0, "changeover_cost": 250_000.0, "min_campaign_weeks": 4,
                        "max_campaign_weeks": 13}
#: a switch between two products of one family on a plant-like suite (same platform media and
#: purification template: two days)
PLANT_SAME_FAMILY_SWITCH = {"hours": 48.0, "cost": 120_000.0}
#: a resource that switches freely (every resource of the default demo)
_NO_CAMPAIGN = {"campaign": pl.lit(False), "changeover_hours": pl.lit(0.0), "changeover_cost": pl.lit(0.0),
                "min_campaign_weeks": pl.lit(1), "max_campaign_weeks": pl.lit(None, dtype=pl.Int64)}


def free_resources(frame: pl.DataFrame) -> pl.DataFrame:
    """``resource_id, site_id, name, hours_per_week`` as resources rows that switch products freely."""
    return frame.with_columns(**_NO_CAMPAIGN).select(schema.RESOURCES.column_names).cast(schema.RESOURCES.schema)


@dataclass(frozen=True)
class Supply:
    """Resources and routings, plus what the stock module needs about them.

    Attributes:
        resources: the ``resources`` frame.
        routings: the ``routings`` frame (product_id, resource_id key).
        routing_product: product index of each routing row.
        routing_plant: plant index of each routing row.
        routing_primary: whether the routing is the product's primary one.
        true_yield: the yield batches really achieve (differs from the routing's for some).
        true_failure: the QC failure rate batches really have.
    """

    resources: pl.DataFrame
    routings: pl.DataFrame
    routing_product: np.ndarray
    routing_plant: np.ndarray
    routing_primary: np.ndarray
    true_yield: np.ndarray
    true_failure: np.ndarray


def _nice(x: np.ndarray) -> np.ndarray:
    """Round to two significant digits (batch sizes like 12,000 or 350)."""
    x = np.maximum(x, 1.0)
    mag = 10.0 ** (np.floor(np.log10(x)) - 1)
    return np.round(x / mag) * mag


def _resources(products: int) -> tuple[list[tuple[str, str, str, str]], dict[str, list[int]]]:
    """(resource_id, plant_id, name, kind) per resource and the resource indices of each kind."""
    n_res = max(5, round(products / PRODUCTS_PER_RESOURCE))
    n_fill = max(2, round(n_res * 0.4))
    n_bio = max(3, n_res - n_fill)
    width = max(2, len(str(max(n_fill, n_bio))))
    rows: list[tuple[str, str, str, str]] = []
    by_kind: dict[str, list[int]] = {"fill": [], "bio": []}
    for kind, n, offset in (("fill", n_fill, 0), ("bio", n_bio, 1)):
        code, label = _KIND_NAME[kind]
        per_plant = [0, 0]
        for i in range(n):
            pl_i = (i + offset) % 2
            per_plant[pl_i] += 1
            plant_id, plant_name, _ = PLANTS[pl_i]
            short = plant_id.split("-")[1]
            by_kind[kind].append(len(rows))
            rows.append((f"{short}-{code}{per_plant[pl_i]:0{width}d}", plant_id,
                         f"{label} #{per_plant[pl_i]} ({plant_name.split(' ')[0]})", kind))
    return rows, by_kind


def build_supply(cat: Catalog, load_units: np.ndarray, rng: np.random.Generator) -> Supply:
    """Resources, routings (some products with an alternate at the other plant) and capacity sizing.

    Args:
        cat: the product catalog.
        load_units: expected weekly demand per product over the coming year (sizes capacity and batches).
        rng: random generator.
    """
    n_p = len(cat.pattern)
    res_rows, by_kind = _resources(n_p)
    res_plant = np.array([[p[0] for p in PLANTS].index(r[1]) for r in res_rows])
    kinds = np.array([FAMILIES[i].kind for i in cat.family_idx])
    primary = np.empty(n_p, dtype=np.int64)
    alternate = np.full(n_p, -1, dtype=np.int64)
    for kind, members in by_kind.items():
        prods = np.flatnonzero(kinds == kind)
        k = np.arange(len(prods))
        primary[prods] = np.array(members)[k % len(members)]
        want_alt = rng.random(len(prods)) < 0.3
        want_alt[: min(1, len(prods))] = True  # at least one alternate routing per kind
        alternate[prods[want_alt]] = np.array(members)[(k[want_alt] + 1) % len(members)]
    alternate = np.where(alternate == primary, -1, alternate)

    has_alt = alternate >= 0
    r_prod = np.concatenate([np.arange(n_p), np.flatnonzero(has_alt)])
    r_res = np.concatenate([primary, alternate[has_alt]])
    r_primary = np.concatenate([np.ones(n_p, bool), np.zeros(int(has_alt.sum()), bool)])
    n_r = len(r_prod)
    is_bio = kinds[r_prod] == "bio"
    rel = rng.uniform(0.7, 1.4, n_r)
    rel_alt = rng.uniform(1.1, 1.4, n_r)
    yld = np.where(is_bio, rng.uniform(0.85, 0.95, n_r), rng.uniform(0.95, 0.99, n_r))
    yld = np.round(yld - np.where(r_primary, 0.0, rng.uniform(0.01, 0.04, n_r)), 3)

    # capacity: each resource's hours cover its primary products' expected load at 80-90% utilisation
    # (a resource whose products have no future demand, e.g. only a phase-out, is sized on their level)
    ref = np.where(load_units > 0, load_units, cat.level)[r_prod]
    res_load = np.bincount(r_res, weights=np.where(r_primary, rel * load_units[r_prod] / yld, 0.0),
                           minlength=len(res_rows))
    res_ref = np.bincount(r_res, weights=np.where(r_primary, rel * ref / yld, 0.0), minlength=len(res_rows))
    hours = np.round(rng.uniform(100.0, 160.0, len(res_rows)) * 2) / 2
    # filling lines a little less loaded on average: their flu peak is what makes them tight
    util = np.where([r[3] == "fill" for r in res_rows], rng.uniform(0.80, 0.86, len(res_rows)),
                    rng.uniform(0.82, 0.90, len(res_rows)))
    scale = hours * util / np.where(res_load > 0, res_load, res_ref)
    # an alternate routing runs the product at its primary rate times a 1.1–1.4 slow-down
    primary_hpu = np.zeros(n_p)
    primary_hpu[r_prod[r_primary]] = (rel * scale[r_res])[r_primary]
    hpu = np.where(r_primary, rel * scale[r_res], primary_hpu[r_prod] * rel_alt)

    rel_lo = np.array([FAMILIES[i].release[0] for i in cat.family_idx])[r_prod]
    rel_hi = np.array([FAMILIES[i].release[1] for i in cat.family_idx])[r_prod]
    release = np.minimum(rng.integers(rel_lo, rel_hi + 1) + (~r_primary).astype(int), 6)
    batch = _nice(ref * rng.uniform(1.0, 3.0, n_r))
    mode = r_prod % 3  # 0: batches (min = one batch), 1: continuous with a minimum run, 2: free
    batch_size = pl.Series(np.where(mode == 0, batch, np.nan)).fill_nan(None)
    min_run = np.where(mode == 0, batch, np.where(mode == 1, _nice(batch / 2), np.nan))
    min_batch = pl.Series(min_run).fill_nan(None)

    # the truth batches follow: some routings yield less and fail QC more than their master data says
    off = rng.random(n_r) < 0.4
    shortfall = np.where(off, rng.uniform(0.03, 0.08, n_r), rng.uniform(-0.01, 0.01, n_r))
    true_yield = np.clip(yld - shortfall, 0.5, 1.0)
    bad_qc = rng.random(n_r) < 0.25
    true_failure = np.where(bad_qc, rng.uniform(0.08, 0.15, n_r), rng.uniform(0.01, 0.05, n_r))

    res_ids = pl.Series([r[0] for r in res_rows], dtype=pl.String)
    resources = pl.DataFrame(
        {"resource_id": res_ids, "site_id": [r[1] for r in res_rows], "name": [r[2] for r in res_rows],
         "hours_per_week": hours},
    )
    resources = free_resources(resources)
    routings = pl.DataFrame(
        {
            "product_id": cat.products["product_id"].gather(r_prod),
            "resource_id": res_ids.gather(r_res),
            "hours_per_unit": np.round(hpu, 8),
            "yield": yld,
            "cost_per_unit": np.round(cat.products["unit_cost"].to_numpy()[r_prod]
                                      * rng.uniform(0.25, 0.45, n_r) * np.where(r_primary, 1.0, 1.15), 2),
            "release_weeks": release.astype(np.int64),
            "min_batch": min_batch,
            "batch_size": batch_size,
        },
        schema=schema.ROUTINGS.schema,
    )
    order = np.lexsort((r_res, r_prod))
    return Supply(
        resources=resources,
        routings=routings[order],
        routing_product=r_prod[order],
        routing_plant=res_plant[r_res][order],
        routing_primary=r_primary[order],
        true_yield=true_yield[order],
        true_failure=true_failure[order],
    )


def _lead_time(plant_region: str, dc_region: str, rng: np.random.Generator) -> int:
    base = dc_region.split("-")[0]
    near = {"EU": {"EU", "UK", "MEA"}, "US": {"US", "CA", "LATAM"}}[plant_region]
    far = {"EU": {"US", "CA"}, "US": {"EU", "UK"}}[plant_region]
    if base in near:
        return 1 if base in {"EU", "US", "UK", "CA"} else 2
    if base in far:
        return 2
    return int(rng.integers(3, 5))


def build_lanes(
    dc_sites: list[tuple[str, str, str]], dc_mean: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """Every plant → every DC, and plant ↔ plant; lead times 1–4 weeks; some long lanes capacitated.

    Args:
        dc_sites: (site_id, name, region) per DC.
        dc_mean: expected weekly units into each DC (all products); sizes lane capacities.
        rng: random generator.
    """
    rows = []
    for plant_id, _, plant_region in PLANTS:
        for j, (dc_id, _, dc_region) in enumerate(dc_sites):
            lead = _lead_time(plant_region, dc_region, rng)
            cap = float(_nice(np.array([2.5 * dc_mean[j]]))[0]) if lead >= 2 and rng.random() < 0.6 else None
            rows.append((plant_id, dc_id, lead, round(float(0.15 * lead * rng.uniform(0.8, 1.5)), 3), cap))
    (a, _, _), (b, _, _) = PLANTS
    rows += [(a, b, 2, 0.25, None), (b, a, 2, 0.25, None)]
    cols = list(zip(*rows, strict=True))
    return pl.DataFrame({c: list(v) for c, v in zip(schema.LANES.column_names, cols, strict=True)},
                        schema=schema.LANES.schema)


def _summer_monday(run_date: date, iso_week: int) -> date:
    """Monday of ``iso_week`` in the first summer starting at least a week after run_date."""
    year = run_date.year if date.fromisocalendar(run_date.year, 24, 1) >= run_date + timedelta(weeks=1) \
        else run_date.year + 1
    return date.fromisocalendar(year, iso_week, 1)


def build_calendar(
    resources: pl.DataFrame, flu_line: str, run_date: date, rng: np.random.Generator
) -> pl.DataFrame:
    """Weeks that deviate from hours_per_week over the coming year.

    The flu filling line is shut 3 weeks from ISO week 30 of the coming summer; about half the other
    resources get a 2–3 week summer maintenance; every resource runs at half hours over Christmas and
    New Year; a few random weeks run reduced (60–85%).
    """
    horizon_end = run_date + timedelta(weeks=52)
    rids = resources["resource_id"].to_list()
    hours = resources["hours_per_week"].to_numpy()
    rows: list[tuple[str, date, float]] = []
    for i, rid in enumerate(rids):
        if rid == flu_line:
            start, length = _summer_monday(run_date, 30), 3
        elif rng.random() < 0.5:
            start, length = _summer_monday(run_date, int(rng.integers(24, 34))), int(rng.integers(2, 4))
        else:
            start, length = None, 0
        rows += [(rid, start + timedelta(weeks=k), 0.0) for k in range(length)] if start else []
        for yr in (run_date.year, run_date.year + 1):
            for wk, y in ((52, yr), (1, yr + 1)):
                rows.append((rid, date.fromisocalendar(y, wk, 1), float(round(hours[i] * 0.5, 1))))
        for k in rng.choice(26, size=int(rng.integers(1, 3)), replace=False):
            reduced = float(round(hours[i] * rng.uniform(0.6, 0.85), 1))
            rows.append((rid, run_date + timedelta(weeks=int(k)), reduced))
    frame = pl.DataFrame(rows, schema=schema.CALENDAR.schema, orient="row")
    return (
        frame.filter((pl.col("week") >= run_date) & (pl.col("week") < horizon_end))
        .group_by("resource_id", "week")
        .agg(pl.col("hours_available").min())
        .sort("resource_id", "week")
    )


def campaign_suites(frames: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The network with its bioreactor suites (``Bioreactor 2000L`` resources) run in campaigns and
    sequence-dependent changeovers between two products of one family routed on the same suite, the
    shorter, cheaper same-family switch (other switches pay the suite's own); a network too small for such
    a pair gets it between any two products of a suite. Filling lines and single-use bioreactors switch
    freely (a line clearance or a bag swap is in their rates).

    The settings follow the suites: a network with single-use bioreactor trains (the multi-level demo's
    plant-like suites, :mod:`demo.suites`) gets :data:`PLANT_SUITE_CAMPAIGN` and
    :data:`PLANT_SAME_FAMILY_SWITCH`; one without (the single-level network's mixed suites)
    :data:`SUITE_CAMPAIGN` and :data:`SAME_FAMILY_SWITCH`."""
    resources = frames[schema.RESOURCES.name]
    plant_like = resources["name"].str.starts_with(SUB_LABEL).any()
    settings = PLANT_SUITE_CAMPAIGN if plant_like else SUITE_CAMPAIGN
    same_family = PLANT_SAME_FAMILY_SWITCH if plant_like else SAME_FAMILY_SWITCH
    suite = pl.col("name").str.starts_with(SUITE_LABEL)
    resources = resources.with_columns(
        campaign=suite,
        changeover_hours=pl.when(suite).then(settings["changeover_hours"]).otherwise(0.0),
        changeover_cost=pl.when(suite).then(settings["changeover_cost"]).otherwise(0.0),
        min_campaign_weeks=pl.when(suite).then(settings["min_campaign_weeks"]).otherwise(1),
        max_campaign_weeks=pl.when(suite).then(settings["max_campaign_weeks"]).otherwise(None),
    ).cast(schema.RESOURCES.schema)
    family = frames[schema.PRODUCTS.name].select("product_id", "family")
    on_suite = (
        frames[schema.ROUTINGS.name].select("product_id", "resource_id")
        .join(resources.filter(pl.col("campaign")).select("resource_id"), on="resource_id")
        .join(family, on="product_id", validate="m:1")
    )
    pairs = (
        on_suite.join(on_suite, on=["resource_id", "family"], suffix="_to")
        .filter(pl.col("product_id") != pl.col("product_id_to"))
        .sort("resource_id", "product_id", "product_id_to")
    )
    if pairs.height == 0:  # a tiny demo without two products of a family on a suite: any two on a suite
        pairs = (
            on_suite.join(on_suite.drop("family"), on="resource_id", suffix="_to")
            .filter(pl.col("product_id") != pl.col("product_id_to"))
            .sort("resource_id", "product_id", "product_id_to")
        )
    changeovers = pairs.select(
        "resource_id",
        site_id=pl.lit(None, dtype=pl.String),
        from_product_id="product_id",
        to_product_id="product_id_to",
        hours=pl.lit(same_family["hours"]),
        cost=pl.lit(same_family["cost"]),
    ).cast(schema.CHANGEOVERS.schema)
    return {**frames, schema.RESOURCES.name: resources, schema.CHANGEOVERS.name: changeovers}
