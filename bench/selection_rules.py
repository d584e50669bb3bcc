"""Selection rules re-run on whole sets through the pipeline's own ``_choose``, from one backtest pass.

Usage: ``python bench/selection_rules.py DATA_DIR --sets m1_monthly m1_quarterly pbs --cache DIR [--n-jobs 2]
[--max-series N]``.

``bench/members.py`` runs ``forecast_demand`` and then a second backtest of every member, which doubles the
cost (M1 monthly whole ≈ 330 CPU-s each). This tool runs the pipeline's phases once
(``forecasting.forecast``'s ``_backtest_tasks``, ``_chosen_default``, ``_chosen_backtest``, ``_choose``), then
fits every seasonal member alone on the final history (the ARIMA orders carried as the pipeline carries them),
and saves it all in ``--cache`` (``<set>_<n>_*.parquet``; a second run reads them). The run's forecast is
rebuilt from those fits (the chosen combination's members' mean, clipped at zero), so "as run (cached)"
against "evidence" checks the reproduction against the end-to-end figure of a cache fitted under ``evidence``
(M1 monthly 14.693 / 1.064, M1 quarterly 15.763 / 1.585 at stop 26); "as run (rebuilt)" is the current
default (``auto`` since stop 27). Rules are :class:`~forecasting.config.ForecastConfig` variants (``selection_strategy``,
``champion_min_windows``, ``champion_margin``, the candidates) chosen by ``_choose`` on the saved backtest,
so a rule scores exactly what the pipeline would forecast with it (the bands are not rebuilt: coverage and
MSIS need an end-to-end run). Peers' forecasts saved by ``bench/accuracy.py --save DIR`` in the same folder
(``<set>_<peer>.parquet``) are scored beside them.

The engine keeps a combination's backtest rows, not those of a member only the combination names
(``TARIMA`` inside ``Mean(SETS,DOT,TARIMA)``): they are recovered as 3 × mean − SETS − DOT.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.accuracy import LOADERS, SETS, _cpu, sample, score, scales  # noqa: E402
from bench.members import _bases, _combine  # noqa: E402
from forecasting import ForecastConfig  # noqa: E402
from forecasting.classify import classify_series  # noqa: E402
from forecasting.engine import run_tasks, worker_pool  # noqa: E402
from forecasting.forecast import (_CV_ORDER, _backtest_tasks, _champion_tasks, _chosen_backtest,  # noqa: E402
                                  _chosen_default, _choose, _plan, _zero_forecast)

KEYS = ("asrun", "series", "cv", "fc", "history")
CV_KEYS = ["unique_id", "ds", "cutoff", "y"]


def fit_once(ds, n_jobs: int) -> dict[str, pl.DataFrame]:
    """One pass of the pipeline's backtest and choice, then every seasonal member's final fit."""
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=n_jobs)
    series = ds.train.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).sort("unique_id", "ds")
    plan = _plan(classify_series(series, config), ds.h, config)
    series = series.group_by("unique_id", maintain_order=True).tail(config.input_periods())
    frames = series.partition_by("unique_id", as_dict=True)
    bases = _bases(config.seasonal_models + config.seasonal_alternatives)
    with worker_pool(n_jobs) as pool:
        cv, fc_rule, orders = run_tasks(_backtest_tasks(frames, plan, ds.h, config, ds.h), pool)
        cv = cv.sort(_CV_ORDER, maintain_order=True)
        config = _chosen_default(cv, series, plan, config)
        cv, orders = _chosen_backtest(frames, plan, ds.h, config, cv, orders, pool)
        _, chosen, _, _ = _choose(cv, series, plan, config)
        seasonal = plan.filter(pl.col("set") == "seasonal")
        every = seasonal.select("unique_id", model=pl.lit(f"Mean({','.join(bases)})"),
                                selection=pl.lit("default"))
        tasks = [replace(t, names=bases)
                 for t in _champion_tasks(frames, seasonal, every, ds.h, config, orders)]
        other = plan.filter(~pl.col("set").is_in(["seasonal", "rule", "inactive"]))
        own = chosen.join(other, on="unique_id", how="semi")
        tasks += _champion_tasks(frames, other, own, ds.h, config, orders)
        _, fc, _ = run_tasks(tasks, pool)
    members = fc.filter(pl.col("model").is_in(bases))
    picked = _combine(members, tuple(chosen.get_column("model").unique()), ["unique_id", "ds"])
    parts = [picked.join(chosen.select("unique_id", "model"), on=["unique_id", "model"], how="inner"),
             fc.join(other.select("unique_id"), on="unique_id", how="semi")
             .join(chosen.select("unique_id", "model"), on=["unique_id", "model"], how="inner")]
    parts += [fc_rule] if fc_rule is not None else []
    clipped = [p.select("unique_id", "ds", mean=pl.col("yhat").clip(lower_bound=0.0)) for p in parts]
    inactive = plan.filter(pl.col("set") == "inactive").get_column("unique_id").to_list()
    if inactive:
        clipped.append(_zero_forecast(series, inactive, ds.h, config).select("unique_id", "ds", "mean"))
    summary = plan.join(chosen, on="unique_id", how="left", validate="1:1").select(
        "unique_id", "set", "windows", "model", "selection")
    return {"asrun": pl.concat(clipped, how="vertical_relaxed"), "series": summary,
            "cv": cv.filter(pl.col("model").is_in([*bases, config.seasonal_default])), "fc": members,
            "history": series}


def member_rows(cv: pl.DataFrame) -> pl.DataFrame:
    """Base members' backtest rows only, ``TARIMA``'s recovered from its combination's where the engine kept
    only those."""
    names = cv.get_column("model").unique().to_list()
    if "TARIMA" not in names and "Mean(SETS,DOT,TARIMA)" in names:
        wide = cv.filter(pl.col("model").is_in(["SETS", "DOT", "Mean(SETS,DOT,TARIMA)"])).pivot(
            on="model", index=CV_KEYS, values="yhat")
        tarima = wide.select(*CV_KEYS, model=pl.lit("TARIMA"),
                             yhat=3 * pl.col("Mean(SETS,DOT,TARIMA)") - pl.col("SETS") - pl.col("DOT"))
        cv = pl.concat([cv, tarima.select(cv.columns)])
    return cv.filter(~pl.col("model").str.contains(r"\("))


def run_rule(ds, saved: dict, names: tuple[str, ...], default: str,
             **updates) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every series' forecast under a rule (the seasonal set re-chosen by ``_choose``, the others as run) and
    the seasonal set's strategy frame."""
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, seasonal_models=names,
                            seasonal_default=default, seasonal_alternatives=(), **updates)
    seasonal = saved["series"].filter(pl.col("set") == "seasonal")
    plan = seasonal.filter(pl.col("windows") > 0).select("unique_id", "set")
    cv = _combine(saved["members_cv"], names, CV_KEYS).filter(pl.col("model").is_in(names))
    cv = cv.join(plan, on="unique_id", how="semi")
    _, chosen, strategy, _ = _choose(cv, saved["history"], plan, config)
    unscored = seasonal.filter(pl.col("windows") == 0).select("unique_id", model=pl.lit(default))
    chosen = pl.concat([chosen.select("unique_id", "model"), unscored])
    fc = _combine(saved["fc"], names, ["unique_id", "ds"])
    fc = fc.join(chosen, on=["unique_id", "model"], how="inner")
    fc = fc.select("unique_id", "ds", mean=pl.col("yhat").clip(lower_bound=0.0))
    rest = saved["asrun"].join(seasonal.select("unique_id"), on="unique_id", how="anti")
    return pl.concat([rest, fc]), strategy


def rules(default: str) -> dict[str, tuple[tuple[str, ...], str, dict]]:
    """The rules: candidates, default and config updates around the default the set took."""
    names = ("Naive", "SeasonalNaive", "SETS", "DOT", "DARIMA", default)
    evidence = {"selection_strategy": "evidence"}  # the per-series rules below vary the evidence rule itself
    return {"as run (rebuilt)": (names, default, {}),
            "evidence (stop 26's default)": (names, default, evidence),
            "default everywhere": (names, default, {"selection_strategy": "default"}),
            "auto (nested backtest per set)": (names, default, {"selection_strategy": "auto"}),
            "auto, champion a choice (stop 26)": (names, default, {"selection_strategy": "auto",
                                                              "strategy_choices": ("default", "champion")}),
            "champion: 3 windows": (names, default, evidence | {"champion_min_windows": 3}),
            "champion margin 0.2": (names, default, evidence | {"champion_margin": 0.2}),
            "no naive candidates": (("SETS", "DOT", "DARIMA", default), default, evidence)}


def _line(label: str, r: dict, note: str = "") -> str:
    return f"   {label:32s} sMAPE {r['smape']:8.3f} MASE {r['mase']:7.4f}{note}"


def report(name: str, ds, saved: dict, cache: Path, how: str, cpu: float, wall: float) -> None:
    """Print the run as cached, every rule (with the strategy its nested backtest measured) and the peers."""
    saved["members_cv"] = member_rows(saved["cv"])
    seasonal = saved["series"].filter(pl.col("set") == "seasonal")
    default = seasonal.filter(pl.col("selection") == "default").get_column("model").unique().to_list()
    scale = scales(ds)
    print(f"== {name}: {ds.train.get_column('unique_id').n_unique()} series, {seasonal.height} seasonal, "
          f"default {default}; {how} in {cpu:.1f} CPU-s ({wall:.1f} s wall)")
    print(_line("as run (cached)", score(ds, saved["asrun"], scale)))
    for label, (names, dflt, updates) in rules(default[0]).items() if default else ():
        fc, strategy = run_rule(ds, saved, names, dflt, **updates)
        held = strategy.select("strategy", "evidence", "default", "champion").row(0)
        values = " / ".join(f"{v:.3f}" if v else "-" for v in held[1:])
        note = f"   strategy {held[0]} (held-out MASE evidence / default / champion {values})"
        print(_line(label, score(ds, fc, scale), note))
    peers = {}
    for peer in ("AutoETS", "DOT", "AutoARIMA"):  # bench/accuracy.py --save's files, where present
        path = cache / f"{name}_{peer}.parquet"
        if path.exists():
            peers[peer] = pl.read_parquet(path).select("unique_id", "ds", "mean")
            print(_line("peer " + peer, score(ds, peers[peer], scale)))
    if len(peers) == 3:
        mean = pl.concat(peers.values()).group_by("unique_id", "ds").agg(pl.col("mean").mean())
        print(_line("peers mean", score(ds, mean, scale)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data_dir", type=Path)
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(LOADERS))
    p.add_argument("--max-series", type=int, default=None,
                   help="seeded sample (seed 0); default the whole set")
    p.add_argument("--cache", type=Path, required=True)
    p.add_argument("--n-jobs", type=int, default=1)
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        ds = sample(LOADERS[name](args.data_dir), args.max_series, 0)
        stem = args.cache / f"{name}_{args.max_series or 'all'}"
        cpu, wall = _cpu(), time.perf_counter()
        if all(Path(f"{stem}_{k}.parquet").exists() for k in KEYS):
            saved, how = {k: pl.read_parquet(f"{stem}_{k}.parquet") for k in KEYS}, "cached"
        else:
            saved, how = fit_once(ds, args.n_jobs), "fitted"
            for k, v in saved.items():
                v.write_parquet(f"{stem}_{k}.parquet")
        report(name, ds, saved, args.cache, how, _cpu() - cpu, time.perf_counter() - wall)


if __name__ == "__main__":
    main()
