"""Series sold only in season: the same periods of every season with demand, the others without.

A flu vaccine ordered from September to December and not at all from January to August is neither
intermittent (its zeros are not random: they recur in the same weeks every year) nor inactive (it is silent
for most of the year and comes back every season). Classed by ADI and recent demand alone, it was forecast
zero whenever the run fell in its off-season (``inactive``: no demand in the last ``inactive_weeks``), so the
plan made in June planned none of the season starting in September; in season it was forecast flat by an
intermittent method, the season's demand spread over the year.

**Detection** (:func:`seasonal_only`). A series that would be ``intermittent``, ``lumpy`` or ``inactive`` is
``seasonal_only`` when, over the complete seasons of its last ``input_periods`` periods (aligned to its last
period, at least two, and at least 24 period pairs compared), whether a period had demand agrees from one
season to the next far beyond chance: Cohen's kappa of the periods' demand / no-demand between consecutive
seasons, pooled over the pairs, at least ``season_only_kappa``. It must also have had demand in its last
season (a series silent for a whole season is ``inactive``). Random zeros give a kappa near 0 (standard
error about 0.14 over one pair of weekly seasons), a season's on/off weeks near 1.

**Forecast** (:func:`profile_forecast`, model ``SeasonalProfile``, selection ``rule``): the last season's
total demand (the last ``m`` periods, whatever the season's phase) spread over the next season by the series'
profile, each period's share of the demand of its last three complete seasons (at most). A period without
demand in those seasons is forecast zero; the level follows the last season, the profile is averaged.

**Bands**: each season of the window forecast from the ones before it by the same rule (one season ahead,
out of sample), the ratios of actual to forecast pooled over the run's seasonal-only series, in the
periods forecast above zero; quantile ``q`` = mean × the pooled ratios' ``q`` quantile. Zero periods keep every
quantile zero (no safety stock out of season). Fewer than ``_MIN_RATIOS`` ratios: the rule's lognormal band.
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from forecasting.config import ForecastConfig
from forecasting.intervals import lognormal_quantiles

__all__ = ["PROFILE_MODEL", "profile_forecast", "seasonal_only"]

PROFILE_MODEL = "SeasonalProfile"
#: fewest pooled out-of-sample ratios the bands are taken from (else the rule's lognormal band)
_MIN_RATIOS = 20
#: most recent complete seasons a profile averages
_PROFILE_SEASONS = 3
#: a period's demand below this share of the series' median non-zero demand is a stray order, not its season
_STRAY = 0.1
#: fewest period pairs (periods of a season × consecutive pairs of seasons) kappa is taken over
_MIN_PAIRS = 24


def _positions(series: pl.DataFrame, config: ForecastConfig) -> pl.DataFrame:
    """``unique_id, season, position, y`` of the complete seasons of each series' last ``input_periods``
    periods: season 0 is the last ``m`` periods, position ``m − 1`` its last period (so that position ``p``
    is the next season's ``p``-th period)."""
    m = config.season_length
    window = config.input_periods()
    n = pl.len().over("unique_id")
    back = n - pl.int_range(pl.len()).over("unique_id") - 1  # periods before the last one
    usable = (n.clip(upper_bound=window) if window is not None else n) // m * m
    return (
        series.sort("unique_id", "ds")
        .with_columns(back=back, usable=usable)
        .filter(pl.col("back") < pl.col("usable"))
        .select("unique_id", season=pl.col("back") // m, position=m - 1 - pl.col("back") % m, y=pl.col("y"))
    )


def seasonal_only(series: pl.DataFrame, ids: pl.Series, config: ForecastConfig) -> pl.DataFrame:
    """``unique_id, season_kappa`` of the series ``ids`` whose demand recurs in the same periods of every
    season (see the module's docstring); the others of ``ids`` are left out.

    Args:
        series: ``unique_id, ds, y`` (zero-filled inside each life).
        ids: the series to test (those that would be intermittent, lumpy or inactive).
    """
    m = config.season_length
    positions = _positions(series.filter(pl.col("unique_id").is_in(ids.implode())), config)
    typical = positions.filter(pl.col("y") > 0).group_by("unique_id").agg(typical=pl.col("y").median())
    on = positions.join(typical, on="unique_id").select(
        "unique_id", "season", "position", sold=pl.col("y") > _STRAY * pl.col("typical"))
    seasons = on.group_by("unique_id").agg(seasons=pl.col("season").max() + 1,
                                           last=pl.col("sold").filter(pl.col("season") == 0).any())
    pairs = on.join(on.with_columns(pl.col("season") - 1), on=["unique_id", "season", "position"],
                    suffix="_before")  # each period beside the same period one season earlier
    a, b = pl.col("sold").cast(pl.Float64), pl.col("sold_before").cast(pl.Float64)
    agree = pairs.group_by("unique_id").agg(
        n=pl.len(), pa=a.mean(), pb=b.mean(), same=(pl.col("sold") == pl.col("sold_before")).mean())
    chance = pl.col("pa") * pl.col("pb") + (1 - pl.col("pa")) * (1 - pl.col("pb"))
    kappa = pl.when(chance < 1).then((pl.col("same") - chance) / (1 - chance))
    return (
        agree.join(seasons, on="unique_id")
        .with_columns(season_kappa=kappa)
        .filter((pl.col("seasons") >= 2) & (pl.col("n") >= max(_MIN_PAIRS, m)) & pl.col("last")
                & (pl.col("season_kappa") >= config.season_only_kappa))
        .select("unique_id", "season_kappa")
        .sort("unique_id")
    )


def _profile(positions: pl.DataFrame, level_season: int) -> pl.DataFrame:
    """``unique_id, position, share, level``: each position's share of the demand of seasons ``level_season``
    .. ``level_season + _PROFILE_SEASONS − 1`` (season numbers count back from the last, 0), and the total of
    season ``level_season``: what forecasts season ``level_season − 1``."""
    seen = positions.filter(pl.col("season").is_between(level_season, level_season + _PROFILE_SEASONS - 1))
    shares = seen.group_by("unique_id", "position").agg(pl.col("y").sum()).with_columns(
        share=pl.col("y") / pl.col("y").sum().over("unique_id"))
    level = seen.filter(pl.col("season") == level_season).group_by("unique_id").agg(level=pl.col("y").sum())
    return shares.join(level, on="unique_id").filter(pl.col("share").is_finite()).select(
        "unique_id", "position", "share", "level")


def _ratios(positions: pl.DataFrame) -> pl.Series:
    """Actual over forecast of every season forecast from the ones before it (one season ahead), in the
    periods forecast above zero."""
    last = positions.get_column("season").max() if positions.height else None
    out = []
    for target in range(0, (last or 0)):  # season ``target`` from the seasons before it
        profile = _profile(positions, target + 1).filter(pl.col("share") > 0)
        actual = positions.filter(pl.col("season") == target)
        out.append(actual.join(profile, on=["unique_id", "position"]).select(
            ratio=pl.col("y") / (pl.col("level") * pl.col("share"))).get_column("ratio"))
    return pl.concat(out) if out else pl.Series("ratio", [], pl.Float64)


def profile_forecast(series: pl.DataFrame, ids: list[str], horizon: int, config: ForecastConfig) -> pl.DataFrame:
    """``unique_id, ds, model, mean`` and the quantile columns of the seasonal-only series ``ids``, ``horizon``
    periods past each one's last (see the module's docstring)."""
    m = config.season_length
    own = series.filter(pl.col("unique_id").is_in(ids))
    positions = _positions(own, config)
    profile = _profile(positions, 0)
    last = own.group_by("unique_id").agg(pl.col("ds").max())
    steps = last.with_columns(ds=config.future_dates(pl.col("ds"), horizon)).explode("ds").with_columns(
        position=(pl.int_range(pl.len()).over("unique_id") % m).cast(pl.Int64))
    mean = steps.join(profile.with_columns(pl.col("position").cast(pl.Int64)), on=["unique_id", "position"],
                      how="left").select(
        "unique_id", "ds", model=pl.lit(PROFILE_MODEL),
        mean=(pl.col("level") * pl.col("share")).fill_null(0.0))
    ratios = _ratios(positions)
    ratios = ratios.filter(ratios.is_finite())
    if ratios.len() < _MIN_RATIOS:
        return lognormal_quantiles(mean, config.quantiles, config.rule_band_cv)
    return mean.with_columns(
        (pl.col("mean") * ratios.quantile(q, interpolation="linear")).alias(schema.quantile_column(q))
        for q in config.quantiles
    )
