"""M4 Weekly benchmark of plantwin's automatic forecaster.

Usage: ``python bench/m4_weekly.py DATA_DIR [--n-jobs 2] [--baseline]`` with DATA_DIR holding
``Weekly-train.csv``, ``Weekly-test.csv``, ``m4_official_point_scores_by_method.csv`` and
``benchmark_forecasts/`` (see the data folder's README).

1. Recomputes sMAPE and MASE of the shipped benchmark forecasts and checks they equal the organisers'
   official rows to the published 3 decimals (this proves the scorer).
2. Runs ``forecasting.forecast_demand`` on the training data alone (model choice by rolling-origin
   backtest inside the training data), horizon 13, and prints sMAPE, MASE, OWA and wall time beside the
   official Naive2, SES, Theta, Damped, Com and the winner (118).
3. With ``--baseline``: also times statsforecast's mean of AutoETS(52), AutoTheta(52) and AutoARIMA(52).

Conventions (M4): sMAPE = mean of 200·|y−ŷ|/(|y|+|ŷ|); MASE scaled by the in-sample naive (m = 1) MAE;
OWA = (sMAPE/sMAPE_Naive2 + MASE/MASE_Naive2)/2 with Naive2 Weekly = 9.161 / 2.777.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting import ForecastConfig, forecast_demand  # noqa: E402

H = 13
NAIVE2 = (9.161, 2.777)
SHIPPED = {"Naive": "Naive", "Naive2": "Naive2", "SES": "SES", "sNaive": "sNaive", "024": "24", "218": "218",
           "249": "249"}
REFERENCES = ["Naive2", "SES", "Theta", "Damped", "Com", "118"]
END = date(2018, 12, 31)  # M4 weekly has no dates: every series is given Mondays ending here


def read_wide(path: Path, prefix: str) -> dict[str, np.ndarray]:
    """``id → values`` of an M4 wide CSV (first column the id, then values, padded with empties)."""
    frame = pl.read_csv(path, infer_schema_length=0)
    ids = frame.get_column(frame.columns[0]).to_list()
    values = frame.select(pl.col(c).cast(pl.Float64, strict=False) for c in frame.columns[1:]).to_numpy()
    out = {}
    for uid, row in zip(ids, values, strict=True):
        row = row[~np.isnan(row)]
        out[uid] = row[:H] if prefix == "F" else row
    return out


Series = dict[str, np.ndarray]


def score(train: Series, test: Series, fc: Series) -> tuple[float, float]:
    """M4 sMAPE and MASE (m = 1) over every series of ``test``."""
    smapes, mases = [], []
    for uid, y in test.items():
        f = fc[uid]
        smapes.append(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))
        scale = np.mean(np.abs(np.diff(train[uid])))
        mases.append(np.mean(np.abs(y - f)) / scale)
    return float(np.mean(smapes)), float(np.mean(mases))


def owa(smape: float, mase: float) -> float:
    return (smape / NAIVE2[0] + mase / NAIVE2[1]) / 2


def check_scorer(data: Path, train, test, official: dict[str, tuple[float, float]]) -> None:
    print("1. scorer check: shipped benchmark forecasts vs official rows (sMAPE / MASE)")
    for file_key, row in SHIPPED.items():
        fc = read_wide(data / "benchmark_forecasts" / f"{file_key}-weekly.csv", "F")
        s, m = score(train, test, fc)
        ref = official[row]
        ok = (round(s, 3), round(m, 3)) == ref
        verdict = "OK" if ok else "MISMATCH"
        print(f"   {file_key:7s} {s:7.3f} {m:6.3f}   official {ref[0]:7.3f} {ref[1]:6.3f}   {verdict}")
        if not ok:
            raise SystemExit(f"scorer does not reproduce the official row {row}")


def to_frame(train: dict[str, np.ndarray]) -> pl.DataFrame:
    frames = []
    for uid, y in train.items():
        start = END - timedelta(weeks=len(y) - 1)
        frames.append(pl.DataFrame({
            "unique_id": uid, "ds": pl.date_range(start, END, "1w", eager=True), "y": y,
        }))
    return pl.concat(frames)


def to_dict(forecast: pl.DataFrame, column: str) -> dict[str, np.ndarray]:
    grouped = forecast.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).agg(pl.col(column))
    return {uid: np.asarray(v) for uid, v in grouped.iter_rows()}


def run_baseline(frame: pl.DataFrame, n_jobs: int) -> tuple[dict[str, np.ndarray], float]:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta

    sf = StatsForecast([AutoETS(season_length=52), AutoTheta(season_length=52), AutoARIMA(season_length=52)],
                       freq="1w", n_jobs=n_jobs)
    start = time.perf_counter()
    fc = sf.forecast(h=H, df=frame).with_columns(mean=pl.mean_horizontal("AutoETS", "AutoTheta", "AutoARIMA"))
    return to_dict(fc, "mean"), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--input-weeks", type=int, default=ForecastConfig().input_weeks,
                        help="weeks of each series the models see (ForecastConfig.input_weeks)")
    parser.add_argument("--baseline", action="store_true", help="also time AutoETS+Theta+AutoARIMA (52)")
    args = parser.parse_args()
    data = args.data_dir
    official_frame = pl.read_csv(data / "m4_official_point_scores_by_method.csv", infer_schema_length=0)
    official = {
        r[0]: (float(r[1]), float(r[2]))
        for r in official_frame.select("Method", "sMAPE_Weekly", "MASE_Weekly").rows()
        if r[1] and r[2]
    }
    train = read_wide(data / "Weekly-train.csv", "V")
    test = read_wide(data / "Weekly-test.csv", "V")
    check_scorer(data, train, test, official)

    frame = to_frame(train)
    config = ForecastConfig(n_jobs=args.n_jobs, input_weeks=args.input_weeks)
    cpu0 = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    start = time.perf_counter()
    result = forecast_demand(frame, H, config)
    wall = time.perf_counter() - start
    cpu = time.process_time() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - cpu0
    s, m = score(train, test, to_dict(result.forecast, "mean"))

    print(f"\n2. M4 Weekly, {len(test)} series, horizon {H}: sMAPE / MASE / OWA")
    for row in REFERENCES:
        rs, rm = official[row]
        print(f"   {('official ' + row):22s} {rs:7.3f} {rm:6.3f} {owa(rs, rm):6.3f}")
    print(f"   {'plantwin (auto)':22s} {s:7.3f} {m:6.3f} {owa(s, m):6.3f}   wall {wall:.1f} s, "
          f"CPU {cpu:.1f} s ({cpu / wall:.2f} cores busy), n_jobs {args.n_jobs}")
    chosen = result.series.group_by("series_class", "model").len().sort("len", descending=True)
    print("   champions:", ", ".join(f"{c}/{mo}: {n}" for c, mo, n in chosen.rows()))
    if args.baseline:
        fc, seconds = run_baseline(frame, args.n_jobs)
        bs, bm = score(train, test, fc)
        print(f"   {'AutoETS+Theta+ARIMA':22s} {bs:7.3f} {bm:6.3f} {owa(bs, bm):6.3f}   wall {seconds:.1f} s")


if __name__ == "__main__":
    main()
