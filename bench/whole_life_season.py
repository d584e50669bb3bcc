"""DARIMA's season from a series' whole life, measured near end to end on a captured run (stop 27).

Usage: ``python bench/whole_life_season.py DATA_DIR --sets pharma_weekly m4_weekly --origin 0 --cache DIR
[--max-series 100]``.

``forecast_demand`` shows every model the last ``input_weeks`` of a series, so a weekly series' classical
season is tested and estimated on 156 weeks, where the M4 test finds none in the pharmacy's 8 series; on
their ~290 weeks it finds one in 4, and that season is the peers' edge (docs/forecast-accuracy.md, stop 27).
This measures the rule before it is built into the engine:

1. the set is forecast once by ``forecast_demand`` as it stands, and the arguments of its quantile step are
   kept (``bench/bands.py`` ``captured_run``);
2. every DARIMA backtest window of a series whose life up to the cutoff is longer than the window the
   pipeline showed it, and seasonal by the M4 test on that life, is refitted: the season tested and
   estimated on the life, the approximated ARIMA fitted on the window's adjusted values (as long as the
   pipeline's); the combinations holding DARIMA are formed again from their members;
3. the pipeline's own ``_choose`` (scores, evidence rule, held-out picks) and ``_quantiles`` run on that;
   the final forecasts are the seasonal members' saved by ``bench/members.py`` (``--cache``; fitted there
   if missing), DARIMA's refitted likewise on the whole life.

Prints points and bands (``bench/accuracy.py``'s ``score``) as run, rebuilt from the members (must equal the
run: the check of the rebuild) and with the rule. Differences from a build: a refitted DARIMA searches its
order at every origin (the pipeline carries the oldest origin's), and its fits are timed apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import accuracy  # noqa: E402
from bench.bands import band, captured_run  # noqa: E402
from bench.members import fit_members  # noqa: E402
from forecasting import ForecastConfig  # noqa: E402
from forecasting.backtest import _CV_ORDER, _combined_rows  # noqa: E402
from forecasting.choice import _choose  # noqa: E402
from forecasting.models import combination_members  # noqa: E402
from forecasting.outliers import signed_ids  # noqa: E402
from forecasting.seasonal import deseasonalize, is_seasonal, reseasonalize  # noqa: E402
from forecasting.select import trim_worst_member  # noqa: E402
from statsforecast.models import AutoARIMA  # noqa: E402

KEYS = ("asrun", "series", "plan", "cv", "fc", "history")


def whole_life_darima(life: np.ndarray, shown: int, h: int, m: int) -> np.ndarray:
    """DARIMA's forecast with its season from ``life``: the classical season tested and estimated on all of
    it, the approximated ARIMA (p, q ≤ 1, as ``forecasting.models``'s DARIMA) on the last ``shown`` adjusted
    values."""
    adjusted, idx, multiplicative = deseasonalize(life, m)
    mean = AutoARIMA(season_length=1, max_p=1, max_q=1).forecast(y=adjusted[-shown:], h=h)["mean"]
    return reseasonalize(np.asarray(mean), life.size, idx, multiplicative)


def _lives(ds: accuracy.DataSet) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {u: (np.asarray(d, dtype="datetime64[D]"), np.asarray(y, dtype=float)) for u, d, y in
            ds.train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).agg("ds", "y").rows()}


def _replaced(rows: pl.DataFrame, keys: list[str], lives: dict, window: dict, m: int) -> pl.DataFrame:
    """DARIMA ``rows`` (``keys`` + ``ds, yhat``) refitted with the whole-life season where the rule applies."""
    out = []
    for key, g in rows.filter(pl.col("model") == "DARIMA").group_by(keys):
        uid = key[0]
        dates, y = lives[uid]
        later = 0 if len(key) == 1 else int((dates > np.datetime64(key[1])).sum())
        past, shown = y[: y.size - later], window[uid] - later  # the life up to the cutoff, the window shown
        if past.size > shown and is_seasonal(past, m):
            out.append(g.sort("ds").with_columns(yhat=pl.Series(whole_life_darima(past, shown, g.height, m))))
    return pl.concat(out) if out else rows.clear()


def _swap(frame: pl.DataFrame, new: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return pl.concat([frame.join(new.select(keys).unique(), on=keys, how="anti"), new.select(frame.columns)])


def _with_rule(cv: pl.DataFrame, members: pl.DataFrame, lives: dict, window: dict, m: int):
    """The backtest and the members' final forecasts with DARIMA's season from the whole life."""
    new_cv = _replaced(cv, ["unique_id", "cutoff"], lives, window, m)
    cv2 = _swap(cv, new_cv, ["unique_id", "cutoff", "model"])
    changed = new_cv.select("unique_id", "cutoff").unique()
    signed = signed_ids(pl.concat(list(lives.values()))) if lives else []
    for name in cv.get_column("model").unique().to_list():
        combo = combination_members(name)
        if combo and "DARIMA" in combo[1]:
            rows = cv2.join(changed, on=["unique_id", "cutoff"], how="semi").filter(pl.col("model").is_in(combo[1]))
            cv2 = _swap(cv2, _combined_rows(rows, name, signed), ["unique_id", "cutoff", "model"])
    new_fc = _replaced(members, ["unique_id"], lives, window, m)
    return (cv2.sort(_CV_ORDER, maintain_order=True), _swap(members, new_fc, ["unique_id", "model"]),
            changed.height, new_fc.get_column("unique_id").n_unique())


def rebanded(captured: tuple, cv: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """The run's selection and bands again on ``cv``, the seasonal set's forecasts formed from ``members``
    (the other sets' from the run): ``unique_id, ds, mean, lo95, lo80, hi80, hi95``."""
    fc, _, _, _, plan, series, horizon, config = captured
    backtest, chosen, _, picks = _choose(cv, series, plan, config)
    chosen = trim_worst_member(chosen, backtest, config.seasonal_default, config.trim_min_members)
    seasonal = members.select("unique_id").unique()
    parts = [fc.join(seasonal, on="unique_id", how="anti").join(chosen, on=["unique_id", "model"], how="semi")]
    for (model,), ids in chosen.join(seasonal, on="unique_id", how="semi").group_by("model"):
        how, names = combination_members(model) or ("Mean", (model,))
        agg = pl.col("yhat").mean() if how == "Mean" else pl.col("yhat").median()
        rows = members.join(ids.select("unique_id"), on="unique_id", how="semi").filter(pl.col("model").is_in(names))
        parts.append(rows.group_by("unique_id", "ds").agg(agg).with_columns(model=pl.lit(model)).select(fc.columns))
    return band((pl.concat(parts).sort("unique_id", "ds"), cv, chosen, picks, plan, series, horizon, config), {})


def _members(ds: accuracy.DataSet, cache: Path, stem: str) -> pl.DataFrame:
    """The seasonal members' final forecasts, ``bench/members.py``'s cache (fitted and saved if missing)."""
    path = cache / f"{stem}_fc.parquet"
    if not path.exists():
        config = ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=1)
        for key, frame in fit_members(ds, config, (), 1).items():
            frame.write_parquet(cache / f"{stem}_{key}.parquet")
    return pl.read_parquet(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--sets", nargs="+", default=["pharma_weekly"], choices=list(accuracy.LOADERS))
    parser.add_argument("--origin", type=int, default=0, help="split the set this many horizons earlier")
    parser.add_argument("--cache", type=Path, required=True, help="bench/members.py's folder of saved members")
    parser.add_argument("--max-series", type=int, default=100, help="bench/members.py's sample (its file names)")
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore")
    for name in args.sets:
        ds = accuracy.earlier(accuracy.sample(accuracy.LOADERS[name](args.data_dir), args.max_series, 0), args.origin)
        members = _members(ds, args.cache, f"{name}_s0_n{args.max_series}_o{args.origin}")
        captured = captured_run(ds)
        fc, cv, chosen, picks, plan, series, horizon, config, _shortened = captured
        window = dict(series.group_by("unique_id").agg(pl.len()).rows())
        cpu = time.process_time()
        cv2, members2, windows, finals = _with_rule(cv, members, _lives(ds), window, ds.season)
        cpu = time.process_time() - cpu
        scale = accuracy.scales(ds)
        naive2 = accuracy.score(ds, accuracy.naive2(ds), scale) if ds.mase_m == 1 and ds.season == 52 else None
        print(f"{name} origin {args.origin}: {windows} DARIMA windows and {finals} final forecasts refitted in "
              f"{cpu:.1f} CPU-s; load {os.getloadavg()[0]:.1f}")
        for label, banded in (("as run", band(captured, {})), ("rebuilt from the members", rebanded(captured, cv, members)),
                              ("DARIMA season from the whole life", rebanded(captured, cv2, members2))):
            s = accuracy.score(ds, banded, scale)
            owa = f" OWA {(s['smape'] / naive2['smape'] + s['mase'] / naive2['mase']) / 2:.3f}" if naive2 else ""
            print(f"   {label:34s} sMAPE {s['smape']:7.3f} MASE {s['mase']:6.3f}{owa} cov80 {100 * s['cov80']:5.1f} "
                  f"cov95 {100 * s['cov95']:5.1f} MSIS {s['msis']:7.3f}", flush=True)


if __name__ == "__main__":
    main()
