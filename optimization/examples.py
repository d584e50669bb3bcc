"""Small input builders for hand-checkable planning problems (tests, docs, benchmarks).

Each builder returns typed frames with the schema columns of its entity, filling the columns a small
example does not care about with neutral values (no batches, yield 1, unlimited lanes...).
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from data_contracts import schema

__all__ = [
    "START",
    "bom",
    "calendar",
    "inputs",
    "demand",
    "demand_of",
    "frame",
    "inventory",
    "lanes",
    "products",
    "receipts",
    "resources",
    "routings",
    "sites",
    "storage",
    "three_level",
    "two_products",
]

#: A Monday used as the start week of the examples.
START = date(2027, 1, 4)


def frame(table: schema.Table, rows: list[dict]) -> pl.DataFrame:
    """A frame of ``table``'s schema from row dicts; absent columns are null."""
    cols = table.column_names
    return (
        pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], schema=table.schema, orient="row")
        if rows
        else table.empty()
    )


def week(t: int, start: date = START) -> date:
    """Monday of week index ``t``."""
    return start + timedelta(weeks=t)


def products(*rows: dict) -> pl.DataFrame:
    """Products; defaults: no shelf life (counted from manufacture), unit_cost 10, holding 0.1, backlog
    penalty 100, priority 1, 95 %."""
    base = dict(
        name="x",
        family="f",
        unit="doses",
        shelf_life_weeks=None,
        unit_cost=10.0,
        holding_cost_per_week=0.1,
        backlog_penalty=100.0,
        priority=1,
        service_level=0.95,
        shelf_life_from="manufacture",
    )
    return frame(schema.PRODUCTS, [{**base, "name": r["product_id"], **r} for r in rows])


def sites(plants: list[str], dcs: list[str]) -> pl.DataFrame:
    """Plants and DCs."""
    rows = [dict(site_id=s, name=s, site_type="plant", region="r") for s in plants]
    rows += [dict(site_id=s, name=s, site_type="dc", region="r") for s in dcs]
    return frame(schema.SITES, rows)


def resources(*rows: dict) -> pl.DataFrame:
    """Resources: ``resource_id, site_id, hours_per_week``."""
    return frame(schema.RESOURCES, [{"name": r["resource_id"], **r} for r in rows])


def routings(*rows: dict) -> pl.DataFrame:
    """Routings; defaults: 1 hour per unit, yield 1, cost 1, no release lag, continuous."""
    base = dict(hours_per_unit=1.0, cost_per_unit=1.0, release_weeks=0, min_batch=None, batch_size=None)
    return frame(schema.ROUTINGS, [{**base, "yield": 1.0, **r} for r in rows])


def lanes(*rows: dict) -> pl.DataFrame:
    """Lanes; defaults: lead time 0, cost 0, unlimited."""
    base = dict(lead_time_weeks=0, cost_per_unit=0.0, capacity_per_week=None)
    return frame(schema.LANES, [{**base, **r} for r in rows])


def inventory(*rows: dict, start: date = START) -> pl.DataFrame:
    """Lots; defaults: released, no expiry, lot id from the row number."""
    base = dict(as_of_date=start, expiry_date=None, status="released")
    return frame(schema.INVENTORY, [{**base, "lot_id": f"L{i}", **r} for i, r in enumerate(rows)])


def receipts(*rows: dict) -> pl.DataFrame:
    """Scheduled receipts (``week`` may be given as an index ``t``)."""
    return frame(schema.RECEIPTS, [{"kind": "transfer", **_week(r)} for r in rows])


def calendar(*rows: dict) -> pl.DataFrame:
    """Calendar overrides (``week`` may be given as an index ``t``)."""
    return frame(schema.CALENDAR, [_week(r) for r in rows])


def bom(*rows: dict) -> pl.DataFrame:
    """Bill of materials rows ``parent_id, component_id, quantity_per``; default: no scrap."""
    return frame(schema.BOM, [{"scrap": 0.0, **r} for r in rows])


def storage(*rows: dict) -> pl.DataFrame:
    """Storage capacity rows ``site_id, family, capacity``."""
    return frame(schema.STORAGE, list(rows))


def demand(*rows: dict) -> pl.DataFrame:
    """Demand rows ``product_id, site_id, week|t, quantity``."""
    out = [_week(r) for r in rows]
    return (
        pl.DataFrame(
            out,
            schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "quantity": pl.Float64},
            orient="row",
        )
        if out
        else pl.DataFrame(
            schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "quantity": pl.Float64}
        )
    )


def demand_of(*rows: tuple[str, str, int, float]) -> pl.DataFrame:
    """Demand from ``(product_id, site_id, t, quantity)`` tuples (``t``: weeks after :data:`START`)."""
    return demand(*[dict(product_id=p, site_id=s, t=t, quantity=q) for p, s, t, q in rows])


def three_level(
    *,
    f_yield: float = 0.9,
    lead_time_weeks: int = 1,
    f_batch: float | None = None,
    s_batch: float | None = None,
    stock: pl.DataFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """Pack K (sold at D, ``lead_time_weeks`` from P) ← filled F ← drug substance S, all made at plant P
    (RK, RF, RS: 1,000 hours a week, 1 hour a unit), each released a week after it starts.

    Per unit started K draws 1 / (1 − 0.2) = 1.25 F and F draws 0.5 / (1 − 0.5) = 1 S; F's yield is
    ``f_yield``, S's 0.8; holding K 1.0, F 0.5, S 0.1 a week, so each is made as late as it can be.
    ``f_batch``, ``s_batch``: batch sizes (None: continuous); ``stock``: the lots on hand (none)."""
    return inputs(
        products=products(
            dict(product_id="K", holding_cost_per_week=1.0),
            dict(product_id="F", family="filled", holding_cost_per_week=0.5),
            dict(product_id="S", family="drug_substance", holding_cost_per_week=0.1),
        ),
        resources=resources(*[dict(resource_id=r, site_id="P", hours_per_week=1000.0)
                              for r in ("RK", "RF", "RS")]),
        routings=routings(
            dict(product_id="K", resource_id="RK", release_weeks=1),
            dict(product_id="F", resource_id="RF", release_weeks=1, batch_size=f_batch, **{"yield": f_yield}),
            dict(product_id="S", resource_id="RS", release_weeks=1, batch_size=s_batch, **{"yield": 0.8}),
        ),
        lanes=lanes(dict(from_site="P", to_site="D", lead_time_weeks=lead_time_weeks)),
        bom=bom(
            dict(parent_id="K", component_id="F", quantity_per=1.0, scrap=0.2),
            dict(parent_id="F", component_id="S", quantity_per=0.5, scrap=0.5),
        ),
        inventory=stock,
    )


def _week(r: dict) -> dict:
    r = dict(r)
    if "t" in r:
        r["week"] = week(r.pop("t"))
    return r



def _smallest() -> dict[str, pl.DataFrame]:
    return dict(
        products=products(dict(product_id="A")),
        resources=resources(dict(resource_id="R", site_id="P", hours_per_week=100.0)),
        routings=routings(dict(product_id="A", resource_id="R")),
        lanes=lanes(dict(from_site="P", to_site="D")),
        inventory=inventory(),
    )


def inputs(
    *, plants: tuple[str, ...] = ("P",), dcs: tuple[str, ...] = ("D",), **given: pl.DataFrame | None
) -> dict[str, pl.DataFrame]:
    """The smallest network with any entity replaced or added (``given``; None keeps the default):
    product A made on resource R (100 hours a week) at plant P, a lane P → D with no lead time or cost, no
    stock."""
    chosen = {name: frame for name, frame in given.items() if frame is not None}
    return {**_smallest(), "sites": sites(list(plants), list(dcs)), **chosen}


def two_products(lane_capacity: float | None = None, hours: float = 100.0) -> dict[str, pl.DataFrame]:
    """A on RA and B on RB at plant P (no resource shared), ``hours`` a week each, one lane P → D of
    ``lane_capacity`` a week (None: unlimited): two independent blocks unless the lane binds."""
    return inputs(
        products=products(dict(product_id="A"), dict(product_id="B")),
        resources=resources(
            dict(resource_id="RA", site_id="P", hours_per_week=hours),
            dict(resource_id="RB", site_id="P", hours_per_week=hours),
        ),
        routings=routings(dict(product_id="A", resource_id="RA"), dict(product_id="B", resource_id="RB")),
        lanes=lanes(dict(from_site="P", to_site="D", capacity_per_week=lane_capacity)),
    )
