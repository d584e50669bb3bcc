"""Accuracy of plantwin's forecaster beside statsforecast peers on every public data set, one table.

Usage: ``python bench/accuracy.py DATA_DIR [--sets m4_weekly m1_monthly ...] [--max-series 100]
[--peers AutoETS DOT AutoARIMA SeasonalNaive] [--n-jobs 1]`` with DATA_DIR the shared data folder
(``m4_weekly/``, ``m1/``, ``pbs/``, ``pharma_sales_atc/``; see its README).

Each set is split as its competition did (the last ``h`` values held out) and every method sees the
training part only. In one process: plantwin's ``forecast_demand`` (default configuration, the set's
frequency and season) and statsforecast's AutoETS, DynamicOptimizedTheta, AutoARIMA and SeasonalNaive at the
set's season length with their own 80% / 95% intervals, and the mean of the first three (its bounds the
mean of theirs). Per method and set:

- sMAPE = mean of 200·|y−ŷ|/(|y|+|ŷ|) (0 where both are 0); MASE scaled by the in-sample seasonal naive MAE
  with M4's ``m`` (1 weekly, 12 monthly, 4 quarterly); OWA against Naive2 (naive on the classically
  deseasonalised series, M4's definition) computed here;
- cov80 / cov95: share of held-out points inside the 80% / 95% interval (plantwin: q10–q90, q2.5–q97.5);
- MSIS: M4's mean scaled interval score of the 95% interval (same scale as MASE);
- wall and CPU seconds (CPU of this process and its worker processes) and the machine load.

``--max-series`` takes a seeded random sample of each set for quick development runs (the same series for
the same number); ``--config KEY=JSON ...`` overrides plantwin's ForecastConfig for experiments (e.g.
``champion_margin=1.0``: the default combination everywhere); ``--peers`` picks peers (none: plantwin only).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_contracts.schema import quantile_column  # noqa: E402
from forecasting import ForecastConfig, forecast_demand  # noqa: E402
from forecasting.seasonal import deseasonalize, reseasonalize  # noqa: E402

SETS = ("m4_weekly", "m1_monthly", "m1_quarterly", "pbs", "pharma_weekly")
PEERS = ("AutoETS", "DOT", "AutoARIMA", "SeasonalNaive")
QUANTILES = (0.025, 0.1, 0.9, 0.975)


@dataclass(frozen=True)
class DataSet:
    """A set split for scoring: training and held-out frames (``unique_id, ds, y``)."""

    name: str
    train: pl.DataFrame
    test: pl.DataFrame
    h: int
    season: int  # season length the models use
    mase_m: int  # seasonal naive lag of the MASE / MSIS scale (M4 convention)
    freq: str


def _dated(frame: pl.DataFrame, start: date, freq: str) -> pl.DataFrame:
    """Give integer-indexed rows (``unique_id, t, y``) dates ``start + t·freq``."""
    n = int(frame.get_column("t").max()) + 1
    grid = pl.DataFrame({"t": range(n), "ds": pl.date_range(start, start.replace(year=start.year + n),
                                                             freq, eager=True)[:n]})
    return frame.join(grid, on="t", how="left", validate="m:1").select("unique_id", "ds", "y")


def _split(frame: pl.DataFrame, h: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = frame.sort("unique_id", "ds")
    rank = pl.int_range(pl.len()).reverse().over("unique_id")
    return frame.filter(rank >= h), frame.filter(rank < h)


def load_m4_weekly(data: Path) -> DataSet:
    def wide(name: str) -> pl.DataFrame:
        raw = pl.read_csv(data / "m4_weekly" / name, infer_schema_length=0)
        return raw.unpivot(index=raw.columns[0], variable_name="col", value_name="y").select(
            unique_id=pl.col(raw.columns[0]),
            t=pl.col("col").str.slice(1).cast(pl.Int64),
            y=pl.col("y").cast(pl.Float64, strict=False),
        ).drop_nulls("y")

    train, test = wide("Weekly-train.csv"), wide("Weekly-test.csv")
    n = train.group_by("unique_id").agg(n=pl.len())
    test = test.join(n, on="unique_id", validate="m:1").with_columns(t=pl.col("t") + pl.col("n")).drop("n")
    end = date(2018, 12, 31)  # M4 weekly has no dates: every training part ends on this Monday
    frame = pl.concat([train, test]).join(n, on="unique_id", validate="m:1").select(
        "unique_id", ds=pl.lit(end) + pl.duration(weeks=pl.col("t") - 2 - (pl.col("n") - 1)), y=pl.col("y")
    )
    tr, te = _split(frame, 13)
    return DataSet("m4_weekly", tr, te, 13, 52, 1, "1w")


def load_m1(data: Path, frequency: str) -> DataSet:
    raw = pl.read_csv(data / "m1" / "m1_monthly_quarterly_long.csv").filter(pl.col("frequency") == frequency)
    freq, h, m = ("1mo", 18, 12) if frequency == "monthly" else ("1q", 8, 4)
    frame = _dated(raw.select("unique_id", "t", pl.col("y").cast(pl.Float64)), date(1970, 1, 1),
                   "1mo" if freq == "1mo" else "3mo")
    test_ids = raw.filter(pl.col("split") == "test").group_by("unique_id").len()
    assert test_ids.get_column("len").unique().to_list() == [h], "M1 test length differs from h"
    tr, te = _split(frame, h)
    return DataSet(f"m1_{frequency}", tr, te, h, m, m, freq)


def load_pbs(data: Path) -> DataSet:
    raw = pl.read_csv(data / "pbs" / "PBS_tidy.csv", try_parse_dates=True)
    frame = raw.select(
        unique_id=pl.concat_str("Concession", "Type", "ATC2", separator="/"),
        ds=pl.col("Month").cast(pl.Date),
        y=pl.col("Scripts").cast(pl.Float64),
    ).group_by("unique_id", "ds").agg(pl.col("y").sum()).sort("unique_id", "ds")
    # a series' life starts at its first script; keep series with 3 years before the 12 held out and
    # some demand in the training part's last year (a set of discontinued drug classes says nothing)
    frame = frame.filter(pl.col("y").cum_sum().over("unique_id") > 0)
    tr, te = _split(frame, 12)
    alive = tr.group_by("unique_id").agg(n=pl.len(), recent=pl.col("y").tail(12).sum())
    keep = alive.filter((pl.col("n") >= 36) & (pl.col("recent") > 0)).get_column("unique_id")
    return DataSet("pbs", tr.filter(pl.col("unique_id").is_in(keep.to_list())), te.filter(pl.col("unique_id").is_in(keep.to_list())),
                   12, 12, 12, "1mo")


def load_pharma(data: Path) -> DataSet:
    frame = pl.read_csv(data / "pharma_sales_atc" / "salesweekly_long.csv", try_parse_dates=True).select(
        "unique_id", pl.col("ds").cast(pl.Date).dt.truncate("1w"), pl.col("y").cast(pl.Float64)
    ).sort("unique_id", "ds")
    # the extract ends part-way through its last week: drop that week, it is not a whole week's sales
    last = frame.get_column("ds").max()
    frame = frame.filter(pl.col("ds") < last)
    tr, te = _split(frame, 13)
    return DataSet("pharma_weekly", tr, te, 13, 52, 1, "1w")


LOADERS = {
    "m4_weekly": load_m4_weekly,
    "m1_monthly": lambda d: load_m1(d, "monthly"),
    "m1_quarterly": lambda d: load_m1(d, "quarterly"),
    "pbs": load_pbs,
    "pharma_weekly": load_pharma,
}


def sample(ds: DataSet, n: int | None, seed: int = 0) -> DataSet:
    ids = ds.train.get_column("unique_id").unique().sort()
    if n is None or ids.len() <= n:
        return ds
    keep = ids.sample(n, seed=seed)
    return DataSet(ds.name, ds.train.filter(pl.col("unique_id").is_in(keep.to_list())),
                   ds.test.filter(pl.col("unique_id").is_in(keep.to_list())), ds.h, ds.season, ds.mase_m, ds.freq)


def scales(ds: DataSet) -> pl.DataFrame:
    """MASE / MSIS scale per series: in-sample seasonal-naive MAE at lag ``mase_m`` (M4)."""
    y = pl.col("y")
    return ds.train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).agg(
        scale=(y - y.shift(ds.mase_m)).abs().mean()
    )


def naive2(ds: DataSet) -> pl.DataFrame:
    """M4's Naive2: the last deseasonalised value times the seasonal indices (season ``mase_m``)."""
    rows = []
    for uid, y in ds.train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).agg("y").rows():
        y = np.asarray(y, dtype=float)
        adjusted, idx, mult = deseasonalize(y, ds.mase_m, min_seasons=3)
        rows.append((uid, list(reseasonalize(np.full(ds.h, adjusted[-1]), y.size, idx, mult))))
    fc = pl.DataFrame(rows, schema={"unique_id": pl.String, "mean": pl.List(pl.Float64)}, orient="row")
    steps = ds.test.sort("unique_id", "ds").with_columns(step=pl.int_range(pl.len()).over("unique_id"))
    return steps.join(fc, on="unique_id").select(
        "unique_id", "ds", mean=pl.col("mean").list.get(pl.col("step"))
    )


def score(ds: DataSet, fc: pl.DataFrame, scale: pl.DataFrame) -> dict[str, float]:
    """sMAPE, MASE, coverage and MSIS of a forecast ``unique_id, ds, mean[, lo80, hi80, lo95, hi95]``."""
    j = ds.test.join(fc, on=["unique_id", "ds"], how="left", validate="1:1").join(
        scale, on="unique_id", how="left", validate="m:1")
    if j.get_column("mean").null_count():
        raise SystemExit(f"{ds.name}: forecast misses {j.get_column('mean').null_count()} held-out points")
    y, f = pl.col("y"), pl.col("mean")
    den = y.abs() + f.abs()
    per = j.group_by("unique_id").agg(
        smape=pl.when(den > 0).then(200 * (y - f).abs() / den).otherwise(0.0).mean(),
        mase=(y - f).abs().mean() / pl.col("scale").first(),
    )
    out = {"smape": per.get_column("smape").mean(), "mase": per.get_column("mase").mean()}
    if "lo95" in j.columns:
        lo, hi = pl.col("lo95"), pl.col("hi95")
        msis = (hi - lo) + 40 * (lo - y).clip(lower_bound=0) + 40 * (y - hi).clip(lower_bound=0)
        per_i = j.group_by("unique_id").agg(msis=msis.mean() / pl.col("scale").first())
        out |= {
            "cov80": j.select(((y >= pl.col("lo80")) & (y <= pl.col("hi80"))).mean()).item(),
            "cov95": j.select(((y >= lo) & (y <= hi)).mean()).item(),
            "msis": per_i.get_column("msis").mean(),
        }
    return out


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_plantwin(ds: DataSet, n_jobs: int, overrides: dict) -> tuple[pl.DataFrame, pl.DataFrame]:
    config = ForecastConfig(**({"freq": ds.freq, "season_length": ds.season, "quantiles": QUANTILES,
                                "n_jobs": n_jobs} | overrides))
    result = forecast_demand(ds.train, ds.h, config)
    q = {k: quantile_column(v) for k, v in zip(("lo95", "lo80", "hi80", "hi95"), QUANTILES, strict=True)}
    fc = result.forecast.select("unique_id", "ds", "mean", *(pl.col(c).alias(k) for k, c in q.items()))
    return fc, result.series


def _peer_model(name: str, m: int):
    from statsforecast.models import AutoARIMA, AutoETS, DynamicOptimizedTheta, SeasonalNaive

    return {
        "AutoETS": lambda: AutoETS(season_length=m, alias=name),
        "DOT": lambda: DynamicOptimizedTheta(season_length=m, alias=name),
        "AutoARIMA": lambda: AutoARIMA(season_length=m, alias=name),
        "SeasonalNaive": lambda: SeasonalNaive(season_length=m, alias=name),
    }[name]()


def run_peer(ds: DataSet, name: str, n_jobs: int) -> pl.DataFrame:
    from statsforecast import StatsForecast

    sf = StatsForecast([_peer_model(name, ds.season)], freq=ds.freq, n_jobs=n_jobs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fc = sf.forecast(df=ds.train, h=ds.h, level=[80, 95])
    return fc.select(
        "unique_id", "ds", pl.col(name).alias("mean"),
        *(pl.col(f"{name}-{side}-{lv}").alias(f"{side}{lv}") for side in ("lo", "hi") for lv in (80, 95)),
    )


def timed(fn, *args):
    cpu, wall = _cpu(), time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--max-series", type=int, default=None, help="seeded sample of each set")
    parser.add_argument("--peers", nargs="*", choices=PEERS, default=list(PEERS))
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--no-plantwin", action="store_true")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=JSON",
                        help="ForecastConfig overrides for experiments, e.g. champion_margin=1.0")
    args = parser.parse_args()
    rows = []
    for name in args.sets:
        ds = sample(LOADERS[name](args.data_dir), args.max_series)
        n = ds.train.get_column("unique_id").n_unique()
        scale = scales(ds)
        keep = scale.filter(pl.col("scale") > 0).get_column("unique_id")  # MASE undefined on flat training
        ds = DataSet(ds.name, ds.train.filter(pl.col("unique_id").is_in(keep.to_list())),
                     ds.test.filter(pl.col("unique_id").is_in(keep.to_list())), ds.h, ds.season, ds.mase_m, ds.freq)
        n2 = keep.len()
        ref = score(ds, naive2(ds), scale)
        load = os.getloadavg()[0]
        print(f"\n{name}: {n2} series (of {n}), h={ds.h}, season {ds.season}, MASE m={ds.mase_m}; "
              f"Naive2 sMAPE {ref['smape']:.3f} MASE {ref['mase']:.3f}; load {load:.2f}", flush=True)
        results: dict[str, tuple[pl.DataFrame, float, float]] = {}
        if not args.no_plantwin:
            overrides = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.config)}
            (fc, chosen), wall, cpu = timed(run_plantwin, ds, args.n_jobs, overrides)
            results["plantwin"] = (fc, wall, cpu)
            top = chosen.group_by("model").len().sort("len", descending=True).head(6)
            print("   plantwin models: " + ", ".join(f"{m} {k}" for m, k in top.rows()), flush=True)
        for peer in args.peers:
            results[peer] = timed(run_peer, ds, peer, args.n_jobs)
            print(f"   {peer} done in {results[peer][1]:.1f} s", flush=True)
        trio = [p for p in ("AutoETS", "DOT", "AutoARIMA") if p in results]
        if len(trio) == 3:
            cols = ["mean", "lo80", "hi80", "lo95", "hi95"]
            mean = pl.concat([results[p][0] for p in trio]).group_by("unique_id", "ds").agg(pl.col(cols).mean())
            results["Mean(ETS,DOT,ARIMA)"] = (mean, sum(results[p][1] for p in trio),
                                              sum(results[p][2] for p in trio))
        for method, (fc, wall, cpu) in results.items():
            s = score(ds, fc, scale)
            owa = (s["smape"] / ref["smape"] + s["mase"] / ref["mase"]) / 2
            rows.append({"set": name, "series": n2, "method": method, "sMAPE": s["smape"], "MASE": s["mase"],
                         "OWA": owa, "cov80": s.get("cov80"), "cov95": s.get("cov95"), "MSIS": s.get("msis"),
                         "wall_s": wall, "cpu_s": cpu, "load": load})
            r = rows[-1]
            print(f"   = {method:22s} sMAPE {r['sMAPE']:7.3f} MASE {r['MASE']:6.3f} OWA {r['OWA']:6.3f} cov80 "
                  f"{r['cov80'] or float('nan'):5.3f} cov95 {r['cov95'] or float('nan'):5.3f} MSIS "
                  f"{r['MSIS'] or float('nan'):7.3f} wall {wall:7.1f} s CPU {cpu:7.1f} s", flush=True)
    table = pl.DataFrame(rows)
    with pl.Config(tbl_rows=100, tbl_cols=20, float_precision=3, tbl_width_chars=200,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print()
        print(table)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
