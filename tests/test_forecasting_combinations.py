"""A combination leaves out a member whose forecast goes below zero (forecasting.models.add_combinations).

Demand below zero is no demand: a member that has extrapolated a trend through the axis is left out of its
series' mean or median at every step, in the forecast and in each backtest window alike, unless every member
goes below zero or the series' history holds a value below zero itself (a net flow).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from forecasting.engine import Task, run_task
from forecasting.models import add_combinations
from forecasting.outliers import signed_ids

H = 12
START = date(2020, 1, 6)


def _wide(uid: str, a: list[float], b: list[float], c: list[float],
          cutoff: int | None = None) -> pl.DataFrame:
    frame = pl.DataFrame({"unique_id": uid, "ds": list(range(len(a))), "A": a, "B": b, "C": c})
    return frame if cutoff is None else frame.with_columns(cutoff=pl.lit(cutoff))


def test_a_member_below_zero_anywhere_leaves_its_series_mean_and_median():
    wide = pl.concat([
        _wide("falls", [4.0, -1.0], [2.0, 3.0], [6.0, 5.0]),   # A below zero at its second step
        _wide("stays", [4.0, 1.0], [2.0, 3.0], [6.0, 5.0]),    # the same but A at 1: all three
        _wide("all", [-4.0, 1.0], [2.0, -3.0], [-6.0, 5.0]),  # every member below zero somewhere: all three
        _wide("net", [4.0, -1.0], [2.0, 3.0], [6.0, 5.0]),     # a net flow: A's forecast is a forecast
    ])
    out = add_combinations(wide, ("Mean(A,B,C)", "Median(A,B,C)"), signed=["net"]).partition_by(
        "unique_id", as_dict=True)
    assert out[("falls",)]["Mean(A,B,C)"].to_list() == [4.0, 4.0]  # B and C: (2 + 6) / 2, (3 + 5) / 2
    assert out[("falls",)]["Median(A,B,C)"].to_list() == [4.0, 4.0]
    assert out[("stays",)]["Mean(A,B,C)"].to_list() == [4.0, 3.0]
    assert out[("stays",)]["Median(A,B,C)"].to_list() == [4.0, 3.0]
    assert out[("all",)]["Mean(A,B,C)"].to_list() == [-8.0 / 3, 1.0]
    assert out[("net",)]["Mean(A,B,C)"].to_list() == [4.0, 7.0 / 3]
    # without a unique_id (a frame of one path) nothing is left out: the plain mean, as before
    plain = add_combinations(wide.filter(pl.col("unique_id") == "falls").drop("unique_id"), ("Mean(A,B,C)",))
    assert plain["Mean(A,B,C)"].to_list() == [4.0, 7.0 / 3]


def test_each_backtest_window_is_a_path_of_its_own():
    wide = pl.concat([_wide("s", [4.0, -1.0], [2.0, 3.0], [6.0, 5.0], cutoff=0),
                      _wide("s", [4.0, 1.0], [2.0, 3.0], [6.0, 5.0], cutoff=1)])
    out = add_combinations(wide, ("Mean(A,B,C)",)).partition_by("cutoff", as_dict=True)
    assert out[(0,)]["Mean(A,B,C)"].to_list() == [4.0, 4.0]
    assert out[(1,)]["Mean(A,B,C)"].to_list() == [4.0, 3.0]


def _series(uid: str, y: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"unique_id": uid, "ds": [START + timedelta(weeks=k) for k in range(len(y))],
                         "y": y.astype(float)})


def test_the_engine_leaves_a_trend_through_zero_out_of_the_mean():
    """A series at 100 for 16 weeks, falling to 20 over the next 12 and holding there: the drift model (the
    line from the first week to the last) crosses zero within 12 weeks, the naive model holds 20; their mean
    is the naive model's. A rising series keeps both; a net flow (a week below zero in its history) keeps
    both too. So does the backtest window cut before the fall, where the drift is flat."""
    t = np.arange(40)
    falling = np.clip(100.0 - np.clip(t - 15, 0, None) * 80 / 12, 20.0, None)
    df = pl.concat([
        _series("falling", falling),
        _series("rising", 10.0 + 3 * t),
        _series("net", np.where(t == 5, -4.0, falling)),
    ])
    assert signed_ids(df) == ["net"]
    names = ("Naive", "Drift", "Mean(Naive,Drift)")
    task = Task(df=df, names=names, season_length=52, freq="1w", horizon=H, windows=2, step=H, forecast=True,
                fallback="Naive", cost=1.0)
    cv, fc, _ = run_task(task)
    wide = fc.pivot(on="model", index=["unique_id", "ds"], values="yhat").partition_by("unique_id",
                                                                                     as_dict=True)
    falling, rising, net = wide[("falling",)], wide[("rising",)], wide[("net",)]
    assert (falling["Drift"] < 0).any()
    assert np.allclose(falling["Mean(Naive,Drift)"], falling["Naive"])
    assert np.allclose(rising["Mean(Naive,Drift)"], (rising["Naive"] + rising["Drift"]) / 2)
    assert (net["Drift"] < 0).any()
    assert np.allclose(net["Mean(Naive,Drift)"], (net["Naive"] + net["Drift"]) / 2)
    # the backtest: the falling series' windows are cut at weeks 15 (before the fall: the drift is flat at
    # 100) and 27 (at 20, after a fall of 80 in 27 weeks: below zero within 12)
    rows = cv.filter(pl.col("unique_id") == "falling").pivot(on="model", index=["ds", "cutoff"],
                                                              values="yhat")
    for (cutoff,), window in rows.partition_by("cutoff", as_dict=True).items():
        both = (window["Naive"] + window["Drift"]) / 2
        expect = window["Naive"] if (window["Drift"] < 0).any() else both
        assert np.allclose(window["Mean(Naive,Drift)"], expect), cutoff
    assert rows.group_by("cutoff").agg((pl.col("Drift") < 0).any().alias("below"))["below"].sort().to_list() \
        == [False, True]
