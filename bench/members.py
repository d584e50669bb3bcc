"""Per-member forecasts of plantwin's seasonal candidates, saved, and selection rules re-run on them offline.

Usage: ``python bench/members.py DATA_DIR --sets m1_monthly pbs --max-series 100 --seed 0 --cache DIR
[--extra SARIMA] [--defaults "Median(SETS,SCES,DOT,DARIMA)" ...] [--peers] [--origin 0] [--n-jobs 1]
[--horizon H] [--max-length N] [--min-length N] [--config KEY=JSON ...]`` (the cuts and the configuration's
overrides as ``bench/accuracy.py``'s; ``--config backtest_refit='"every"' arima_order_from_backtest=false`` fits
an ``--extra`` ARIMA member searching its order at every fit, as the ARIMA members of a cache made before
stop 45 were).

For each set (the same loaders and samples as ``bench/accuracy.py``) it runs plantwin's ``forecast_demand``
as it stands (the "as run" reference and every non-seasonal series' forecast), then, for the series of the
seasonal candidate set only, the same backtest with every base member of the set's candidates plus
``--extra`` members, and the final fit of each member on the series' last ``input_periods()`` periods (the
ARIMA orders found at the oldest backtest origin, as the pipeline fits them). These are saved in
``--cache`` (``<set>_s<seed>_*.parquet``; a second run reads them instead of fitting, and fits only the
``--extra`` members they lack) and re-selected offline: a combination's backtest and forecast are its
members' mean or median, scores come from ``forecasting.metrics.score_backtest`` and the pick from
``forecasting.select.select_champions``, so each rule below is scored exactly as the pipeline would score
it, at no fitting cost:

- ``as run``: the set's default (or the alternative its backtest chose, ``seasonal_alternatives``) and
  evidence rule rebuilt from the members (checks the reproduction);
- ``default``: the default combination everywhere (no champion);
- ``champion ≥ Ns``: the evidence rule, a champion only where the oldest backtest origin saw at least N
  seasons of history (the evidence counted in seasons, not rows);
- ``--defaults``: each named combination as the set's default, everywhere and with the evidence rule (its
  new members added to the candidates); where the set took the ``TARIMA`` alternative, a ``DARIMA`` member
  is read as ``TARIMA`` (the ARIMA member the set chose). Its members must be fitted: the set's own or
  ``--extra`` (``--extra SCES`` monthly, ``--extra DCES`` weekly: on a long season only the
  decomposition-based ``D`` extras are fitted, a non-seasonal fit each); a ``Mean`` of four or more is also
  scored "trimmed", each series that keeps it taking it less its worst backtest member, as the pipeline's
  ``trim_min_members=4`` does;
- ``H`` rules (``--extra SARIMA``): the ARIMA member is the seasonal AutoARIMA where the M4 seasonality test
  finds no season in the history a fit sees, DARIMA where it finds one, in the default combination.

``--peers`` scores statsforecast's AutoETS, DOT and AutoARIMA at the set's season and their mean (also
cached; on weekly sets too, where AutoARIMA(52) costs ≈ 5 CPU-s a series: ask for it on small sets such as the
pharmacy's 8). Prints sMAPE / MASE per rule, and the CPU seconds of the fits.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.accuracy import (_cpu, add_cut_options, add_set_options, at_origin, chosen_sets,  # noqa: E402
                            config_overrides, run_peer, sample, scorable, score, scales, shortened)
from forecasting import ForecastConfig, forecast_demand  # noqa: E402
from forecasting.classify import classify_series  # noqa: E402
from forecasting.engine import run_tasks, worker_pool  # noqa: E402
from forecasting.backtest import _backtest_tasks, _champion_tasks, _plan  # noqa: E402
from forecasting.metrics import score_backtest  # noqa: E402
from forecasting.models import add_combinations, combination_members  # noqa: E402
from forecasting.outliers import signed_ids  # noqa: E402
from forecasting.seasonal import is_seasonal  # noqa: E402
from forecasting.select import select_champions, trim_worst_member  # noqa: E402
from forecasting.select_strategy import alternative_sample, choose_default  # noqa: E402

PEERS = ("AutoETS", "DOT", "AutoARIMA")
TRIM = 4  # a --defaults mean of this many members is also scored trimmed, as trim_min_members=4 runs it


def _bases(names: tuple[str, ...]) -> tuple[str, ...]:
    out: list[str] = []
    for name in names:
        combo = combination_members(name)
        out += [b for b in (combo[1] if combo else (name,)) if b not in out]
    return tuple(out)


def _member_frames(ds, config: ForecastConfig, extra: tuple[str, ...]):
    """The seasonal members (the set's and ``extra``), the config that fits them, the seasonal set's plan and
    its series (the last ``input_periods()`` periods, whole and per series)."""
    bases = _bases(config.seasonal_models + config.seasonal_alternatives)
    bases += tuple(e for e in extra if e not in bases)
    ext = config.model_copy(update={"seasonal_models": bases, "seasonal_default": config.seasonal_default})
    plan = _plan(classify_series(ds.train, ext), ds.h, ext).filter(pl.col("set") == "seasonal")
    series = ds.train.sort("unique_id", "ds").group_by("unique_id", maintain_order=True).tail(ext.input_periods())
    frames = series.filter(pl.col("unique_id").is_in(plan.get_column("unique_id").to_list())).partition_by(
        "unique_id", as_dict=True)
    return bases, ext, plan, series, frames


def _fit(frames: dict, plan: pl.DataFrame, h: int, ext: ForecastConfig, names: tuple[str, ...],
         n_jobs: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Members ``names``' backtest and final forecast on ``frames`` (long frames)."""
    with worker_pool(n_jobs) as pool:
        cv, _, orders = run_tasks(_backtest_tasks(frames, plan.filter(pl.col("windows") > 0), h, ext), pool)
        # every member's carried ARIMA order goes into its final fit (DARIMA's and TARIMA's), as where it is
        # a champion's member: the chosen "model" names all of them
        chosen = plan.select("unique_id", model=pl.lit(f"Mean({','.join(names)})"), selection=pl.lit("default"))
        tasks = [replace(t, names=names) for t in _champion_tasks(frames, plan, chosen, h, ext, orders)]
        _, fc, _ = run_tasks(tasks, pool)
    return cv.filter(pl.col("model").is_in(names)), fc.filter(pl.col("model").is_in(names))


def fit_members(ds, config: ForecastConfig, extra: tuple[str, ...], n_jobs: int) -> dict[str, pl.DataFrame]:
    """As-run forecast, and every seasonal member's backtest and final forecast (long frames)."""
    result = forecast_demand(ds.train, ds.h, config)
    bases, ext, plan, series, frames = _member_frames(ds, config, extra)
    cv, fc = _fit(frames, plan, ds.h, ext, bases, n_jobs)
    return {"asrun": result.forecast.select("unique_id", "ds", "mean"),
            "series": result.series, "plan": plan.select("unique_id", "fit_weeks", "windows"),
            "cv": cv, "fc": fc, "history": series}


def add_members(saved: dict, ds, config: ForecastConfig, extra: tuple[str, ...],
                n_jobs: int) -> tuple[dict, tuple[str, ...]]:
    """``saved`` with the ``extra`` members it lacks fitted and added, and their names. The as-run forecast
    and the members already saved are kept: a new member costs its own fits only (M1 monthly's DCES 1.4
    CPU-s, against 656 for the whole cache)."""
    missing = tuple(e for e in extra if e not in saved["cv"].get_column("model").unique().to_list())
    if not missing:
        return saved, ()
    _, ext, plan, _, frames = _member_frames(ds, config, extra)
    only = ext.model_copy(update={"seasonal_models": missing, "seasonal_default": None,
                                  "seasonal_alternatives": ()})
    new = dict(zip(("cv", "fc"), _fit(frames, plan, ds.h, only, missing, n_jobs)))
    return saved | {k: pl.concat([saved[k], v.select(saved[k].columns).cast(saved[k].schema)])
                    for k, v in new.items()}, missing


def _with_h(long: pl.DataFrame, history: pl.DataFrame, m: int, cutoff: str | None) -> pl.DataFrame:
    """Add model ``H`` rows: SARIMA's where the history a fit saw shows no season by the M4 test, else
    DARIMA's."""
    keys = ["unique_id"] + ([cutoff] if cutoff else [])
    fits = long.select(keys).unique()
    hist = fits.join(history, on="unique_id", how="inner")
    if cutoff:
        hist = hist.filter(pl.col("ds") <= pl.col(cutoff))
    rows = [(*k, is_seasonal(np.asarray(y, dtype=float), m))
            for *k, y in hist.sort("ds").group_by(keys, maintain_order=True).agg("y").rows()]
    flag = pl.DataFrame(rows, schema={**{k: long.schema[k] for k in keys}, "seasonal": pl.Boolean}, orient="row")
    pick = long.filter(pl.col("model").is_in(["SARIMA", "DARIMA"])).join(flag, on=keys, how="left")
    h = pick.filter(pl.when(pl.col("seasonal")).then(pl.col("model") == "DARIMA")
                    .otherwise(pl.col("model") == "SARIMA")).drop("seasonal").with_columns(model=pl.lit("H"))
    # HM: where no season shows, the mean of both ARIMA members (hedging the two differencing tests)
    hm = pick.filter(pl.col("seasonal").not_() | (pl.col("model") == "DARIMA")).group_by(
        [c for c in long.columns if c not in ("model", "yhat")]).agg(pl.col("yhat").mean()).with_columns(
        model=pl.lit("HM"))
    return pl.concat([long, h.select(long.columns), hm.select(long.columns)])


def _combine(long: pl.DataFrame, names: tuple[str, ...], keys: list[str],
             history: pl.DataFrame) -> pl.DataFrame:
    """Add each combination of ``names`` as rows where all its members have one, formed as the engine forms
    it (:func:`forecasting.models.add_combinations`, the members summed in their order): a mean taken over
    grouped rows summed them in whatever order the group came, a last bit off the pipeline's now and then;
    a member below zero left out where the fitted ``history`` is not)."""
    combos = [(name, combo[1]) for name in names if (combo := combination_members(name)) is not None]
    if not combos:
        return long
    signed = signed_ids(history)
    wide = long.pivot(on="model", index=keys, values="yhat")
    parts = [long]
    for name, members in combos:
        if not set(members) <= set(wide.columns):
            continue
        whole = wide.filter(pl.all_horizontal(pl.col(members).is_not_null()))
        parts.append(add_combinations(whole, (name,), signed)
                     .select(*keys, model=pl.lit(name), yhat=pl.col(name)).select(long.columns))
    return pl.concat(parts)


def _trims(default: str, trim: int | None) -> tuple[str, ...]:
    """The means of ``default``'s members less one each, where the pipeline's ``trim_min_members=trim``
    trims ``default`` (a ``Mean`` of at least ``trim`` members); else none."""
    combo = combination_members(default)
    if trim is None or combo is None or combo[0] != "Mean" or len(combo[1]) < trim:
        return ()
    return tuple(f"Mean({','.join(x for x in combo[1] if x != m)})" for m in combo[1])


def select_rule(saved: dict, names: tuple[str, ...], default: str, m: int, horizon: int, min_seasons: float = 0.0,
                margin: float = 0.1, min_windows: int = 2, trim: int | None = None) -> pl.DataFrame:
    """Each seasonal series' forecast under a rule: candidates ``names``, ``default``, and a champion only
    where the oldest backtest origin saw ``min_seasons`` seasons (``unique_id, ds, mean``), and the
    default's mean backtest MASE over the panel's series and windows. With ``trim``, a series that keeps
    ``default`` takes it less its worst backtest member, as the pipeline's ``trim_min_members`` does."""
    cv, fc = saved["cv"], saved["fc"]
    trims = _trims(default, trim)
    if any({"H", "HM"} & set((combination_members(n) or (None, (n,)))[1]) for n in names):
        cv = _with_h(cv, saved["history"], m, "cutoff")
        fc = _with_h(fc, saved["history"], m, None)
    cv = _combine(cv, names + trims, ["unique_id", "ds", "cutoff", "y"], saved["history"])
    fc = _combine(fc, names + trims, ["unique_id", "ds"], saved["history"])
    # select_champions ranks ties by complexity, which knows registered names only: H's combination is
    # ranked as the DARIMA one it replaces (same members' complexity)
    alias = {n: n.replace(",H)", ",DARIMA)").replace(",HM)", ",DARIMA)") for n in names
             if n.endswith((",H)", ",HM)"))}
    cv, fc = (f.with_columns(pl.col("model").replace(alias)) for f in (cv, fc))
    names, default = tuple(alias.get(n, n) for n in names), alias.get(default, default)
    scores = score_backtest(cv.filter(pl.col("model").is_in(names)), saved["history"])
    plan = saved["plan"]
    candidates = plan.select("unique_id", model=pl.lit(list(names))).explode("model").with_columns(
        default=pl.lit(default), fallback=pl.lit("Naive"))
    picked = select_champions(scores, candidates, margin=margin, min_windows=min_windows)
    oldest = plan.select("unique_id", oldest=pl.col("fit_weeks") - horizon * pl.col("windows"))
    picked = picked.join(oldest, on="unique_id", how="left").with_columns(
        model=pl.when(pl.col("oldest") < min_seasons * m).then(pl.lit(default)).otherwise("model"))
    if trims:
        members = cv.filter(pl.col("model").is_in(combination_members(default)[1]))
        picked = trim_worst_member(picked.select("unique_id", "model", "selection"),
                                   score_backtest(members, saved["history"]), default, trim)
    panel = scores.filter(pl.col("model") == default).get_column("mase").mean()
    return fc.join(picked.select("unique_id", "model"), on=["unique_id", "model"], how="inner").select(
        "unique_id", "ds", mean=pl.col("yhat").clip(lower_bound=0.0)), panel


def set_default(saved: dict, config: ForecastConfig) -> str:
    """The seasonal set's default as the run chose it: ``config.seasonal_default`` or one of its
    ``seasonal_alternatives``, by the pooled backtest MASE (``forecasting.select_strategy.choose_default``)
    over the series of its ``alternative_sample``, as the pipeline chooses."""
    names = (config.seasonal_default, *config.seasonal_alternatives)
    if len(names) < 2:
        return names[0]
    tried = alternative_sample(saved["plan"].filter(pl.col("windows") > 0).get_column("unique_id"),
                               config.alternative_sample)
    cv = _combine(saved["cv"].filter(pl.col("unique_id").is_in(tried.implode())), names,
                  ["unique_id", "ds", "cutoff", "y"], saved["history"])
    scores = score_backtest(cv.filter(pl.col("model").is_in(names)), saved["history"], season=config.mase_season)
    return choose_default(scores, names, min_series=config.strategy_min_series)


def _as_chosen(combo: str, chosen: str) -> str:
    """``combo`` with its ARIMA member the one of the default the set took (``DARIMA`` → ``TARIMA``)."""
    return combo.replace("DARIMA", "TARIMA") if "TARIMA" in chosen else combo


def default_rules(names: tuple[str, ...], default: str, defaults: tuple[str, ...]) -> dict[str, dict]:
    """For each of ``defaults``: it as the default everywhere, and in place of ``default`` among the
    candidates ``names`` (its members that are not yet candidates added) with the evidence rule."""
    out = {}
    for combo in (_as_chosen(c, default) for c in defaults):
        members = combination_members(combo)[1]
        cands = tuple(combo if n == default else n for n in names)
        cands += tuple(m for m in members if m not in cands)
        out |= {f"{combo} everywhere": {"names": (combo,), "default": combo},
                f"{combo} as run": {"names": cands, "default": combo}}
        if _trims(combo, TRIM):
            out |= {f"{combo} trimmed everywhere": {"names": (combo,), "default": combo, "trim": TRIM},
                    f"{combo} trimmed as run": {"names": cands, "default": combo, "trim": TRIM}}
    return out


def rules(config: ForecastConfig, extra: tuple[str, ...], chosen: str | None = None,
          defaults: tuple[str, ...] = ()) -> dict[str, dict]:
    """The rules re-run offline; ``chosen`` is the set's default as the run took it (:func:`set_default`),
    ``defaults`` other defaults scored in its place (:func:`default_rules`)."""
    names, default = tuple(config.seasonal_models), config.seasonal_default
    if chosen:  # the rules vary the selection around the default the set took
        names, default = tuple(chosen if n == default else n for n in names), chosen
    out = {"as run": {"names": names, "default": default},
           "default everywhere": {"names": (default,), "default": default},
           "champion >= 2 seasons": {"names": names, "default": default, "min_seasons": 2},
           "champion >= 3 seasons": {"names": names, "default": default, "min_seasons": 3},
           "champion: 3 windows": {"names": names, "default": default, "min_windows": 3}}
    if "SARIMA" in extra and default == "Mean(SETS,DOT,DARIMA)":
        h_default = "Mean(SETS,DOT,H)"
        h_names = tuple(h_default if n == default else n for n in names)
        out |= {"H: as run": {"names": h_names, "default": h_default},
                "H: default everywhere": {"names": (h_default,), "default": h_default},
                "H: champion >= 3 seasons": {"names": h_names, "default": h_default, "min_seasons": 3}}
        hm_default = "Mean(SETS,DOT,HM)"
        hm_names = tuple(hm_default if n == default else n for n in names)
        out |= {"HM: as run": {"names": hm_names, "default": hm_default},
                "HM: default everywhere": {"names": (hm_default,), "default": hm_default}}
    return out | default_rules(names, default, defaults)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_set_options(p)
    p.add_argument("--max-series", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, required=True, help="folder of the saved member forecasts")
    p.add_argument("--extra", nargs="*", default=["SARIMA"], help="members fitted beside the candidates "
                   "(on a long season, weekly, only the decomposition-based D... ones)")
    p.add_argument("--defaults", nargs="*", default=[], help="combinations scored as the set's default")
    p.add_argument("--peers", action="store_true", help="also score AutoETS, DOT, AutoARIMA and their mean "
                   "(AutoARIMA(52) costs ≈ 5 CPU-s a weekly series)")
    p.add_argument("--origin", type=int, default=0, help="split the sets this many horizons earlier "
                   "(bench/accuracy.py's origins: another window of the same series)")
    p.add_argument("--n-jobs", type=int, default=1)
    p.add_argument("--config", nargs="*", default=[], metavar="KEY=JSON",
                   help="ForecastConfig overrides, as bench/accuracy.py's (e.g. backtest_refit=\"every\" to "
                   "fit an --extra member as the cached ones were)")
    add_cut_options(p)
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    for name, load in chosen_sets(p, args):
        ds = sample(load(args.horizon), args.max_series, args.seed)
        ds = at_origin(ds, args.origin)
        ds = scorable(shortened(ds, args.max_length, args.min_length, args.seed))
        config = ForecastConfig(**({"freq": ds.freq, "season_length": ds.season, "n_jobs": args.n_jobs}
                                   | config_overrides(args.config)))
        native = ds.season <= config.native_season_max
        extra = tuple(e for e in args.extra if native or e.startswith("D"))
        cut = "".join(f"_{k}{v}" for k, v in (("h", args.horizon), ("max", args.max_length),
                                               ("min", args.min_length)) if v is not None)
        stem = args.cache / f"{name}_s{args.seed}_n{args.max_series}_o{args.origin}{cut}"
        keys = ("asrun", "series", "plan", "cv", "fc", "history")
        cpu, wall = _cpu(), time.perf_counter()
        if all(Path(f"{stem}_{k}.parquet").exists() for k in keys):
            saved, added = add_members({k: pl.read_parquet(f"{stem}_{k}.parquet") for k in keys}, ds, config,
                                       extra, args.n_jobs)
            for k in ("cv", "fc") if added else ():
                saved[k].write_parquet(f"{stem}_{k}.parquet")
            how = f"cached (+ {', '.join(added)} fitted)" if added else "cached"
        else:
            saved = fit_members(ds, config, extra, args.n_jobs)
            for k, v in saved.items():
                v.write_parquet(f"{stem}_{k}.parquet")
            how = "fitted"
        cpu, wall = _cpu() - cpu, time.perf_counter() - wall
        scale = scales(ds)
        seasonal = saved["plan"].height
        print(f"== {name} seed {args.seed} origin {args.origin}: {ds.train.get_column('unique_id').n_unique()} series, "
              f"{seasonal} in the seasonal set; members {how} in {cpu:.1f} CPU-s ({wall:.1f} s wall)", flush=True)
        asrun = score(ds, saved["asrun"], scale)
        print(f"   {'plantwin (run)':46s} sMAPE {asrun['smape']:8.3f} MASE {asrun['mase']:7.3f}", flush=True)
        for label, rule in rules(config, extra, set_default(saved, config), tuple(args.defaults)).items():
            fc, panel = select_rule(saved, rule["names"], rule["default"], ds.season, ds.h, rule.get("min_seasons", 0.0),
                                    config.champion_margin, rule.get("min_windows", config.champion_min_windows),
                                    rule.get("trim"))
            full = pl.concat([saved["asrun"].join(fc, on="unique_id", how="anti"), fc])
            s = score(ds, full, scale)
            print(f"   {label:46s} sMAPE {s['smape']:8.3f} MASE {s['mase']:7.3f}   (default's backtest "
                  f"MASE {panel:.4f})", flush=True)
        if args.peers:
            peers = {}
            for peer in PEERS:
                path = Path(f"{stem}_peer_{peer}.parquet")
                if not path.exists():
                    run_peer(ds, peer, args.n_jobs).select("unique_id", "ds", "mean").write_parquet(path)
                peers[peer] = pl.read_parquet(path)
                s = score(ds, peers[peer], scale)
                print(f"   {'peer ' + peer:46s} sMAPE {s['smape']:8.3f} MASE {s['mase']:7.3f}", flush=True)
            mean = pl.concat(peers.values()).group_by("unique_id", "ds").agg(pl.col("mean").mean())
            s = score(ds, mean, scale)
            print(f"   {'peers mean':46s} sMAPE {s['smape']:8.3f} MASE {s['mase']:7.3f}", flush=True)


if __name__ == "__main__":
    main()
