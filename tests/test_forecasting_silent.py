"""Bands of inactive series (forecasting.silent): the set's chance that demand comes back after a silence, and
the mixture band it gives a zero forecast. By hand on tiny frames, then through forecast_demand."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from data_contracts import schema
from forecasting import ForecastConfig, forecast_demand
from forecasting.silent import inactive_quantiles, return_shares, silences

MON = date(2026, 1, 5)  # a Monday


def _series(uid: str, y) -> pl.DataFrame:
    y = np.asarray(y, dtype=float)
    return pl.DataFrame({"unique_id": uid, "ds": [MON + timedelta(weeks=k) for k in range(len(y))], "y": y})


def test_silences_and_return_shares_by_hand():
    """``a`` has been silent two periods at t = 2 and three at t = 3: of the periods one and two ahead, y[4] = 3
    came back and y[3], y[5] did not. ``b`` never had demand before its zeros (not a silence), ``c`` never fell
    silent. ``e`` ends its history silent for two periods: every silence counts, a's (2 of 4 periods came back)
    and f's at t = 2 and 3 (0 of 3): 2 / 7. ``f`` ends it silent for four: no silence that long has a period
    after it, so no share (its band stays zero)."""
    frames = pl.concat([_series("a", [5, 0, 0, 0, 3, 0]), _series("b", [0, 0, 0, 4]), _series("c", [1, 2, 3]),
                        _series("e", [6, 0, 0]), _series("f", [6, 0, 0, 0, 0])])
    found = silences(frames, silence=2, horizon=2).filter(pl.col("unique_id") == "a")
    assert found.select("run", "came", "seen").rows() == [(2, 1, 2), (3, 1, 2)]
    shares = return_shares(frames, ["e", "f"], silence=2, horizon=2)
    assert dict(shares.rows()) == {"e": pytest.approx(2 / 7), "f": None}


def test_inactive_quantiles_by_hand():
    """share 0.5: the quantiles at or below 0.5 stay zero; q0.75 is the median of the past demand 2, 4, 6 (the
    level (0.75 − 0.5) / 0.5 = 0.5), q0.9 its 0.8 level: 4 + 0.6 · 2 = 5.2. No share: every quantile zero."""
    history = pl.concat([_series("x", [2, 0, 4, 0, 6, 0, 0]), _series("z", [3, 0, 0, 0, 0, 0, 0])])
    forecast = pl.DataFrame({"unique_id": ["x", "x", "z"], "ds": [MON] * 3, "mean": [0.0] * 3})
    quantiles = (0.1, 0.5, 0.75, 0.9)
    shares = pl.DataFrame({"unique_id": ["x", "z"], "share": [0.5, None]})
    got = inactive_quantiles(forecast, history, quantiles, shares).sort("unique_id")
    names = [schema.quantile_column(q) for q in quantiles]
    assert got.select(names).row(0) == pytest.approx((0.0, 0.0, 4.0, 5.2))
    assert got.select(names).row(2) == (0.0,) * 4
    assert got.get_column("mean").to_list() == [0.0] * 3


def test_an_inactive_series_is_banded_by_the_sets_returns():
    """Three series that fall silent for 16 weeks and come back, again and again, and one that fell silent 14
    weeks before the end (inactive: forecast zero). With ``inactive_returns`` its mean stays zero, its low
    quantiles zero, and its upper ones are its own past demand (about 10), since most weeks after the set's
    silences of 14 weeks or more had demand. Without the option (and on main) every quantile is zero."""
    rng = np.random.default_rng(7)
    pulse = np.tile(np.r_[np.ones(20), np.zeros(16)], 5)[:156]
    frames = pl.concat([
        *(_series(f"pulse{i}", pulse * rng.normal(10, 1, 156).clip(1)) for i in range(3)),
        _series("gone", np.r_[rng.normal(10, 1, 142).clip(1), np.zeros(14)]),
    ])
    config = ForecastConfig(n_jobs=1, inactive_returns=True)
    result = forecast_demand(frames, horizon=8, config=config)
    assert result.series.filter(pl.col("unique_id") == "gone").get_column("series_class").item() == "inactive"
    gone = result.forecast.filter(pl.col("unique_id") == "gone")
    share = return_shares(frames, ["gone"], config.periods(13), 8).get_column("share").item()
    assert 0.5 < share < 0.9  # a 16-week silence ends 2-3 weeks after its 14th week
    assert gone.height == 8 and gone.get_column("mean").max() == 0.0
    low = [schema.quantile_column(q) for q in schema.QUANTILES if q <= 1 - share]
    high = [schema.quantile_column(q) for q in schema.QUANTILES if q > 1 - share]
    assert high and gone.select(low).to_numpy().max() == 0.0
    assert (gone.select(high).to_numpy() > 5.0).all() and gone.select(high).to_numpy().max() < 14.0
    # off by default: the zero band, as before
    plain = forecast_demand(frames, horizon=8, config=ForecastConfig(n_jobs=1)).forecast
    assert plain.filter(pl.col("unique_id") == "gone").select(schema.quantile_column(0.99)).to_series().max() == 0.0
