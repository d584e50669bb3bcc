"""Bands of odd but valid series over a grid of history lengths and horizons.

Usage: ``python bench/odd_shapes.py [--freqs 1mo 1q 1w]``

Forecasts ``forecasting.synthetic.odd_series`` (constant, one sale, a ×100 step, a one-off spike, 1e9 and 1e-3
scales, a decline to zero, 5% growth a period, empty season thirds, negative values: ten series) with the
default configuration at every length × horizon of :data:`GRID`, and prints per run whether every quantile is
finite, ≥ 0 and ordered, the worst q99 against the larger of the series' mean and its history's largest value
(``tests/test_forecasting_calibration.py`` bounds it at 100 for five of these runs), the series it belongs to,
the worst of the other nine, and the CPU seconds. The lengths straddle the backtest's window counts (0, 1, 2, 3
windows at each horizon): stop 36 found a run where no series has two windows (docs/forecast-intervals.md,
"Stop 36: one backtest window each"). Needs no data; writes no file.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from forecasting import ForecastConfig, forecast_demand
from forecasting.synthetic import odd_series

# freq: (season, the date step, lengths, horizons)
GRID = {
    "1mo": (12, "1mo", (20, 26, 30, 40, 50, 70), (6, 12, 18, 24)),
    "1q": (4, "3mo", (10, 14, 18, 24, 40), (4, 8, 12)),
    "1w": (52, "1w", (60, 90, 110, 140, 200), (13, 26, 52)),
}


def run(freq: str, periods: int, horizon: int) -> dict:
    season, step, _, _ = GRID[freq]
    history = odd_series(periods, season, step)
    start = time.process_time()
    fc = forecast_demand(history, horizon, ForecastConfig(freq=freq, season_length=season, n_jobs=1)).forecast
    cpu = time.process_time() - start
    q = fc.select(sorted(c for c in fc.columns if c.startswith("q"))).to_numpy()
    ordered = bool(np.isfinite(q).all() and (q >= 0).all()
                   and (np.diff(q, axis=1) >= -1e-9 * np.abs(q[:, :-1]).clip(1)).all())
    top = history.group_by("unique_id").agg(top=pl.col("y").max())
    worst = fc.join(top, on="unique_id").group_by("unique_id").agg(
        ratio=(pl.col("q99") / pl.max_horizontal("mean", "top")).max()).sort("ratio", descending=True)
    return {"freq": freq, "periods": periods, "h": horizon, "ordered": ordered,
            "worst": worst.item(0, "ratio"), "series": worst.item(0, "unique_id"),
            "others": worst.item(1, "ratio"), "cpu_s": round(cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--freqs", nargs="+", default=list(GRID), choices=list(GRID))
    args = parser.parse_args()
    rows = [run(freq, n, h) for freq in args.freqs for n in GRID[freq][2] for h in GRID[freq][3]]
    table = pl.DataFrame(rows).with_columns(pl.col("worst", "others").round(2))
    with pl.Config(tbl_rows=-1):
        print(table)
    print(f"every run ordered: {table['ordered'].all()}; worst q99 / max(mean, top): {table['worst'].max():.2f}")


if __name__ == "__main__":
    main()
