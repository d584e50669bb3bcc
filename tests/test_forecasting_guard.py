"""The guard against a forecast that falls through zero on a series that always sold
(forecasting/select_guard.py ``falls_through_zero``, ``guard_picks``; forecasting/choice.py ``_guard``)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from forecasting import ForecastConfig, forecast_demand
from forecasting.select_guard import falls_through_zero, guard_picks

H = 18


def _monthly(uid: str, y: np.ndarray) -> pl.DataFrame:
    ds = pl.date_range(date(2010, 1, 1), date(2010 + len(y), 1, 1), "1mo", eager=True)[: len(y)]
    return pl.DataFrame({"unique_id": uid, "ds": ds, "y": y.astype(float)})


def test_falls_through_zero_needs_a_forecast_at_or_below_zero_and_every_recent_period_sold():
    history = pl.concat([
        _monthly("falls", np.array([9.0, 8, 7, 6, 5, 4])),
        _monthly("gap", np.array([9.0, 8, 7, 0, 5, 4])),  # a zero in the last 4: may stop, left alone
        _monthly("old_gap", np.array([0.0, 8, 7, 6, 5, 4])),  # its zero is before the last 4
        _monthly("stays", np.array([9.0, 8, 7, 6, 5, 4])),
    ])
    forecast = pl.DataFrame({
        "unique_id": ["falls"] * 3 + ["gap"] * 3 + ["old_gap"] * 3 + ["stays"] * 3,
        "yhat": [3.0, 1.0, 0.0, 3.0, 1.0, -1.0, 3.0, 1.0, -1.0, 3.0, 2.0, 0.5],
    })
    got = falls_through_zero(forecast, history, recent=4).get_column("unique_id").to_list()
    assert got == ["falls", "old_gap"]
    # a history shorter than the recent periods has not shown it sold in all of them
    assert falls_through_zero(forecast, history, recent=7).height == 0


def test_guard_picks_the_default_where_it_stays_positive_else_the_best_scored_candidate_that_does():
    fallen = pl.DataFrame({"unique_id": ["a", "b", "c"], "model": ["DARIMA", "Mean(SETS,DOT)", "DARIMA"],
                           "default": ["Mean(SETS,DOT)", "Mean(SETS,DOT)", None]})
    rows = {  # series: model -> forecast
        "a": {"DARIMA": [1, -1], "Mean(SETS,DOT)": [2, 1], "Naive": [3, 3], "SETS": [2, 2]},
        "b": {"Mean(SETS,DOT)": [1, -2], "SETS": [2, 0], "Naive": [3, 3], "SeasonalNaive": [4, 2]},
        "c": {"DARIMA": [1, -1], "Naive": [3, 3], "SeasonalNaive": [4, 2]},
    }
    forecasts = pl.DataFrame(
        [(u, m, float(v)) for u, models in rows.items() for m, vs in models.items() for v in vs],
        schema={"unique_id": pl.String, "model": pl.String, "yhat": pl.Float64}, orient="row")
    scores = pl.DataFrame({  # b: SETS scores best but reaches zero; SeasonalNaive beats Naive
        "unique_id": ["a", "a", "b", "b", "b", "c", "c"],
        "model": ["Naive", "SETS", "SETS", "Naive", "SeasonalNaive", "Naive", "SeasonalNaive"],
        "mase": [0.5, 0.4, 0.3, 0.9, 0.8, 1.0, None],  # c: SeasonalNaive unscored, Naive scored
    })
    got = dict(guard_picks(fallen, forecasts, scores).iter_rows())
    assert got == {"a": "Mean(SETS,DOT)", "b": "SeasonalNaive", "c": "Naive"}


def _panel(seed: int) -> tuple[pl.DataFrame, list[str], list[str]]:
    """Eight monthly series, 96 months: four that fall in a straight line with a season, from about 400 to
    about 40 (every month positive; the line crosses zero about seven months into the horizon), and four
    intermittent ones falling as steeply with a zero in every third month."""
    rng = np.random.default_rng(seed)
    t = np.arange(96)
    season = 1 + 0.05 * np.sin(2 * np.pi * t / 12)
    frames, falling, gappy = [], [], []
    for i in range(4):
        y = (400 - 3.8 * t) * season + rng.normal(0, 4, t.size)
        frames.append(_monthly(f"falling_{i}", np.maximum(y, 5)))
        falling.append(f"falling_{i}")
        z = (400 - 3.8 * t) * season + rng.normal(0, 4, t.size)
        z[t % 3 == 2] = 0.0
        frames.append(_monthly(f"gappy_{i}", np.maximum(z, 0)))
        gappy.append(f"gappy_{i}")
    return pl.concat(frames), falling, gappy


def test_a_line_falling_through_zero_takes_a_forecast_that_stays_positive_and_gaps_are_left_alone():
    series, falling, gappy = _panel(seed=3)
    config = ForecastConfig(freq="1mo", season_length=12, n_jobs=1)
    result = forecast_demand(series, H, config)
    chosen = result.series
    guarded = chosen.filter(pl.col("selection") == "guard")
    # the falling series' models reached zero within the horizon: every one is guarded
    assert sorted(guarded.get_column("unique_id").to_list()) == falling
    mean = result.forecast.filter(pl.col("unique_id").is_in(falling))
    assert mean.height == len(falling) * H
    assert (mean.get_column("mean") > 0).all()
    assert mean.group_by("unique_id").agg(pl.col("mean").min()).get_column("mean").min() > 5
    # the series with zeros in their recent history keep what they were given
    assert chosen.filter(pl.col("unique_id").is_in(gappy) & (pl.col("selection") == "guard")).height == 0
    # every band row keeps the forecast's invariants
    q = [c for c in result.forecast.columns if c.startswith("q")]
    assert result.forecast.select((pl.min_horizontal(q) >= 0).all()).item()
