"""Which selection strategy a panel takes and which default model a set takes, from backtest scores.

The evidence rule (:mod:`forecasting.select`) keeps a series' default model unless its champion
wins on strong and stable evidence.

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
"""

from __future__ import annotations

import polars as pl

from forecasting.select import select_champions

__all__ = ["held_out_picks", "choose_strategy", "choose_default", "alternative_sample", "STRATEGIES"]

#: how a candidate set with a default model picks each series' model (:func:`choose_strategy`):
#: ``evidence`` the default unless a champion wins every window by the margin; ``champion`` the backtest
#: champion (no default); ``default`` the default model everywhere
STRATEGIES = ("evidence", "default", "champion")


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
    the other windows (:func:`forecasting.select.select_champions`); its MASE in window ``k`` is the
    held-out score. Only series with a default model and at least two windows take part.

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
