"""DARIMA's season from a series' whole life: the engine hands every model the life and the periods before
the window it fits (``Task.skips``); DARIMA tests and estimates its classical season on all of it, every
other model fits the window alone (stop 27: the pharmacy's weekly season shows in ~290 weeks, not in 156)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting import ForecastConfig, forecast_demand
from forecasting.engine import Task, run_task
from forecasting.models import base_models
from forecasting.orders import arima_order
from forecasting.seasonal import deseasonalize, is_seasonal, reseasonalize

H, M, LIFE, WINDOW = 13, 52, 312, 156


def _life() -> pl.DataFrame:
    """312 weeks of a 52-week sine (amplitude 10) under noise of sd 4, but sd 20 over the window's first 104
    weeks: the season test finds the season in the whole life and not in its last 156 weeks (nor in the
    156 weeks before any backtest cutoff). Stop 28's sine under one noise (sd 8) no longer makes the case:
    the stop-29 test finds its season in the window too (contrast 3.17 against its limit 1.96)."""
    t = np.arange(LIFE)
    noisy = (t >= LIFE - WINDOW) & (t < LIFE - WINDOW + 2 * M)
    noise = np.where(noisy, 20.0, 4.0) * np.random.default_rng(0).normal(0, 1, LIFE)
    y = 100 + 10 * np.sin(2 * np.pi * t / M) + noise
    ds = [date(2019, 1, 7) + timedelta(weeks=int(i)) for i in t]
    return pl.DataFrame({"unique_id": "a", "ds": ds, "y": y})


def _task(df: pl.DataFrame, skips: tuple = (), windows: int = 0, refit: str = "every",
          orders: tuple = ()) -> Task:
    return Task(df=df, names=("DARIMA", "DOT"), season_length=M, freq="1w", horizon=H, windows=windows,
                step=H, forecast=windows == 0, fallback="Naive", cost=1.0, refit=refit, arima_orders=orders,
                skips=skips)


def _by_hand(life: np.ndarray) -> np.ndarray:
    """DARIMA with its season from ``life`` and its ARIMA fitted on the adjusted values of the window."""
    adjusted, idx, multiplicative = deseasonalize(life, M)
    arima = base_models(("DARIMA",), M)[0].model
    mean = arima.new().forecast(y=adjusted[-(WINDOW - (LIFE - life.size)):], h=H)["mean"]
    return reseasonalize(np.asarray(mean), life.size, idx, multiplicative)


def _darima():
    """DARIMA as the engine fits it on this life: its season from all of it, its ARIMA on the window."""
    darima = base_models(("DARIMA",), M)[0]
    return darima.around(darima.model, LIFE - WINDOW)


def _yhat(frame: pl.DataFrame, model: str) -> np.ndarray:
    return frame.filter(pl.col("model") == model).sort("ds").get_column("yhat").to_numpy()


def test_darima_takes_the_season_the_window_hides_from_the_whole_life():
    life = _life()
    y = life.get_column("y").to_numpy()
    assert is_seasonal(y, M) and not is_seasonal(y[-WINDOW:], M)  # the case: only the life shows it
    _, whole, _ = run_task(_task(life, skips=(("a", LIFE - WINDOW),)))
    _, window, _ = run_task(_task(life.tail(WINDOW)))
    assert _yhat(whole, "DARIMA") == pytest.approx(_by_hand(y), rel=1e-9)
    # the season is back in the forecast: it follows the sine the window's own fit cannot see
    truth = np.sin(2 * np.pi * np.arange(LIFE, LIFE + H) / M)
    assert np.corrcoef(_yhat(whole, "DARIMA"), truth)[0, 1] > 0.75
    assert np.ptp(_yhat(window, "DARIMA")) < 0.5 * np.ptp(_yhat(whole, "DARIMA"))
    # every other model fits the window alone: the same forecast as without the life before it
    assert _yhat(whole, "DOT") == pytest.approx(_yhat(window, "DOT"), rel=1e-12)


@pytest.mark.parametrize("refit", ["every", "arima_order"])
def test_the_backtest_takes_the_life_up_to_each_cutoff_and_carries_darima_s_order(refit):
    life = _life()
    y = life.get_column("y").to_numpy()
    cv, _, orders = run_task(_task(life, skips=(("a", LIFE - WINDOW),), windows=2, refit=refit))
    window = run_task(_task(life.tail(WINDOW), windows=2, refit=refit))[0]
    for k, cutoff in enumerate(sorted(cv.get_column("cutoff").unique())):
        rows = cv.filter(pl.col("cutoff") == cutoff)
        later = (2 - k) * H  # the weeks after the cutoff
        if refit == "every" or k == 0:  # a search at every origin, or the oldest one's
            assert _yhat(rows, "DARIMA") == pytest.approx(_by_hand(y[:LIFE - later]), rel=1e-9)
        same = window.filter((pl.col("cutoff") == cutoff) & (pl.col("model") == "DOT")).sort("ds")
        assert _yhat(rows, "DOT") == pytest.approx(same.get_column("yhat").to_numpy(), rel=1e-12)
    if refit == "arima_order":  # the order carried is the oldest origin's, found in its window of the life
        assert orders.get_column("order").to_list() == [arima_order(_darima().fit(y[:LIFE - 2 * H]))]
    # an order fixes the final fit inside the same window: the search's forecast on the same data
    found = arima_order(_darima().fit(y))
    _, fixed, _ = run_task(_task(life, skips=(("a", LIFE - WINDOW),), orders=(("DARIMA", found),)))
    assert _yhat(fixed, "DARIMA") == pytest.approx(_by_hand(y), rel=1e-6)


def test_the_option_gives_darima_the_life_in_the_pipeline_and_off_the_window_alone():
    life = _life()
    config = ForecastConfig(seasonal_models=("DOT", "DARIMA"), seasonal_default=None, n_jobs=1,
                            season_from_life=False)
    off = forecast_demand(life, H, config).backtest
    on = forecast_demand(life, H, config.model_copy(update={"season_from_life": True})).backtest
    windowed = forecast_demand(life.tail(WINDOW), H, config).backtest
    key = ["unique_id", "model"]

    def scores(frame: pl.DataFrame, model: str) -> pl.DataFrame:
        return frame.filter(pl.col("model") == model).sort(key).drop("selected", strict=False)

    assert scores(on, "DOT").height > 0 and scores(on, "DOT").equals(scores(off, "DOT"))
    assert not scores(on, "DARIMA").equals(scores(off, "DARIMA"))
    assert scores(off, "DARIMA").equals(scores(windowed, "DARIMA"))  # off: the models see the window alone


def _moved_season() -> pl.DataFrame:
    """312 weeks with a four-week peak (+40 over a level of 100, noise sd 8) that moved half a year after
    the first 156 weeks: the whole life's classical season holds both peaks at half height and misleads,
    the window's holds the one that stays (PBS's safety-net series, stop 28)."""
    t = np.arange(LIFE)
    start = np.where(t < LIFE - WINDOW, 0, M // 2)
    y = 100 + 40 * ((t - start) % M < 4) + np.random.default_rng(1).normal(0, 8, LIFE)
    ds = [date(2019, 1, 7) + timedelta(weeks=int(i)) for i in t]
    return pl.DataFrame({"unique_id": "b", "ds": ds, "y": y})


@pytest.mark.parametrize(("life", "taken"), [(_life, True), (_moved_season, False)])
def test_backtest_takes_the_whole_lifes_season_only_where_the_sets_backtest_scores_it_better(life, taken):
    """``season_from_life="backtest"``: the set's DARIMA backtested both ways decides; the run then equals
    the run with the option fixed to the side its backtest took (the sine only the life shows: the life;
    the peak that moved: the window)."""
    life = life()
    config = ForecastConfig(seasonal_models=("DOT", "DARIMA"), seasonal_default=None, n_jobs=1)
    runs = {choice: forecast_demand(life, H, config.model_copy(update={"season_from_life": choice}))
            for choice in (True, False, "backtest")}
    darima = {c: r.backtest.filter(pl.col("model") == "DARIMA").sort("window") for c, r in runs.items()}
    assert not darima[True].equals(darima[False])  # the two sides differ on this series
    assert darima["backtest"].equals(darima[taken])
    assert runs["backtest"].forecast.equals(runs[taken].forecast)


@pytest.mark.parametrize("life", [_life, _moved_season])
def test_backtest_fits_darima_apart_only_with_the_lifes_season(life, monkeypatch):
    """The window's side of the choice is the main backtest's own DARIMA rows: one DARIMA-only backtest (the
    life's) is fitted apart, not two, whichever side the set takes (run_tasks wrapped where every backtest
    runs, :mod:`forecasting.backtest`; the fits real)."""
    import forecasting.backtest as B

    batches = []

    def counted(tasks, pool):
        batches.append({t.names for t in tasks if t.windows > 0})  # backtests, not the champions' fits
        return run_tasks(tasks, pool)

    run_tasks = B.run_tasks
    monkeypatch.setattr(B, "run_tasks", counted)
    config = ForecastConfig(seasonal_models=("DOT", "DARIMA"), seasonal_default=None, n_jobs=1)
    forecast_demand(life(), H, config.model_copy(update={"season_from_life": "backtest"}))
    assert sum(names == {("DARIMA",)} for names in batches) == 1
