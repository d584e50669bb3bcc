"""Scale benchmark: 10,000 weekly product × DC series of 3 years, horizon 26, with backtest selection.

Usage: ``python bench/scale.py [--products 2000] [--dcs 5] [--n-jobs 2] [--baseline-series N]
[--config KEY=JSON ...] [--synthetic N] [--baseline-ref REF [--repeat K]]``

Builds the demo network (``demo.network.demo_network``), turns its orders into weekly series, runs
``forecasting.forecast_demand`` (classification, 3-window rolling-origin backtest of every candidate,
champion, conformal quantiles) and, in the same process, plain
``StatsForecast([AutoETS(season_length=52), AutoTheta(season_length=52)], n_jobs=2).forecast`` (no
backtest, no selection). Prints wall time, CPU time (this process and its workers), cores busy
(CPU / wall), peak resident memory, and the wall-time ratio. ``--baseline-series N`` times the baseline
on an evenly spaced sample of about N series only and scales its time linearly (printed as an extrapolation).
``--config`` overrides plantwin's ForecastConfig (e.g. ``selection_strategy='"evidence"'``) to compare costs.
``--synthetic N`` forecasts N ``forecasting.synthetic`` series of every kind (156 weeks, seed 11) instead of
the demo network: ``--synthetic 200`` is the unit tests' demo-sized set.
``--baseline-ref REF`` (e.g. ``main``) instead times ``forecast_demand`` of that git commit's code (``git archive``
into a temporary folder, same virtualenv) against this tree's on the same series and config, each in its own
fresh process, alternating ``--repeat`` times (baseline first), and prints the CPU ratio of each pair and how
far the two forecasts differ (models chosen, largest |mean| and quantile difference); no statsforecast baseline.
Targets: under 10 minutes wall and 4 GiB peak for 10,000 series on the 2-core machine; the demo's size
(``--synthetic 200``) under 40 CPU s, i.e. 0.2 CPU s a series (printed as the CPU-per-series goal).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.refs import export_ref  # noqa: E402
from forecasting import ForecastConfig, forecast_demand, to_series, weekly_demand  # noqa: E402
from forecasting.synthetic import KINDS, synthetic_series  # noqa: E402
from demo.network import DEMO_RUN_DATE, demo_network  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
H = 26
CPU_PER_SERIES_GOAL = 0.2  # the demo's size, 200 series, in under 40 CPU s


def synthetic(n: int) -> pl.DataFrame:
    """The unit tests' demo-sized set: n series of every kind, 182 weeks less the last 26 of each."""
    full = synthetic_series(n, 182, seed=11, kinds=KINDS, new_weeks=34)
    cut = full.group_by("unique_id").agg(pl.col("ds").max() - pl.duration(weeks=H)).rename({"ds": "cut"})
    return full.join(cut, on="unique_id").filter(pl.col("ds") <= pl.col("cut")).drop("cut")


class Meter:
    """Wall and CPU time (self + finished children) of a block."""

    def __enter__(self) -> Meter:
        self.wall0 = time.perf_counter()
        self.cpu0 = self._cpu()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = self._cpu() - self.cpu0

    @staticmethod
    def _cpu() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def line(self, label: str) -> str:
        busy = self.cpu / self.wall
        return f"{label:34s} wall {self.wall:7.1f} s   CPU {self.cpu:7.1f} s   cores busy {busy:4.2f}"


class TreeMemory(threading.Thread):
    """Samples the summed RSS of this process and all its descendants every 0.5 s (Linux /proc)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    @staticmethod
    def _tree_rss() -> int:
        parents, rss = {}, {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        tree, frontier = {os.getpid()}, [os.getpid()]
        while frontier:
            pid = frontier.pop()
            kids = [p for p, pp in parents.items() if pp == pid and p not in tree]
            tree.update(kids)
            frontier.extend(kids)
        return sum(rss.get(p, 0) for p in tree)

    def run(self) -> None:
        while not self.stop.wait(0.5):
            self.peak = max(self.peak, self._tree_rss())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--dcs", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--baseline-series", type=int, default=0, help="0 = all series")
    parser.add_argument("--config", nargs="*", default=[], metavar="KEY=JSON",
                        help="ForecastConfig overrides, e.g. selection_strategy='\"evidence\"'")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="forecast N synthetic series of every kind instead of the demo network")
    parser.add_argument("--baseline-ref", default=None, metavar="REF",
                        help="time this git ref's forecast_demand against this tree's (no statsforecast baseline)")
    parser.add_argument("--repeat", type=int, default=1, help="with --baseline-ref: alternated pairs of runs")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.config)}
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")

    with Meter() as m_data:
        if args.synthetic:
            series, lines = synthetic(args.synthetic), "synthetic, no"
        else:
            net = demo_network(products=args.products, dcs=args.dcs)
            series, lines = to_series(weekly_demand(net["orders"], DEMO_RUN_DATE)), net["orders"].height
    n = series.get_column("unique_id").n_unique()
    print(f"{n} series, {series.height} weeks in all, {lines} order lines")
    print(m_data.line("demo data + weekly series"))
    if args.baseline_ref:
        against_ref(series, {"n_jobs": args.n_jobs} | overrides, args.baseline_ref, args.repeat)
        return

    config = ForecastConfig(**({"n_jobs": args.n_jobs} | overrides))
    memory = TreeMemory()
    memory.start()
    with Meter() as m_ours:
        result = forecast_demand(series, H, config)
    memory.stop.set()
    print(m_ours.line(f"plantwin forecast_demand (n_jobs {args.n_jobs})"))
    counts = result.series.group_by("series_class").len().sort("len", descending=True)
    print("  classes:", ", ".join(f"{c} {k}" for c, k in counts.rows()))
    print(f"  backtest rows {result.backtest.height}, forecast rows {result.forecast.height}")
    per_series = m_ours.cpu / n
    print(f"  CPU per series {per_series:.3f} s; goal under {CPU_PER_SERIES_GOAL} s: "
          f"{'met' if per_series < CPU_PER_SERIES_GOAL else 'NOT met'}")
    main_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    print(f"  peak RSS of the process tree while forecasting: {memory.peak / 2**30:.2f} GiB; "
          f"main process peak over the run so far {main_peak:.2f} GiB")

    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta

    ids = series.get_column("unique_id").unique().sort()
    # an evenly spaced sample over the sorted ids covers every family (they are prefixes of the ids)
    subset = ids if not args.baseline_series else ids.gather_every(max(1, ids.len() // args.baseline_series))
    frame = series.filter(pl.col("unique_id").is_in(subset.implode()))
    sf = StatsForecast([AutoETS(season_length=52), AutoTheta(season_length=52)], freq="1w", n_jobs=2)
    with Meter() as m_base, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf.forecast(h=H, df=frame)
    factor = n / subset.len()
    print(m_base.line(f"baseline AutoETS(52)+AutoTheta(52) on {subset.len()}"))
    base_wall = m_base.wall * factor
    note = "" if factor == 1 else f" (extrapolated ×{factor:.1f} from {subset.len()} series)"
    print(f"baseline wall for {n} series: {base_wall:.1f} s{note}")
    print(f"ratio plantwin / baseline wall: {m_ours.wall / base_wall:.2f}; "
          f"CPU: {m_ours.cpu / (m_base.cpu * factor):.2f}")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (other work on the machine inflates wall)")


# Run in a fresh process whose working directory is a code tree: forecast the series file with the config and
# write the forecast and the series' models next to it, and the CPU (self + workers) and wall it took.
_CHILD = """
import json, resource, sys, time, warnings
sys.path.insert(0, ".")
import polars as pl
from forecasting import ForecastConfig, forecast_demand
warnings.simplefilter("ignore")
series, config, out = pl.read_parquet(sys.argv[1]), ForecastConfig(**json.loads(sys.argv[2])), sys.argv[3]
def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
cpu0, wall0 = cpu(), time.perf_counter()
result = forecast_demand(series, int(sys.argv[4]), config)
cpu1, wall1 = cpu(), time.perf_counter()
result.forecast.write_parquet(out + ".forecast.parquet")
result.series.select("unique_id", "model", "selection").write_parquet(out + ".series.parquet")
print(json.dumps({"cpu": cpu1 - cpu0, "wall": wall1 - wall0}))
"""


def against_ref(series: pl.DataFrame, config: dict, ref: str, repeat: int) -> None:
    """``forecast_demand`` of ``ref``'s code and of this tree on ``series``, alternated ``repeat`` times."""
    with tempfile.TemporaryDirectory(prefix="scale-ref-") as tmp:
        base = export_ref(ref, Path(tmp) / "base")
        path = Path(tmp) / "series.parquet"
        series.write_parquet(path)
        runs: dict[str, list[dict]] = {ref: [], "this tree": []}
        for k in range(repeat):
            for label, code in ((ref, base), ("this tree", ROOT)):
                out = str(Path(tmp) / f"{'base' if code == base else 'tree'}")
                done = subprocess.run([sys.executable, "-c", _CHILD, str(path), json.dumps(config), out, str(H)],
                                      cwd=code, check=True, capture_output=True, text=True)
                runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
                m = runs[label][-1]
                print(f"run {k + 1}, {label:10s}: CPU {m['cpu']:7.1f} s, wall {m['wall']:7.1f} s, "
                      f"load average {os.getloadavg()[0]:.2f}")
            print(f"  pair {k + 1}: CPU ratio this tree / {ref} {runs['this tree'][-1]['cpu'] / runs[ref][-1]['cpu']:.3f}")
        cpu = {label: sum(m["cpu"] for m in ms) for label, ms in runs.items()}
        print(f"CPU over {repeat} pair(s): {ref} {cpu[ref]:.1f} s, this tree {cpu['this tree']:.1f} s, "
              f"ratio {cpu['this tree'] / cpu[ref]:.3f}")
        _compare(Path(tmp) / "base", Path(tmp) / "tree")


def _compare(base: Path, tree: Path) -> None:
    """How far the last two runs' forecasts differ: chosen models, and the largest differences."""
    keys = ["unique_id", "ds"]
    a = pl.read_parquet(f"{base}.forecast.parquet").sort(keys)
    b = pl.read_parquet(f"{tree}.forecast.parquet").sort(keys)
    models = pl.read_parquet(f"{base}.series.parquet").join(
        pl.read_parquet(f"{tree}.series.parquet"), on="unique_id", how="full", suffix="_tree")
    moved = models.filter((pl.col("model") != pl.col("model_tree")) | (pl.col("selection") != pl.col("selection_tree")))
    values = [c for c in a.columns if c not in keys and a.schema[c].is_float() and c in b.columns]
    joined = a.join(b, on=keys, how="full", suffix="_tree", validate="1:1")
    scale = joined.get_column("mean").abs().mean() or 1.0
    worst = {c: (joined.get_column(c) - joined.get_column(f"{c}_tree")).abs().max() for c in values}
    print(f"forecasts: {a.height} rows against {b.height}; models or selection changed on {moved.height} "
          f"of {models.height} series; bit-identical: {a.equals(b)}")
    print("  largest |difference|: " + ", ".join(f"{c} {v:.3g}" for c, v in worst.items() if c in ("mean", "q10", "q50", "q90"))
          + f" (mean |forecast| {scale:.3g})")


if __name__ == "__main__":
    main()
