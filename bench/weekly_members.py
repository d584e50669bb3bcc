"""Where the weekly default forecast's CPU goes: each member of ``Mean(DETS,DOT,DARIMA,MSTL_AAdN)`` at each
backtest origin and in the final fit, as the engine fits them (``backtest_refit: forms``).

Usage: ``python bench/weekly_members.py [--products 100] [--dcs 5] [--max-series 300]``

Builds the demo network's weekly series (the big network's generator, ``demo.network.demo_network``), keeps
the smooth and erratic ones with 156 weeks (those the weekly mean is the default for), and fits, one process,
per series: at the three backtest origins (78, 104 and 130 weeks for h 26) and on the whole 156 weeks,
DETS (form searched at the oldest origin and in the final fit, that form's parameters at the other two),
DARIMA (order searched at the oldest origin, that order's parameters elsewhere), DOT, and MSTL_AAdN both as
the registry builds it and by statsforecast's own MSTL path (``GuardedMSTL`` with the matrices switched off:
the code before stop 23; its matrices are built on first use, inside the timing). Prints CPU ms a series per member and origin, the shares, and the MSTL ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from demo.network import DEMO_RUN_DATE, demo_network  # noqa: E402
from forecasting import gradients, to_series, weekly_demand  # noqa: E402
from forecasting.classify import classify_series  # noqa: E402
from forecasting.models import GuardedMSTL, base_models  # noqa: E402
from forecasting.orders import model_order, with_arima_orders  # noqa: E402

H, FULL = 26, 156
ORIGINS = (FULL - 3 * H, FULL - 2 * H, FULL - H, FULL)  # three backtest windows 26 apart, then the final fit


class _StatsforecastMSTL(GuardedMSTL):
    """The member by statsforecast's MSTL path (pandas, statsmodels' STL): the code before stop 23."""

    def _fast(self) -> bool:
        return False


def _timed(fn) -> tuple[float, object]:
    c = time.process_time()
    out = fn()
    return time.process_time() - c, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--dcs", type=int, default=5)
    parser.add_argument("--max-series", type=int, default=300)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    gradients.install()  # as every forecast task does (forecasting/engine.py)
    print(f"load average {os.getloadavg()[0]:.2f} at start")
    series = to_series(weekly_demand(demo_network(products=args.products, dcs=args.dcs)["orders"], DEMO_RUN_DATE))
    classes = classify_series(series)
    keep = classes.filter(pl.col("series_class").is_in(["smooth", "erratic"])).get_column("unique_id")
    frame = series.filter(pl.col("unique_id").is_in(keep.implode()))
    ys = [y for _, g in frame.group_by("unique_id", maintain_order=True)
          if (y := g.get_column("y").to_numpy().astype(float)).size >= FULL][: args.max_series]
    ys = [y[-FULL:] for y in ys]
    print(f"{len(ys)} smooth or erratic demo series of {FULL} weeks; origins {ORIGINS[:3]}, final fit {FULL}")
    dets, dot, darima, mstl = base_models(("DETS", "DOT", "DARIMA", "MSTL_AAdN"), 52)
    old_mstl = _StatsforecastMSTL(season_length=52, trend_forecaster=mstl.trend_forecaster, alias="MSTL_AAdN")
    cpu = {name: np.zeros(len(ORIGINS)) for name in ("DETS", "DOT", "DARIMA", "MSTL_AAdN", "MSTL_AAdN before")}
    for y in ys:
        form = order = None
        for k, n in enumerate(ORIGINS):
            part = y[:n]
            searched = k in (0, len(ORIGINS) - 1)  # DETS searches its form at the oldest origin and the final fit
            model = dets if searched or form is None else with_arima_orders([dets], (("DETS", form),))[0]
            t, fitted = _timed(lambda m=model: m.new().fit(part))
            cpu["DETS"][k] += t
            form = model_order(fitted) if k == 0 else form
            model = darima if order is None else with_arima_orders([darima], (("DARIMA", order),))[0]
            t, fitted = _timed(lambda m=model: m.new().fit(part))
            cpu["DARIMA"][k] += t
            order = model_order(fitted) if k == 0 else order
            cpu["DOT"][k] += _timed(lambda: dot.forecast(part, H))[0]
            cpu["MSTL_AAdN"][k] += _timed(lambda: mstl.forecast(part, H))[0]
            cpu["MSTL_AAdN before"][k] += _timed(lambda: old_mstl.forecast(part, H))[0]
    total = sum(v.sum() for name, v in cpu.items() if name != "MSTL_AAdN before")
    before = total - cpu["MSTL_AAdN"].sum() + cpu["MSTL_AAdN before"].sum()
    print(f"{'ms a series':18s}" + "".join(f"{f'origin {n}':>12s}" for n in ORIGINS[:3]) + f"{'final':>12s}{'sum':>9s}"
          f"{'share':>8s}")
    for name, v in cpu.items():
        share = v.sum() / (before if name.endswith("before") else total)
        print(f"{name:18s}" + "".join(f"{1e3 * x / len(ys):12.2f}" for x in v) + f"{1e3 * v.sum() / len(ys):9.2f}"
              f"{share:8.1%}")
    print(f"the four members: {1e3 * total / len(ys):.1f} ms a series now, {1e3 * before / len(ys):.1f} with the "
          f"MSTL member as before: ratio {total / before:.3f}; MSTL member alone "
          f"{cpu['MSTL_AAdN'].sum() / cpu['MSTL_AAdN before'].sum():.3f}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
