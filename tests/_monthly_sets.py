"""Seeded monthly series in ``bench/accuracy.py``'s ``DataSet``, for the tests of the benchmark tools."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from bench.accuracy import DataSet


def monthly_set(count: int, months: int, h: int, spike: int | None = None) -> DataSet:
    """``count`` monthly series of ``months`` months from January 2000, series ``k`` a trend of ``k + 1`` a
    month from 300 with a season of amplitude 30 and noise of sd 8 (seed ``k``), the last ``h`` months held
    out; with ``spike``, series 1's month ``spike`` at 4× (a one-off)."""
    rows = []
    for k in range(count):
        t = np.arange(months)
        y = 300 + (k + 1) * t + 30 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(k).normal(0, 8, months)
        if k == 1 and spike is not None:
            y[spike] *= 4
        last = date(2000 + (months - 1) // 12, (months - 1) % 12 + 1, 1)
        rows.append(pl.DataFrame({"unique_id": f"s{k}", "ds": pl.date_range(date(2000, 1, 1), last, "1mo",
                                                                             eager=True), "y": y}))
    whole = pl.concat(rows)
    return DataSet("toy", whole.group_by("unique_id", maintain_order=True).head(months - h),
                   whole.group_by("unique_id", maintain_order=True).tail(h), h, 12, 12, "1mo")
