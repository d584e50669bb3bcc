"""A set's leap-day effect: monthly and quarterly periods that hold a 29 February.

A flow (orders, prescriptions, nights) counted over a period that holds a 29 February covers one day more than
the same season's periods of other years: a leap February is 1/28 = 3.6% longer, and where the counts follow
working or processing days the step can be larger (PBS's scripts: a leap February 8% above its neighbours'
pattern). A seasonal model sees it in one season of four and forecasts their average, so a leap February is
forecast low and the others a little high. A stock (a price, an index, a level) has no such effect, and
nothing in a series says which it is; so the set's history decides, as X-13ARIMA-SEATS tests its leap-year
regressor:

- per series, each leap period's log against the mean log of its two neighbouring periods, less the same
  measure of the same season one year before and one year after (a difference in differences: the level and
  the season drop out); the series' effect is the mean over its leap periods;
- the set's effect is the median of its series' effects, taken where at least ``leap_min_series`` series have
  one and its robust t (the median over 1.2533 standard deviations of the series' effects, over √n) is at
  least ``leap_min_t`` in size.

On by default since stop 48 (``leap_effect``; ``plantwin forecast --no-leap-effect`` to leave it out):
where the set has one, :func:`forecasting.forecast_demand` multiplies every leap period's forecast and
quantiles by it; every other period, and every model choice, is what the history fitted as ordered gives (with
the trading days taken out where the set has those too: :mod:`forecasting.tradingdays`). Alone it was an
option (stop 47: one band past +3); with the trading days it is the default (stop 48). The models' own
February holds the leap Februaries they saw (about one in four), so the factor lifts a leap February a little
more than its effect (lowering every February by that share instead lost PBS at a second origin: stop 47);
fitting the history with its leap periods divided (measured and not kept) moved the fits of every month, and
one series' forecast to 3.7 times what it was. Weekly and daily periods never: a week is seven days in any
year, and a day is a day. Dates are a period's first day (``forecast_demand`` fits months dated by their last
day on their first) or, for months dated by their last day (``ends``), the period is the ``freq`` up to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from forecasting.config import ForecastConfig, _freq_parts, season_of

__all__ = ["LeapEffect", "leap_effect", "leap_periods", "leap_scaled", "robust_median", "season_filtered"]

#: the standard error of a normal sample's median over that of its mean (√(π/2))
_MEDIAN_SE = math.sqrt(math.pi / 2)


@dataclass(frozen=True)
class LeapEffect:
    """A set's leap-period factor (``factor`` × the season's pattern), its robust t and its series."""

    factor: float
    t: float
    series: int


def _months(freq: str) -> int:
    """Calendar months in one period of ``freq`` (0: weeks, days, years: no leap period)."""
    count, unit = _freq_parts(freq)
    return {"mo": count, "q": 3 * count}.get(unit, 0)


def leap_periods(ds: pl.Expr, freq: str, ends: bool = False) -> pl.Expr:
    """True where the period of ``freq`` dated ``ds`` holds a 29 February: the ``freq`` from ``ds`` on, or up
    to and including ``ds``'s month where the periods are dated by their months' ends (``ends``)."""
    months = _months(freq)
    shifts = range(-(months - 1), 1) if ends else range(months)
    held = [ds.dt.offset_by(f"{j}mo") for j in shifts]
    return pl.any_horizontal(False, *((d.dt.month() == 2) & d.dt.is_leap_year() for d in held))


def season_filtered(column: str, m: int) -> pl.Expr:
    """``column`` (of a frame sorted by ``unique_id, ds``, consecutive periods) less the mean of its two
    neighbouring periods, less the same measure of the same season ``m`` periods before and after (the mean of
    those there are): a difference in differences in which a series' level and season drop out."""
    step = (pl.col(column) - (pl.col(column).shift(1) + pl.col(column).shift(-1)) / 2).over("unique_id")
    return (step - pl.mean_horizontal(step.shift(m), step.shift(-m))).over("unique_id")


def robust_median(per: pl.Series, min_series: int, min_t: float) -> tuple[float, float] | None:
    """The median of the series' effects ``per`` and its robust t (the median over 1.2533 standard deviations
    of the effects, over √n), or None: fewer than ``min_series`` effects, no spread, or |t| under ``min_t``.
    A set's leap effect and its trading-day slope (:mod:`forecasting.tradingdays`) are both taken so."""
    n = per.len()
    if n < min_series:  # at least 2 (the fields' bound): a standard deviation
        return None
    median, sd = float(per.median()), float(per.std())
    if sd == 0 or math.isnan(sd):
        return None
    t = median / (_MEDIAN_SE * sd / math.sqrt(n))
    return (median, t) if abs(t) >= min_t else None


def leap_effect(series: pl.DataFrame, config: ForecastConfig, ends: bool = False) -> LeapEffect | None:
    """The set's leap-period effect in ``series`` (``unique_id, ds, y``, consecutive periods of
    ``config.freq`` per series), or None: off, weekly or daily, a season that is not a year, too few series,
    or not significant (the module's docstring)."""
    m = config.season_length
    if not config.leap_effect or not _months(config.freq) or m != season_of(config.freq) or m < 2:
        return None
    log_y = pl.when(pl.col("y") > 0).then(pl.col("y").log())
    leap = leap_periods(pl.col("ds"), config.freq, ends)
    frame = series.sort("unique_id", "ds").with_columns(lg=log_y, leap=leap)
    frame = frame.with_columns(d=season_filtered("lg", m))
    per = (frame.filter(pl.col("leap") & pl.col("d").is_not_null()).group_by("unique_id")
           .agg(pl.col("d").mean()).get_column("d"))
    if (taken := robust_median(per, config.leap_min_series, config.leap_min_t)) is None:
        return None
    median, t = taken
    return LeapEffect(math.exp(median), t, per.len())


def leap_scaled(frame: pl.DataFrame, factor: float, columns: list[str], freq: str, ends: bool = False
                ) -> pl.DataFrame:
    """``frame`` with ``columns`` of its leap periods multiplied by ``factor``."""
    leap = leap_periods(pl.col("ds"), freq, ends)
    return frame.with_columns(pl.when(leap).then(pl.col(c) * factor).otherwise(pl.col(c)).alias(c)
                              for c in columns)
