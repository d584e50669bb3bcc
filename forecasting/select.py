"""Model per series from backtest scores.

The champion is the candidate with the best mean MASE, then WAPE, then |bias|, then the simpler model.
Where the series' candidate set has a default model (a robust combination), the champion replaces it
only on strong and stable evidence: at least ``min_windows`` backtest windows, a lower MASE than the
default in every one of them, and a mean MASE lower by ``margin`` (a share). A few windows of a short
series mostly rank noise; a per-series winner picked from them is the winner's curse, not a better model.

Whether that holds for a panel is itself measured (:func:`choose_strategy`): each backtest window in turn
is held out, each strategy (the default everywhere, the default unless strong evidence, the per-series
champion) picks a model per series on the other windows, and a strategy whose picks score a mean MASE on
the held-out windows, pooled over the panel's series of the set, lower than the evidence rule's by a margin
replaces it on all windows. A
per-series choice is noisy; a choice of strategy across hundreds of series is not. On long weekly series
the champion wins that test (M4 Weekly); on short monthly and quarterly ones the combination does.

The default itself may be one of a few for a set (:func:`choose_default`): the one whose backtest MASE,
pooled over the set's series and windows, is the lowest. Again one choice for many series; as an option a
sample of them makes it (:func:`alternative_sample`): only the sample backtests the alternatives (on 100
series the choice is within noise: a sample of PBS kept the default its whole set replaces).

A chosen model whose forecast falls to zero on a series that sold in every recent period is replaced
(:func:`falls_through_zero`, :func:`guard_picks`): a trend line that crosses the axis within the horizon
is not a forecast a planner can use, whatever its backtest (PBS's A14: the backtest's best model ran a
twelve-year fall through zero within seven months, docs/forecast-accuracy.md, stop 28).
"""

from __future__ import annotations

import polars as pl

from forecasting.models import combination_members, complexity

__all__ = ["select_champions", "held_out_picks", "choose_strategy", "choose_default", "alternative_sample",
           "trim_worst_member", "falls_through_zero", "guard_picks", "season_shifted", "keep_default_where_shifted",
           "STRATEGIES", "SEASON_COPIES"]

#: how a candidate set with a default model picks each series' model (:func:`choose_strategy`):
#: ``evidence`` the default unless a champion wins every window by the margin; ``champion`` the backtest
#: champion (no default); ``default`` the default model everywhere
STRATEGIES = ("evidence", "default", "champion")

#: candidates whose forecast is the last season copied (:func:`season_shifted`)
SEASON_COPIES = ("SeasonalNaive",)


def select_champions(
    scores: pl.DataFrame,
    candidates: pl.DataFrame,
    fallback: str = "Naive",
    decimals: int = 3,
    margin: float = 0.1,
    min_windows: int = 2,
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """Pick each series' champion among its candidates.

    Window scores are averaged per series and model (nulls ignored), rounded to ``decimals`` and compared
    in order MASE, WAPE, |bias| (nulls last), then complexity (simpler first), then name (determinism).
    A series none of whose candidates has any score gets its default model, or else ``fallback``.

    Args:
        scores: ``unique_id, model, window, mase, wape, bias`` (:func:`forecasting.metrics.score_backtest`).
        candidates: ``unique_id, model`` pairs allowed for each series; every series to choose for. An
            optional ``fallback`` column names the series' fallback model instead of ``fallback``; an
            optional ``default`` column (null = none) the model kept unless the evidence is strong.
        fallback: model used where nothing could be scored.
        margin: share by which a champion's mean MASE must beat the default's.
        min_windows: fewest windows compared before a champion may replace the default.

    Returns:
        ``unique_id, model, selection`` (``backtest``: the champion; ``default``: the set's default model;
        ``fallback``), one row per series in candidates.
    """
    names = candidates.get_column("model").unique().to_list()
    rank = pl.DataFrame({"model": names, "complexity": [complexity(n) for n in names]},
                        schema={"model": pl.String, "complexity": pl.Int64})
    mean = scores.group_by(id_col, "model").agg(
        pl.col("mase").mean().round(decimals),
        pl.col("wape").mean().round(decimals),
        pl.col("bias").abs().mean().round(decimals).alias("abs_bias"),
    )
    if "fallback" not in candidates.columns:
        candidates = candidates.with_columns(fallback=pl.lit(fallback))
    ranked = (
        candidates.join(mean, on=[id_col, "model"], how="left", validate="1:1")
        .join(rank, on="model", how="left", validate="m:1")
        .with_columns(scored=pl.col("mase").is_not_null() | pl.col("wape").is_not_null())
        .sort([id_col, "mase", "wape", "abs_bias", "complexity", "model"], nulls_last=True)
        .group_by(id_col, maintain_order=True)
        .first()
    )
    champions = ranked.select(
        id_col,
        model=pl.when(pl.col("scored")).then(pl.col("model")).otherwise(pl.col("fallback")),
        selection=pl.when(pl.col("scored")).then(pl.lit("backtest")).otherwise(pl.lit("fallback")),
    )
    if "default" not in candidates.columns:
        return champions
    defaults = candidates.select(id_col, "default").unique(id_col).filter(pl.col("default").is_not_null())
    window = scores.select(id_col, "model", "window", "mase")
    evidence = (
        champions.filter(pl.col("selection") == "backtest")
        .join(defaults, on=id_col, how="inner", validate="1:1")
        .join(window, on=[id_col, "model"], how="inner", validate="1:m")
        .join(window.rename({"model": "default", "mase": "default_mase"}), on=[id_col, "default", "window"],
              how="inner", validate="1:1")
        .group_by(id_col)
        .agg(
            n=pl.len(),
            better=(pl.col("mase") < pl.col("default_mase")).fill_null(False).all(),
            mase=pl.col("mase").mean(),
            default_mase=pl.col("default_mase").mean(),
        )
        .select(id_col, strong=(pl.col("n") >= min_windows) & pl.col("better")
                & (pl.col("mase") <= (1 - margin) * pl.col("default_mase")))
    )
    out = champions.join(defaults, on=id_col, how="left", validate="1:1").join(
        evidence, on=id_col, how="left", validate="1:1"
    )
    weak = (pl.col("selection") == "fallback") | ~pl.col("strong").fill_null(False)  # nothing scored: default
    keep_default = pl.col("default").is_not_null() & weak
    return out.select(
        id_col,
        model=pl.when(keep_default).then(pl.col("default")).otherwise(pl.col("model")),
        selection=pl.when(keep_default).then(pl.lit("default")).otherwise(pl.col("selection")),
    )


def held_out_picks(
    scores: pl.DataFrame,
    candidates: pl.DataFrame,
    decimals: int = 3,
    margin: float = 0.1,
    min_windows: int = 2,
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """Each strategy's pick per series and held-out window, chosen on the series' other windows.

    For each window ``k`` every strategy of :data:`STRATEGIES` picks a model per series from the scores of
    the other windows (:func:`select_champions`); its MASE in window ``k`` is the held-out score. Only series
    with a default model and at least two windows take part.

    ``min_windows`` is the served rule's (``champion_min_windows``). A held-out pick sees one window fewer
    than the served one, so the evidence strategy takes one window fewer too, never one alone: with three
    windows needed to serve a champion, a held-out champion on two still differs from the default, so the
    bands sized on these picks learn the errors of champions as they are served (with three held out as
    well, every held-out evidence pick was the default: M1 quarterly's bands 78.6 / 92.7 → 76.7 / 91.6,
    docs/forecast-accuracy.md, "Stop 31: a champion on two windows").

    Args:
        scores: ``unique_id, model, window, mase, wape, bias``.
        candidates: ``unique_id, model, default`` (+ optional ``fallback``; other columns are ignored).

    Returns:
        ``unique_id, window, strategy, model, mase`` (mase null where the pick has no score there).
    """
    schema_out = {id_col: pl.String, "window": pl.Int64, "strategy": pl.String, "model": pl.String,
                  "mase": pl.Float64}
    keep = [c for c in (id_col, "model", "default", "fallback") if c in candidates.columns]
    with_default = candidates.filter(pl.col("default").is_not_null()).select(keep)
    windows = scores.select(id_col, "window").unique()
    multi = windows.group_by(id_col).agg(n=pl.len()).filter(pl.col("n") >= 2).select(id_col)
    base = with_default.join(multi, on=id_col, how="semi")
    if not base.height:
        return pl.DataFrame(schema=schema_out)
    defaults = base.select(id_col, "default").unique(id_col)
    parts = []
    for k in windows.get_column("window").unique().sort().to_list():  # a few windows, not rows
        train = scores.filter(pl.col("window") != k)
        test = scores.filter(pl.col("window") == k).select(id_col, "model", "mase")
        present = test.select(id_col).unique()
        picks = {
            "evidence": select_champions(train, base, decimals=decimals, margin=margin,
                                         min_windows=max(min_windows - 1, 2), id_col=id_col),
            "default": defaults.rename({"default": "model"}),
            "champion": select_champions(train, base.drop("default"), decimals=decimals, id_col=id_col),
        }
        for name, pick in picks.items():
            parts.append(
                pick.join(present, on=id_col, how="semi")
                .select(id_col, "model")
                .join(test, on=[id_col, "model"], how="left", validate="1:1")
                .select(id_col, pl.lit(k, dtype=pl.Int64).alias("window"), pl.lit(name).alias("strategy"),
                        "model", "mase")
            )
    return pl.concat(parts).select(list(schema_out)).cast(schema_out)


def choose_strategy(
    picks: pl.DataFrame,
    groups: pl.DataFrame,
    min_series: int = 30,
    margin: float = 0.02,
    choices: tuple[str, ...] = ("default", "champion"),
    group_col: str = "set",
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """The selection strategy of every group of series with a default model, from held-out scores.

    A group keeps ``evidence`` unless one of ``choices`` has a mean held-out MASE (over the series and
    windows where every strategy's pick has a score, :func:`held_out_picks`) lower by ``margin`` (a share),
    then it takes the lowest of them; it keeps ``evidence`` too where fewer than ``min_series`` series take
    part (a strategy chosen on a few series would be noise again). Every strategy's score is returned,
    whether it may be chosen or not.

    Args:
        picks: ``unique_id, window, strategy, model, mase`` (:func:`held_out_picks`).
        groups: ``unique_id`` and ``group_col`` of every series of a set with a default model.

    Returns:
        ``group_col, strategy, series, evidence, default, champion``: the chosen strategy, the series that
        took part and each strategy's mean held-out MASE (null where none took part).
    """
    names = groups.select(group_col).unique().sort(group_col)
    wide = picks.pivot(on="strategy", index=[id_col, "window"], values="mase") if picks.height else None
    if wide is None or any(s not in wide.columns for s in STRATEGIES):
        per_group = pl.DataFrame(schema={group_col: pl.String, "series": pl.UInt32,
                                         **{s: pl.Float64 for s in STRATEGIES}})
    else:
        per_group = (
            wide.drop_nulls(list(STRATEGIES))
            .join(groups.select(id_col, group_col).unique(id_col), on=id_col, how="inner", validate="m:1")
            .group_by(group_col)
            .agg(pl.col(id_col).n_unique().alias("series"), *(pl.col(s).mean() for s in STRATEGIES))
        )
    others = [s for s in STRATEGIES if s in choices and s != "evidence"]
    best = pl.concat_list(*(pl.col(s) for s in others)).list.arg_min()
    best_value = pl.min_horizontal(*(pl.col(s) for s in others))
    switch = (pl.col("series") >= min_series) & (best_value <= (1 - margin) * pl.col("evidence"))
    chosen = per_group.with_columns(
        strategy=pl.when(switch)
        .then(best.replace_strict(dict(enumerate(others)), return_dtype=pl.String))
        .otherwise(pl.lit("evidence"))
    )
    out = names.join(chosen, on=group_col, how="left", validate="1:1")
    return out.select(
        group_col, pl.col("strategy").fill_null("evidence"), pl.col("series").fill_null(0).cast(pl.UInt32),
        *(pl.col(s).cast(pl.Float64) for s in STRATEGIES),
    )


def choose_default(
    scores: pl.DataFrame,
    names: tuple[str, ...],
    min_series: int = 30,
    id_col: str = "unique_id",
) -> str:
    """The default model of a set of series: ``names[0]`` unless another of ``names`` has a lower mean
    backtest MASE over the set's series and windows where every one of ``names`` has a score, with at
    least ``min_series`` such series (fewer: ``names[0]``, a choice on a few series is noise again).

    Args:
        scores: ``unique_id, model, window, mase`` of the set's series (:func:`forecasting.metrics.score_backtest`).
        names: the set's default first, then its alternatives.

    Returns:
        The chosen name (ties go to the earlier name).
    """
    if len(names) < 2:
        return names[0]
    wide = (
        scores.filter(pl.col("model").is_in(list(names)) & pl.col("mase").is_finite())
        .pivot(on="model", index=[id_col, "window"], values="mase")
    )
    if any(n not in wide.columns for n in names):
        return names[0]
    wide = wide.drop_nulls(list(names))
    if wide.get_column(id_col).n_unique() < min_series:
        return names[0]
    means = wide.select(pl.col(n).mean() for n in names).row(0)
    return names[min(range(len(names)), key=lambda i: (means[i], i))]


def alternative_sample(ids: pl.Series, n: int | None) -> pl.Series:
    """``n`` of ``ids`` spread evenly over them in sorted order (every ``len / n``-th id, the first one
    included); all of them where ``n`` is None or not below their number. The same ids for the same set
    whatever its order or chunking: the series on which a set chooses its default
    (:func:`choose_default`)."""
    ordered = ids.unique().sort()
    if n is None or n >= ordered.len():
        return ordered
    return ordered.gather(pl.int_range(0, n, eager=True) * ordered.len() // n)


def trim_worst_member(
    chosen: pl.DataFrame,
    scores: pl.DataFrame,
    default: str | None,
    min_members: int | None,
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """Each series that keeps ``default`` (selection ``default``), a mean of at least ``min_members`` members,
    takes the mean of its members less the one with the worst mean backtest MASE on the series.

    Why: a member that misses a series' backtest windows by far (an STL season on a series whose season
    broke, a decomposition on one without a season) pulls the mean off on that series; dropping it leaves a
    mean of three, still a combination, where picking one champion out of three or four windows is noise.
    With three members a drop leaves two and picks one of them too often (M1 monthly lost 5.6% sMAPE), so
    the rule is by the combination's size (docs/forecast-accuracy.md, stop 26).

    Args:
        chosen: ``unique_id, model, selection`` (:func:`select_champions`).
        scores: ``unique_id, model, window, mase`` of the backtest.
        default: the set's default model; nothing changes unless it is ``Mean(...)`` of ``min_members`` or more.
        min_members: fewest members of a default that is trimmed; None = never.

    Returns:
        ``chosen`` with ``model`` replaced by ``Mean(<the other members>)`` (members in the default's order)
        where a series kept the default and every member has a backtest MASE.
    """
    combo = combination_members(default) if default else None
    if min_members is None or combo is None or combo[0] != "Mean" or len(combo[1]) < min_members:
        return chosen
    members = combo[1]
    keeps = chosen.filter((pl.col("selection") == "default") & (pl.col("model") == default)).select(id_col)
    means = (
        scores.join(keeps, on=id_col, how="semi")
        .filter(pl.col("model").is_in(list(members)) & pl.col("mase").is_finite())
        .group_by(id_col, "model").agg(pl.col("mase").mean())
    )
    # every member scored, else nothing is known about the missing one: the default stays
    complete = means.group_by(id_col).agg(n=pl.len()).filter(pl.col("n") == len(members)).select(id_col)
    names = {m: f"Mean({','.join(x for x in members if x != m)})" for m in members}
    worst = (
        means.join(complete, on=id_col, how="semi")
        .sort(id_col, "mase", "model", descending=[False, True, False])  # ties: the first name in order
        .group_by(id_col, maintain_order=True).first()
        .select(id_col, trimmed=pl.col("model").replace_strict(names, return_dtype=pl.String))
    )
    return chosen.join(worst, on=id_col, how="left", validate="1:1").select(
        id_col, pl.coalesce("trimmed", "model").alias("model"), "selection")


def falls_through_zero(
    forecast: pl.DataFrame,
    history: pl.DataFrame,
    recent: int,
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """The series whose forecast reaches zero or below at some step although each of their last ``recent``
    periods sold (y > 0).

    Why zero and why recent: a series with demand in every period of its last ``recent`` (the pipeline: a
    season or the horizon, whichever is longer) has given no sign of stopping, so a forecast of nothing is a
    model's extrapolation, not the data's; a series with a zero there (intermittent, seasonal gaps, a
    product running out) may well fall to zero and is left alone. The raw forecast is read, before the
    bands clip it at zero.

    Args:
        forecast: ``unique_id, yhat`` (any other columns ignored): each series' chosen forecast.
        history: ``unique_id, ds, y``: the histories the forecasts were fitted on.
        recent: periods at the end of each history that must all be positive.

    Returns:
        ``unique_id`` of the series that fall, sorted.
    """
    sold = (
        history.sort(id_col, "ds").group_by(id_col, maintain_order=True).tail(recent)
        .group_by(id_col).agg(sold=(pl.col("y") > 0).all() & (pl.len() >= recent))
    )
    falls = forecast.group_by(id_col).agg(falls=(pl.col("yhat") <= 0).any())
    return (
        falls.join(sold, on=id_col, how="inner", validate="1:1")
        .filter(pl.col("falls") & pl.col("sold"))
        .select(id_col).sort(id_col)
    )


def guard_picks(
    fallen: pl.DataFrame,
    forecasts: pl.DataFrame,
    scores: pl.DataFrame,
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """Each fallen series' replacement: its set's default where that stays above zero, else the candidate
    with the best mean backtest MASE that does (then the simpler, then by name), never the model that fell.

    Why this order: the default is the set's robust choice (a combination damps a member's trend); where it
    falls too, the backtest still ranks the rest, and the naive models (a level or last season held flat,
    candidates of every set that falls here) stay above zero on a series that sold recently, so one always
    remains.

    Args:
        fallen: ``unique_id, model, default``: the model that fell and the series' set default (null: none).
        forecasts: ``unique_id, model, yhat`` of every candidate of the fallen series.
        scores: ``unique_id, model, mase`` backtest scores (any windows; may miss series and models).

    Returns:
        ``unique_id, model`` of the series where some candidate stays above zero.
    """
    names = forecasts.get_column("model").unique().to_list()
    rank = pl.DataFrame({"model": names, "complexity": [complexity(n) for n in names]},
                        schema={"model": pl.String, "complexity": pl.Int64})
    mase = scores.group_by(id_col, "model").agg(pl.col("mase").filter(pl.col("mase").is_finite()).mean())
    above = forecasts.group_by(id_col, "model").agg(above=(pl.col("yhat") > 0).all())
    return (
        above.filter(pl.col("above"))
        .join(fallen.rename({"model": "fell"}), on=id_col, how="inner", validate="m:1")
        .filter(pl.col("model") != pl.col("fell"))
        .join(mase, on=[id_col, "model"], how="left", validate="1:1")
        .join(rank, on="model", how="left", validate="m:1")
        .with_columns(is_default=(pl.col("model") == pl.col("default")).fill_null(False))
        .sort([id_col, "is_default", "mase", "complexity", "model"],
              descending=[False, True, False, False, False], nulls_last=True)
        .group_by(id_col, maintain_order=True).first()
        .select(id_col, "model").sort(id_col)
    )


def season_shifted(
    history: pl.DataFrame,
    season: int,
    z: float = 2.0,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
) -> pl.DataFrame:
    """The series whose last half season moved away from the same periods a season before: the mean of
    their last ``season // 2`` season-on-season log changes, ``log(1 + y_t) − log(1 + y_{t − season})``, lies
    more than ``z`` standard errors from zero, the standard deviation taken from the series' earlier changes.

    Why: a seasonal naive forecast is the last season copied, which assumes exactly these changes are noise
    around zero. Its backtest windows ended a horizon or more before the history does, so where the level
    broke inside the last season (PBS's safety-net series after January 2006) the windows never saw the copy
    go stale, while the forecast copies the half season from before the break (docs/forecast-accuracy.md,
    stop 32). Log changes, since these series' seasons scale with their level (a break shows as the same
    share in a peak and in a trough month).

    Args:
        history: ``unique_id, ds, y`` (y ≥ 0), the histories the models are fitted on.
        season: season length in periods.
        z: standard errors beyond which the mean change is a shift.

    Returns:
        ``unique_id`` of the shifted series, sorted; a series with fewer than two earlier changes is never one.
    """
    recent = max(season // 2, 1)
    y = pl.col(target_col).log1p()
    changes = (
        history.sort(id_col, time_col)
        .with_columns(change=(y - y.shift(season)).over(id_col))
        .drop_nulls("change")
    )
    c = pl.col("change")
    stats = changes.group_by(id_col).agg(
        earlier_sd=c.head(pl.len() - recent).std(), last=c.tail(recent).mean(), n=pl.len())
    return (
        stats.filter((pl.col("n") >= recent + 2)
                     & (pl.col("last").abs() > z * pl.col("earlier_sd") / recent ** 0.5))
        .select(id_col).sort(id_col)
    )


def keep_default_where_shifted(
    chosen: pl.DataFrame, defaults: pl.DataFrame, shifted: pl.DataFrame, id_col: str = "unique_id"
) -> pl.DataFrame:
    """``chosen`` with each backtest champion of :data:`SEASON_COPIES` on a ``shifted`` series
    (:func:`season_shifted`) replaced by the series' default model, where it has one.

    Args:
        chosen: ``unique_id, model, selection`` (:func:`select_champions`).
        defaults: ``unique_id, default`` (null: no default; the champion stays).
        shifted: ``unique_id`` of the series whose last half season moved.

    Returns:
        ``chosen`` with those rows' ``model`` the default and ``selection`` ``default``.
    """
    stale = (
        chosen.filter((pl.col("selection") == "backtest") & pl.col("model").is_in(list(SEASON_COPIES)))
        .join(shifted, on=id_col, how="semi")
        .join(defaults.filter(pl.col("default").is_not_null()).unique(id_col), on=id_col, how="inner",
              validate="1:1")
        .select(id_col, "default")
    )
    return chosen.join(stale, on=id_col, how="left", validate="1:1").select(
        id_col,
        model=pl.coalesce("default", "model"),
        selection=pl.when(pl.col("default").is_not_null()).then(pl.lit("default")).otherwise("selection"),
    )
