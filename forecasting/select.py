"""Model per series from backtest scores.

The champion is the candidate with the best mean MASE, then WAPE, then |bias|, then the simpler model.
Where the series' candidate set has a default model (a robust combination), the champion replaces it
only on strong and stable evidence: at least ``min_windows`` backtest windows, a lower MASE than the
default in every one of them, and a mean MASE lower by ``margin`` (a share). A few windows of a short
series mostly rank noise; a per-series winner picked from them is the winner's curse, not a better model.

Whether that rule holds for a panel, and which default a set takes, is :mod:`forecasting.select_strategy`'s;
the guards against a chosen forecast that falls through zero or copies a stale season are
:mod:`forecasting.select_guard`'s.
"""

from __future__ import annotations

import polars as pl

from forecasting.models import combination_members, complexity

__all__ = ["select_champions", "trim_worst_member"]


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
