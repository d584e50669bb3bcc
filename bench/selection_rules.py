"""Selection rules re-run on whole sets through the pipeline's own ``_choose``, from one backtest pass.

Usage: ``python bench/selection_rules.py DATA_DIR --sets m1_monthly m1_quarterly pbs --cache DIR [--n-jobs 2]
[--max-series N] [--horizon H] [--origin K] [--alternatives 'Mean(TETS,DOT,TARIMA)' …]``.

``--horizon`` and ``--origin`` split each set as ``bench/accuracy.py``'s options of the same names do (its
loaders and ``at_origin``), so a cache at h 24 or at an earlier origin scores the rows those runs print;
the cache's files then carry the split in their names (``<set>_<n>_h24_o2_*.parquet``).

``bench/members.py`` runs ``forecast_demand`` and then a second backtest of every member, which doubles the
cost (M1 monthly whole ≈ 330 CPU-s each). This tool runs the pipeline's phases once
(``forecasting.backtest``'s ``_one_offs_out``, ``_backtest``, ``_chosen_backtest``, ``forecasting.choice``'s
``_chosen_default``, ``_choose``), then fits every seasonal member alone on the final history (the ARIMA orders carried as the
pipeline carries them), and saves it all in ``--cache`` (``<set>_<n>_*.parquet``; a second run reads them).
The run's forecast is rebuilt from those fits (the chosen combination's members' mean, clipped at zero), so
"as run (cached)" against "evidence" checks the reproduction against the end-to-end figure of a cache fitted under ``evidence``
(M1 monthly 14.693 / 1.064, M1 quarterly 15.763 / 1.585 at stop 26); "as run (rebuilt)" is the current
default (``auto`` since stop 27). Rules are :class:`~forecasting.config.ForecastConfig` variants (``selection_strategy``,
``champion_min_windows``, ``champion_margin``, the candidates) chosen by ``_choose`` on the saved backtest,
so a rule scores exactly what the pipeline would forecast with it (the bands are not rebuilt: coverage and
MSIS need an end-to-end run). Peers' forecasts saved by ``bench/accuracy.py --save DIR`` in the same folder
(``<set>_<peer>.parquet``) are scored beside them.

The engine keeps a combination's backtest rows, not those of a member only the combination names
(``TARIMA`` inside ``Mean(SETS,DOT,TARIMA)``): they are recovered as 3 × mean − SETS − DOT.

``--alternatives`` scores other seasonal defaults beside the one the set took, without fitting the cached
members again: their members missing from the cache are backtested and fitted on the seasonal set alone
(cached as ``<set>_<n>_member_<name>_{cv,fc}.parquet``). For each default it prints the backtest MASE pooled
over the set's series and windows as ``forecasting.select_strategy.choose_default`` compares them, with the
standard error of its per-series difference to the set's default, the one ``choose_default`` takes among them
all, and the held-out sMAPE / MASE of the set under each (re-chosen by ``_choose`` as the pipeline would). A
default the backtest rejects but the held-out months favour is the case a per-set choice cannot catch
(docs/forecast-accuracy.md, stop 28).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.accuracy import LOADERS, SETS, _cpu, at_origin, sample, score, scales  # noqa: E402
from bench.members import _bases, _combine  # noqa: E402
from forecasting import ForecastConfig  # noqa: E402
from forecasting.classify import classify_series  # noqa: E402
from forecasting.engine import run_tasks, worker_pool  # noqa: E402
from forecasting.backtest import (_backtest, _champion_tasks, _chosen_backtest, _one_offs_out,  # noqa: E402
                                  _plan)
from forecasting.choice import _choose, _chosen_default  # noqa: E402
from forecasting.forecast import _zero_forecast  # noqa: E402
from forecasting.metrics import score_backtest  # noqa: E402
from forecasting.outliers import signed_ids  # noqa: E402
from forecasting.select_strategy import choose_default  # noqa: E402

KEYS = ("asrun", "series", "cv", "fc", "history")
CV_KEYS = ["unique_id", "ds", "cutoff", "y"]


def fit_once(ds, n_jobs: int) -> dict[str, pl.DataFrame]:
    """One pass of the pipeline's backtest and choice, then every seasonal member's final fit."""
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=n_jobs)
    series = ds.train.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).sort("unique_id", "ds")
    plan = _plan(classify_series(series, config), ds.h, config)
    series, outliers = _one_offs_out(series, plan, config)  # the models fit the history without its one-offs
    series = series.group_by("unique_id", maintain_order=True).tail(config.input_periods())
    frames = series.partition_by("unique_id", as_dict=True)
    bases = _bases(config.seasonal_models + config.seasonal_alternatives)
    with worker_pool(n_jobs) as pool:
        cv, fc_rule, orders = _backtest(frames, plan, ds.h, config, ds.h, pool, outliers)
        config = _chosen_default(cv, series, plan, config)
        cv, orders = _chosen_backtest(frames, plan, ds.h, config, cv, orders, pool, outliers,
                                      signed_ids(series))
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
    picked = _combine(members, tuple(chosen.get_column("model").unique()), ["unique_id", "ds"], series)
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


def seasonal_plan(ds, config: ForecastConfig) -> pl.DataFrame:
    """The pipeline's plan of the set's seasonal series (``_plan`` on the whole training series)."""
    series = ds.train.select("unique_id", "ds", pl.col("y").cast(pl.Float64)).sort("unique_id", "ds")
    return _plan(classify_series(series, config), ds.h, config).filter(pl.col("set") == "seasonal")


def fit_missing(ds, saved: dict, names: tuple[str, ...], stem: Path, n_jobs: int) -> None:
    """Add to ``saved`` the backtest rows and final fits of the members of ``names`` the cache lacks, each
    fitted alone on the seasonal set's windowed history: backtested as the pipeline's backtest tasks fit it
    (the series with windows), fitted on the whole window as its final fits are (every series of the set)."""
    have = {k: set(saved[k].get_column("model")) for k in ("members_cv", "fc")}
    for member in (m for m in _bases(names) if not all(m in models for models in have.values())):
        paths = {"members_cv": Path(f"{stem}_member_{member}_cv.parquet"),
                 "fc": Path(f"{stem}_member_{member}_fc.parquet")}
        if not all(p.exists() for p in paths.values()):
            config = ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=n_jobs, seasonal_models=(member,),
                                    seasonal_default=member, seasonal_alternatives=())
            plan = seasonal_plan(ds, config)
            frames = saved["history"].join(plan, on="unique_id", how="semi").partition_by("unique_id", as_dict=True)
            every = plan.select("unique_id", model=pl.lit(member), selection=pl.lit("default"))
            cpu, wall = _cpu(), time.perf_counter()
            # scored on what was ordered, as the pipeline's backtest: the one-offs the history fitted without
            fitted = saved["history"].select("unique_id", "ds", fit="y")
            outliers = (ds.train.join(fitted, on=["unique_id", "ds"], how="inner")
                        .filter(pl.col("y") != pl.col("fit")).select("unique_id", "ds", "y"))
            with worker_pool(n_jobs) as pool:
                cv, _, _ = _backtest(frames, plan, ds.h, config, ds.h, pool, outliers)
                _, fc, _ = run_tasks(_champion_tasks(frames, plan, every, ds.h, config), pool)
            print(f"   fitted {member} on {plan.height} seasonal series: {_cpu() - cpu:.1f} CPU-s "
                  f"({time.perf_counter() - wall:.1f} s wall)")
            cv.filter(pl.col("model") == member).write_parquet(paths["members_cv"])
            fc.filter(pl.col("model") == member).write_parquet(paths["fc"])
        for key, path in paths.items():  # only what the cache lacks
            if member not in have[key]:
                saved[key] = pl.concat([saved[key], pl.read_parquet(path).select(saved[key].columns)])


def pooled_backtest(ds, saved: dict, names: tuple[str, ...]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The seasonal set's backtest scores of ``names``, and the rows ``choose_default`` pools from them:
    ``unique_id, window`` and one MASE column per name, where every one of ``names`` is scored."""
    config = ForecastConfig(freq=ds.freq, season_length=ds.season)
    ids = saved["series"].filter(pl.col("set") == "seasonal").select("unique_id")
    cv = _combine(saved["members_cv"], names, CV_KEYS, saved["history"]).filter(pl.col("model").is_in(names))
    scores = score_backtest(cv.join(ids, on="unique_id", how="semi"), saved["history"], season=config.mase_season)
    return scores, (scores.filter(pl.col("mase").is_finite())
                    .pivot(on="model", index=["unique_id", "window"], values="mase").drop_nulls(list(names)))


def report_alternatives(ds, saved: dict, default: str, alternatives: tuple[str, ...]) -> None:
    """Each default's pooled backtest MASE (the difference to the set's default and its standard error over
    the series), the one ``choose_default`` takes, and the held-out score of the set under each."""
    names = tuple(dict.fromkeys((default, *alternatives)))
    scores, wide = pooled_backtest(ds, saved, names)
    taken = choose_default(scores, names, min_series=ForecastConfig().strategy_min_series)
    scale = scales(ds)
    print(f"   defaults on {wide.get_column('unique_id').n_unique()} series, {wide.height} windows "
          f"(choose_default takes {taken}):")
    for name in names:
        diff = wide.group_by("unique_id").agg((pl.col(name) - pl.col(default)).mean()).get_column(name)
        se = diff.std() / diff.len() ** 0.5 if name != default else 0.0
        candidates = ("Naive", "SeasonalNaive", "SETS", "DOT", "DARIMA", name)
        held = score(ds, run_rule(ds, saved, candidates, name)[0], scale)
        print(f"   {name:28s} backtest MASE {wide.get_column(name).mean():.4f} "
              f"({wide.get_column(name).mean() - wide.get_column(default).mean():+.4f}, SE {se:.4f});"
              f" held out sMAPE {held['smape']:.3f} MASE {held['mase']:.4f}")


def run_rule(ds, saved: dict, names: tuple[str, ...], default: str,
             **updates) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every series' forecast under a rule (the seasonal set re-chosen by ``_choose``, the others as run) and
    the seasonal set's strategy frame."""
    config = ForecastConfig(freq=ds.freq, season_length=ds.season, seasonal_models=names,
                            seasonal_default=default, seasonal_alternatives=(), **updates)
    seasonal = saved["series"].filter(pl.col("set") == "seasonal")
    plan = seasonal.filter(pl.col("windows") > 0).select("unique_id", "set")
    cv = _combine(saved["members_cv"], names, CV_KEYS, saved["history"]).filter(pl.col("model").is_in(names))
    cv = cv.join(plan, on="unique_id", how="semi")
    _, chosen, strategy, _ = _choose(cv, saved["history"], plan, config)
    unscored = seasonal.filter(pl.col("windows") == 0).select("unique_id", model=pl.lit(default))
    chosen = pl.concat([chosen.select("unique_id", "model"), unscored])
    fc = _combine(saved["fc"], names, ["unique_id", "ds"], saved["history"])
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
            "season shift checked": (names, default, {"season_shift_check": True}),
            "champion margin 0.2": (names, default, evidence | {"champion_margin": 0.2}),
            "no naive candidates": (("SETS", "DOT", "DARIMA", default), default, evidence)}


def _line(label: str, r: dict, note: str = "") -> str:
    return f"   {label:32s} sMAPE {r['smape']:8.3f} MASE {r['mase']:7.4f}{note}"


def report(name: str, ds, saved: dict, cache: Path, how: str, cpu: float, wall: float,
           alternatives: tuple[str, ...] = ()) -> None:
    """Print the run as cached, every rule (with the strategy its nested backtest measured), the other
    defaults in ``alternatives`` (:func:`report_alternatives`) and the peers."""
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
    if alternatives and default:
        report_alternatives(ds, saved, default[0], alternatives)
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
    p.add_argument("--horizon", type=int, default=None, metavar="H",
                   help="hold out the last H periods instead of the set's own h (bench/accuracy.py --horizon)")
    p.add_argument("--origin", type=int, default=0, metavar="K",
                   help="split K horizons earlier (bench/accuracy.py --origin)")
    p.add_argument("--alternatives", nargs="+", default=[],
                   help="other seasonal defaults to score beside the one the set took (members missing from the "
                   "cache fitted on the seasonal set)")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    for name in args.sets:
        ds = at_origin(sample(LOADERS[name](args.data_dir, args.horizon), args.max_series, 0), args.origin)
        split = "".join(f"_{k}{v}" for k, v in (("h", args.horizon), ("o", args.origin)) if v)
        stem = args.cache / f"{name}_{args.max_series or 'all'}{split}"
        cpu, wall = _cpu(), time.perf_counter()
        if all(Path(f"{stem}_{k}.parquet").exists() for k in KEYS):
            saved, how = {k: pl.read_parquet(f"{stem}_{k}.parquet") for k in KEYS}, "cached"
        else:
            saved, how = fit_once(ds, args.n_jobs), "fitted"
            for k, v in saved.items():
                v.write_parquet(f"{stem}_{k}.parquet")
        saved["members_cv"] = member_rows(saved["cv"])
        if args.alternatives:
            fit_missing(ds, saved, tuple(args.alternatives), stem, args.n_jobs)
        report(name, ds, saved, args.cache, how, _cpu() - cpu, time.perf_counter() - wall, tuple(args.alternatives))


if __name__ == "__main__":
    main()
