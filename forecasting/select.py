"""Model per series from backtest scores.

The champion is the candidate with the best mean MASE, then WAPE, then |bias|, then the simpler model.
Where the series' candidate set has a default model (a robust combination), the champion replaces it
only on strong and stable evidence: at least ``min_windows`` backtest windows, a lower MASE than the
default in every one of them, and a mean MASE lower by ``margin`` (a share). A few windows of a short
series mostly rank noise; a per-series winner picked from them is the winner's curse, not a better model.
"""

from __future__ import annotations

import polars as pl

from forecasting.models import complexity

__all__ = ["select_champions"]


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
    rank = pl.DataFrame({"model": names, "complexity": [complexity(n) for n in names]})
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
