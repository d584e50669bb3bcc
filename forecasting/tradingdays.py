"""A set's trading-day effect: monthly flows that follow the weekdays a month holds.

A month holds four of each weekday and, past its 28th day, one more of its first days: a 31-day month that
starts on a Wednesday holds 23 weekdays and 8 weekend days, one that starts on a Saturday 21 and 10. Where a
flow is counted on working days (prescriptions dispensed, orders booked, goods shipped) the months with more
weekdays hold more of it, and a seasonal model, which sees each calendar month's average over the years,
forecasts every one of them at that average. X-13ARIMA-SEATS models it with one regressor, ``td1coef``: the
weekdays less 5/2 of the weekend days, zero on average in every calendar month (an extra day is a weekday 5
times in 7 and counts +1, a weekend day 2 times in 7 and counts −5/2). Nothing in a series says whether it is
such a flow (a stock, a price or a series numbered rather than dated has no effect), so the set's history
decides, as :mod:`forecasting.leap` decides its leap periods:

- per series, the filter of the leap test (a period less the mean of its two neighbours, less the same a year
  before and a year after: the level and the season drop out) applied to log y and to ``td1``; the series'
  slope is the least-squares one through the origin of the first on the second, on series with at least three
  seasons of filtered periods;
- the set's slope is the median of its series' slopes, taken where at least ``trading_days_min_series`` series
  have one and its robust t is at least ``trading_days_min_t`` in size.

On by default since stop 48 (``trading_days``; ``plantwin forecast --no-trading-days`` to leave it out), with
the leap periods (:mod:`forecasting.leap`): where the set has one, :func:`forecasting.forecast_demand` fits
the history with every period divided by ``exp(slope × td1)`` (the prior adjustment of X-13), so the models,
their backtests and the bands see it without the weekdays' noise, and multiplies each forecast period's mean
and quantiles back by its own factor. PBS's slope is 0.7% a unit of ``td1`` (t 9–11): its months move by −3.6%
to +2.2% with their weekdays. The trading days alone lost PBS 0.4% of sMAPE; with the leap periods every cell
measured gained, MASE 1.5–9.9% (docs/forecast-history.md, "Stop 48"). Months only: a quarter's ``td1`` runs
about −2.5 to +2.5 (±1.7%), and on PBS summed to quarters the test read t 4.2 at one origin and 1.6 at the
next, the forecast moved by it alone gained 0.2% of MASE, and the adjusted history moved the set's default
member and lost 0.6% with the 80% band past +3 (stop 48). Weekly and daily periods never (a week holds each
weekday once). Dates as :mod:`forecasting.leap`'s: a period's first day, or its last month's (``ends``).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from forecasting.config import ForecastConfig, season_of
from forecasting.leap import _months, robust_median, season_filtered

__all__ = ["TradingDayEffect", "trading_day_effect", "trading_day_scaled", "trading_days"]


@dataclass(frozen=True)
class TradingDayEffect:
    """A set's trading-day ``slope`` (log change of a period a unit of ``td1``), its robust t, its series."""

    slope: float
    t: float
    series: int


def trading_days(ds: pl.Expr, freq: str, ends: bool = False) -> pl.Expr:
    """X-13's ``td1coef`` of the period of ``freq`` dated ``ds`` (a month's first day): its weekdays less 5/2
    of its weekend days, over the ``freq`` from ``ds`` on, or up to and including ``ds``'s month
    (``ends``)."""
    months = _months(freq)
    day = ds.cast(pl.Date)
    start = day.dt.offset_by(f"-{months - 1}mo") if ends and months > 1 else day
    end = start.dt.offset_by(f"{months}mo")
    weekdays = pl.business_day_count(start, end).cast(pl.Float64)
    return weekdays - 2.5 * ((end - start).dt.total_days().cast(pl.Float64) - weekdays)


def trading_day_effect(series: pl.DataFrame, config: ForecastConfig, ends: bool = False
                       ) -> TradingDayEffect | None:
    """The set's trading-day effect in ``series`` (``unique_id, ds, y``, consecutive periods of
    ``config.freq`` per series), or None: off, weekly or daily, a season that is not a year, too few series,
    or not significant (the module's docstring)."""
    m = config.season_length
    if not config.trading_days or _months(config.freq) != 1 or m != season_of(config.freq):
        return None  # months only: a quarter's td1 moves it ±1.7%, too little (the module's docstring)
    frame = series.sort("unique_id", "ds").with_columns(
        lg=pl.when(pl.col("y") > 0).then(pl.col("y").log()),
        td=trading_days(pl.col("ds"), config.freq, ends))
    frame = frame.with_columns(d_lg=season_filtered("lg", m), d_td=season_filtered("td", m))
    per = (frame.drop_nulls(["d_lg", "d_td"]).filter(pl.col("d_lg").is_finite())
           .group_by("unique_id")
           .agg(n=pl.len(), xy=(pl.col("d_lg") * pl.col("d_td")).sum(), xx=(pl.col("d_td") ** 2).sum())
           .filter((pl.col("n") >= 3 * m) & (pl.col("xx") > 0))
           .select(slope=pl.col("xy") / pl.col("xx")).get_column("slope"))
    if (taken := robust_median(per, config.trading_days_min_series, config.trading_days_min_t)) is None:
        return None
    median, t = taken
    return TradingDayEffect(median, t, per.len())


def trading_day_scaled(frame: pl.DataFrame, slope: float, columns: list[str], freq: str, ends: bool = False,
                       divide: bool = False) -> pl.DataFrame:
    """``frame`` with ``columns`` multiplied by each period's ``exp(slope × td1)`` (divided by it with
    ``divide``: the history's prior adjustment)."""
    factor = (trading_days(pl.col("ds"), freq, ends) * (-slope if divide else slope)).exp()
    return frame.with_columns((pl.col(c) * factor).alias(c) for c in columns)
