"""Safety-stock targets from forecast quantiles at each product's service level.

For every product × site × week: the forecast quantile at the product's ``service_level`` is
interpolated linearly between the stored quantile columns (clamped to the lowest/highest stored
level outside their range); the week's *spread* is ``max(q_sl − mean, 0)``. The target for week ``t``
covers the replenishment lead time ``LT`` (fastest release lag + transit of new production to the
site, at least 1 week; 1 when no production reaches it): ``sqrt(sum of spread² over weeks t .. t+LT−1)``
— the quantile spreads of the lead-time weeks added as independent errors (for normal demand this is
``z·sqrt(Σσ²)``). Near the forecast's end the window is cut at its last week.

**Components of a bill of materials** get a buffer of their own at the plant where their parent is made
(the plant of its fastest routing), covering the component's own lead time (its fastest release lag):
the dependent demand's spread in week ``u`` is the parents' spreads of the weeks they are wanted, moved
back by the parent's lead time (release + transit for a sold item, its release lag below that), times
``quantity_per / (1 − scrap) / parent yield`` (gross need per good parent unit), the parents' (and DCs')
spreads added as independent errors; one level down at a time. Its shortfall is priced by the parents'
weighted backlog penalty × yield / quantity per start (:func:`dependent_penalty`), as the component's
end-of-horizon target is.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from optimization.config import PlanInputError
from optimization.network import Network

__all__ = ["component_spreads", "dependent_penalty", "quantile_at", "safety_stock_targets"]


def quantile_at(level: pl.Expr, levels: tuple[float, ...] = schema.QUANTILES) -> pl.Expr:
    """Linear interpolation of the quantile columns ``q01 .. q99`` at ``level`` (clamped to the range)."""
    qs = sorted(levels)
    col = [pl.col(schema.quantile_column(q)) for q in qs]
    expr = pl.when(level <= qs[0]).then(col[0])
    for (a, ca), (b, cb) in zip(zip(qs, col), zip(qs[1:], col[1:])):
        expr = expr.when(level <= b).then(ca + (cb - ca) * (level - a) / (b - a))
    return expr.otherwise(col[-1])


def safety_stock_targets(forecast: pl.DataFrame, products: pl.DataFrame, network: Network) -> pl.DataFrame:
    """Safety-stock target per product × site × week.

    Args:
        forecast: ``product_id, site_id, week, mean, q01 .. q99``.
        products: ``product_id, service_level`` (the products input entity).
        network: the planning network (for replenishment lead times).

    Returns:
        ``product_id, site_id, week, safety_stock``.

    Raises:
        PlanInputError: missing columns or a forecast product without a service level.
    """
    qcols = [schema.quantile_column(q) for q in schema.QUANTILES]
    need = ["product_id", "site_id", "week", "mean", *qcols]
    missing = [c for c in need if c not in forecast.columns]
    if missing:
        raise PlanInputError(f"forecast: missing column(s) {', '.join(missing)}")
    levels = products.select("product_id", "service_level")
    frame = forecast.select(need).join(levels, on="product_id", how="left", validate="m:1")
    unknown = frame.filter(pl.col("service_level").is_null())["product_id"].unique().sort()
    if unknown.len():
        raise PlanInputError(
            f"forecast.product_id: no service level for products {unknown.head(5).to_list()}"
        )
    key = ["product_id", "site_id"]
    sold = frame.with_columns(
        spread2=(quantile_at(pl.col("service_level")) - pl.col("mean")).clip(lower_bound=0.0) ** 2
    ).join(network.replenishment_weeks, on=key, how="left", validate="m:1")
    out = _cover(sold.with_columns(lt=pl.col("weeks").fill_null(1).clip(lower_bound=1)))  # unreachable: 1 week
    parts = component_spreads(sold.select(*key, "week", "spread2", "weeks"), network)
    if parts.height == 0:
        return out
    lags = network.products.select("product_id", lt=pl.col("qc_lag_weeks").clip(lower_bound=1))
    return pl.concat([out, _cover(parts.join(lags, on="product_id", how="left", validate="m:1"))])


def component_spreads(sold: pl.DataFrame, network: Network) -> pl.DataFrame:
    """Dependent demand's squared spread per component × plant × week (see the module docstring).

    Args:
        sold: ``product_id, site_id, week, spread2, weeks``: the sold items' squared spreads at their DCs and
            their replenishment lead time there (``weeks``; null: not reachable, left out).
        network: ``bom`` (empty: no rows), ``routings``, ``resources``, ``products``.

    Returns:
        ``product_id, site_id, week, spread2`` of every component at the plant its parents are made.
    """
    out_schema = {"product_id": pl.String, "site_id": pl.String, "week": pl.Date, "spread2": pl.Float64}
    if network.bom.height == 0:
        return pl.DataFrame(schema=out_schema)
    plant = (
        network.routings.join(network.resources.select("resource_id", "site_id"), on="resource_id", validate="m:1")
        .sort("product_id", "release_weeks", "resource_id")
        .group_by("product_id", maintain_order=True)
        .agg(pl.col("site_id").first().alias("plant"), pl.col("yield").max().alias("y"))
    )
    edges = network.bom.select("parent_id", "component_id", "per_start").join(
        plant.rename({"product_id": "parent_id"}), on="parent_id", validate="m:1"
    )
    lags = network.products.select(pl.col("product_id").alias("component_id"), pl.col("qc_lag_weeks").alias("next"))
    rows = sold.filter(pl.col("weeks").is_not_null()).select("product_id", "week", "spread2", shift="weeks")
    found = []
    for _ in range(network.bom.height):  # one level a pass (cycles are refused)
        level = (
            rows.join(edges, left_on="product_id", right_on="parent_id")
            .group_by(pl.col("component_id").alias("product_id"), pl.col("plant").alias("site_id"),
                      (pl.col("week") - pl.duration(weeks=pl.col("shift"))).alias("week"))
            .agg((pl.col("spread2") * (pl.col("per_start") / pl.col("y")) ** 2).sum().alias("spread2"))
        )
        if level.height == 0:
            break
        found.append(level)
        rows = (
            level.join(lags, left_on="product_id", right_on="component_id", how="left", validate="m:1")
            .group_by("product_id", "week", "next")
            .agg(pl.col("spread2").sum())
            .select("product_id", "week", "spread2", shift=pl.col("next").fill_null(0))
        )
    if not found:
        return pl.DataFrame(schema=out_schema)
    return (
        pl.concat(found)
        .group_by("product_id", "site_id", "week")
        .agg(pl.col("spread2").sum())
        .cast(out_schema)
        .sort("product_id", "site_id", "week")
    )


def dependent_penalty(network: Network) -> pl.DataFrame:
    """``product_id, penalty``: a component's weighted backlog penalty per unit, from its parents (the most
    of parent penalty × parent yield / quantity per start), level by level; sold items keep their own."""
    own = network.products.select("product_id", penalty=pl.col("backlog_penalty") * pl.col("weight"))
    if network.bom.height == 0:
        return own
    y = network.routings.group_by("product_id").agg(pl.col("yield").max().alias("y"))
    edges = network.bom.select("parent_id", "component_id", "per_start").join(
        y.rename({"product_id": "parent_id"}), on="parent_id", validate="m:1"
    )
    comps = network.components.implode()
    level = own.filter(~pl.col("product_id").is_in(comps))
    found = [level]
    for _ in range(network.bom.height):
        level = (
            level.join(edges, left_on="product_id", right_on="parent_id")
            .group_by(pl.col("component_id").alias("product_id"))
            .agg((pl.col("penalty") * pl.col("y") / pl.col("per_start")).max().alias("penalty"))
        )
        if level.height == 0:
            break
        found.append(level)
    return pl.concat(found).group_by("product_id").agg(pl.col("penalty").max())


def _cover(frame: pl.DataFrame) -> pl.DataFrame:
    """Target per ``product_id, site_id, week``: sqrt of the sum of ``spread2`` over the ``lt`` weeks from
    each week on (cut at the series' last week)."""
    key = ["product_id", "site_id"]
    frame = (
        frame.sort(*key, "week")
        .with_columns(
            i=pl.int_range(pl.len()).over(key),
            n=pl.len().over(key),
            cum=pl.col("spread2").cum_sum().over(key),
        )
    )
    ends = frame.select(*key, pl.col("i").alias("end"), pl.col("cum").alias("cum_end"))
    return (
        frame.with_columns(end=pl.min_horizontal(pl.col("i") + pl.col("lt") - 1, pl.col("n") - 1))
        .join(ends, on=[*key, "end"], how="left", validate="m:1")
        .select(
            *key,
            "week",
            safety_stock=(pl.col("cum_end") - pl.col("cum") + pl.col("spread2")).clip(lower_bound=0.0).sqrt(),
        )
    )
