"""A seasonal naive champion on a series whose last half season broke keeps the default instead
(forecasting/select_guard.py ``season_shifted``, ``keep_default_where_shifted``; ``season_shift_check``)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from forecasting import ForecastConfig, forecast_demand
from forecasting.select_guard import keep_default_where_shifted, season_shifted

H = 12


def _monthly(uid: str, y: np.ndarray) -> pl.DataFrame:
    ds = pl.date_range(date(2010, 1, 1), date(2010 + len(y), 1, 1), "1mo", eager=True)[: len(y)]
    return pl.DataFrame({"unique_id": uid, "ds": ds, "y": y.astype(float)})


def _seasonal(seed: int, months: int = 96, drop: float = 1.0) -> np.ndarray:
    """A strong yearly season (a peak of 3× the trough) around 100 with 3% noise; the last six months
    multiplied by ``drop`` (a level that broke inside the last season)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    y = 100 * (2 + np.sin(2 * np.pi * t / 12)) * (1 + rng.normal(0, 0.03, months))
    y[-6:] *= drop
    return y


def test_season_shifted_flags_a_last_half_season_away_from_the_one_before_by_hand():
    history = pl.concat([
        _monthly("steady", _seasonal(1)),
        _monthly("broke", _seasonal(1, drop=0.5)),  # log change −0.69 against noise of ~0.04 a month
        _monthly("rose", _seasonal(1, drop=1.5)),
        _monthly("short", _seasonal(1, months=18, drop=0.5)),  # 6 changes: too few earlier ones to judge
    ])
    got = season_shifted(history, season=12).get_column("unique_id").to_list()
    assert got == ["broke", "rose"]


def test_keep_default_where_shifted_replaces_only_seasonal_naive_champions_of_shifted_series():
    chosen = pl.DataFrame({
        "unique_id": ["a", "b", "c", "d", "e"],
        "model": ["SeasonalNaive", "SeasonalNaive", "DARIMA", "SeasonalNaive", "Mean(SETS,DOT)"],
        "selection": ["backtest", "backtest", "backtest", "backtest", "default"],
    })
    defaults = pl.DataFrame({"unique_id": ["a", "b", "c", "d", "e"],
                             "default": ["Mean(SETS,DOT)", "Mean(SETS,DOT)", "Mean(SETS,DOT)", None,
                                         "Mean(SETS,DOT)"]})
    shifted = pl.DataFrame({"unique_id": ["a", "c", "d", "e"]})  # b did not move; d has no default
    got = keep_default_where_shifted(chosen, defaults, shifted).sort("unique_id")
    assert got.get_column("model").to_list() == [
        "Mean(SETS,DOT)", "SeasonalNaive", "DARIMA", "SeasonalNaive", "Mean(SETS,DOT)"]
    assert got.get_column("selection").to_list() == ["default", "backtest", "backtest", "backtest", "default"]


def test_a_seasonal_naive_champion_whose_last_half_season_broke_serves_the_default():
    """Six strongly seasonal series: the seasonal naive wins every backtest window by far against a
    non-seasonal default (Naive), so it is each one's champion; on the three whose last six months halved,
    the copy of the last season would forecast the level from before the break."""
    steady = [f"steady_{i}" for i in range(3)]
    broke = [f"broke_{i}" for i in range(3)]
    series = pl.concat([_monthly(u, _seasonal(i)) for i, u in enumerate(steady)]
                       + [_monthly(u, _seasonal(10 + i, drop=0.5)) for i, u in enumerate(broke)])
    base = {"freq": "1mo", "season_length": 12, "n_jobs": 1, "seasonal_models": ("Naive", "SeasonalNaive"),
            "seasonal_default": "Naive", "seasonal_alternatives": ()}
    served = {}
    for check in (False, True):
        result = forecast_demand(series, H, ForecastConfig(**base, season_shift_check=check))
        served[check] = dict(result.series.select("unique_id", "model").iter_rows())
    assert all(served[False][u] == "SeasonalNaive" for u in steady + broke)
    assert all(served[True][u] == "SeasonalNaive" for u in steady)
    assert all(served[True][u] == "Naive" for u in broke)


def test_the_check_leaves_a_weekly_season_alone():
    """A weekly season (52 > ``native_season_max``): its 26 last changes are autocorrelated, so the check's
    standard error would be too small; the seasonal naive champion of a series whose last quarter season fell
    15% stays, with the check on."""
    rng = np.random.default_rng(5)
    weeks = 4 * 52
    t = np.arange(weeks)
    frames = []
    for i in range(3):
        y = 100 * (2 + np.sin(2 * np.pi * t / 52)) * (1 + rng.normal(0, 0.03, weeks))
        y[-13:] *= 0.85  # a 15% fall: the seasonal naive still wins every window by far
        ds = pl.date_range(date(2015, 1, 5), date(2015, 1, 5) + timedelta(weeks=weeks - 1), "1w", eager=True)
        frames.append(pl.DataFrame({"unique_id": f"broke_{i}", "ds": ds, "y": y}))
    series = pl.concat(frames)
    assert season_shifted(series, season=52).height == 3  # the check itself would flag them
    config = ForecastConfig(freq="1w", season_length=52, n_jobs=1, seasonal_models=("Naive", "SeasonalNaive"),
                            seasonal_default="Naive", seasonal_alternatives=(), season_shift_check=True)
    served = dict(forecast_demand(series, 13, config).series.select("unique_id", "model").iter_rows())
    assert set(served.values()) == {"SeasonalNaive"}
