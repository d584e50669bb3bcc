"""Bands of inactive series: demand that comes back after a silence.

An ``inactive`` series (no demand in its last ``inactive_weeks``, :mod:`forecasting.classify`) is forecast at
zero, and by default its band is zero too: a promise that no demand comes back within the horizon. On PBS
the inactive series' held-out months were covered 54–65% by that band, and 22–29% of the periods after the
set's three-month silences had demand (docs/forecast-intervals.md, "Stop 31").

With ``ForecastConfig.inactive_returns`` the band is a mixture: zero with the chance that the silent series
stays silent, else its own past non-zero demand. The chance is pooled over the set's silences at least as
long as the series' own (:func:`return_shares`): one series has few silences, and a long silence is judged
by the silences that lasted as long, not by an intermittent series' short gaps. The mean stays zero: a
silent series is still likelier to stay silent; the band says how much demand comes if it does not.

Pure polars; no I/O.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema

__all__ = ["silences", "return_shares", "inactive_quantiles"]


def silences(
    series: pl.DataFrame,
    silence: int,
    horizon: int,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pl.DataFrame:
    """Every period of the histories that ends a silence, and what followed it.

    A period ``t`` ends a silence where the series had demand before and none in the ``run`` ≥ ``silence``
    periods up to ``t`` (an inactive series as the classifier would call it at ``t``). Of the ``horizon``
    periods after ``t``, ``seen`` lie inside the history and ``came`` of those had demand; a long silence
    counts at each of its periods, as a series silent that long would be inactive at each.

    Args:
        series: ``unique_id, ds, y`` histories (regular: one row a period).
        silence: periods without demand that make a series inactive (``ForecastConfig.inactive_weeks``).
        horizon: periods ahead the forecast covers.

    Returns:
        ``unique_id, ds, run, came, seen``, one row per period that ends a silence.
    """
    y = pl.col(target_col)
    index = pl.int_range(pl.len())
    ahead = [y.shift(-k) for k in range(1, horizon + 1)]
    return series.sort(id_col, time_col).with_columns(
        run=(index - pl.when(y > 0).then(index).forward_fill()).over(id_col),
        came=pl.sum_horizontal((a > 0).cast(pl.Int64) for a in ahead).over(id_col),
        seen=pl.sum_horizontal(a.is_not_null().cast(pl.Int64) for a in ahead).over(id_col),
    ).filter(pl.col("run") >= silence).select(id_col, time_col, "run", "came", "seen")


def return_shares(
    series: pl.DataFrame,
    ids: list[str],
    silence: int,
    horizon: int,
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pl.DataFrame:
    """``unique_id, share`` for each series of ``ids``: the share of periods with demand in the ``horizon``
    periods after the set's silences at least as long as the one it ends its history with (:func:`silences`).

    Why at least as long: the longer a series has been silent, the likelier it stopped for good (a product
    withdrawn), so a silence of six months is judged by the silences that lasted six months, not by the
    short gaps of an intermittent series. Pooled over the set, since one series has few silences. ``share``
    is null where no silence that long has a following period in the histories.

    Args:
        series: ``unique_id, ds, y`` histories of every series of the set.
        ids: the inactive series.
        silence: as :func:`silences`.
        horizon: as :func:`silences`.
    """
    found = silences(series, silence, horizon, id_col, time_col)
    now = found.join(series.group_by(id_col).agg(pl.col(time_col).max()), on=[id_col, time_col], how="semi")
    now = now.filter(pl.col(id_col).is_in(ids)).select(id_col, own=pl.col("run")).sort("own")
    # per run length, the periods seen and came after every silence at least that long (sums from the
    # longest down); each series takes the shortest run at or above its own
    longer = found.group_by("run").agg(pl.col("came", "seen").sum()).sort("run", descending=True).with_columns(
        pl.col("came", "seen").cum_sum()).sort("run")
    shares = now.join_asof(longer, left_on="own", right_on="run", strategy="forward").select(
        id_col, share=pl.when(pl.col("seen") > 0).then(pl.col("came") / pl.col("seen")))
    return pl.DataFrame({id_col: ids}, schema={id_col: pl.String}).join(shares, on=id_col, how="left",
                                                                        validate="1:1")


def inactive_quantiles(
    forecast: pl.DataFrame,
    series: pl.DataFrame,
    quantiles: tuple[float, ...],
    shares: pl.DataFrame,
    id_col: str = "unique_id",
    target_col: str = "y",
) -> pl.DataFrame:
    """Quantile columns of inactive series' zero forecasts: with ``p`` the series' share (:func:`return_shares`),
    quantile ``q`` is 0 where ``q ≤ 1 − p`` (the series stays silent), else the ``(q − (1 − p)) / p`` quantile
    of its past non-zero demand.

    Args:
        forecast: ``unique_id, ds, mean`` (+ any columns; quantile columns are replaced).
        series: ``unique_id, ds, y`` histories of (at least) the series of ``forecast``.
        quantiles: levels in (0, 1).
        shares: ``unique_id, share``; a series missing, or with a null or zero share: every quantile zero.

    Returns:
        ``forecast`` with ``schema.quantile_column(q)`` columns.
    """
    names = [schema.quantile_column(q) for q in quantiles]
    out = forecast.drop([c for c in names if c in forecast.columns])
    y, p = pl.col(target_col), pl.col("share")
    values, n = pl.col("_values"), pl.col("_values").list.len()

    def level(q: float) -> pl.Expr:
        """The ``(q − (1 − p)) / p`` quantile of the sorted ``_values``, linearly interpolated (0 at or
        below ``1 − p``)."""
        at = ((q - (1 - p)) / p).clip(0.0, 1.0) * (n - 1)
        low, high = at.floor().cast(pl.Int64), at.ceil().cast(pl.Int64)
        below = values.list.get(low)
        return pl.when(q > 1 - p).then(below + (at - low) * (values.list.get(high) - below)).otherwise(0.0)

    demand = (
        series.join(shares.filter(p > 0), on=id_col, how="inner", validate="m:1").filter(y > 0)
        .group_by(id_col).agg(p.first(), y.sort().alias("_values"))
        .select(id_col, *(level(q).alias(c) for q, c in zip(quantiles, names, strict=True)))
    )
    return out.join(demand, on=id_col, how="left", validate="m:1").with_columns(pl.col(names).fill_null(0.0))
