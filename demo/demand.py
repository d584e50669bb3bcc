"""Demand of the demo network: weekly mean patterns per product × DC and the order lines drawn from them.

Part of the seeded demo generator (:mod:`demo.network`). Weekly demand is drawn per series and week
from the product's pattern (seasonal flu, trending mAbs, intermittent ERTs, smooth or erratic vaccines and
biologics, a launch, a phase-out), then split into a Poisson number of order lines. Everything is numpy
arrays over (series, week) and over lines; no Python loop per order row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl

from data_contracts import schema
from demo.catalog import Catalog

__all__ = ["Demand", "build_demand", "FUTURE_WEEKS", "BOOK_WEEKS", "LAUNCH_WEEKS", "PHASE_OUT_END_WEEKS"]

#: weeks after run_date whose mean demand is modelled (capacity sizing, stock cover)
FUTURE_WEEKS = 52
#: weeks after run_date for which already-booked orders (known future demand) are drawn
BOOK_WEEKS = 10
#: weeks of history of a launch product (< 26)
LAUNCH_WEEKS = 16
#: a phase-out product's last demand is this many weeks before run_date
PHASE_OUT_END_WEEKS = 12
_EPOCH = date(1970, 1, 1)
_CANCEL_SHARE = 0.02
_LATE_SHARE = 0.03
_FLU_PEAK_ISO_WEEK = 41
_FLU_KAPPA = 3.5


@dataclass(frozen=True)
class Demand:
    """Series (product × DC) of the network, their weekly mean demand and the order lines.

    Attributes:
        series_product: product index of each series.
        series_dc: DC index (0-based among DCs) of each series.
        mean: weekly mean demand, shape (series, weeks_history + FUTURE_WEEKS); column ``weeks_history``
            is the week of run_date.
        orders: the order lines, in the ``orders`` contract.
    """

    series_product: np.ndarray
    series_dc: np.ndarray
    mean: np.ndarray
    orders: pl.DataFrame

    def future_mean(self, weeks: int = FUTURE_WEEKS) -> np.ndarray:
        """Mean weekly demand per series over the first ``weeks`` weeks from run_date."""
        h = self.mean.shape[1] - FUTURE_WEEKS
        return self.mean[:, h : h + weeks].mean(axis=1)


def _days(d: date) -> int:
    return (d - _EPOCH).days


def _iso_week_of_year(mondays: list[date]) -> np.ndarray:
    return np.array([m.isocalendar()[1] for m in mondays], dtype=float)


def _shape(cat: Catalog, weeks_history: int, mondays: list[date]) -> np.ndarray:
    """Per product × week multiplier of the product's level (pattern, trend, launch, phase-out)."""
    n_w = len(mondays)
    t = np.arange(n_w, dtype=float) - weeks_history  # 0 = run_date week
    woy = _iso_week_of_year(mondays)
    angle = 2 * np.pi * woy / 52.18
    flu = 0.04 + np.exp(_FLU_KAPPA * (np.cos(angle - 2 * np.pi * _FLU_PEAK_ISO_WEEK / 52.18) - 1))
    flu = flu / flu.mean()
    school = 1 + 0.15 * np.cos(angle - 2 * np.pi * 33 / 52.18)
    travel = 1 + 0.25 * np.cos(angle - 2 * np.pi * 26 / 52.18)
    trend = np.maximum(0.2, 1 + cat.trend[:, None] * t[None, :] / 52)
    pat = cat.pattern[:, None]
    shape = np.select(
        [pat == "seasonal_flu", pat == "smooth", pat == "erratic"],
        [flu[None, :] * trend, school[None, :] * trend, travel[None, :] * trend],
        trend,
    )
    t_launch = -LAUNCH_WEEKS
    ramp = np.where(t >= t_launch, 1 - np.exp(-(t - t_launch + 1) / 6), 0.0)
    t_end = -PHASE_OUT_END_WEEKS
    t_start = max(t_end - 30, -weeks_history)
    decay = np.where(t < t_start, 1.0, np.where(t < t_end, np.exp(-(t - t_start) / 7), 0.0))
    shape = np.where(cat.launch[:, None], shape * ramp[None, :], shape)
    return np.where(cat.phase_out[:, None], shape * decay[None, :], shape)


def _series(cat: Catalog, dcs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Active product × DC pairs (most products at most DCs) and their scale factor."""
    n_p = len(cat.pattern)
    dc_weight = rng.uniform(0.5, 1.5, dcs)
    active = rng.random((n_p, dcs)) < np.where(cat.pattern == "intermittent", 0.7, 0.88)[:, None]
    factor = dc_weight[None, :] * rng.lognormal(0.0, 0.3, (n_p, dcs))
    active[np.arange(n_p), np.argmax(factor, axis=1)] = True  # every product is sold somewhere
    p_idx, d_idx = np.nonzero(active)
    return p_idx, d_idx, factor[p_idx, d_idx]


def _weekly_quantities(
    mean: np.ndarray, occ: np.ndarray, cv: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw whole-unit weekly demand: Bernoulli(occ) × Gamma(mean / occ, cv)."""
    k = 1.0 / cv**2
    scale = mean / (occ * k)[:, None]
    size = rng.gamma(np.broadcast_to(k[:, None], mean.shape), np.maximum(scale, 1e-12))
    hit = rng.random(mean.shape) < occ[:, None]
    return np.where(hit & (mean > 0), np.round(size), 0.0)


def _split_lines(
    q_cell: np.ndarray, n_lines: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split each cell's quantity into its lines by random weights; returns (cell index, qty) per line."""
    cell = np.repeat(np.arange(len(q_cell)), n_lines)
    w = rng.exponential(size=len(cell))
    cs = np.cumsum(w)
    end = np.cumsum(n_lines) - 1
    start = end - n_lines + 1
    before = np.where(start > 0, cs[np.maximum(start - 1, 0)], 0.0)
    frac = (cs - before[cell]) / (cs[end] - before)[cell]
    cum_q = np.round(q_cell[cell] * frac)
    first = np.zeros(len(cell), dtype=bool)
    first[start] = True
    prev = np.where(first, 0.0, np.concatenate([[0.0], cum_q[:-1]]))
    return cell, cum_q - prev


def build_demand(cat: Catalog, dcs: int, dc_ids: list[str], weeks_history: int, run_date: date,
                 rng: np.random.Generator) -> Demand:
    """Series, weekly means and order lines of the network.

    History weeks are the ``weeks_history`` Mondays before run_date; orders booked by run_date for the
    next ``BOOK_WEEKS`` weeks are kept as known future demand. No order is dated after run_date.
    """
    n_w = weeks_history + FUTURE_WEEKS
    mondays = [run_date + timedelta(weeks=w - weeks_history) for w in range(n_w)]
    p_idx, d_idx, factor = _series(cat, dcs, rng)
    shape = _shape(cat, weeks_history, mondays)
    mean = (cat.level[p_idx] * factor)[:, None] * shape[p_idx]

    n_draw = weeks_history + BOOK_WEEKS
    m_draw = mean[:, :n_draw]
    q = _weekly_quantities(m_draw, cat.occurrence[p_idx], cat.cv[p_idx], rng)
    s_idx, w_idx = np.nonzero(q)
    q_cell = q[s_idx, w_idx]
    avg = mean[:, :weeks_history].mean(axis=1)
    avg = np.where(avg > 0, avg, mean.max(axis=1))
    rel = np.clip(m_draw[s_idx, w_idx] / avg[s_idx], 0.0, 4.0)
    n_lines = 1 + rng.poisson(cat.lines[p_idx][s_idx] * np.sqrt(rel))
    n_lines = np.minimum(n_lines, q_cell.astype(np.int64))
    cell, qty = _split_lines(q_cell, n_lines, rng)

    n = len(cell)
    series = s_idx[cell]
    week = w_idx[cell]
    run_day = _days(run_date)
    req = run_day + 7 * (week - weeks_history)
    late = rng.random(n) < _LATE_SHARE
    lead = np.maximum(1, np.round(rng.gamma(2.0, cat.lead_days[p_idx][series] / 2.0)))
    od = np.where(late, req + rng.integers(1, 11, n), req - lead)
    cancelled = rng.random(n) < _CANCEL_SHARE
    backorder = (rng.random(n) < 0.05) & (req >= run_day - 14)
    keep = (qty > 0) & (od <= run_day)
    status = np.where(cancelled, 2, np.where((req >= run_day) | backorder, 0, 1))[keep]
    # order lines by entry date, then series and week; one int64 key sorts 7M rows in ~1 s (lexsort: ~6 s)
    n_s, n_wd = len(p_idx), n_draw
    sort_key = ((od[keep] - od.min()) * n_s + series[keep]) * n_wd + week[keep]
    order = np.argsort(sort_key, kind="stable")
    orders = _orders_frame(
        od[keep][order], req[keep][order], p_idx[series[keep][order]], d_idx[series[keep][order]],
        qty[keep][order], status[order], cat.products["product_id"], pl.Series(dc_ids, dtype=pl.String),
    )
    return Demand(series_product=p_idx, series_dc=d_idx, mean=mean, orders=orders)


def _orders_frame(od: np.ndarray, req: np.ndarray, prod: np.ndarray, dc: np.ndarray, qty: np.ndarray,
                  status: np.ndarray, product_ids: pl.Series, dc_ids: pl.Series) -> pl.DataFrame:
    width = max(8, len(str(len(od))))
    statuses = pl.Series(["open", "shipped", "cancelled"], dtype=pl.String)
    frame = pl.DataFrame(
        {
            "order_id": pl.int_range(1, len(od) + 1, eager=True).cast(pl.String).str.zfill(width),
            "order_date": pl.Series(od.astype(np.int32)).cast(pl.Date),
            "requested_week": pl.Series(req.astype(np.int32)).cast(pl.Date),
            "product_id": product_ids.gather(prod),
            "site_id": dc_ids.gather(dc),
            "quantity": qty,
            "status": statuses.gather(status),
        }
    )
    return frame.with_columns(("SO-" + pl.col("order_id")).alias("order_id")).select(
        schema.ORDERS.column_names
    ).cast(schema.ORDERS.schema)
