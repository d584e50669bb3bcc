"""Pegging: which supply serves which use, first in, first out through each site's stock and every level
of the bill of materials.

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
shelf-life cohorts are not followed). A week's served units include backlog of earlier weeks: the same cut of
a site's demand against what it served (oldest first) names the week each served unit was due.

Through the bill of materials: a component's consumption, pegged to its lots like any use, is shared among
the production lots started at that site and week (``plan_pegging``'s consumed rows name the lot), and a
unit pegged to a production lot holds its share of what that lot consumed (:func:`plan_pegging_bom`);
where the component lot is production too, the split goes on, so a pack served at a DC is traced to the
fill that made it and to the drug-substance or antigen campaign in it.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["plan_pegging", "plan_pegging_bom"]

_EPS = 1e-6
_BY = ["product_id", "site_id"]
#: what a supply lot came from, carried from site to site
SOURCE = ["source", "source_site", "resource_id", "start_week", "release_week"]
#: a production lot that consumed a component: the product, the resource that made it, the week it started
_LOT = ["parent_id", "parent_resource_id", "parent_start_week"]
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


def _served_by_due_week(inventory: pl.DataFrame, backlog: pl.DataFrame) -> pl.DataFrame:
    """Each week's served units by the week their demand was due: ``_BY, week, due_week, quantity``.

    The plan's backlog has no age of its own, so it is read first in, first out: a site's demand, week by
    week, against what left its backlog (served, then lost, week by week). Serving the oldest first is what
    the backlog's age limit allows (the backlog left is always the newest demand), and it names the lateness
    the plan's backlog penalty paid for. A series that never holds a backlog nor loses any serves each week's
    demand that week, and skips the cut (a third of the big network's series, 0.2 CPU-s of its 0.6). Served
    units the demand does not cover (round-off) keep a null ``due_week`` rather than be lost.
    """
    late = backlog.filter((pl.col("backlog") > _EPS) | (pl.col("lost") > _EPS)).select(_BY).unique()
    served = inventory.filter(pl.col("served") > _EPS).select(*_BY, "week", quantity="served")
    on_time = served.join(late, on=_BY, how="anti").with_columns(due_week="week")
    served, backlog = served.join(late, on=_BY, how="semi"), backlog.join(late, on=_BY, how="semi")
    due = backlog.filter(pl.col("demand") > _EPS).select(*_BY, due_week="week", quantity="demand")
    out = pl.concat([
        served.with_columns(use=pl.lit("served"), rank=pl.lit(0, pl.Int64)),
        backlog.filter(pl.col("lost") > _EPS).select(*_BY, "week", quantity="lost", use=pl.lit("lost"),
                                                     rank=pl.lit(1, pl.Int64)),
    ])
    dated = _cut(due, out, _BY, ["due_week"], ["week", "rank"], ["due_week"], ["week", "use"]).filter(
        pl.col("use") == "served").select(*_BY, "week", "due_week", "quantity")
    left = _unmatched(served, dated, [*_BY, "week"]).with_columns(due_week=pl.lit(None, pl.Date))
    return pl.concat([on_time.select(dated.columns), dated, left.select(dated.columns)])


def _unmatched(whole: pl.DataFrame, parts: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """What of each ``whole`` row (by ``key``) its ``parts`` do not cover (round-off, or a mismatch a cut
    left out), so a split loses no unit: ``key, quantity``."""
    return (
        whole.select(*key, "quantity")
        .join(parts.group_by(key).agg(covered=pl.col("quantity").sum()), on=key, how="left", nulls_equal=True)
        .select(*key, quantity=pl.col("quantity") - pl.col("covered").fill_null(0.0))  # no part: none covered
        .filter(pl.col("quantity") > _EPS)
    )


def _uses(inventory: pl.DataFrame, shipments: pl.DataFrame, backlog: pl.DataFrame) -> pl.DataFrame:
    """Every product × site's uses: ``_BY, week, rank, use, due_week, to_site, arrival_week, quantity``."""
    last = inventory["week"].max()
    none = {"due_week": pl.lit(None, pl.Date), "to_site": pl.lit(None, pl.String),
            "arrival_week": pl.lit(None, pl.Date)}
    own = [
        inventory.filter(pl.col(c) > _EPS).select(*_BY, "week", use=pl.lit(c), quantity=c, **none)
        for c in ("expired", "consumed")
    ]
    served = _served_by_due_week(inventory, backlog).select(
        *_BY, "week", "due_week", use=pl.lit("served"), quantity="quantity", to_site=pl.lit(None, pl.String),
        arrival_week=pl.lit(None, pl.Date))
    closing = inventory.filter((pl.col("week") == last) & (pl.col("closing") > _EPS)).select(
        *_BY, "week", use=pl.lit("closing"), quantity="closing", **none)
    departures = shipments.filter(pl.col("quantity") > _EPS).select(
        "product_id", pl.col("from_site").alias("site_id"), "week", use=pl.lit("departure"), quantity="quantity",
        due_week=pl.lit(None, pl.Date), to_site="to_site", arrival_week="arrival_week")
    columns = [*_BY, "week", "use", "due_week", "to_site", "arrival_week", "quantity"]
    return pl.concat([f.select(columns) for f in (*own, served, closing, departures)]).with_columns(
        rank=pl.col("use").replace_strict(_USE_RANK, return_dtype=pl.Int64))


def _ends(frame: pl.DataFrame, by: list[str], order: list[str]) -> pl.DataFrame:
    """``frame`` in ``order`` within each ``by`` group, with its cumulative start ``lo`` and end ``hi``."""
    return frame.sort(*by, *order).with_columns(hi=pl.col("quantity").cum_sum().over(by)).with_columns(
        lo=pl.col("hi") - pl.col("quantity"))


def _cut(supply: pl.DataFrame, uses: pl.DataFrame, by: list[str], supply_order: list[str],
         use_order: list[str], supply_columns: list[str], use_columns: list[str]) -> pl.DataFrame:
    """Both lists laid end to end within each ``by`` group (``supply_order``, ``use_order``) and cut where
    either changes item: one piece per supply item serving one use (``by``, ``use_columns``,
    ``supply_columns``, ``quantity``), first in, first out. What one side has beyond the other's total is
    left out."""
    s = _ends(supply, by, supply_order)
    u = _ends(uses, by, use_order)
    total = (s.group_by(by).agg(supply=pl.col("hi").max())
             .join(u.group_by(by).agg(used=pl.col("hi").max()), on=by))
    cuts = (
        pl.concat([s.select(*by, x="lo"), u.select(*by, x="lo")]).unique()
        .join(total, on=by)
        .sort(*by, "x")
        .with_columns(end=pl.col("x").shift(-1).over(by))
        .with_columns(end=pl.min_horizontal(pl.col("end").fill_null(pl.col("supply")), "supply", "used"))
        .filter(pl.col("end") - pl.col("x") > _EPS)
    )
    return (
        cuts.join_asof(s.select(*by, "lo", *supply_columns).sort(*by, "lo"), left_on="x", right_on="lo", by=by,
                       check_sortedness=False)
        .join_asof(u.select(*by, "lo", *use_columns).sort(*by, "lo"),
                   left_on="x", right_on="lo", by=by, check_sortedness=False)
        .select(*by, *use_columns, *supply_columns, quantity=pl.col("end") - pl.col("x"))
    )


def _fifo(lots: pl.DataFrame, uses: pl.DataFrame) -> pl.DataFrame:
    """The pieces: one supply lot serving one use, first in, first out (``_BY``, the use's ``week, use,
    due_week, to_site, arrival_week``, the lot's ``SOURCE``, ``quantity``)."""
    return _cut(lots, uses, _BY, ["week", "rank", *SOURCE], ["week", "rank", "due_week", "to_site"], SOURCE,
                ["week", "use", "due_week", "to_site", "arrival_week"])


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
    inventory: pl.DataFrame,
    production: pl.DataFrame,
    shipments: pl.DataFrame,
    backlog: pl.DataFrame,
    bom: pl.DataFrame,
) -> pl.DataFrame:
    """The plan's pegging table: which lot (opening stock, receipt, or production at a resource started and
    released in given weeks) each site's expired, served, consumed and closing units came from, the week a
    served unit was due, and the production lot that consumed a consumed one.

    Site by site along the lanes: a shipment's pieces become lots at its destination in its arrival week,
    so the product × sites that ship on and whose arrivals changed are pegged again until none changes (at
    most once per site), then the others once (:func:`_pegged`).

    Args:
        inventory: the plan_inventory table.
        production: the plan_production table.
        shipments: the plan_shipments table.
        backlog: the plan_backlog table (each week's demand, and what was lost: served units are dated by
            the week their demand was due, oldest first).
        bom: ``parent_id, component_id, per_start`` (``quantity_per / (1 − scrap)`` per unit started): a
            component's consumed units are split by the production lot that consumed them.

    Returns:
        The plan_pegging table without ``run_id``, summed over the shipments a lot travelled by.
    """
    table = schema.PLAN_PEGGING
    if inventory.height == 0:
        return table.empty().drop("run_id")
    uses = _uses(inventory, shipments, backlog)
    pieces = _pegged(inventory, production, uses)
    used = pieces.filter(pl.col("use") != "departure").group_by(*_BY, "week", "use", "due_week", *SOURCE).agg(
        pl.col("quantity").sum())
    consumed = used.filter(pl.col("use") == "consumed")
    return (
        pl.concat([used.filter(pl.col("use") != "consumed"), _by_parent_lot(consumed, production, bom)],
                  how="diagonal_relaxed")
        .select([c for c in table.column_names if c != "run_id"])
        .sort("product_id", "site_id", "week", "use", "due_week", *_LOT, "source", "source_site", "resource_id",
              "start_week", nulls_last=True)
    )


def _pegged(inventory: pl.DataFrame, production: pl.DataFrame, uses: pl.DataFrame) -> pl.DataFrame:
    """Every product × site's pieces (:func:`_fifo`), its shipments' lots carried to their destinations.

    Only a product × site that ships on passes its lots on, so only those are pegged round by round: in each
    round the ones whose arrivals changed are pegged again, until none changes (at most once per site; two
    plants that ship to each other take several rounds). The others (a DC's, mostly: the most rows) are pegged
    once, at the end, against the arrivals of the last round. They are what pegging every product × site in
    every round left them (each is cut alone, from the same arrivals), without being cut again in every
    round: on the big network (two plants that ship to each other: seven rounds) the pass took 6.4 CPU-s
    before, 3.8 now, to the same bit (docs/big-network.md, stop 32).
    """
    last = inventory["week"].max()
    onward = uses.filter(pl.col("use") == "departure").select(_BY).unique()

    def of(frame: pl.DataFrame, keys: pl.DataFrame, how: str = "semi") -> pl.DataFrame:
        return frame.join(keys, on=_BY, how=how)

    arrivals = pl.DataFrame(schema={"product_id": pl.String, "site_id": pl.String, "week": pl.Date,
                                    "source": pl.String, "source_site": pl.String, "resource_id": pl.String,
                                    "start_week": pl.Date, "release_week": pl.Date, "quantity": pl.Float64})
    shipped = arrivals
    pieces = _fifo(_lots(of(inventory, onward), of(production, onward), arrivals), of(uses, onward))
    for _ in range(inventory["site_id"].n_unique()):
        shipped = _shipped(pieces, last)
        passed_on = of(shipped, onward)
        # the product × sites whose arrivals changed are pegged again, the others keep their pieces
        changed = pl.concat([passed_on.join(arrivals, on=shipped.columns, how="anti", nulls_equal=True),
                             arrivals.join(passed_on, on=shipped.columns, how="anti", nulls_equal=True)]
                            ).select(_BY).unique()
        if changed.height == 0:
            break
        arrivals = passed_on
        lots = _lots(of(inventory, changed), of(production, changed), of(arrivals, changed))
        pieces = pl.concat([of(pieces, changed, "anti"), _fifo(lots, of(uses, changed))])
    every = pl.concat([f.select(_BY) for f in (inventory, production, uses)]).unique()
    ends = every.join(onward, on=_BY, how="anti")
    return pl.concat([pieces, _fifo(_lots(of(inventory, ends), of(production, ends), of(shipped, ends)),
                                    of(uses, ends))])


#: what a component lot came from, as plan_pegging_bom names it
_COMPONENT = {c: f"component_{c}" for c in SOURCE} | {"product_id": "component_id"}
#: the plan_pegging row a plan_pegging_bom row explains
_END = ["product_id", "site_id", "week", "use", "due_week", "source_site", "resource_id", "start_week"]


def _starts(production: pl.DataFrame, bom: pl.DataFrame) -> pl.DataFrame:
    """Each production lot's need of each of its components: ``product_id`` (the component), ``site_id``,
    ``_LOT``, ``quantity`` (started × ``per_start``: the model's ``bom`` rows) and ``released``."""
    return (
        production.filter(pl.col("quantity") > _EPS)
        .join(bom.select(pl.col("parent_id").alias("product_id"), "component_id", "per_start"), on="product_id")
        .select(pl.col("component_id").alias("product_id"), "site_id", parent_id="product_id",
                parent_resource_id="resource_id", parent_start_week="week",
                quantity=pl.col("quantity") * pl.col("per_start"), released="released_quantity")
    )


def _by_parent_lot(consumed: pl.DataFrame, production: pl.DataFrame, bom: pl.DataFrame) -> pl.DataFrame:
    """The consumed pegging rows split by the production lot that consumed them (``_LOT``; null where no
    lot's need covers them).

    A component is consumed at its parents' site in their start week, so its consumed pieces at a site,
    week by week, are shared among the parent lots started there, week by week, first in, first out (within
    a week in product and resource order: which lot takes which is a convention). Both are laid end to end
    over the weeks, not cut week by week: a bucketed plan's far weeks spread a bucket's consumption evenly
    and its production by hours, which agree over the bucket only."""
    supply = ["week", "use", "due_week", *SOURCE]
    split = _cut(consumed, _starts(production, bom), _BY, ["week", *SOURCE],
                 ["parent_start_week", "parent_id", "parent_resource_id"], supply, _LOT)
    left = _unmatched(consumed, split, [*_BY, *supply])
    return pl.concat([split, left], how="diagonal_relaxed")


def _consumption_links(pegging: pl.DataFrame, production: pl.DataFrame, bom: pl.DataFrame) -> pl.DataFrame:
    """Each production lot's consumption of each component, by the component lot it was pegged to (from
    ``plan_pegging``'s consumed rows): ``_LOT``, the ``component_*`` columns, ``link`` (component units),
    ``need`` (what the lot consumes of the component: started × ``per_start``) and ``released`` (the lot's
    good units)."""
    links = (
        pegging.filter((pl.col("use") == "consumed") & pl.col("parent_id").is_not_null())
        .group_by(*_BY, *_LOT, *SOURCE).agg(pl.col("quantity").sum())
    )
    return (
        links.join(_starts(production, bom).rename({"quantity": "need"}), on=[*_BY, *_LOT], validate="m:1")
        .rename({"quantity": "link", **_COMPONENT})
        .drop("site_id")
    )


def plan_pegging_bom(pegging: pl.DataFrame, production: pl.DataFrame, bom: pl.DataFrame) -> pl.DataFrame:
    """The plan's pegging through every level of the bill of materials: what each pegged unit made by
    production holds, down to the drug substance's campaign.

    A production lot's units are a mix of the component lots its start consumed, so a use pegged to ``x``
    of a lot that released ``R`` units and consumed ``need`` of a component (``link`` of it from one lot)
    holds ``x × link / R`` units of that component lot, and ``x × link / need`` of the use's units took
    their share of the component from it. Where that component lot is itself production, the same split
    goes on with its components, level by level until a lot is stock, a receipt or has no components.
    Consumed uses are not followed (their units are in the parent's uses).

    Args:
        pegging: the plan_pegging table (:func:`plan_pegging`).
        production: the plan_production table.
        bom: ``parent_id, component_id, per_start`` (``quantity_per / (1 − scrap)`` per unit started).

    Returns:
        The plan_pegging_bom table without ``run_id``; empty without a bill of materials.
    """
    table = schema.PLAN_PEGGING_BOM
    columns = [c for c in table.column_names if c != "run_id"]
    if bom.height == 0 or pegging.height == 0:
        return table.empty().drop("run_id")
    links = _consumption_links(pegging, production, bom)
    frontier = pegging.filter(
        (pl.col("source") == "production") & (pl.col("use") != "consumed") & (pl.col("quantity") > _EPS)
    ).select(*_END, "quantity", parent_id="product_id", parent_resource_id="resource_id",
             parent_start_week="start_week", parent_quantity="quantity")
    levels = []
    for level in range(1, bom.height + 2):  # a level per bill-of-materials row at most (it has no cycle)
        step = frontier.join(links, on=_LOT).with_columns(
            level=pl.lit(level, pl.Int64),
            quantity=pl.col("quantity") * pl.col("link") / pl.col("need"),
            component_quantity=pl.col("parent_quantity") * pl.col("link") / pl.col("released"),
        )
        if step.height == 0:
            break
        levels.append(step.select(columns))
        frontier = step.filter(pl.col("component_source") == "production").select(
            *_END, "quantity", parent_id="component_id", parent_resource_id="component_resource_id",
            parent_start_week="component_start_week", parent_quantity="component_quantity")
    if not levels:
        return table.empty().drop("run_id")
    keys = [c for c in columns if c not in ("quantity", "component_quantity")]
    return (
        pl.concat(levels)
        .group_by(keys)
        .agg(pl.col("quantity", "component_quantity").sum())
        .select(columns)
        .sort(keys, nulls_last=True)
    )
