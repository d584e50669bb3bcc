"""Series sold only in season (a flu vaccine): classed ``seasonal_only`` and forecast by their seasonal profile
(:mod:`forecasting.profile`), not zero in their off-season nor flat in season."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting import ForecastConfig, forecast_demand
from forecasting.classify import classify_series
from forecasting.profile import PROFILE_MODEL, profile_forecast, seasonal_only

MONDAY = date(2021, 1, 4)


def _weekly(values: dict[str, np.ndarray]) -> pl.DataFrame:
    weeks = pl.date_range(MONDAY, MONDAY + timedelta(weeks=max(len(v) for v in values.values()) - 1), "1w",
                          eager=True)
    return pl.concat([pl.DataFrame({"unique_id": k, "ds": weeks[: len(v)], "y": v.astype(float)})
                      for k, v in values.items()])


def _in_season(weeks: pl.Series) -> np.ndarray:
    iso = np.array([d.isocalendar()[1] for d in weeks.to_list()])
    return (iso >= 36) & (iso <= 50)  # mid-September to mid-December


def _flu_panel(n: int, seed: int, end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``n`` vaccines sold from ISO week 36 to 50 only (gamma sizes, CV 0.25, one season week in 20 empty, a
    few stray small orders out of season), 6 smooth seasonal series beside them; the history up to ``end``
    and the 26 weeks after it."""
    rng = np.random.default_rng(seed)
    weeks = pl.date_range(MONDAY, date(2026, 12, 28), "1w", eager=True)
    on = _in_season(weeks)
    t = np.arange(len(weeks))
    values = {}
    for i in range(n):
        y = np.where(on, rng.gamma(16.0, 60.0 * (1 + 0.3 * i), len(t)), 0.0)
        y[on & (rng.random(len(t)) < 0.05)] = 0.0
        stray = ~on & (rng.random(len(t)) < 0.05)
        values[f"flu{i:02d}"] = y + np.where(stray, rng.gamma(1.0, 20.0, len(t)), 0.0)
    for i in range(6):
        values[f"mab{i:02d}"] = (200 + 10 * i) * (1 + 0.3 * np.sin(2 * np.pi * t / 52)) * (
            1 + 0.1 * rng.standard_normal(len(t)))
    full = _weekly(values)
    return full.filter(pl.col("ds") <= end), full.filter(pl.col("ds").is_between(end + timedelta(days=1),
                                                                                  end + timedelta(weeks=26)))


@pytest.mark.parametrize("end", [date(2025, 6, 2), date(2025, 8, 25), date(2025, 10, 13)],
                         ids=["june", "late_august", "in_season"])
def test_a_vaccine_sold_only_in_season_is_forecast_its_season(end):
    """From June or late August, silent for months, each vaccine was classed inactive and forecast zero for
    the 26 weeks that hold its whole season; in season it was classed intermittent and forecast flat. Now
    its season is forecast in its weeks, at its level, and nothing outside them."""
    history, future = _flu_panel(8, seed=1, end=end)
    result = forecast_demand(history, 26, ForecastConfig(n_jobs=1))
    flu = result.series.filter(pl.col("unique_id").str.starts_with("flu"))
    assert set(flu["series_class"]) == {"seasonal_only"} and set(flu["model"]) == {PROFILE_MODEL}
    assert set(result.series.filter(pl.col("unique_id").str.starts_with("mab"))["series_class"]) == {"smooth"}
    fc = result.forecast.filter(pl.col("unique_id").str.starts_with("flu")).join(
        future, on=["unique_id", "ds"], validate="1:1")
    season = pl.Series(_in_season(fc["ds"]))
    # each vaccine's season at its level: its last season's total, one draw (a season's total varies by about
    # 8% here, so a season against the last by about 11%), within 35% each and the eight together within 15%
    totals = fc.group_by("unique_id").agg(pl.col("y").sum(), pl.col("mean").sum())
    assert (totals["mean"] / totals["y"]).is_between(0.65, 1.35).all(), totals
    assert totals["mean"].sum() == pytest.approx(totals["y"].sum(), rel=0.15)
    # a season week is forecast zero only where the three seasons before sold nothing in it (one in 8,000
    # at random here)
    assert fc.filter(season).select((pl.col("mean") > 0).mean()).item() >= 0.95
    off = fc.filter(~season)
    assert off["mean"].sum() <= 0.02 * fc["mean"].sum()  # the stray small orders out of season, no more
    assert (off.filter(pl.col("mean") == 0)["q99"] == 0).all()  # no safety stock out of season
    # the classes before: inactive (a zero forecast) or, after a stray order, intermittent (flat)
    before = classify_series(history, ForecastConfig(season_only_kappa=None))
    old = set(before.filter(pl.col("unique_id").str.starts_with("flu"))["series_class"])
    assert old and old <= {"inactive", "intermittent", "lumpy"}


def test_its_band_covers_the_season_weeks():
    """The band of the season's weeks comes from each past season forecast from the ones before it: on the
    held-out season of 30 vaccines the 80% band covers 70-90% of the season's weeks, the 98% band 90% or
    more."""
    history, future = _flu_panel(30, seed=2, end=date(2025, 8, 25))
    fc = forecast_demand(history, 26, ForecastConfig(n_jobs=1)).forecast.join(
        future, on=["unique_id", "ds"], validate="1:1").filter(pl.col("unique_id").str.starts_with("flu"))
    season = fc.filter(pl.Series(_in_season(fc["ds"])) & (pl.col("mean") > 0))
    cov80 = season.select(((pl.col("y") >= pl.col("q10")) & (pl.col("y") <= pl.col("q90"))).mean()).item()
    cov98 = season.select(((pl.col("y") >= pl.col("q01")) & (pl.col("y") <= pl.col("q99"))).mean()).item()
    assert 0.70 <= cov80 <= 0.90 and cov98 >= 0.90, (cov80, cov98)


@pytest.mark.parametrize(("freq", "season", "periods"), [("1w", 52, 156), ("1mo", 12, 120), ("1d", 7, 730)])
def test_random_intermittent_series_are_not_seasonal_only(freq, season, periods):
    """Zeros at random (300 series, demand in 10-70% of periods) agree between seasons by chance only."""
    rng = np.random.default_rng(4)
    step = {"1w": "1w", "1mo": "1mo", "1d": "1d"}[freq]
    ds = pl.date_range(MONDAY, date(2100, 1, 1), step, eager=True)[:periods]
    frame = pl.concat([pl.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": np.where(
        rng.random(periods) < 0.1 + 0.6 * (i % 7) / 6, rng.gamma(2.0, 50.0, periods), 0.0)}) for i in range(300)])
    classes = classify_series(frame, ForecastConfig(freq=freq, season_length=season))
    assert not (classes["series_class"] == "seasonal_only").any()
    assert (classes["series_class"].is_in(["intermittent", "lumpy", "inactive"])).sum() >= 250  # the tested ones


def test_season_kappa_by_hand():
    """Monthly, three seasons: demand in months 9-12 of each (kappa 1), and a series whose fourth month
    of the last season also sold: 24 pairs, 23 agree; chance agreement from the shares of months sold
    (8 of 24 earlier months sold, 9 of 24 later) gives kappa 0.9091 pooled over the two pairs."""
    months = pl.date_range(date(2020, 1, 1), date(2022, 12, 1), "1mo", eager=True)
    season = np.tile(np.r_[np.zeros(8), np.full(4, 100.0)], 3)
    odd = season.copy()
    odd[24 + 3] = 100.0  # April of the last season
    frame = pl.concat([pl.DataFrame({"unique_id": k, "ds": months, "y": v}) for k, v in
                       (("clean", season), ("odd", odd))])
    got = dict(seasonal_only(frame, pl.Series(["clean", "odd"]), ForecastConfig(freq="1mo", season_length=12))
               .rows())
    a = np.r_[season[12:24] > 0, odd[24:] > 0]  # the later season of each pair
    b = np.r_[season[:12] > 0, season[12:24] > 0]  # the earlier one
    same = (a == b).mean()
    chance = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    assert got["clean"] == pytest.approx(1.0)
    assert got["odd"] == pytest.approx((same - chance) / (1 - chance))
    assert got["odd"] == pytest.approx(0.9091, abs=1e-4)


def test_profile_forecast_by_hand():
    """Quarterly, three seasons sold in quarters 2 and 3 only: the last season's total (60) spread by the
    three seasons' shares (60/130 and 70/130): 0, 27.69, 32.31, 0, and again."""
    quarters = pl.date_range(date(2019, 1, 1), date(2021, 10, 1), "3mo", eager=True)
    y = [0, 10, 20, 0, 0, 20, 20, 0, 0, 30, 30, 0]
    frame = pl.DataFrame({"unique_id": "Q", "ds": quarters, "y": [float(v) for v in y]})
    fc = profile_forecast(frame, ["Q"], 6, ForecastConfig(freq="1q", season_length=4))
    assert fc["ds"].to_list()[:2] == [date(2022, 1, 1), date(2022, 4, 1)]
    assert fc["mean"].to_list() == pytest.approx([0, 60 * 60 / 130, 60 * 70 / 130, 0, 0, 60 * 60 / 130])
    assert set(fc["model"]) == {PROFILE_MODEL}
    zero = fc.filter(pl.col("mean") == 0)
    assert (zero.select(pl.all().exclude("unique_id", "ds", "model")).sum_horizontal() == 0).all()
