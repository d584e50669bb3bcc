"""bench/members.py's cache grows by a member without a refit, and its trimmed rule is the pipeline's
``trim_min_members`` worked by hand (stop 31)."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from bench.accuracy import DataSet
from bench.members import add_members, fit_members, select_rule
from forecasting import ForecastConfig

H = 6
FOUR = "Mean(SETS,SCES,DOT,DARIMA)"


def _monthly_set() -> DataSet:
    """Three seeded monthly series of 60 months (a trend, a season of amplitude 30), the last 6 held out."""
    rows = []
    for k in range(3):
        t = np.arange(60)
        y = 300 + (k + 1) * t + 30 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(k).normal(0, 5, 60)
        ds = pl.date_range(date(2000, 1, 1), date(2004, 12, 1), "1mo", eager=True)
        rows.append(pl.DataFrame({"unique_id": f"s{k}", "ds": ds, "y": y}))
    whole = pl.concat(rows)
    train = whole.group_by("unique_id", maintain_order=True).head(60 - H)
    test = whole.group_by("unique_id", maintain_order=True).tail(H)
    return DataSet("toy", train, test, H, 12, 12, "1mo")


def _rows(frame: pl.DataFrame, model: str) -> pl.DataFrame:
    return frame.filter(pl.col("model") == model).sort(frame.columns[:-2])


def test_a_missing_member_is_fitted_alone_and_equals_a_whole_refit():
    ds = _monthly_set()
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=1)
    saved = fit_members(ds, config, ("SCES",), 1)
    whole = fit_members(ds, config, ("SCES", "DCES"), 1)
    grown, added = add_members(saved, ds, config, ("SCES", "DCES"), 1)
    assert added == ("DCES",)
    assert "DCES" not in saved["cv"].get_column("model").to_list()
    for k in ("cv", "fc"):
        for model in ("DCES", "SETS", "SCES"):
            assert _rows(grown[k], model).equals(_rows(whole[k], model)), (k, model)
    assert grown["asrun"] is saved["asrun"]
    assert add_members(grown, ds, config, ("DCES",), 1)[1] == ()  # nothing left to fit


def test_the_trimmed_rule_drops_each_series_worst_backtest_member():
    ds = _monthly_set()
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=1)
    saved = fit_members(ds, config, ("SCES",), 1)
    trimmed, _ = select_rule(saved, (FOUR,), FOUR, ds.season, ds.h, trim=4)
    plain, _ = select_rule(saved, (FOUR,), FOUR, ds.season, ds.h)
    # by hand: each member's backtest MASE on the series (its window MAE over the lag-1 naive MAE of the
    # history up to the window's cutoff, averaged over windows), the worst dropped, the other three averaged
    cv, fc = saved["cv"], saved["fc"]
    members = ("SETS", "SCES", "DOT", "DARIMA")
    for uid in ("s0", "s1", "s2"):
        hist = saved["history"].filter(pl.col("unique_id") == uid).sort("ds")

        def mase(m: str) -> float:
            out = []
            rows = cv.filter((pl.col("unique_id") == uid) & (pl.col("model") == m))
            for (cut,), w in rows.group_by("cutoff"):
                past = hist.filter(pl.col("ds") <= cut).get_column("y").to_numpy()
                out.append(np.abs(w["y"] - w["yhat"]).mean() / np.abs(np.diff(past)).mean())
            return float(np.mean(out))

        worst = max(members, key=mase)
        keep = [m for m in members if m != worst]
        want = fc.filter((pl.col("unique_id") == uid) & pl.col("model").is_in(keep)).group_by("ds").agg(
            pl.col("yhat").mean()).sort("ds").get_column("yhat").clip(lower_bound=0.0).to_numpy()
        got = trimmed.filter(pl.col("unique_id") == uid).sort("ds").get_column("mean").to_numpy()
        assert np.allclose(got, want), uid
    assert not np.allclose(trimmed.sort("unique_id", "ds").get_column("mean").to_numpy(),
                           plain.sort("unique_id", "ds").get_column("mean").to_numpy())
