"""Forecast accuracy by lag, hand-checked; model registry, parallel runs and config checks."""

from __future__ import annotations

import os
from datetime import date, timedelta

import numpy as np
import polars as pl
import pydantic
import pytest

from data_contracts import schema
from forecasting import ForecastConfig, forecast_accuracy, forecast_demand
from forecasting.models import GuardedMSTL, add_combinations, complexity, is_known
from forecasting.synthetic import synthetic_series

MON = date(2025, 1, 6)


def _w(k: int) -> date:
    return MON + timedelta(weeks=k)


def _actuals() -> pl.DataFrame:
    a = pl.DataFrame({"unique_id": "a", "ds": [_w(t) for t in range(57)], "y": [float(t) for t in range(57)]})
    b = pl.DataFrame({"unique_id": "b", "ds": [_w(t) for t in range(40, 57)], "y": 5.0})  # born in week 40
    return pl.concat([a, b])


def _past() -> pl.DataFrame:
    rows = [
        ("a", _w(52), _w(53), 50.0),  # lag 1: actual 53, seasonal naive y(w1) = 1
        ("a", _w(52), _w(54), 99.0),  # lag 2: not asked
        ("a", _w(52), _w(56), 60.0),  # lag 4: actual 56, seasonal naive y(w4) = 4
        ("a", _w(52), _w(70), 1.0),  # no actual yet
        ("b", _w(52), _w(53), 7.0),  # lag 1: actual 5, no seasonal naive (b did not exist at w1)
    ]
    return pl.DataFrame(rows, schema=["unique_id", "cutoff", "ds", "mean"], orient="row")


def test_accuracy_by_hand():
    fam = pl.DataFrame({"unique_id": ["a", "b"], "family": ["F", "F"]})
    got = forecast_accuracy(_past(), _actuals(), lags=(1, 4), families=fam)
    assert got.columns == [c for c in schema.FORECAST_ACCURACY.column_names if c != "run_id"]
    rows = {(r["level"], r["key"], r["lag"]): r for r in got.iter_rows(named=True)}
    assert set(rows) == {("series", "a", 1), ("series", "a", 4), ("series", "b", 1), ("family", "F", 1),
                         ("family", "F", 4), ("total", "all", 1), ("total", "all", 4)}
    a1 = rows[("series", "a", 1)]
    assert a1["wape"] == pytest.approx(3 / 53) and a1["bias"] == pytest.approx(-3 / 53)
    assert a1["wape_naive"] == pytest.approx(52 / 53) and a1["value_added"] == pytest.approx(49 / 53)
    assert a1["n_weeks"] == 1
    a4 = rows[("series", "a", 4)]
    assert a4["wape"] == pytest.approx(4 / 56) and a4["value_added"] == pytest.approx(48 / 56)
    b1 = rows[("series", "b", 1)]
    assert b1["wape"] == pytest.approx(2 / 5) and b1["wape_naive"] is None and b1["value_added"] is None
    f1 = rows[("family", "F", 1)]
    assert f1["wape"] == pytest.approx(5 / 58) and f1["bias"] == pytest.approx(-1 / 58)
    assert f1["wape_naive"] == pytest.approx(52 / 53)  # only where seasonal naive exists
    assert f1["value_added"] == pytest.approx(49 / 53) and f1["n_weeks"] == 2
    assert rows[("total", "all", 1)]["wape"] == pytest.approx(5 / 58)


def test_accuracy_checks_inputs():
    with pytest.raises(ValueError, match="lags"):
        forecast_accuracy(_past(), _actuals(), lags=(0,))
    with pytest.raises(ValueError, match="without a family"):
        forecast_accuracy(_past(), _actuals(), families=pl.DataFrame({"unique_id": ["a"], "family": ["F"]}))
    no_family = forecast_accuracy(_past(), _actuals(), lags=(1,))
    assert set(no_family.get_column("level")) == {"series", "total"}


def test_registry_and_combinations():
    assert is_known("Mean(ETS,Theta)") and not is_known("Mean(ETS,Nope)") and not is_known("Prophet")
    ranks = [complexity(n) for n in ("Naive", "SeasonalNaive", "ETS", "Mean(ETS,Theta)")]
    assert ranks == sorted(set(ranks))
    wide = pl.DataFrame({"A": [1.0, 2.0], "B": [3.0, 4.0], "C": [8.0, 0.0]})
    got = add_combinations(wide, ("A", "Mean(A,B)", "Median(A,B,C)"))
    assert got.get_column("Mean(A,B)").to_list() == [2.0, 3.0]
    assert got.get_column("Median(A,B,C)").to_list() == [3.0, 2.0]
    with pytest.raises(ValueError, match="unknown models"):
        forecast_demand(synthetic_series(1, 156), 4, ForecastConfig(seasonal_models=("Nope",)))


def test_guarded_mstl_is_its_trend_model_below_two_seasons():
    from statsforecast.models import AutoETS

    y = 100 + np.random.default_rng(0).normal(0, 5, 60)
    guarded = GuardedMSTL(season_length=52, trend_forecaster=AutoETS(model="ZZN"))
    plain = AutoETS(model="ZZN").forecast(y=y, h=4)["mean"]
    assert np.allclose(guarded.forecast(y=y, h=4)["mean"], plain)
    long_y = 100 + 20 * np.sin(2 * np.pi * np.arange(156) / 52)
    assert np.abs(guarded.forecast(y=long_y, h=4)["mean"] - long_y[:4]).max() < 5.0


def test_config_is_strict():
    with pytest.raises(pydantic.ValidationError):
        ForecastConfig(seasonl_length=12)
    with pytest.raises(pydantic.ValidationError):
        ForecastConfig(quantiles=(0.5, 1.2))
    with pytest.raises(pydantic.ValidationError, match="hides the seasons"):
        ForecastConfig(input_weeks=60)


def test_parallel_run_equals_serial():
    series = synthetic_series(12, 130, seed=5)
    serial = forecast_demand(series, 8, ForecastConfig(backtest_windows=2, n_jobs=1))
    # n_jobs None: a pool of every core once there are parallel_min_series series
    parallel = forecast_demand(series, 8, ForecastConfig(backtest_windows=2, parallel_min_series=12))
    assert parallel.series.equals(serial.series)
    assert np.allclose(parallel.forecast.select("mean").to_numpy(), serial.forecast.select("mean").to_numpy())
    assert parallel.backtest.sort("unique_id", "model", "window").equals(
        serial.backtest.sort("unique_id", "model", "window")
    )


def test_worker_count_defaults_to_the_cores_for_large_sets_only():
    cores = len(os.sched_getaffinity(0))
    config = ForecastConfig()
    assert config.workers(179) == 1  # the demo: a pool would cost more than it saves
    assert config.workers(10_178) == cores
    assert ForecastConfig(n_jobs=3).workers(5) == 3  # an explicit setting wins
    assert ForecastConfig(n_jobs=1).workers(50_000) == 1
