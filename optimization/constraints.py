"""Constraint families of the planning LP: one function each, one named constraint per index row.

Every function takes the index frames it links and adds its rows through
:meth:`~optimization.lp.ModelBuilder.add_constraints`; time links are joins on a shifted week
(``t - 1``), never ``if t == 0`` branches: opening stock and receipts are the right-hand side.
"""

from __future__ import annotations

import polars as pl

from optimization.lp import ModelBuilder

__all__ = [
    "backlog_age",
    "batch_multiple",
    "bom_consumption",
    "demand_backlog",
    "frozen_production",
    "lane_capacity",
    "minimum_batch",
    "resource_capacity",
    "safety_stock_target",
    "stock_balance",
    "storage_limit",
    "terminal_stock",
]

PC = ["product_id", "site_id", "cohort", "t"]
PST = ["product_id", "site_id", "t"]
PRT = ["product_id", "resource_id", "t"]


def _terms(frame: pl.DataFrame, key: dict[str, pl.Expr | str], coef: pl.Expr | float) -> pl.DataFrame:
    """``key`` columns (renamed/computed), ``col`` and ``coef`` of one kind of term."""
    exprs = [(pl.col(v) if isinstance(v, str) else v).alias(k) for k, v in key.items()]
    c = coef if isinstance(coef, pl.Expr) else pl.lit(float(coef))
    return frame.select(*exprs, pl.col("col"), c.cast(pl.Float64).alias("coef"))


def stock_balance(
    mb: ModelBuilder,
    rows: pl.DataFrame,
    supply: pl.DataFrame,
    stock: pl.DataFrame,
    make: pl.DataFrame,
    ship: pl.DataFrame,
    served: pl.DataFrame,
    expired: pl.DataFrame,
    consumed: pl.DataFrame | None = None,
    arrived: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``balance[p,s,u,t]`` for every cohort ``u`` at every site and week:
    closing + departures + served + consumed + expired − previous closing − released − arrivals = supply
    (opening lots, quarantine releases, scheduled receipts); ``consumed`` is a component's use by the
    production of its parents (bill of materials; None = single level).

    Args:
        make: where production lands (:func:`~optimization.variables.make_releases`: ``release_t, cohort,
            yield, share``).
        arrived: where shipments land (:func:`~optimization.variables.ship_arrivals`); None = at
            ``ship``'s ``arrival``, whole.
    """
    k = {c: c for c in PC}
    terms = pl.concat(
        [
            _terms(stock, k, 1.0),
            _terms(stock, {**k, "t": pl.col("t") + 1}, -1.0),
            _terms(
                make.filter(pl.col("cohort").is_not_null()),
                {**k, "t": "release_t"},
                -pl.col("yield") * pl.col("share"),
            ),
            _terms(
                arrived if arrived is not None else ship.with_columns(share=pl.lit(1.0)),
                {**k, "site_id": "to_site", "t": "arrival"},
                -pl.col("share"),
            ),
            _terms(ship, {**k, "site_id": "from_site"}, 1.0),
            _terms(served, k, 1.0),
            _terms(expired, k, 1.0),
            *([_terms(consumed, k, 1.0)] if consumed is not None else []),
        ]
    )
    rhs = supply.group_by(PC).agg(pl.col("quantity").sum().alias("rhs"))
    rows = rows.join(rhs, on=PC, how="left", validate="1:1").with_columns(
        pl.col("rhs").fill_null(0.0)
    )  # no supply
    return mb.add_constraints("balance", rows, PC, terms, "==", "rhs")


def demand_backlog(
    mb: ModelBuilder,
    backlog: pl.DataFrame,
    demand: pl.DataFrame,
    served: pl.DataFrame,
    lost: pl.DataFrame | None,
) -> pl.DataFrame:
    """``backlog[p,s,t]``: backlog − previous backlog + served (all cohorts) + lost = demand."""
    k = {c: c for c in PST}
    parts = [
        _terms(backlog, k, 1.0),
        _terms(backlog, {**k, "t": pl.col("t") + 1}, -1.0),
        _terms(served, k, 1.0),
    ]
    if lost is not None:
        parts.append(_terms(lost, k, 1.0))
    rows = (
        backlog.select(PST)
        .join(demand.select(*PST, "quantity"), on=PST, how="left", validate="1:1")
        .with_columns(
            pl.col("quantity").fill_null(0.0)  # a week without a demand row has no demand
        )
    )
    return mb.add_constraints("backlog", rows, PST, pl.concat(parts), "==", "quantity")


def safety_stock_target(mb: ModelBuilder, shortfall: pl.DataFrame, stock: pl.DataFrame) -> pl.DataFrame:
    """``safety[p,s,t]``: closing stock (all cohorts) + shortfall ≥ the safety-stock target."""
    k = {c: c for c in PST}
    terms = pl.concat([_terms(shortfall, k, 1.0), _terms(stock, k, 1.0)])
    return mb.add_constraints(
        "safety", shortfall.select(*PST, "safety_stock"), PST, terms, ">=", "safety_stock"
    )


def resource_capacity(
    mb: ModelBuilder, hours: pl.DataFrame, make: pl.DataFrame, extra: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``capacity[r,t]``: hours used by all products started on a resource ≤ its hours that week.

    Args:
        extra: more ``resource_id, t, col, coef`` terms using hours (changeovers of campaign resources).
    """
    terms = _terms(make, {"resource_id": "resource_id", "t": "t"}, pl.col("hours_per_unit"))
    if extra is not None and extra.height:
        terms = pl.concat([terms, extra.select(terms.columns)])
    return mb.add_constraints("capacity", hours, ["resource_id", "t"], terms, "<=", "hours_available")


def lane_capacity(
    mb: ModelBuilder, lanes: pl.DataFrame, weeks: pl.DataFrame, ship: pl.DataFrame, length: pl.Expr | None = None
) -> pl.DataFrame:
    """``lane[from,to,t]``: units shipped on a lane in a week (all products) ≤ its weekly capacity.

    Args:
        length: weeks in bucket ``t`` (an expression of ``t``; None = weekly): a bucket's capacity is
            its weeks' (:mod:`optimization.buckets`).
    """
    key = ["from_site", "to_site", "t"]
    rows = lanes.filter(pl.col("capacity_per_week").is_not_null()).join(weeks.select("t"), how="cross")
    if length is not None:
        rows = rows.with_columns(pl.col("capacity_per_week") * length)
    terms = _terms(ship.filter(pl.col("lane").is_in(rows["lane"].implode())), {c: c for c in key}, 1.0)
    return mb.add_constraints(
        "lane", rows.select(*key, "capacity_per_week"), key, terms, "<=", "capacity_per_week"
    )


def backlog_age(
    mb: ModelBuilder, backlog: pl.DataFrame, demand: pl.DataFrame, max_weeks: int
) -> pl.DataFrame:
    """``backlog_age[p,s,t]``: backlog ≤ demand of the last ``max_weeks`` weeks, so older demand is lost.

    Backlog is served oldest first, so what is still open after ``t`` is the most recent demand; the
    part older than ``max_weeks`` must have been served or counted in ``lost``.
    """
    d = demand.select(*PST, "quantity")
    window = (
        backlog.select(PST)
        .join(d.rename({"t": "t_d"}), on=["product_id", "site_id"], how="left")
        .filter((pl.col("t_d") <= pl.col("t")) & (pl.col("t_d") > pl.col("t") - max_weeks))
        .group_by(PST)
        .agg(pl.col("quantity").sum().alias("recent"))
    )
    rows = (
        backlog.select(PST)
        .join(window, on=PST, how="left", validate="1:1")
        .with_columns(
            pl.col("recent").fill_null(0.0)  # no demand in the window: nothing may wait
        )
    )
    return mb.add_constraints(
        "backlog_age", rows, PST, _terms(backlog, {c: c for c in PST}, 1.0), "<=", "recent"
    )


def frozen_production(
    mb: ModelBuilder, make: pl.DataFrame, scheduled: pl.DataFrame, frozen_weeks: int
) -> pl.DataFrame:
    """``frozen[p,r,t]``: production started in a frozen week equals the scheduled quantity (0 if none)."""
    rows = (
        make.filter(pl.col("t") < frozen_weeks)
        .select(PRT)
        .join(scheduled.select(*PRT, "quantity"), on=PRT, how="left", validate="1:1")
        .with_columns(pl.col("quantity").fill_null(0.0))  # frozen and nothing scheduled: nothing starts
    )
    return mb.add_constraints("frozen", rows, PRT, _terms(make, {c: c for c in PRT}, 1.0), "==", "quantity")


def batch_multiple(mb: ModelBuilder, batches: pl.DataFrame) -> pl.DataFrame:
    """``batch[p,r,t]``: production started = batch size × whole batches (MIP)."""
    k = {c: c for c in PRT}
    terms = pl.concat(
        [
            _terms(batches.with_columns(col=pl.col("make_col")), k, 1.0),
            _terms(batches, k, -pl.col("batch_size")),
        ]
    )
    return mb.add_constraints(
        "batch", batches.select(PRT).with_columns(rhs=pl.lit(0.0)), PRT, terms, "==", "rhs"
    )


def minimum_batch(mb: ModelBuilder, setups: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``min_batch[p,r,t]``: make ≥ min_batch × setup; ``setup[p,r,t]``: make ≤ big_m × setup (MIP)."""
    k = {c: c for c in PRT}
    make_terms = _terms(setups.with_columns(col=pl.col("make_col")), k, 1.0)
    rows = setups.select(PRT).with_columns(rhs=pl.lit(0.0))
    low = mb.add_constraints(
        "min_batch", rows, PRT, pl.concat([make_terms, _terms(setups, k, -pl.col("min_batch"))]), ">=", "rhs"
    )
    high = mb.add_constraints(
        "setup", rows, PRT, pl.concat([make_terms, _terms(setups, k, -pl.col("big_m"))]), "<=", "rhs"
    )
    return low, high


def terminal_stock(
    mb: ModelBuilder, terminal: pl.DataFrame, stock: pl.DataFrame, make: pl.DataFrame, horizon: int
) -> pl.DataFrame:
    """``terminal[p]``: stock closing the last week (all sites and cohorts still usable after it) + good
    output of starts released after the horizon + end-stock shortfall ≥ the product's terminal target.

    Args:
        make: where production lands (:func:`~optimization.variables.make_releases`: ``pipeline, yield,
            share``).
    """
    k = {"product_id": "product_id"}
    terms = pl.concat(
        [
            _terms(terminal, k, 1.0),
            _terms(stock.filter(pl.col("t") == horizon - 1), k, 1.0),
            _terms(  # a start's output may reach past the horizon in several pieces: one term per start
                make.filter(pl.col("pipeline"))
                .group_by("product_id", "col")
                .agg((pl.col("yield") * pl.col("share")).sum().alias("good")),
                k,
                pl.col("good"),
            ),
        ]
    )
    return mb.add_constraints("terminal", terminal.select("product_id", "target"), ["product_id"], terms, ">=", "target")


def bom_consumption(
    mb: ModelBuilder, rows: pl.DataFrame, consume: pl.DataFrame, make: pl.DataFrame, bom: pl.DataFrame
) -> pl.DataFrame:
    """``bom[c,s,t]``: component used at a site in a week (all cohorts) = Σ over its parents started there
    that week of ``quantity_per / (1 − scrap)`` × units started (dependent demand, before the parent's yield).

    A component with no usable stock at the site leaves only the parents' terms: they cannot start.

    Args:
        rows: ``product_id`` (component), ``site_id, t``.
        bom: ``parent_id, component_id, per_start``.
    """
    parents = make.join(
        bom.select(pl.col("parent_id").alias("product_id"), "component_id", "per_start"), on="product_id"
    )
    terms = pl.concat(
        [
            _terms(consume, {c: c for c in PST}, 1.0),
            _terms(parents, {"product_id": "component_id", "site_id": "site_id", "t": "t"}, -pl.col("per_start")),
        ]
    )
    return mb.add_constraints("bom", rows.with_columns(rhs=pl.lit(0.0)), PST, terms, "==", "rhs")


def storage_limit(
    mb: ModelBuilder,
    storage: pl.DataFrame,
    weeks: pl.DataFrame,
    stock: pl.DataFrame,
    products: pl.DataFrame,
    overflow: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """``storage[s,f,t]``: closing stock at a site of every product of family ``f`` (all cohorts) ≤ the
    site's storage capacity for that family (freezer space for drug substance, say), plus what is held over
    it where the limit is soft.

    Args:
        storage: ``site_id, family, capacity``.
        products: ``product_id, family``.
        overflow: ``site_id, family, t, col``: units over a soft limit (:func:`~optimization.variables.overflow_vars`).
    """
    key = ["site_id", "family", "t"]
    rows = storage.join(weeks.select("t"), how="cross").select(*key, "capacity")
    held = stock.join(products.select("product_id", "family"), on="product_id", validate="m:1").join(
        storage.select("site_id", "family"), on=["site_id", "family"], how="semi"
    )
    terms = _terms(held, {c: c for c in key}, 1.0)
    if overflow is not None:
        terms = pl.concat([terms, _terms(overflow, {c: c for c in key}, -1.0)])
    return mb.add_constraints("storage", rows, key, terms, "<=", "capacity")
