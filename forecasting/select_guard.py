"""The guards on a chosen model: a forecast that falls through zero, a season copy gone stale.

A chosen model whose forecast falls to zero on a series that sold in every recent period is replaced
(:func:`falls_through_zero`, :func:`guard_picks`): a trend line that crosses the axis within the horizon
is not a forecast a planner can use, whatever its backtest (PBS's A14: the backtest's best model ran a
twelve-year fall through zero within seven months, docs/forecast-accuracy.md, stop 28).
"""

from __future__ import annotations

import polars as pl

from forecasting.models import complexity

__all__ = ["falls_through_zero", "guard_picks", "season_shifted", "keep_default_where_shifted",
           "SEASON_COPIES"]

#: candidates whose forecast is the last season copied (:func:`season_shifted`)
SEASON_COPIES = ("SeasonalNaive",)


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
        chosen: ``unique_id, model, selection`` (:func:`forecasting.select.select_champions`).
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
