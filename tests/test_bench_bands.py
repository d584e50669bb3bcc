"""bench/bands.py bands a captured run again as the forecast banded it: with no override its bands are the
forecast's own, also where the backtest scored fewer steps than asked (stop 41: its spy took no keyword, and
every run of the tool had stopped on ``shortened`` since stop 37)."""

from __future__ import annotations

import polars as pl
import pytest

from _monthly_sets import monthly_set
from bench import accuracy
from bench.bands import band, captured_run
from data_contracts.schema import quantile_column
from forecasting import ForecastConfig, forecast_demand


@pytest.mark.parametrize("months, h, shortened", [(60, 6, None), (16, 6, 4)])
def test_a_captured_run_is_banded_again_as_the_forecast_was(months, h, shortened):
    ds = monthly_set(4, months, h)
    captured = captured_run(ds)
    assert captured[-1] == shortened  # 10 months (short): 6 months' least training leave a 4-month backtest
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, quantiles=accuracy.QUANTILES, n_jobs=1)
    own = forecast_demand(ds.train, ds.h, config).forecast
    names = dict(zip(("lo95", "lo80", "hi80", "hi95"), map(quantile_column, accuracy.QUANTILES), strict=True))
    expected = own.select("unique_id", "ds", "mean", *(pl.col(c).alias(k) for k, c in names.items()))
    again = band(captured, {})
    assert again.sort("unique_id", "ds").equals(expected.sort("unique_id", "ds"))
    unmirrored = band(captured, {"symmetric_bands": False})  # an override bands the same points
    assert unmirrored.get_column("mean").equals(again.get_column("mean"))
