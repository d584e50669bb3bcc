"""The benchmark tools that rebuild the pipeline's steps keep up with it: ``bench/selection_rules.py``'s one
pass forecasts what ``forecast_demand`` does, one-offs included, and ``bench/bom_demo.py`` reads the default
demo's packs as their vaccines (stop 41: both had stopped, on ``_chosen_backtest``'s ``outliers`` since stop 35
and on the packs per market since they became the demo's default). Importing any tool leaves ``bench/`` off the
import path: its ``distributed.py`` would shadow dask's package for every later test of the same worker."""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from _monthly_sets import monthly_set
from bench.accuracy import DataSet, add_set_options, chosen_sets, file_kinds, load_file, scorable, shortened
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


def _numbered(ds) -> pl.DataFrame:
    """A set as M1's file gives it: each series' periods numbered from 0, ``split`` train / test."""
    both = pl.concat([ds.train.with_columns(split=pl.lit("train")),
                      ds.test.with_columns(split=pl.lit("test"))])
    return both.sort("unique_id", "ds").select("unique_id", t=pl.int_range(pl.len()).over("unique_id"), y="y",
                                               split="split")


def test_accuracy_scores_any_long_file_as_a_set(tmp_path):
    """``bench/accuracy.py --file`` reads a set as the held-out sets and a user's data come: numbered periods
    with a split column (M1's shape), or dates with no split and the h given; each gives the set's own split,
    frequency, season and M4 ``m``, and a file it cannot read says what to give."""
    toy = monthly_set(3, 40, 8)
    numbered = tmp_path / "numbered.csv"
    _numbered(toy).write_csv(numbered)
    dated = tmp_path / "dated.parquet"
    pl.concat([toy.train, toy.test]).with_columns(pl.col("ds").dt.month_end()).write_parquet(dated)
    for ds in (load_file(numbered, freq="1mo"), load_file(dated, own_h=8)):
        assert (ds.h, ds.season, ds.mase_m, ds.freq) == (8, 12, 12, "1mo")
        for got, want in ((ds.train, toy.train), (ds.test, toy.test)):
            assert got.drop("ds").equals(want.drop("ds"))
    assert load_file(numbered, freq="1mo").train["ds"][0].isoformat() == "2000-01-01"
    assert load_file(numbered, h=4, freq="1q").test.height == 12  # --horizon over the file's own h
    assert (load_file(numbered, freq="1w").mase_m, load_file(numbered, freq="1w").season) == (1, 52)
    with pytest.raises(SystemExit, match="its periods are numbers"):
        load_file(numbered)
    with pytest.raises(SystemExit, match="--file-h"):
        load_file(dated)


def test_a_file_of_several_frequencies_is_a_set_of_each(tmp_path):
    """A long file in M1's whole shape (its ``frequency`` column holds monthly and quarterly series, with
    different h) is scored as a set of each frequency, dated and split by it; one h per set still holds."""
    monthly, quarterly = monthly_set(2, 40, 8), monthly_set(3, 30, 4)
    both = pl.concat([_numbered(monthly).with_columns(frequency=pl.lit("monthly")),
                      _numbered(quarterly).with_columns(frequency=pl.lit("quarterly"),
                                                        unique_id="q" + pl.col("unique_id"))])
    path = tmp_path / "mixed.csv"
    both.write_csv(path)
    assert file_kinds(path) == ["monthly", "quarterly"]
    m, q = load_file(path, kind="monthly"), load_file(path, kind="quarterly")
    assert (m.name, m.h, m.season, m.mase_m, m.freq) == ("mixed_monthly", 8, 12, 12, "1mo")
    assert (q.name, q.h, q.season, q.mase_m, q.freq) == ("mixed_quarterly", 4, 4, 4, "1q")
    assert q.train["unique_id"].unique().sort().to_list() == ["qs0", "qs1", "qs2"]
    assert q.train.drop("ds", "unique_id").equals(quarterly.train.drop("ds", "unique_id"))
    assert q.train.filter(pl.col("unique_id") == "qs0")["ds"].dt.month().head(3).to_list() == [1, 4, 7]
    assert load_file(path, kind="monthly", freq="1w").freq == "1w"  # --file-freq over the one it names
    parser = argparse.ArgumentParser()
    add_set_options(parser)
    args = parser.parse_args(["--file", str(path)])
    assert [(name, load(None).h) for name, load in chosen_sets(parser, args)] == [("mixed_monthly", 8),
                                                                                  ("mixed_quarterly", 4)]
    with pytest.raises(SystemExit, match="one h is scored"):
        load_file(path, freq="1mo")


def test_min_length_cuts_each_history_to_a_seeded_length_between_it_and_its_own():
    """``--min-length N`` (a held-out set's spread of lengths made from a visible set): each training part
    keeps its last L periods, L from N to its own length, the same for the same seed and another for
    another; the held-out part is untouched, and a history already shorter than N is left whole."""
    toy = monthly_set(40, 68, 8)  # 60 months of training each
    short = toy.train.filter(pl.col("unique_id") == "s0").tail(20)
    toy = DataSet(toy.name, pl.concat([short, toy.train.filter(pl.col("unique_id") != "s0")]), toy.test,
                  toy.h, toy.season, toy.mase_m, toy.freq)
    cut = shortened(toy, None, 30, seed=1)
    lengths = dict(cut.train.group_by("unique_id").len().iter_rows())
    assert lengths["s0"] == 20
    others = [n for k, n in lengths.items() if k != "s0"]
    assert min(others) >= 30 and max(others) <= 60 and len(set(others)) > 10
    ends = cut.train.group_by("unique_id").agg(pl.col("ds").max(), pl.col("y").last()).sort("unique_id")
    assert ends.equals(toy.train.sort("unique_id", "ds").group_by("unique_id")
                       .agg(pl.col("ds").max(), pl.col("y").last()).sort("unique_id"))
    assert cut.test.equals(toy.test)
    assert shortened(toy, None, 30, seed=1).train.equals(cut.train)
    assert not shortened(toy, None, 30, seed=2).train.equals(cut.train)
    assert shortened(toy, 40, 30, seed=1).train.group_by("unique_id").len()["len"].max() <= 40


def test_a_set_is_scored_without_its_flat_histories():
    """``scorable``: a series whose training part never changes at the MASE lag has no MASE scale, so it is
    left out of both parts (``bench/accuracy.py`` and ``bench/members.py`` score the same series)."""
    toy = monthly_set(3, 40, 8)
    flat = toy.train.filter(pl.col("unique_id") == "s1").with_columns(y=pl.lit(5.0))
    toy = DataSet(toy.name, pl.concat([toy.train.filter(pl.col("unique_id") != "s1"), flat]), toy.test,
                  toy.h, toy.season, toy.mase_m, toy.freq)
    kept = scorable(toy)
    assert sorted(kept.train["unique_id"].unique()) == sorted(kept.test["unique_id"].unique()) == ["s0", "s2"]
    assert kept.train.equals(toy.train.filter(pl.col("unique_id") != "s1"))


def test_accuracy_bands_and_members_commands_run_on_a_file(tmp_path):
    """The three commands take a file with no data folder: the visible sets are not run where only --file
    is."""
    numbered = tmp_path / "toy.csv"
    _numbered(monthly_set(2, 40, 6)).write_csv(numbered)
    tool = Path(__file__).resolve().parents[1] / "bench" / "accuracy.py"
    done = subprocess.run([sys.executable, str(tool), "--file", str(numbered), "--file-freq", "1mo",
                           "--peers", "SeasonalNaive"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "toy, origin 0: 2 series (of 2), h=6, season 12, MASE m=12" in done.stdout
    assert "= plantwin" in done.stdout and "= SeasonalNaive" in done.stdout
    assert "m1_monthly" not in done.stdout
    bands = subprocess.run([sys.executable, str(tool.with_name("bands.py")), "--file", str(numbered),
                            "--file-freq", "1mo", "--variant"], capture_output=True, text=True, timeout=600)
    assert bands.returncode == 0, bands.stderr
    assert "toy, origin -0: 2 series" in bands.stdout and "m1_monthly" not in bands.stdout
    members = subprocess.run([sys.executable, str(tool.with_name("members.py")), "--file", str(numbered),
                              "--file-freq", "1mo", "--cache", str(tmp_path / "cache"), "--extra"],
                             capture_output=True, text=True, timeout=600)
    assert members.returncode == 0, members.stderr
    assert "== toy seed 0 origin 0: 2 series" in members.stdout and "m1_monthly" not in members.stdout
    assert (tmp_path / "cache" / "toy_s0_n100_o0_fc.parquet").exists()
    # --config reaches the forecast's configuration (as bench/accuracy.py's): a value it refuses is an error
    bad = subprocess.run([sys.executable, str(tool.with_name("members.py")), "--file", str(numbered),
                          "--file-freq", "1mo", "--cache", str(tmp_path / "cache"), "--extra", "--config",
                          "fit_once_min_train=0"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1 and "validation error for ForecastConfig" in bad.stderr
    refused = subprocess.run([sys.executable, str(tool), "--sets", "m1_monthly"], capture_output=True,
                             text=True, timeout=600)
    assert refused.returncode == 2 and "data_dir is needed for --sets" in refused.stderr
