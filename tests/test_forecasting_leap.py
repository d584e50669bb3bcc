"""A set's leap-period effect (forecasting/leap.py) and how forecast_demand fits and forecasts it."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from forecasting import ForecastConfig, forecast_demand
from forecasting.leap import leap_effect, leap_periods

#: the seeded panel's months (1995–2007: leap Februaries 1996, 2000, 2004) and its test year (2008: one)
MONTHS = pl.date_range(date(1995, 1, 1), date(2007, 12, 1), "1mo", eager=True)
SEASON = np.array([0.8, 0.85, 1.0, 1.05, 1.1, 1.0, 0.95, 0.9, 1.0, 1.1, 1.15, 1.1])
# the default since stop 48 (stop 47: an option); the trading days left out to test the leap periods alone
MONTHLY = ForecastConfig(freq="1mo", n_jobs=1, leap_effect=True, trading_days=False)


def _panel(effect: float, series: int = 24, seed: int = 0, months: pl.Series = MONTHS) -> pl.DataFrame:
    """Monthly flows: a level, a season, 5% lognormal noise; a leap February ``effect`` times its season."""
    rng = np.random.default_rng(seed)
    month = months.dt.month().to_numpy() - 1
    leap = ((months.dt.month() == 2) & months.dt.is_leap_year()).to_numpy()
    frames = []
    for i in range(series):
        y = rng.uniform(100, 1000) * SEASON[month] * np.exp(rng.normal(0, 0.05, len(months)))
        y = np.where(leap, y * effect, y)
        frames.append(pl.DataFrame({"unique_id": f"s{i:02d}", "ds": months, "y": y}))
    return pl.concat(frames)


def trending_panel(rng: np.random.Generator, series: int, factor: np.ndarray) -> pl.DataFrame:
    """``series`` seeded monthly flows over :data:`MONTHS`, each with its own season, trend and level and 5%
    lognormal noise, every month times its ``factor`` (a leap effect, a trading-day effect, or 1)."""
    month = MONTHS.dt.month().to_numpy() - 1
    frames = []
    for i in range(series):
        season = np.exp(rng.normal(0, 0.2, 12))
        trend = np.exp(rng.normal(0, 0.01) * np.arange(len(MONTHS)))
        y = rng.uniform(100, 1000) * season[month] * trend * np.exp(rng.normal(0, 0.05, len(MONTHS)))
        frames.append(pl.DataFrame({"unique_id": f"s{i}", "ds": MONTHS, "y": y * factor}))
    return pl.concat(frames)


@pytest.mark.parametrize(("ds", "freq", "ends", "held"), [
    (date(2008, 2, 1), "1mo", False, True), (date(2007, 2, 1), "1mo", False, False),
    (date(2000, 2, 1), "1mo", False, True), (date(2008, 3, 1), "1mo", False, False),
    (date(2008, 1, 1), "1q", False, True), (date(2007, 12, 1), "1q", False, True),  # Dec–Feb
    (date(2008, 4, 1), "1q", False, False), (date(2008, 3, 1), "1q", True, True),  # Jan–Mar, dated by March
    (date(2008, 4, 1), "1q", True, True), (date(2008, 5, 1), "1q", True, False),
    (date(2008, 1, 1), "2mo", False, True), (date(2008, 2, 1), "1w", False, False),
    (date(2008, 2, 29), "1d", False, False), (date(2008, 1, 1), "1y", False, False),
])
def test_a_period_holds_a_29_february_by_its_months(ds: date, freq: str, ends: bool, held: bool):
    frame = pl.DataFrame({"ds": [ds]})
    assert frame.select(leap_periods(pl.col("ds"), freq, ends)).item() is held


def test_the_sets_effect_is_measured_where_its_history_has_one_and_only_there():
    found = leap_effect(_panel(1.10), MONTHLY)
    assert found is not None and found.factor == pytest.approx(1.10, abs=0.02)
    assert found.t > 3 and found.series == 24
    assert leap_effect(_panel(1.0), MONTHLY) is None  # no effect: the test finds none (|t| < 3)
    assert leap_effect(_panel(1.10), MONTHLY.model_copy(update={"leap_effect": False})) is None
    assert leap_effect(_panel(1.10), ForecastConfig(freq="1mo")) == found  # the default: on (stop 48)
    assert leap_effect(_panel(1.10, series=12), MONTHLY) is None  # fewer series than leap_min_series
    assert leap_effect(_panel(1.10), MONTHLY.model_copy(update={"season_length": 6})) is None
    few = leap_effect(_panel(0.90), MONTHLY)  # a leap period below its season is an effect too
    assert few is not None and few.factor == pytest.approx(0.90, abs=0.02)


def test_a_weekly_set_never_has_a_leap_effect():
    weeks = pl.date_range(date(1995, 1, 2), date(2007, 12, 31), "1w", eager=True)
    rng = np.random.default_rng(1)
    february = np.where(weeks.dt.month() == 2, 2, 1)  # a step no week is due to, asked of weekly data
    panel = pl.concat(pl.DataFrame({"unique_id": f"w{i}", "ds": weeks,
                                    "y": rng.uniform(50, 60, len(weeks)) * february}) for i in range(30))
    assert leap_effect(panel, ForecastConfig(freq="1w", leap_effect=True)) is None


def test_a_leap_february_is_forecast_at_its_effect_and_months_dated_by_their_ends_alike():
    # 12 seeded series whose leap Februaries are 10% above their season: February 2008's forecast and
    # quantiles are the history's fit times the set's factor, every other month the fit as it was; the
    # median series' February is within 6% of 1.10 times its last three Februaries (1.045 at this seed: the
    # models' February holds the leap ones they saw) and at least 5% under it without (0.945); the quantiles
    # stay ordered, and the same history dated by its months' last days gives the same forecast
    panel = _panel(1.10, series=12)
    config = MONTHLY.model_copy(update={"leap_min_series": 12})
    truth = panel.filter((pl.col("ds").dt.month() == 2) & (pl.col("ds").dt.year() >= 2005)).group_by(
        "unique_id").agg(truth=pl.col("y").mean() * 1.10)

    def february(result) -> float:
        feb = result.forecast.filter(pl.col("ds").dt.month() == 2).join(truth, on="unique_id")
        return feb.select((pl.col("mean") / pl.col("truth")).median()).item()

    on = forecast_demand(panel, 12, config)
    off = forecast_demand(panel, 12, config.model_copy(update={"leap_effect": False}))
    assert on.leap is not None and off.leap is None
    values = ["mean", *(c for c in on.forecast.columns if c.startswith("q"))]
    is_feb = pl.col("ds").dt.month() == 2
    assert on.forecast.filter(~is_feb).equals(off.forecast.filter(~is_feb))
    lifted = off.forecast.filter(is_feb).with_columns(pl.col(c) * on.leap.factor for c in values)
    assert np.allclose(on.forecast.filter(is_feb).select(values).to_numpy(), lifted.select(values).to_numpy())
    assert february(on) == pytest.approx(1.0, abs=0.06)
    assert february(off) < february(on) - 0.05
    ordered = pl.concat_list(values[1:]).list.eval(pl.element().diff().drop_nulls() >= 0).list.all()
    assert on.forecast.select(ordered.all()).item()
    ends = forecast_demand(panel.with_columns(pl.col("ds").dt.month_end()), 12, config)
    assert ends.forecast["ds"].dt.day().min() >= 28 and ends.leap == on.leap
    assert ends.forecast.drop("ds").equals(on.forecast.drop("ds"))


def test_the_test_rarely_finds_an_effect_that_is_not_there_and_finds_one_day_in_sixty_series():
    # 100 seeded panels of 20 trending seasonal series with 5% noise and no leap effect: at most 2 pass the
    # test (none at this seed; 0.8% over 500 others); 30 panels of 60 series whose leap Februaries are one
    # day longer (29/28): at least 24 are found (28; 96% over 200 others). The median's standard error is
    # what keeps the first low: taken a third smaller, 10 of the 100 pass
    rng = np.random.default_rng(7)
    leap = ((MONTHS.dt.month() == 2) & MONTHS.dt.is_leap_year()).to_numpy()

    def panel(series: int, effect: float) -> pl.DataFrame:
        return trending_panel(rng, series, np.where(leap, effect, 1.0))

    false = sum(leap_effect(panel(20, 1.0), MONTHLY) is not None for _ in range(100))
    found = sum(leap_effect(panel(60, 29 / 28), MONTHLY) is not None for _ in range(30))
    assert false <= 2 and found >= 24, (false, found)
