"""bench/bands.py bands a captured run again as the forecast banded it: with no override its bands are the
forecast's own, also where the backtest scored fewer steps than asked (stop 41: its spy took no keyword, and
every run of the tool had stopped on ``shortened`` since stop 37)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from bench import accuracy
from bench.bands import band, captured_run
from data_contracts.schema import quantile_column
from forecasting import ForecastConfig, forecast_demand


def _monthly_set(months: int, h: int) -> accuracy.DataSet:
    """Four seeded monthly series (trends and a season of amplitude 30), the last ``h`` of ``months`` held
    out."""
    rows = []
    for k in range(4):
        t = np.arange(months)
        y = 300 + (k + 1) * t + 30 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(k).normal(0, 8, months)
        last = date(2000 + (months - 1) // 12, (months - 1) % 12 + 1, 1)
        ds = pl.date_range(date(2000, 1, 1), last, "1mo", eager=True)
        rows.append(pl.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    whole = pl.concat(rows)
    train = whole.group_by("unique_id", maintain_order=True).head(months - h)
    test = whole.group_by("unique_id", maintain_order=True).tail(h)
    return accuracy.DataSet("toy", train, test, h, 12, 12, "1mo")


@pytest.mark.parametrize("months, h, shortened", [(60, 6, None), (16, 6, 4)])
def test_a_captured_run_is_banded_again_as_the_forecast_was(months, h, shortened):
    ds = _monthly_set(months, h)
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
