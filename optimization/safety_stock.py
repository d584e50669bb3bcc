"""Safety-stock targets from forecast quantiles at each product's service level.

For every product × site × week: the forecast quantile at the product's ``service_level`` is
interpolated linearly between the stored quantile columns (clamped to the lowest/highest stored
level outside their range); the week's *spread* is ``max(q_sl − mean, 0)``. The target for week ``t``
covers the replenishment lead time ``LT`` (fastest release lag + transit of new production to the
site, at least 1 week; 1 when no production reaches it): ``sqrt(sum of spread² over weeks t .. t+LT−1)``
— the quantile spreads of the lead-time weeks added as independent errors (for normal demand this is
``z·sqrt(Σσ²)``). Near the forecast's end the window is cut at its last week.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from optimization.config import PlanInputError
from optimization.network import Network

__all__ = ["quantile_at", "safety_stock_targets"]


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
    frame = (
        frame.with_columns(
            spread2=(quantile_at(pl.col("service_level")) - pl.col("mean")).clip(lower_bound=0.0) ** 2
        )
        .join(network.replenishment_weeks, on=key, how="left", validate="m:1")
        .with_columns(lt=pl.col("weeks").fill_null(1).clip(lower_bound=1))  # unreachable: one week of cover
        .sort(*key, "week")
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
