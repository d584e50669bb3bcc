"""Interval coverage and MSIS of plantwin's bands under quantile settings, on one run's forecasts.

Usage: ``python bench/bands.py DATA_DIR [--sets m4_weekly m1_monthly ...] [--max-series 100] [--seed 0]
[--variant KEY=JSON[,KEY=JSON] ...] [--origins 1] [--horizon H] [--max-length N] [--diagnose] [--widths]
[--file PATH ... [--file-h H] [--file-freq F]]``,
or ``python bench/bands.py --panel-seeds 5 6 7 ... [--variant ...]``.

Runs plantwin's ``forecast_demand`` once per set (``bench/accuracy.py``'s loaders, splits and seeded samples;
``--seed`` draws another sample) and keeps what its quantile step was given (the chosen models' forecasts, the
backtest, the held-out picks and the history: the arguments of ``forecasting.forecast._quantiles``). It then
bands those same forecasts again under each ``--variant`` (``ForecastConfig`` overrides of the quantile
settings: ``calibration_groups``, ``scale_statistic``, ``symmetric_bands``, ``scale_windows``,
``level_periods``, ``level_exponent``, ``calibration_windows``, ``calibration_min_errors``,
``calibration_step_span``, ``history_scale_weight``, ``length_slope``, ``calibration_seasonal_split``,
``inactive_returns``; the first row is the default configuration) and prints, per set and variant, the 80% /
95% coverage (q10–q90, q2.5–q97.5) and MSIS as ``bench/accuracy.py`` scores them, and per variant their sums
over the sets: the summed coverage error in points (|cov80 − 80| + |cov95 − 95|) and the summed MSIS. Nothing
is refitted per variant, so the rows differ by the bands alone. With ``--origins N`` each set is forecast at N
origins ``h`` apart (``bench/accuracy.py``'s ``earlier``) and the held-out periods of all are pooled (one
origin of a small set is its last periods' luck). ``--horizon`` and ``--max-length`` are
``bench/accuracy.py``'s: another held-out length, and every training part cut to its last N periods (the
short-history cells). ``--diagnose`` also prints, per set and origin, why the default band misses: the
scale-free calibration errors against the held-out ones by the final selection and the pick made on the other
windows, by horizon step and by backtest window, and the band's coverage by class / candidate set / selection,
by the series' level, by its trend and by its band's width against its realised errors (:func:`diagnose`).
``--widths`` prints the 95% band's coverage and MSIS with every half-width scaled by c = 0.6 … 1.0
(:func:`widened`). ``--panel-seeds`` bands the simulated panel of ``tests/test_forecasting_calibration.py``
(130 series of five kinds, 156 weeks and 13 held out) at each seed instead, and prints the coverage of the
kinds its checks pool (:func:`panel_coverage`): whether a check passes on many seeds or only on the test's;
the smooth and the trend series are also shown alone (not checks: they share the seasonal series' calibration
group, and how each kind's band misses is the diagnosis). Writes no file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import accuracy  # noqa: E402 (not bench/ on the path: its distributed.py would shadow dask's)
from data_contracts.schema import quantile_column  # noqa: E402
from forecasting import ForecastConfig, forecast_demand  # noqa: E402
from forecasting.synthetic import synthetic_series  # noqa: E402

#: the kinds of the simulated panel that the tests' coverage checks pool (test_interval_coverage_...)
PANEL_CHECKS = {"smooth+trend": ("smooth", "trend"), "seasonal": ("seasonal",)}
#: the first check's kinds alone, printed beside the checks (their bands miss in opposite ways)
PANEL_KINDS = {"(smooth)": ("smooth",), "(trend)": ("trend",)}


def _variant(text: str) -> dict:
    out = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        out[key] = json.loads(value)
    ForecastConfig(**out)  # unknown or invalid settings fail here, before any fit
    return out


def captured_run(ds: accuracy.DataSet) -> tuple:
    """Forecast ``ds`` once and return the arguments plantwin's quantile step was called with, its keyword
    ``shortened`` last (the backtest's horizon where it scored fewer steps than asked, else None)."""
    import forecasting.forecast as F

    seen = {}
    original = F._quantiles

    def spy(*args, shortened=None):
        seen["args"] = (*args, shortened)
        return original(*args, shortened=shortened)

    F._quantiles = spy
    try:
        config = ForecastConfig(freq=ds.freq, season_length=ds.season, quantiles=accuracy.QUANTILES, n_jobs=1)
        forecast_demand(ds.train, ds.h, config)
    finally:
        F._quantiles = original
    return seen["args"]


def band(args: tuple, overrides: dict) -> pl.DataFrame:
    """The same forecasts banded under ``overrides``: ``unique_id, ds, mean, lo95, lo80, hi80, hi95``."""
    import forecasting.forecast as F

    *rest, config, shortened = args
    forecast = F._quantiles(*rest, config.model_copy(update=overrides), shortened=shortened)
    names = dict(zip(("lo95", "lo80", "hi80", "hi95"), map(quantile_column, accuracy.QUANTILES), strict=True))
    return forecast.select("unique_id", "ds", "mean", *(pl.col(c).alias(k) for k, c in names.items()))


def widened(banded: pl.DataFrame, c: float) -> pl.DataFrame:
    """``banded`` with its 95% band's half-widths about the mean times ``c`` (the 80% band unchanged)."""
    mean = pl.col("mean")
    return banded.with_columns(lo95=mean + c * (pl.col("lo95") - mean), hi95=mean + c * (pl.col("hi95") - mean))


def diagnose(args: tuple, ds: accuracy.DataSet) -> None:
    """Print why the default bands miss on ``ds``: the pooled calibration errors against the held-out ones.

    Scale-free |error|s as the band scales them: calibration ``|y − ŷ| / scale`` of the backtest windows
    (each divided by its series' scale on its other windows) and held-out ``|y − mean| / scale`` (the
    forecast's scale). Per horizon step and per backtest window (1 = oldest) their median, 80% and 95%
    quantiles (a held-out quantile above the calibration's is a band too narrow there), and per
    class / candidate set / selection and per third of the series by level the
    held-out coverage of the default band; then the misses' direction by the series' trend
    (:func:`lean_by_trend`) and the coverage by how wide each series' band was against its realised
    errors (:func:`surprises`).
    """
    import forecasting.backtest as B
    import forecasting.calibration as C

    fc, cv, chosen, picks, plan, series, horizon, config, _shortened = args
    if cv is None:
        print(f"{ds.name}: no backtest window, nothing to diagnose")
        return
    groups = C._groups(plan, chosen, config.calibration_groups)
    span = config.level_periods or 2 * config.season_length
    rms = config.scale_statistic == "rms"
    weight, changes = config.history_scale_weight, C._changes(cv, series, config)
    scale = C._error_scale(cv, series, groups, span, recent=config.scale_windows == "recent", rms=rms,
                           exponent=config.level_exponent, changes=changes, history_weight=weight)
    e = ((pl.col("y") - pl.col("yhat")) / pl.col("scale")).abs()
    cal = C._calibration(cv, groups, picks, series, span, rms, config.level_exponent,
                         config.calibration_windows, changes, weight).filter(
        ~pl.col("ratio")).with_columns(
        e=e, window=pl.col("cutoff").rank("dense").over("unique_id").cast(pl.Int64))
    held = (fc.join(chosen.filter(pl.col("selection") != "rule"), on=["unique_id", "model"], how="inner")
            .join(groups.filter(~pl.col("ratio")).select("unique_id"), on="unique_id", how="semi")
            .join(scale, on="unique_id", how="left", validate="m:1")
            .with_columns(step=pl.col("ds").rank("dense").over("unique_id").cast(pl.Int64))
            .join(ds.test, on=["unique_id", "ds"], how="inner", validate="1:1")
            .with_columns(e=((pl.col("y") - pl.col("yhat")) / pl.col("scale")).abs()))

    def quantiles(frame: pl.DataFrame, by: str | list[str], tag: str) -> pl.DataFrame:
        return frame.group_by(by).agg(**{f"n_{tag}": pl.len()}, **{
            f"{k}_{tag}": pl.col("e").quantile(q) for k, q in (("q50", 0.5), ("q80", 0.8), ("q95", 0.95))})

    # the pick made on a window's other windows: the set's default or a champion (a champion picked on the
    # other windows that then lost in this one is the winner's curse the nested calibration is there for)
    default = pl.col("set").replace_strict(B._defaults(config), default=None, return_dtype=pl.String)
    cal = cal.join(chosen.select("unique_id", "selection"), on="unique_id", how="left", validate="m:1").with_columns(
        pick=pl.when(pl.col("model") == default).then(pl.lit("default")).otherwise(pl.lit("champion")))
    with pl.Config(tbl_rows=60, tbl_cols=12, float_precision=2):
        print(f"{ds.name}: |error| / scale by the final selection and the pick made on the other windows "
              "(cal), against held out by the final selection (test)")
        print(quantiles(cal, ["selection", "pick"], "cal").join(quantiles(held, "selection", "test"),
                                                                 on="selection", how="left").sort("selection", "pick"))
        print(f"{ds.name}: |error| / scale by horizon step, calibration (cal) against held out (test)")
        print(quantiles(cal, "step", "cal").join(quantiles(held, "step", "test"), on="step", how="left")
              .sort("step"))
        print(f"{ds.name}: calibration |error| / scale by backtest window (1 = oldest)")
        print(quantiles(cal, "window", "cal").sort("window"))
        banded = band(args, {}).join(ds.test, on=["unique_id", "ds"], how="inner", validate="1:1").join(
            C._groups(plan, chosen, "class").select("unique_id", "group"), on="unique_id", how="left",
            validate="m:1")
        y = pl.col("y")
        stats = dict(rows=pl.len(), cov80=((y >= pl.col("lo80")) & (y <= pl.col("hi80"))).mean() * 100,
                     cov95=((y >= pl.col("lo95")) & (y <= pl.col("hi95"))).mean() * 100,
                     above80=(y > pl.col("hi80")).mean() * 100, below80=(y < pl.col("lo80")).mean() * 100)
        print(f"{ds.name}: held-out coverage of the default band by class / candidate set / selection")
        print(banded.group_by("group").agg(**stats).sort("group"))
        # thirds of the series by their training mean |y| (1 = the smallest)
        level = ds.train.group_by("unique_id").agg(level=pl.col("y").abs().mean()).with_columns(
            level_third=(pl.col("level").rank("ordinal") * 3 / (pl.len() + 1)).floor().cast(pl.Int64) + 1)
        print(f"{ds.name}: held-out coverage of the default band by the series' level (thirds, 1 = smallest)")
        print(banded.join(level, on="unique_id", how="left", validate="m:1").group_by("level_third").agg(
            **stats).sort("level_third"))
        lean_by_trend(cal, banded, series, config.season_length, stats)
        print(f"{ds.name}: held-out coverage by fifth of the series' 80% half-width over its realised mean "
              "|y − mean| (1 = the band narrowest against what happened)")
        print(surprises(banded))


def _trends(series: pl.DataFrame, season: int) -> pl.DataFrame:
    """``unique_id, cutoff, growing``: whether each series' last season's mean is above the season's before
    (null with less than two seasons), at every period of its history."""
    mean = pl.col("y").rolling_mean(season, min_samples=season)
    return series.sort("unique_id", "ds").select(
        "unique_id", cutoff=pl.col("ds"), growing=(mean - mean.shift(season)).over("unique_id") > 0)


def lean_by_trend(cal: pl.DataFrame, banded: pl.DataFrame, series: pl.DataFrame, season: int,
                  stats: dict) -> None:
    """Print whether the errors' sign follows the series' trend: the share of backtest errors above the
    forecast (calibration windows, by the trend at each window's cutoff) beside the held-out coverage and
    misses (by the trend at the end of the history). If growing series missed above and falling ones below,
    bands mirrored about the trend's direction rather than about zero would follow the lean; stop 31
    found both lean the same way (docs/forecast-intervals.md)."""
    trends = _trends(series, season)
    last = series.group_by("unique_id").agg(cutoff=pl.col("ds").max()).join(
        trends, on=["unique_id", "cutoff"], how="left", validate="1:1").select("unique_id", "growing")
    windows = cal.join(trends, on=["unique_id", "cutoff"], how="left", validate="m:1").group_by("growing").agg(
        windows_rows=pl.len(), windows_above_mean=(pl.col("y") > pl.col("yhat")).mean() * 100)
    held = banded.join(last, on="unique_id", how="left", validate="m:1").group_by("growing").agg(
        above_mean=(pl.col("y") > pl.col("mean")).mean() * 100, **stats)
    print("held-out coverage and misses by the series' trend at the end of the history (growing: the last "
          "season's mean above the one before), beside the backtest windows' share of errors above the mean")
    print(held.join(windows, on="growing", how="full", coalesce=True).sort("growing"))


def surprises(banded: pl.DataFrame) -> pl.DataFrame:
    """Coverage by fifth of the series ranked by their 80% band's mean half-width over their held-out mean
    |y − mean|: whether a cell's coverage moves with the band's width in typical series (the middle
    fifths' ratio) or with how many series met a surprise (the first fifth's coverage)."""
    y = pl.col("y")
    per = banded.group_by("unique_id").agg(
        in80=((y >= pl.col("lo80")) & (y <= pl.col("hi80"))).mean() * 100,
        ratio=((pl.col("hi80") - pl.col("lo80")) / 2).mean() / (y - pl.col("mean")).abs().mean())
    fifth = (pl.col("ratio").rank("ordinal") * 5 / (pl.len() + 1)).floor().cast(pl.Int64) + 1
    return per.with_columns(fifth=fifth).group_by("fifth").agg(
        series=pl.len(), cov80=pl.col("in80").mean(), median_ratio=pl.col("ratio").median()).sort("fifth")


def simulated_panel(seed: int) -> accuracy.DataSet:
    """The calibration tests' simulated panel at ``seed``: 130 series of five kinds, the last 13 of 169
    weeks held out (the ``simulated`` fixture of ``tests/test_forecasting_calibration.py``)."""
    kinds = ("smooth", "seasonal", "trend", "intermittent", "lumpy")
    full = synthetic_series(130, 169, seed=seed, kinds=kinds)
    cut = full.get_column("ds").max() - pl.duration(weeks=13)
    return accuracy.DataSet(f"simulated seed {seed}", full.filter(pl.col("ds") <= cut),
                            full.filter(pl.col("ds") > cut), 13, 52, 1, "1w")


def panel_coverage(ds: accuracy.DataSet, banded: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """80% and 95% coverage (in %) of each of :data:`PANEL_CHECKS`' and :data:`PANEL_KINDS`' kinds on the
    held-out weeks."""
    y = pl.col("y")
    rows = ds.test.join(banded, on=["unique_id", "ds"], how="inner", validate="1:1").with_columns(
        kind=pl.col("unique_id").str.split("_").list.first())
    return {name: rows.filter(pl.col("kind").is_in(list(kinds))).select(
        cov80=((y >= pl.col("lo80")) & (y <= pl.col("hi80"))).mean() * 100,
        cov95=((y >= pl.col("lo95")) & (y <= pl.col("hi95"))).mean() * 100).row(0)
        for name, kinds in (PANEL_CHECKS | PANEL_KINDS).items()}


def panel_seeds(seeds: list[int], variants: list[tuple[str, dict]]) -> None:
    """Print each check's coverage at every seed under every variant, their mean and the seeds failing
    the check's ±3 points (the panel's kinds have equal sizes: the mean is the pooled coverage)."""
    rows = []
    for seed in seeds:
        ds = simulated_panel(seed)
        cpu, wall = accuracy._cpu(), time.perf_counter()
        captured = captured_run(ds)
        print(f"{ds.name}: forecast once in {time.perf_counter() - wall:.1f} s wall, {accuracy._cpu() - cpu:.1f} "
              f"CPU-s, load {os.getloadavg()[0]:.1f}", flush=True)
        for label, overrides in variants:
            for check, (cov80, cov95) in panel_coverage(ds, band(captured, overrides)).items():
                rows.append({"variant": label, "check": check, "seed": seed, "cov80": cov80, "cov95": cov95})
    fails = ((pl.col("cov80") - 80).abs() > 3) | ((pl.col("cov95") - 95).abs() > 3)
    pl.Config.set_tbl_rows(200)
    print(pl.DataFrame(rows).group_by("variant", "check", maintain_order=True).agg(
        pl.col("cov80", "cov95").mean().round(1), seeds_failing=fails.sum(),
        cov80_by_seed=pl.col("cov80").round(1)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    accuracy.add_set_options(parser)  # data_dir is not needed with --panel-seeds
    parser.add_argument("--max-series", type=int, default=100, help="seeded sample of each set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (0: bench/accuracy.py's)")
    parser.add_argument(
        "--variant", nargs="*", metavar="KEY=JSON[,KEY=JSON]",
        default=["history_scale_weight=0", 'calibration_groups="set",scale_statistic="rms"',
                 'calibration_groups="set"', 'scale_statistic="rms"'],
        help="quantile settings banded beside the default (default: the backtest errors alone, as before "
        "stop 25; stop 22's set-pooled RMS calibration, then each of its two changes alone)")
    parser.add_argument("--origins", type=int, default=1,
                        help="forecast each set at this many origins, each h periods before the last, and "
                        "pool the held-out periods (one origin of a small set is its last periods' luck)")
    accuracy.add_cut_options(parser)
    parser.add_argument("--diagnose", action="store_true",
                        help="also print, per set, the calibration errors against the held-out ones by "
                        "the final selection and the pick made on the other windows, by horizon step and by "
                        "backtest window, and the default band's coverage by class / set / selection and by "
                        "the series' level")
    parser.add_argument("--widths", action="store_true",
                        help="also print, per set and variant, the 95%% band's coverage and MSIS with every "
                        "band's half-width times c = 0.6 ... 1.0 (what no uniform width can reach)")
    parser.add_argument("--panel-seeds", nargs="+", type=int, metavar="SEED",
                        help="band the calibration tests' simulated panel at these seeds instead of the sets "
                        "(the test's seed is 5): each check's coverage by seed, mean and seeds failing")
    args = parser.parse_args()
    variants = [("default", {})] + [(v, _variant(v)) for v in args.variant]
    if args.panel_seeds:
        panel_seeds(args.panel_seeds, variants)
        return
    rows = []
    for name, load in accuracy.chosen_sets(parser, args):
        whole = accuracy.sample(load(args.horizon), args.max_series, seed=args.seed)
        for k in range(args.origins):  # origin k: the held-out part ends k·h periods earlier
            ds = accuracy.shortened(accuracy.earlier(whole, k), args.max_length, args.min_length, args.seed)
            cpu, wall = accuracy._cpu(), time.perf_counter()
            captured = captured_run(ds)
            cpu, wall = accuracy._cpu() - cpu, time.perf_counter() - wall
            load = os.getloadavg()[0]
            n = ds.train.get_column("unique_id").n_unique()
            print(f"{name}, origin -{k * ds.h}: {n} series, forecast once in {wall:.1f} s wall, {cpu:.1f} "
                  f"CPU-s, load {load:.1f}", flush=True)
            if args.diagnose:
                diagnose(captured, ds)
            for label, overrides in variants:
                banded = band(captured, overrides)
                got = accuracy.score(ds, banded, accuracy.scales(ds))
                rows.append({"set": name, "origin": k, "variant": label, "cov80": got["cov80"],
                             "cov95": got["cov95"], "msis": got["msis"]})
                if args.widths:
                    print(f"{name}, origin -{k * ds.h}, {label}: cov95 / MSIS with the 95% band's half-width "
                          "times c: " + "; ".join(f"c {c}: {g['cov95'] * 100:.1f} / {g['msis']:.2f}" for c, g in (
                              (c, accuracy.score(ds, widened(banded, c), accuracy.scales(ds)))
                              for c in (0.6, 0.7, 0.8, 0.9, 1.0))), flush=True)
    # every origin holds the same series and steps: their mean is the pooled coverage
    rows = pl.DataFrame(rows).group_by("set", "variant", maintain_order=True).agg(
        pl.col("cov80", "cov95", "msis").mean()).to_dicts()
    table = pl.DataFrame(rows)
    err = (pl.col("cov80") - 0.80).abs() * 100 + (pl.col("cov95") - 0.95).abs() * 100
    pl.Config.set_tbl_rows(200)
    print(table.with_columns(pl.col("cov80", "cov95", "msis").round(3)))
    print(table.group_by("variant", maintain_order=True).agg(
        coverage_error_points=err.sum().round(1), msis_sum=pl.col("msis").sum().round(2)))


if __name__ == "__main__":
    main()
