"""Complex exponential smoothing as a member (SCES at a short season, DCES through the decomposition) and the
median combination of four members (SCUM's rule, stop 30), on series whose answer is known."""

from __future__ import annotations

import numpy as np
import polars as pl
from statsforecast.models import AutoCES

from forecasting.models import NativeSeasonal, add_combinations, base_models, complexity, is_known
from forecasting.seasonal import Deseasonalized

H = 12


def _seasonal(n: int, m: int, seed: int) -> np.ndarray:
    """A level with a slow trend and a sine of amplitude 40 at season ``m``, noise sd 2."""
    t = np.arange(n)
    return 200 + 0.5 * t + 40 * np.sin(2 * np.pi * t / m) + np.random.default_rng(seed).normal(0, 2, n)


def test_sces_sees_a_monthly_season_and_is_plain_ces_when_short():
    y = _seasonal(72 + H, 12, 5)
    train, truth = y[:72], y[72:]
    (sces,) = base_models(("SCES",), 12)
    assert isinstance(sces, NativeSeasonal) and repr(sces) == "SCES" and is_known("SCES")
    fitted = sces.new().fit(train).predict(H)["mean"]
    # the season's amplitude is 40: a flat forecast errs by ~25 on average, the seasonal one by the noise
    assert np.abs(fitted - truth).mean() < 5.0
    assert np.allclose(sces.forecast(train, H)["mean"], fitted)
    short = train[:20]  # under two seasons: the non-seasonal CES, exactly
    assert np.allclose(sces.forecast(short, H)["mean"], AutoCES(model="N").forecast(y=short, h=H)["mean"])


def test_dces_sees_a_weekly_season_through_the_decomposition():
    y = _seasonal(156 + 26, 52, 7)
    train, truth = y[:156], y[156:]
    (dces,) = base_models(("DCES",), 52)
    assert isinstance(dces, Deseasonalized) and repr(dces) == "DCES"
    fitted = dces.new().fit(train).predict(26)["mean"]
    flat = AutoCES(model="N").forecast(y=train, h=26)["mean"]
    # the season's amplitude is 40 (a flat forecast errs by ~25); CES's trend drifts a little over 26 weeks
    assert np.abs(fitted - truth).mean() < 10.0 < 20.0 < np.abs(flat - truth).mean()
    assert np.allclose(dces.forecast(train, 26)["mean"], fitted)


def test_the_median_of_four_members_is_the_mean_of_the_middle_two():
    wide = pl.DataFrame({"SETS": [1.0, 10.0], "SCES": [4.0, 2.0], "DOT": [2.0, 3.0], "DARIMA": [8.0, 1.0]})
    name = "Median(SETS,SCES,DOT,DARIMA)"
    out = add_combinations(wide, (name, "Mean(SETS,SCES,DOT,DARIMA)"))
    assert out.get_column(name).to_list() == [3.0, 2.5]  # (2 + 4) / 2 and (2 + 3) / 2
    assert out.get_column("Mean(SETS,SCES,DOT,DARIMA)").to_list() == [3.75, 4.0]
    assert complexity(name) == 5  # one more than its members' 4
