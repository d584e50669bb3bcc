"""Champion per series from backtest scores: MASE, then WAPE, then |bias|, then the simpler model."""

from __future__ import annotations

import polars as pl

from forecasting.models import complexity

__all__ = ["select_champions"]


def select_champions(
    scores: pl.DataFrame,
    candidates: pl.DataFrame,
    fallback: str = "Naive",
    decimals: int = 3,
    id_col: str = "unique_id",
) -> pl.DataFrame:
    """Pick each series' champion among its candidates.

    Window scores are averaged per series and model (nulls ignored), rounded to ``decimals`` and compared
    in order MASE, WAPE, |bias| (nulls last), then complexity (simpler first), then name (determinism).
    A series none of whose candidates has any score gets ``fallback``.

    Args:
        scores: ``unique_id, model, window, mase, wape, bias`` (:func:`forecasting.metrics.score_backtest`).
        candidates: ``unique_id, model`` pairs allowed for each series; every series to choose for. An
            optional ``fallback`` column names the series' fallback model instead of ``fallback``.
        fallback: model used where nothing could be scored.

    Returns:
        ``unique_id, model, selection`` (``backtest`` or ``fallback``), one row per series in candidates.
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
    return ranked.select(
        id_col,
        model=pl.when(pl.col("scored")).then(pl.col("model")).otherwise(pl.col("fallback")),
        selection=pl.when(pl.col("scored")).then(pl.lit("backtest")).otherwise(pl.lit("fallback")),
    )
