"""Seeded, deterministic demo network of a vaccine & biologics manufacturer, in the input contract.

``demo_network()`` builds every input entity of :data:`data_contracts.schema.INPUT_ENTITIES` as polars
frames with the contract's dtypes; ``write_demo()`` writes them as ``<entity>.csv`` / ``<entity>.parquet``;
``generate_demo()`` does both. The network (default: 40 products, 2 plants, 5 DCs, 3 years of order lines):

- families: seasonal flu vaccines (orders peak Sep–Nov), trending monoclonal antibodies, intermittent
  enzyme-replacement therapies, smooth or erratic vaccines and erratic biologics; one launch product per
  40 (< 26 weeks of history, name ends ``[launch]``) and one phase-out product per 40 (no demand in the
  last 12 weeks, name ends ``[phase-out]``), see :func:`demo_special_cases`;
- resources (filling lines, bioreactors) sized so average utilisation is ~80–90%: the flu peak must be
  pre-built, a summer shutdown of the flu filling line makes it tighter, some demand goes short;
- batch records whose true yields and failure rates differ from the routings' for some routings.

Everything is vectorised numpy/polars over series, weeks and lines (a loop per resource at most), so
10,000 product × DC series with 3 years of history (several million order lines) take seconds.
The generator is split over ``demo_catalog``, ``demo_demand``, ``demo_supply`` and ``demo_stock``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from data_contracts import schema
from demo.catalog import build_catalog, build_sites, dc_sites
from demo.demand import FUTURE_WEEKS, build_demand
from demo.levels import add_levels
from demo.levels import regional_packs as _regional_packs
from demo.suites import peak_load, plant_suites
from demo.stock import build_batches, build_inventory, build_receipts
from demo.supply import build_calendar, build_lanes, build_supply, campaign_suites

__all__ = ["DEMO_RUN_DATE", "demo_network", "demo_special_cases", "write_demo", "generate_demo"]

#: run date of the demo: a Monday; a 26-week horizon from it covers the autumn flu season
DEMO_RUN_DATE: date = date(2026, 5, 4)

#: one random stream per part; a new part goes at the end (SeedSequence children keep their index, so
#: the earlier parts' streams stay what they were)
_STREAMS = ("catalog", "demand", "supply", "lanes", "calendar", "inventory", "receipts", "batches", "suites")


def _check(products: int, dcs: int, weeks_history: int, run_date: date, levels: bool = False,
           regional_packs: bool = False) -> None:
    if products < 5:
        raise ValueError(f"products must be >= 5 (one per family), got {products}")
    if dcs < 1:
        raise ValueError(f"dcs must be >= 1, got {dcs}")
    if weeks_history < 30:
        raise ValueError(f"weeks_history must be >= 30 (launch and phase-out need it), got {weeks_history}")
    if run_date.weekday() != 0:
        raise ValueError(f"run_date must be a Monday, got {run_date} ({run_date:%A})")
    if regional_packs and not levels:
        raise ValueError("regional_packs needs levels=True (each pack is filled from its vaccine's filled bulk)")


def demo_network(*, products: int = 40, dcs: int = 5, weeks_history: int = 156, seed: int = 7,
                 run_date: date = DEMO_RUN_DATE, levels: bool = False,
                 campaigns: bool = False, regional_packs: bool = False) -> dict[str, pl.DataFrame]:
    """Build the demo network: every input entity as a frame with the contract's columns and dtypes.

    Args:
        products: number of products (>= 5); families and special cases scale proportionally.
        dcs: number of distribution centres (>= 1); regions beyond 12 get a numeric suffix.
        weeks_history: weeks of order history before run_date (>= 30).
        seed: random seed; the same arguments give identical frames.
        run_date: the planning date (a Monday); inventory is as of it, no order is dated after it.
        levels: make monoclonals and vaccines over several levels (drug substance, antigen bulk, filled
            bulk; a bill of materials and drug-substance freezers, see :mod:`demo.levels`) and the
            bioreactors plant-like (three high-volume products per 2,000 L suite in half-week batches, the
            others on single-use trains: :mod:`demo.suites`), as ``plantwin demo`` does; False (default, the
            networks tests and benchmarks are sized on) = every product in one step, ``bom`` and
            ``storage`` empty, 8–10 products per suite.
        campaigns: run the 2,000 L bioreactor suites in campaigns (one product a week, changeover hours and
            cost, cheaper switches within a family: :func:`demo.supply.campaign_suites`; with ``levels``
            4-day switches and 4–13 week campaigns, without 16-hour switches and 2–8 week campaigns);
            False (default) = every resource switches freely, the plan an LP.
        regional_packs: with ``levels``, each vaccine's filled bulk feeds one pack per market it is sold in
            (``VAC-…-EU``, ``VAC-…-US``: :func:`demo.levels.regional_packs`); False (default) = one pack.

    Returns:
        Entity name → frame, for every entity of ``schema.INPUT_ENTITIES`` in that order.

    Raises:
        ValueError: a size knob is out of range, run_date is not a Monday, or regional_packs without levels.
    """
    _check(products, dcs, weeks_history, run_date, levels, regional_packs)
    seeds = np.random.SeedSequence(seed).spawn(len(_STREAMS))  # one independent stream per part
    rng = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    dcs_info = dc_sites(dcs)
    dc_ids = [d[0] for d in dcs_info]
    cat = build_catalog(products, rng["catalog"])
    demand = build_demand(cat, dcs, dc_ids, weeks_history, run_date, rng["demand"])
    year_mean = demand.future_mean()
    load_units = np.bincount(demand.series_product, weights=year_mean, minlength=products)
    supply = build_supply(cat, load_units, rng["supply"])
    dc_mean = np.bincount(demand.series_dc, weights=year_mean, minlength=dcs)
    first_flu = int(np.flatnonzero(cat.pattern == "seasonal_flu")[0])
    flu_line = supply.routings["resource_id"][int(np.flatnonzero(
        (supply.routing_product == first_flu) & supply.routing_primary)[0])]
    frames = {
        schema.PRODUCTS.name: cat.products,
        schema.SITES.name: build_sites(dcs),
        schema.RESOURCES.name: supply.resources,
        schema.ROUTINGS.name: supply.routings,
        schema.LANES.name: build_lanes(dcs_info, dc_mean, rng["lanes"]),
        schema.ORDERS.name: demand.orders,
        schema.INVENTORY.name: build_inventory(cat, demand, supply, dc_ids, run_date, rng["inventory"]),
        schema.RECEIPTS.name: build_receipts(cat, demand, supply, dc_ids, run_date, rng["receipts"]),
        schema.CALENDAR.name: build_calendar(supply.resources, flu_line, run_date, rng["calendar"]),
        schema.BATCHES.name: build_batches(cat, demand, supply, weeks_history, run_date, rng["batches"]),
        schema.BOM.name: schema.BOM.empty(),
        schema.STORAGE.name: schema.STORAGE.empty(),
        schema.CHANGEOVERS.name: schema.CHANGEOVERS.empty(),
    }
    if levels:  # the suites first: the drug substances inherit their routings
        weekly = np.zeros((products, FUTURE_WEEKS))  # expected demand per product × coming week
        np.add.at(weekly, demand.series_product, demand.mean[:, -FUTURE_WEEKS:])
        frames = plant_suites(frames, load_units, cat.level, rng["suites"], peak=peak_load(weekly))
        frames = add_levels(frames, load_units, cat.level, run_date)
        if regional_packs:
            frames = _regional_packs(frames)
    if campaigns:  # after the levels: the suites then make the drug substances
        frames = campaign_suites(frames)
    return {t.name: frames[t.name].select(t.column_names).cast(t.schema) for t in schema.INPUT_ENTITIES}


def demo_special_cases(products: int = 40) -> dict[str, list[str]]:
    """Product ids of the launch and phase-out products of a demo network of ``products`` products.

    Launch products are the last monoclonals (``MAB-…``), phase-out products the last vaccines
    (``VAC-…``); their names in ``products`` also end in ``[launch]`` / ``[phase-out]``.
    """
    cat = build_catalog(products, np.random.default_rng(0))  # ids do not depend on the seed
    ids = cat.products["product_id"].to_numpy()
    return {"launch": ids[cat.launch].tolist(), "phase_out": ids[cat.phase_out].tolist()}


def write_demo(frames: dict[str, pl.DataFrame], out_dir: Path,
               file_format: Literal["csv", "parquet"] = "csv") -> dict[str, Path]:
    """Write each frame to ``out_dir/<entity>.<file_format>``, columns in schema order, ISO dates; an
    optional entity without rows is not written (absent means none: the single-level demo has no ``bom``).
    The ``_READY`` marker is written last, as an exporter should (``schema.READY_MARKER``): a run reads the
    folder at once instead of waiting a settle interval for files just written (:mod:`warehouse.arrival`).

    Writing over an earlier write leaves nothing of it that would be read with the new files: the old
    marker and checksum manifest go first, and so does, for each entity given, its file in the other format
    and, where it is now absent, its old file (``plantwin demo`` after ``plantwin demo --campaigns`` used to
    leave the campaign demo's ``changeovers.csv``, and the run refused all 16 rows).

    Args:
        frames: entity name → frame (as from :func:`demo_network`); names must be input entities.
        out_dir: folder to write into (created if missing).
        file_format: ``csv`` or ``parquet``.

    Returns:
        Entity name → path written.

    Raises:
        ValueError: unknown file format or a frame name that is not an input entity.
    """
    if file_format not in schema.INPUT_FILE_FORMATS:
        raise ValueError(f"file_format must be 'csv' or 'parquet', got {file_format!r}")
    known = {t.name: t for t in schema.INPUT_ENTITIES}
    unknown = sorted(set(frames) - set(known))
    if unknown:
        raise ValueError(f"not input entities: {unknown}; known: {sorted(known)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for marker in (schema.READY_MARKER, schema.CHECKSUMS_MANIFEST):  # the folder is incomplete until the end
        (out_dir / marker).unlink(missing_ok=True)
    paths: dict[str, Path] = {}
    for name, frame in frames.items():
        tbl = known[name]
        absent = tbl.optional and frame.height == 0
        for fmt in schema.INPUT_FILE_FORMATS:  # what an earlier write left for this entity
            if absent or fmt != file_format:
                (out_dir / f"{name}.{fmt}").unlink(missing_ok=True)
        if absent:
            continue
        data = frame.select(tbl.column_names)
        path = out_dir / f"{name}.{file_format}"
        if file_format == "csv":
            data.write_csv(path, date_format="%Y-%m-%d")
        else:
            data.write_parquet(path)
        paths[name] = path
    (out_dir / schema.READY_MARKER).write_bytes(b"")
    return paths


def generate_demo(
    out_dir: Path, *, file_format: Literal["csv", "parquet"] = "csv", **kwargs: object
) -> dict[str, Path]:
    """Build the demo network (``kwargs`` as :func:`demo_network`) and write it to ``out_dir``.

    Returns:
        Entity name → path written.
    """
    return write_demo(demo_network(**kwargs), out_dir, file_format)  # type: ignore[arg-type]
