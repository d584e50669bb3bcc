"""One-off spikes in a demand history, replaced by their local level before the models fit it.

A single order many times the usual (a tender, a stockpile, a quantity typed with an extra digit) is one draw
that will not repeat, but every level-following model takes it as news: on seeded weekly series (noise CV 0.1,
a 52-week season) one period at 3× its level five weeks before the origin lifted the next 26 weeks' forecast
by 4–26%, at 10× it more than doubled the safety stock, and at 10× a year back it cut the forecast by 15–30%
(docs/forecast-accuracy.md, "Stop 35"). The plan then makes and holds stock for demand that was never coming,
or misses demand that is.

:func:`one_offs` finds such periods and what to put in their place; the models (and the backtest's fits)
see the cleaned history, while the backtest still scores every forecast against what was really ordered,
so the spikes that did happen stay in the errors the bands are calibrated on.

A period is a one-off when all of these hold:

- it is at least ``factor`` times its local level (2.5 by default: ``ForecastConfig.outlier_factor``), and
  more than 4 robust standard deviations above it (1.4826 × the median absolute deviation of every period's
  log ratio to its level), so a series that swings this much every few periods keeps its swings. The local
  level is the median of the 3 periods before it and the 3 after, on the series divided by robust seasonal
  indices (per position of the season, the median ratio to a centred median over a season) where the season
  is short (monthly, quarterly) and :func:`forecasting.seasonal.is_seasonal` finds one;
- it lies more than 4 Poisson standard deviations (√level) above its level in units: in a season's trough 8
  orders where 2.3 are usual is counting noise (a PBS safety-net series' March);
- it stands as far above the median of the 3 periods before it as above that of the 3 after it: a period
  just past a step up stands apart from its neighbours' median (half of them on each level) but not from its
  own side;
- it is in a run of at most two such periods (a longer run is an episode: a level shift or a season, which
  the models must see);
- no other season stood above its level, within a period of the same position, by 0.6 of the first rule's
  bar and 3 robust standard deviations: a peak that comes back is the series' own, even where the season
  test found no season or another year's peak was lower (a weekly season is never divided out: 2–3 seasons
  give each position too few values for a robust index);
- it is not among the last three periods, where a spike cannot yet be told from the first periods of a new
  level.

**A period below zero is fitted at its local level too** (since stop 44), where such periods are rare: at most
``MAX_BELOW_SHARE`` (5%) of the series' periods and none in a run of more than two. Net sales below zero are
returns or a correction of earlier periods, not demand; fitted as given, one such month drives statsforecast's
ETS to additive errors and a flat form and swamps the season test of the decomposed members: on 40 M1 monthly
series with one month's sign flipped 7 months from the end, MASE went 1.007 → 1.844 (set to zero: 1.414; at
its level: 1.039). Its level is that of the periods at or above zero around it (the median of the 3 before
and the 3 after that are), then the one-off rule's season-aware level. A series often below zero (a third of
its periods: a net flow) is fitted as given. No visible set holds a value below zero; the pipeline's order
lines cannot (their quantity is positive), so this is `plantwin forecast`'s case, on a file of net sales.

**Dips are not one-offs.** A week far below its level is mostly orders that came a week late (the next
week's catch-up, at most 2×, is no one-off, so filling the dip alone would count them twice) or a large line
cancelled (demand that did not happen); on the real sets a dip was as often the first sign of a fall (M1
monthly MNI120) as noise. Fitting dips at their level too was measured: on M1 monthly it won at the set's own
split and lost at h 24, on the demo network 32 of its 36 dips were weeks with a cancelled line, and its plan
with campaigns no longer reached 1% in 60 s (docs/forecast-accuracy.md, "Stop 35").

On the visible sets' smooth, erratic and short series it replaces, in the periods the models see, 1 of
51,064 on M4 Weekly, 2 of 44,457 on PBS, none on M1 monthly or quarterly and none in the pharmacy's series;
on the demo network 2 of 26,302. On 1,000 seeded series of each shape (seasonal, trending, AR(1), random walk;
CV 0.1–0.35, level 100) with normal noise it takes at most one period in 7,500 (30 weeks; one in 39,000 at
156 weeks); with Student-t(5) noise, whose largest draws are isolated jumps of 2.5× and more, 0.05–0.08%.

Pure numpy and polars; no I/O.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from forecasting.seasonal import SHORT_SEASON_MAX, is_seasonal

__all__ = ["one_offs", "below_zero", "fill_below_zero", "clean_history", "signed_ids"]

WINDOW = 7  # periods in the centred median that is a period's local level
SIGMAS = 4.0  # robust standard deviations of the log ratio to the level a one-off lies beyond
MAX_RUN = 2  # the longest run of one-offs in a row; longer is an episode
MAX_BELOW_SHARE = 0.05  # the largest share of periods below zero fitted at their level; more are the series'
# own (a net flow)
MIN_PERIODS = 2 * WINDOW  # periods with demand a series needs to be looked at (the `short` class starts at 13 weeks)
_MAD_SIGMA = 1.4826  # the median absolute deviation of a normal sample, in standard deviations


def _centred_median(x: np.ndarray, width: int) -> np.ndarray:
    """Each value's centred running median over ``width`` (odd) values, the ends padded with the edge."""
    half = width // 2
    return np.median(sliding_window_view(np.pad(x, (half, half), mode="edge"), width), axis=1)


def _neighbours(x: np.ndarray) -> np.ndarray:
    """Each value's ``WINDOW - 1`` neighbours, the ``WINDOW // 2`` before it then those after it (the ends
    padded with the edge), one row a value."""
    half = WINDOW // 2
    return np.delete(sliding_window_view(np.pad(x, (half, half), mode="edge"), WINDOW), half, axis=1)


def _season(y: np.ndarray, m: int) -> np.ndarray:
    """Robust multiplicative seasonal indices of ``y`` at each of its periods (1 where no season): per
    position, the median ratio of ``y`` to its centred median over a season, normalised to mean 1."""
    if m < 2 or m > SHORT_SEASON_MAX or not is_seasonal(y, m):
        return np.ones(y.size)
    level = _centred_median(y, m + 1 - m % 2)
    position = np.arange(y.size) % m
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = y / level
    ok = np.isfinite(ratio) & (ratio > 0)
    index = np.array([np.median(ratio[ok & (position == p)]) if (ok & (position == p)).any() else 1.0
                      for p in range(m)])
    if not np.all(index > 0):  # a position that never sold: no multiplicative season to take out
        return np.ones(y.size)
    return (index / index.mean())[position]


def _recurring(ratio: np.ndarray, flag: np.ndarray, m: int, bar: float, spread: float) -> np.ndarray:
    """Of the flagged periods, those whose position in another season (± one period) also stood above its
    level by at least 0.6 × ``bar`` and 3 robust standard deviations: a peak that comes back is the series'
    own, even where the season test found no season or another year's peak was lower."""
    out = np.zeros(flag.size, dtype=bool)
    if m < 2:
        return out
    again = max(0.6 * bar, 3 * spread)
    for t in np.flatnonzero(flag):
        for k in range(t % m, flag.size, m):
            if abs(k - t) < m - 1:
                continue
            if (ratio[max(k - 1, 0):k + 2] > again).any():
                out[t] = True
                break
    return out


def _apart_from_both_sides(x: np.ndarray, near: np.ndarray, bar: float) -> np.ndarray:
    """Whether each period of ``x`` stands ``bar`` (in log) above both the median of the three periods before
    it and that of the three after it (``near``: :func:`_neighbours`): a period just past a step up stands
    apart from its neighbours' median (half of them on each level) but not from its own side's."""
    half = WINDOW // 2
    before, after = np.median(near[:, :half], axis=1), np.median(near[:, half:], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(np.log(x / np.maximum(before, after)), nan=-np.inf) > bar


def _runs_at_most(flag: np.ndarray, longest: int) -> np.ndarray:
    """``flag`` without its runs of more than ``longest`` consecutive True values."""
    edges = np.flatnonzero(np.diff(np.r_[0, flag.astype(np.int8), 0]))
    out = flag.copy()
    for start, stop in zip(edges[::2], edges[1::2]):
        if stop - start > longest:
            out[start:stop] = False
    return out


def one_offs(y: np.ndarray, m: int, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, level)``: which periods of ``y`` are one-offs (module docstring) and each period's local
    level (seasonal index × centred median of the adjusted series: the value a one-off is replaced by)."""
    y = np.asarray(y, dtype=float)
    none = np.zeros(y.size, dtype=bool)
    if y.size < MIN_PERIODS or factor <= 1:
        return none, y
    index = _season(y, m)
    x = y / index
    # its neighbours' median, without the period itself: a period's ratio to a level it is part of is pulled
    # toward 1, so the ratios' spread understated the noise by about a quarter and 4 of its standard
    # deviations were 3 of the noise's (0.3% of every normal period of CV 0.35 was taken)
    near = _neighbours(x)
    level = np.median(near, axis=1)
    sold = (y > 0) & (level > 0)
    if sold.sum() < MIN_PERIODS:
        return none, y
    ratio = np.zeros(y.size)
    ratio[sold] = np.log(x[sold] / level[sold])
    spread = _MAD_SIGMA * np.median(np.abs(ratio[sold] - np.median(ratio[sold])))
    bar = max(SIGMAS * spread, np.log(factor))
    # and 4 Poisson standard deviations in units: 8 orders where 2.3 are usual is counting noise, not a one-off
    counted = y - level * index > SIGMAS * np.sqrt(np.maximum(level * index, 1.0))
    flag = _runs_at_most(sold & (ratio > bar) & counted, MAX_RUN)
    if not flag.any():  # most series: nothing stands out
        return flag, level * index
    flag &= _apart_from_both_sides(x, near, bar) & ~_recurring(ratio, flag, m, bar, spread)
    flag[y.size - WINDOW // 2:] = False
    return flag, level * index


def below_zero(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, filled)``: the periods of ``y`` below zero to fit at their level (rare ones: module docstring)
    and ``y`` with each of them at the median of the 3 periods before and the 3 after it that are at or
    above zero (0 where none is)."""
    y = np.asarray(y, dtype=float)
    below = y < 0
    if not below.any():  # nearly every series: nothing more to compute
        return below, y
    if below.mean() > MAX_BELOW_SHARE or not np.array_equal(_runs_at_most(below, MAX_RUN), below):
        return np.zeros(y.size, dtype=bool), y
    near = _neighbours(np.where(below, np.nan, y))
    filled = y.copy()
    for t in np.flatnonzero(below):
        ok = near[t][np.isfinite(near[t])]
        filled[t] = float(np.median(ok)) if ok.size else 0.0
    return below, filled


def signed_ids(series: pl.DataFrame) -> list[str]:
    """The ids of ``series`` (``unique_id, y``) with a period below zero, sorted (also
    :func:`forecasting.models.add_combinations`' ``signed``: the net flows)."""
    return series.filter(pl.col("y") < 0).get_column("unique_id").unique().sort().to_list()


def fill_below_zero(series: pl.DataFrame) -> pl.DataFrame:
    """``series`` (``unique_id, ds, y``, sorted) with each series' rare periods below zero at
    :func:`below_zero`'s filled value (the median of the periods around them at or above zero): what the
    classification sees, so a return does not make a series that sold look silent."""
    if not signed_ids(series):
        return series
    return clean_history(series, series.get_column("unique_id").clear(), season_length=1, factor=0.0,
                         below=True)[0]


def clean_history(series: pl.DataFrame, ids: pl.Series, season_length: int, factor: float, below: bool = True
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(series with the one-offs of ``ids`` replaced, the replaced periods)``; with ``below`` every series'
    rare periods below zero (:func:`below_zero`) are replaced too: in ``ids`` by their level as one-offs are,
    elsewhere (intermittent series: mostly 0) by the median of the periods around them at or above zero.

    Args:
        series: ``unique_id, ds, y``, sorted by series and date.
        ids: the series to look at (the pipeline's smooth, erratic and short ones).
        season_length: periods per season.
        factor: :func:`one_offs`'s factor (at most 1: no one-off).
        below: replace the rare periods below zero.

    Returns:
        The series (every row, in order) and ``unique_id, ds, y, replaced_by`` of each one-off and period
        below zero replaced.
    """
    negative = signed_ids(series) if below else []
    uid = pl.col("unique_id")
    looked = series.filter(uid.is_in(ids.implode()) | uid.is_in(negative))
    y = looked.get_column("y").to_numpy()
    groups = looked.group_by("unique_id", maintain_order=True).len()
    lengths = groups.get_column("len").to_numpy().astype(np.int64)
    spikes = groups.get_column("unique_id").is_in(ids.implode()).to_numpy()
    rows, levels = [], []
    for start, n, spiky in zip(np.cumsum(lengths) - lengths, lengths, spikes):  # numpy slices, not a group_by
        seg = y[start:start + n]
        negatives, filled = below_zero(seg) if below else (np.zeros(n, dtype=bool), seg)
        # level: season-aware where one_offs computes one, else filled's value
        mask, level = one_offs(filled, season_length, factor) if spiky else (np.zeros(n, dtype=bool), filled)
        mask |= negatives
        if mask.any():
            rows.append(start + np.flatnonzero(mask))
            levels.append(level[mask])
    at = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    replaced = looked.select("unique_id", "ds", pl.col("y").cast(pl.Float64))[at].with_columns(
        replaced_by=pl.Series(np.concatenate(levels) if levels else np.zeros(0), dtype=pl.Float64))
    if not replaced.height:
        return series, replaced
    cleaned = series.join(replaced.select("unique_id", "ds", "replaced_by"), on=["unique_id", "ds"], how="left",
                          maintain_order="left").select(
        "unique_id", "ds", y=pl.coalesce("replaced_by", "y"))
    return cleaned, replaced
