"""Pegging: which supply serves which use, first in, first out through each site's stock.

A plan says how much each site makes, ships, serves and holds, not which units go where. This pass pegs
them: at every product × site the supply lots (the opening stock, scheduled receipts, production released
there, shipments arriving) are used in the order they arrive, and the uses (expired, served, used as a
component, shipped on, left in stock at the end) in week order. A shipment carries the lots it was pegged to
at its origin on to its destination, so a DC's served demand is pegged to the production (resource, start
week, release week) or the stock it came from: which campaign's weekly batches serve which DC.

Both lists are laid end to end (cumulative quantities) and cut where either changes lot: each piece is one
supply lot serving one use. The stock balance (``opening + released + receipts + arrivals = expired +
served + consumed + departures + closing``, closing ≥ 0 every week) makes every use pegged to supply that was
there by its week. What expires is pegged to the oldest lots, as stock leaves first in, first out (the plan's
shelf-life cohorts are not followed); a component's consumption is pegged to its lots, and stops there (the
pegging does not follow it into the parent's production). A week's served units include backlog of earlier
weeks.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["plan_pegging"]

_EPS = 1e-6
_BY = ["product_id", "site_id"]
#: what a supply lot came from, carried from site to site
SOURCE = ["source", "source_site", "resource_id", "start_week", "release_week"]
#: supply lots arriving in the same week are used in this order (stock on hand first)
_SUPPLY_RANK = {"stock": 0, "receipt": 1, "arrival": 2, "production": 3}
#: uses in the same week are served in this order (what expires is the oldest)
_USE_RANK = {"expired": 0, "served": 1, "consumed": 2, "departure": 3, "closing": 4}


def _lots(inventory: pl.DataFrame, production: pl.DataFrame, arrivals: pl.DataFrame) -> pl.DataFrame:
    """Every product × site's supply lots: ``_BY, week, rank, SOURCE, quantity`` (``week``: when usable)."""
    first = inventory["week"].min()
    none = {c: pl.lit(None, pl.String) for c in ("resource_id",)} | {
        c: pl.lit(None, pl.Date) for c in ("start_week", "release_week")}
    stock = inventory.filter((pl.col("week") == first) & (pl.col("opening") > _EPS)).select(
        *_BY, "week", quantity="opening", source=pl.lit("stock"), source_site="site_id", **none)
    receipts = inventory.filter(pl.col("receipts") > _EPS).select(
        *_BY, "week", quantity="receipts", source=pl.lit("receipt"), source_site="site_id", **none)
    last = inventory["week"].max()
    made = (
        production.filter((pl.col("released_quantity") > _EPS) & (pl.col("release_week") <= last))
        .select(*_BY, week="release_week", quantity="released_quantity", source=pl.lit("production"),
                source_site="site_id", resource_id="resource_id", start_week="week", release_week="release_week")
    )
    columns = [*_BY, "week", *SOURCE, "quantity"]
    return pl.concat([f.select(*columns, rank=pl.lit(_SUPPLY_RANK[kind], pl.Int64))
                      for kind, f in (("stock", stock), ("receipt", receipts), ("production", made),
                                      ("arrival", arrivals))])


def _uses(inventory: pl.DataFrame, shipments: pl.DataFrame) -> pl.DataFrame:
    """Every product × site's uses: ``_BY, week, rank, use, to_site, arrival_week, quantity``."""
    last = inventory["week"].max()
    none = {"to_site": pl.lit(None, pl.String), "arrival_week": pl.lit(None, pl.Date)}
    own = [
        inventory.filter(pl.col(c) > _EPS).select(*_BY, "week", use=pl.lit(c), quantity=c, **none)
        for c in ("expired", "served", "consumed")
    ]
    closing = inventory.filter((pl.col("week") == last) & (pl.col("closing") > _EPS)).select(
        *_BY, "week", use=pl.lit("closing"), quantity="closing", **none)
    departures = shipments.filter(pl.col("quantity") > _EPS).select(
        "product_id", pl.col("from_site").alias("site_id"), "week", use=pl.lit("departure"), quantity="quantity",
        to_site="to_site", arrival_week="arrival_week")
    columns = [*_BY, "week", "use", "to_site", "arrival_week", "quantity"]
    return pl.concat([f.select(columns) for f in (*own, closing, departures)]).with_columns(
        rank=pl.col("use").replace_strict(_USE_RANK, return_dtype=pl.Int64))


def _ends(frame: pl.DataFrame, order: list[str]) -> pl.DataFrame:
    """``frame`` in ``order`` within each product × site, with its cumulative start ``lo`` and end ``hi``."""
    return frame.sort(*_BY, *order).with_columns(hi=pl.col("quantity").cum_sum().over(_BY)).with_columns(
        lo=pl.col("hi") - pl.col("quantity"))


def _fifo(lots: pl.DataFrame, uses: pl.DataFrame) -> pl.DataFrame:
    """The pieces: one supply lot serving one use, first in, first out (``_BY``, the use's ``week, use,
    to_site, arrival_week``, the lot's ``SOURCE``, ``quantity``)."""
    s = _ends(lots, ["week", "rank", *SOURCE])
    u = _ends(uses, ["week", "rank", "to_site"])
    total = (s.group_by(_BY).agg(supply=pl.col("hi").max())
             .join(u.group_by(_BY).agg(used=pl.col("hi").max()), on=_BY))
    cuts = (
        pl.concat([s.select(*_BY, x="lo"), u.select(*_BY, x="lo")]).unique()
        .join(total, on=_BY)
        .sort(*_BY, "x")
        .with_columns(end=pl.col("x").shift(-1).over(_BY))
        .with_columns(end=pl.min_horizontal(pl.col("end").fill_null(pl.col("supply")), "supply", "used"))
        .filter(pl.col("end") - pl.col("x") > _EPS)
    )
    return (
        cuts.join_asof(s.select(*_BY, "lo", *SOURCE).sort(*_BY, "lo"), left_on="x", right_on="lo", by=_BY,
                       check_sortedness=False)
        .join_asof(u.select(*_BY, "lo", "week", "use", "to_site", "arrival_week").sort(*_BY, "lo"),
                   left_on="x", right_on="lo", by=_BY, check_sortedness=False)
        .select(*_BY, "week", "use", "to_site", "arrival_week", *SOURCE, quantity=pl.col("end") - pl.col("x"))
    )


def _shipped(pieces: pl.DataFrame, last: object) -> pl.DataFrame:
    """The pieces shipped on, as lots at their destination in their arrival week (arriving after the
    horizon's ``last`` week: not used in it): ``_BY, week, SOURCE, quantity``."""
    return (
        pieces.filter(pl.col("use") == "departure")
        .group_by("product_id", "to_site", "arrival_week", *SOURCE)
        .agg(pl.col("quantity").sum())
        .select("product_id", site_id="to_site", week="arrival_week", source="source", source_site="source_site",
                resource_id="resource_id", start_week="start_week", release_week="release_week",
                quantity="quantity")
        .filter(pl.col("week") <= last)
    )


def plan_pegging(
    inventory: pl.DataFrame, production: pl.DataFrame, shipments: pl.DataFrame
) -> pl.DataFrame:
    """The plan's pegging table: which lot (opening stock, receipt, or production at a resource started and
    released in given weeks) each site's expired, served, consumed and closing units came from.

    Site by site along the lanes: a shipment's pieces become lots at its destination in its arrival week,
    so the product × sites whose arrivals changed are pegged again until none changes (plants, then the DCs
    they ship to, then the check; at most once per site).

    Args:
        inventory: the plan_inventory table.
        production: the plan_production table.
        shipments: the plan_shipments table.

    Returns:
        ``product_id, site_id, week, use, source, source_site, resource_id, start_week, release_week,
        quantity`` (the plan_pegging table without ``run_id``), summed over the shipments a lot travelled by.
    """
    table = schema.PLAN_PEGGING
    if inventory.height == 0:
        return table.empty().drop("run_id")
    uses = _uses(inventory, shipments)
    last = inventory["week"].max()
    arrivals = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                    "source": pl.String, "source_site": pl.String, "resource_id": pl.String,
                                    "start_week": pl.Date, "release_week": pl.Date, "quantity": pl.Float64})
    pieces = _fifo(_lots(inventory, production, arrivals), uses)
    for _ in range(inventory["site_id"].n_unique()):
        shipped = _shipped(pieces, last)
        # the product × sites whose arrivals changed are pegged again, the others keep their pieces
        changed = pl.concat([shipped.join(arrivals, on=shipped.columns, how="anti", nulls_equal=True),
                             arrivals.join(shipped, on=shipped.columns, how="anti", nulls_equal=True)]
                            ).select(_BY).unique()
        if changed.height == 0:
            break
        arrivals = shipped

        def again(frame: pl.DataFrame) -> pl.DataFrame:
            return frame.join(changed, on=_BY, how="semi")

        pieces = pl.concat([pieces.join(changed, on=_BY, how="anti"),
                            _fifo(_lots(again(inventory), again(production), again(arrivals)), again(uses))])
    return (
        pieces.filter(pl.col("use") != "departure")
        .group_by("product_id", "site_id", "week", "use", *SOURCE)
        .agg(pl.col("quantity").sum())
        .select([c for c in table.column_names if c != "run_id"])
        .sort("product_id", "site_id", "week", "use", "source", "source_site", "resource_id", "start_week",
              nulls_last=True)
    )
