"""One-off spikes and dips in a demand history, replaced by their local level before the models fit it.

A single order many times the usual (a tender, a stockpile, a quantity typed with an extra digit) or a
period with almost none (an outage, a large order cancelled) is one draw that will not repeat, but every level-following model takes it as news: on
seeded weekly series (noise CV 0.1, a 52-week season) one period at 3× its level five weeks before the
origin lifted the next 26 weeks' forecast by 4–26%, and at 10× it more than doubled the 80% band's width
(docs/forecast-accuracy.md, "Stop 35"). The plan then makes and holds stock for demand that was never
coming.

:func:`one_offs` finds such periods and what to put in their place; the models (and the backtest's fits)
see the cleaned history, while the backtest still scores every forecast against what was really ordered,
so the spikes that did happen stay in the errors the bands are calibrated on.

A period is a one-off when all of these hold:

- it is at least ``factor`` times its local level, or at most 1/``factor`` of it (2.5 by default:
  ``ForecastConfig.outlier_factor``), and more than 4 robust standard deviations from it (1.4826 × the
  median absolute deviation of every period's log ratio to its level), so a series that swings this much
  every few periods keeps its swings. The local level is the median of the 3 periods before it and the 3
  after, on the series divided by robust seasonal indices (per position of the season, the median ratio to
  a centred median over a season) where the season is short (monthly, quarterly) and
  :func:`forecasting.seasonal.is_seasonal` finds one;
- it lies more than 4 Poisson standard deviations (√level) from its level in units: in a season's trough 8
  orders where 2.3 are usual is counting noise (a PBS safety-net series' March);
- it stands as far from the median of the 3 periods before it as from that of the 3 after it, in the same
  direction: a period just past a step stands apart from its neighbours' median (half of them on each
  level) but not from its own side;
- it is in a run of at most two such periods (a longer run is an episode: a level shift or a season, which
  the models must see);
- no other season stood above (below) its level, within a period of the same position, by 0.6 of the
  first rule's bar and 3 robust standard deviations: a peak that comes back is the series' own, even where
  the season test found no season or another year's peak was lower (a weekly season is never divided out:
  2–3 seasons give each position too few values for a robust index);
- it is not among the last three periods, where a spike cannot yet be told from the first periods of a new
  level;
- it had demand (a zero period is intermittency's or a missing week's, both handled elsewhere).

On the visible sets' smooth, erratic and short series it replaces, in the periods the models see, 2 of
51,064 on M4 Weekly (2 series), 13 of 44,892 on M1 monthly (12 series), 1 of 8,320 on M1 quarterly, 2 of
44,457 on PBS, 2 of 1,248 on the pharmacy's weekly series and none of its daily ones; on the demo network 38
of 26,302 in 34 series (36 weeks far below their level, 32 of them holding a cancelled order line, and two
weeks many times theirs). On 1,000 seeded series of each shape (seasonal, trending, AR(1), random walk; CV
0.1–0.35, level 100) with normal noise it takes one period in 3,200 (16 weeks) to 26,000 (156 weeks); with
Student-t(5) noise, whose largest draws are isolated jumps of 2.5× and more, 0.10–0.18%.

Pure numpy and polars; no I/O.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from forecasting.seasonal import SHORT_SEASON_MAX, is_seasonal

__all__ = ["one_offs", "clean_history"]

WINDOW = 7  # periods in the centred median that is a period's local level
SIGMAS = 4.0  # robust standard deviations of the log ratio to the level a one-off lies beyond
MAX_RUN = 2  # the longest run of one-offs in a row; longer is an episode
MIN_PERIODS = 2 * WINDOW  # periods with demand a series needs to be looked at (the `short` class starts at 13 weeks)
_MAD_SIGMA = 1.4826  # the median absolute deviation of a normal sample, in standard deviations


def _centred_median(x: np.ndarray, width: int, itself: bool = True) -> np.ndarray:
    """Each value's centred running median over ``width`` (odd) values, the ends padded with the edge;
    without the value itself where ``itself`` is False (its neighbours' median: a period's ratio to a level it
    is part of is pulled toward 1, so the spread of those ratios understates the noise by about a quarter and
    4 of its standard deviations are 3 of the noise's: 0.3% of every normal period of CV 0.35 flagged)."""
    half = width // 2
    windows = sliding_window_view(np.pad(x, (half, half), mode="edge"), width)
    if not itself:
        windows = np.delete(windows, half, axis=1)
    return np.median(windows, axis=1)


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
    """Of the flagged periods, those whose position in another season (± one period) also stood above
    (below) its level by at least 0.6 × ``bar`` and 3 robust standard deviations: a peak that comes back is
    the series' own, even where the season test found no season or another year's peak was lower."""
    out = np.zeros(flag.size, dtype=bool)
    if m < 2:
        return out
    again = max(0.6 * bar, 3 * spread)
    for t in np.flatnonzero(flag):
        sign = np.sign(ratio[t])
        for k in range(t % m, flag.size, m):
            if abs(k - t) < m - 1:
                continue
            if (ratio[max(k - 1, 0):k + 2] * sign > again).any():
                out[t] = True
                break
    return out


def _apart_from_both_sides(x: np.ndarray, ratio: np.ndarray, bar: float) -> np.ndarray:
    """Whether each period stands ``bar`` (in log) above, or below, both the median of the three periods
    before it and that of the three after it: a period at a step stands apart from the neighbours' median
    (half on each level) but not from its own side's."""
    half = WINDOW // 2
    padded = np.pad(x, (half, half), mode="edge")
    windows = sliding_window_view(padded, WINDOW)
    before, after = np.median(windows[:, :half], axis=1), np.median(windows[:, half + 1:], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.log(x / np.maximum(before, after))
        high = np.log(x / np.minimum(before, after))
    sign = np.sign(ratio)
    return np.where(sign > 0, np.nan_to_num(low, nan=-np.inf) > bar, np.nan_to_num(-high, nan=-np.inf) > bar)


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
    level = _centred_median(x, WINDOW, itself=False)
    sold = (y > 0) & (level > 0)
    if sold.sum() < MIN_PERIODS:
        return none, y
    ratio = np.zeros(y.size)
    ratio[sold] = np.log(x[sold] / level[sold])
    spread = _MAD_SIGMA * np.median(np.abs(ratio[sold] - np.median(ratio[sold])))
    bar = max(SIGMAS * spread, np.log(factor))
    # and 4 Poisson standard deviations in units: 8 orders where 2.3 are usual is counting noise, not a one-off
    counted = np.abs(y - level * index) > SIGMAS * np.sqrt(np.maximum(level * index, 1.0))
    flag = _runs_at_most(sold & (np.abs(ratio) > bar) & counted, MAX_RUN)
    if not flag.any():  # most series: nothing stands out
        return flag, level * index
    flag &= _apart_from_both_sides(x, ratio, bar) & ~_recurring(ratio, flag, m, bar, spread)
    flag[y.size - WINDOW // 2:] = False
    return flag, level * index


def clean_history(series: pl.DataFrame, ids: pl.Series, season_length: int, factor: float
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(series with the one-offs of ``ids`` replaced, the replaced periods)``.

    Args:
        series: ``unique_id, ds, y``, sorted by series and date.
        ids: the series to look at (the pipeline's smooth, erratic and short ones).
        season_length: periods per season.
        factor: :func:`one_offs`'s factor.

    Returns:
        The series (every row, in order) and ``unique_id, ds, y, replaced_by`` of each one-off.
    """
    looked = series.filter(pl.col("unique_id").is_in(ids.implode()))
    y = looked.get_column("y").to_numpy()
    lengths = looked.group_by("unique_id", maintain_order=True).len().get_column("len").to_numpy().astype(np.int64)
    rows, levels = [], []
    for start, n in zip(np.cumsum(lengths) - lengths, lengths):  # numpy slices: a group_by loop gathers rows
        mask, level = one_offs(y[start:start + n], season_length, factor)
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
