"""The benchmark tools that rebuild the pipeline's steps keep up with it: ``bench/selection_rules.py``'s one
pass forecasts what ``forecast_demand`` does, one-offs included, and ``bench/bom_demo.py`` reads the default
demo's packs as their vaccines (stop 41: both had stopped, on ``_chosen_backtest``'s ``outliers`` since stop 35
and on the packs per market since they became the demo's default). Importing any tool leaves ``bench/`` off the
import path: its ``distributed.py`` would shadow dask's package for every later test of the same worker."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import polars as pl

from _monthly_sets import monthly_set
from bench.bom_demo import _as_packs, _as_vaccines
from bench.selection_rules import fit_once
from data_contracts import schema
from demo.network import demo_network
from forecasting import ForecastConfig, forecast_demand

H = 6


def test_selection_rules_one_pass_forecasts_what_the_pipeline_does():
    ds = monthly_set(5, 72, H, spike=50)
    result = forecast_demand(ds.train, H, ForecastConfig(freq=ds.freq, season_length=ds.season, n_jobs=1))
    assert result.outliers.height == 1  # the 4× month, fitted at its level by both
    rebuilt = fit_once(ds, 1)["asrun"].sort("unique_id", "ds")
    assert rebuilt.equals(result.forecast.select("unique_id", "ds", "mean").sort("unique_id", "ds"))


def test_bom_demo_reads_a_pack_per_market_as_its_vaccine_and_back():
    one_pack = demo_network(levels=True)
    packs = demo_network(levels=True, regional_packs=True)
    sites = packs[schema.SITES.name].get_column("site_id").to_list()
    items = one_pack[schema.PRODUCTS.name].get_column("product_id").to_list()
    vaccines = [p for p in items if p.startswith("VAC-")]
    plain = pl.DataFrame({"product_id": [v for v in vaccines for _ in sites], "site_id": sites * len(vaccines),
                          "mean": 1.0})
    mapped = _as_packs(plain, packs).with_columns(vaccine=plain.get_column("product_id"))
    sold = mapped.filter(pl.col("product_id") != pl.col("vaccine"))  # the vaccine × DCs with a market's pack
    assert sold.height >= plain.height // 2
    assert sold.get_column("product_id").is_in(packs[schema.PRODUCTS.name]["product_id"].implode()).all()
    back = _as_vaccines(sold.drop("vaccine"), one_pack)
    assert back.get_column("product_id").equals(sold.get_column("vaccine"), check_names=False)
    assert _as_vaccines(plain, one_pack).equals(plain)  # a one-pack run's forecast is read as it is


def test_importing_the_tools_leaves_their_folder_off_the_import_path():
    folder = Path(__file__).resolve().parents[1] / "bench"
    environ = dict(os.environ)  # bench/prefect_overhead.py sets a Prefect log level as it is imported
    try:
        for tool in sorted(folder.glob("*.py")):  # each as the tests import one: bench.<name>
            importlib.import_module(f"bench.{tool.stem}")
            assert all(Path(p or ".").resolve() != folder for p in sys.path), tool.name
    finally:
        os.environ.clear()
        os.environ.update(environ)
