"""`plantwin forecast` on a long-format file: the automatic forecaster on anyone's data."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from forecasting.config import NATIVE_SEASONAL_MODELS


def _series_file(path, weeks: int = 150):
    rng = np.random.default_rng(3)
    ds = [date(2023, 1, 2) + timedelta(weeks=i) for i in range(weeks)]
    season = 100 + 60 * np.sin(2 * np.pi * np.arange(weeks) / 52)
    sparse = np.where(rng.random(weeks) < 0.15, rng.integers(1, 20, weeks), 0)
    frame = pl.DataFrame({
        "unique_id": ["seasonal"] * weeks + ["sparse"] * weeks,
        "ds": ds + ds,
        "y": np.concatenate([season + rng.normal(0, 5, weeks), sparse]).astype(float),
    })
    frame.write_csv(path)
    return path


def test_forecast_command_writes_means_and_quantiles(tmp_path):
    src = _series_file(tmp_path / "series.csv")
    out = tmp_path / "fc.parquet"
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "13", "--out", str(out),
                                      "--quantiles", "50", "--quantiles", "80", "--quantiles", "95"])
    assert result.exit_code == 0, result.output
    fc = pl.read_parquet(out)
    assert fc.columns == ["unique_id", "ds", "model", "mean", "q50", "q80", "q95"]
    assert fc.group_by("unique_id").len().sort("unique_id").rows() == [("seasonal", 13), ("sparse", 13)]
    assert fc.filter((pl.col("q50") > pl.col("q80")) | (pl.col("q80") > pl.col("q95"))).is_empty()
    assert fc.select(pl.min_horizontal("q50", "q80", "q95").min()).item() >= 0
    assert "2 series, horizon 13" in result.stdout


def test_forecast_command_fractional_quantiles_and_interval_levels(tmp_path):
    src = _series_file(tmp_path / "series.csv", weeks=120)
    out = tmp_path / "fc.csv"
    args = ["forecast", "--series", str(src), "--horizon", "8", "--out", str(out),
            "--quantiles", "1.5", "--quantiles", "2.5", "--quantiles", "97.5", "--quantiles", "2.5",
            "--levels", "80", "--levels", "95"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    fc = pl.read_csv(out)
    # no precision lost (1.5 and 2.5 were both q02 before), a repeated level is one column, intervals are
    # named like statsforecast's
    assert fc.columns == ["unique_id", "ds", "model", "mean", "q01_5", "q02_5", "q97_5",
                          "lo-80", "hi-80", "lo-95", "hi-95"]
    assert fc.filter(pl.col("q01_5") > pl.col("q02_5")).is_empty()
    assert fc.filter((pl.col("lo-95") > pl.col("lo-80")) | (pl.col("hi-80") > pl.col("hi-95"))).is_empty()
    assert fc.select((pl.col("lo-95") - pl.col("q02_5")).abs().max()).item() == 0.0  # the same quantile
    assert fc.filter((pl.col("mean") < pl.col("lo-80")) | (pl.col("mean") > pl.col("hi-80"))).is_empty()


def test_forecast_command_refuses_a_bad_file_clearly(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("unique_id,ds,y\na,2024-01-01,1\na,2024-01-08,lots\n")
    result = CliRunner().invoke(app, ["forecast", "--series", str(bad), "--horizon", "4", "--out",
                                      str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert "bad.csv: 1 row(s) break rule number in column y" in result.stderr


def test_forecast_command_takes_monthly_data(tmp_path):
    months = pl.date_range(date(2019, 1, 1), date(2023, 12, 1), "1mo", eager=True)
    n = months.len()
    y = 200 + 80 * np.sin(2 * np.pi * np.arange(n) / 12) + np.random.default_rng(1).normal(0, 4, n)
    src = tmp_path / "monthly.parquet"
    pl.DataFrame({"unique_id": ["scripts"] * n, "ds": months, "y": y}).write_parquet(src)
    out = tmp_path / "fc.csv"
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "12", "--freq", "1mo",
                                      "--season-length", "12", "--out", str(out)])
    assert result.exit_code == 0, result.output
    fc = pl.read_csv(out, try_parse_dates=True)
    assert fc["ds"].to_list() == pl.date_range(date(2024, 1, 1), date(2024, 12, 1), "1mo", eager=True).to_list()
    # the season comes back: the forecast peaks in the months the history peaks (sin peaks in April)
    assert fc.sort("mean", descending=True)["ds"][0].month in (3, 4, 5)


def _monthly(n: int, seed: int = 1) -> np.ndarray:
    """``n`` months of a yearly season (peaks in April) with 2% noise."""
    return 200 + 80 * np.sin(2 * np.pi * np.arange(n) / 12) + np.random.default_rng(seed).normal(0, 4, n)


def test_forecast_command_takes_the_season_from_the_frequency(tmp_path):
    """``--freq 1mo`` without ``--season-length`` is a 12-month season: it was 52 whatever the frequency, so
    these 60 months were under two seasons (class ``short``) and forecast without their season (the peak
    month then came out anywhere); the forecast is now the one ``--season-length 12`` gives."""
    months = pl.date_range(date(2019, 1, 1), date(2023, 12, 1), "1mo", eager=True)
    src = tmp_path / "monthly.csv"
    pl.DataFrame({"unique_id": "scripts", "ds": months, "y": _monthly(months.len())}).write_csv(src)
    outs, said = {}, {}
    for given in ([], ["--season-length", "12"], ["--season-length", "52"]):
        out = tmp_path / f"fc{len(outs)}.csv"
        result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "12", "--freq", "1mo",
                                          "--out", str(out), *given])
        assert result.exit_code == 0, result.output
        outs[" ".join(given)] = pl.read_csv(out, try_parse_dates=True)
        said[" ".join(given)] = result.stdout
    assert outs[""].equals(outs["--season-length 12"])
    assert outs[""]["model"][0] in NATIVE_SEASONAL_MODELS  # the monthly candidates (a clean season: SETS)
    assert "1 series, horizon 12, freq 1mo, season 12 (from --freq; --season-length to change)" in said[""]
    assert "freq 1mo, season 52:" in said["--season-length 52"]
    assert outs[""].sort("mean", descending=True)["ds"][0].month in (3, 4, 5)
    assert outs["--season-length 52"]["model"][0] == "Mean(ETS,Theta,ARIMA)"  # the old default's short class


@pytest.mark.parametrize(("freq", "step"), [("1mo", 1), ("1q", 3)])
def test_forecast_command_takes_periods_dated_by_their_months_last_day(tmp_path, freq, step):
    """A month or quarter dated by its last day (2019-01-31, 2019-02-28, …: an ERP's or a ledger's month) is
    a regular series: it was refused as irregular at its first 31st after a shorter month (a month after
    2019-02-28 is 2019-03-28). The forecast is that of the same series dated by the months' first days, dated
    by the last days too; a month missing from it is still refused, named as the file dates it."""
    starts = pl.date_range(date(2015, 1, 1), date(2023, 12, 1), f"{step}mo", eager=True)
    y = _monthly(starts.len())
    runs = {}
    for label, ds in (("first", starts), ("last", starts.dt.month_end())):
        src = tmp_path / f"{label}.csv"
        pl.DataFrame({"unique_id": "scripts", "ds": ds, "y": y}).write_csv(src)
        out = tmp_path / f"fc_{label}.csv"
        result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "4", "--freq", freq,
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
        runs[label] = pl.read_csv(out, try_parse_dates=True)
    assert runs["last"].drop("ds").equals(runs["first"].drop("ds"))
    assert runs["last"]["ds"].to_list() == runs["first"]["ds"].dt.month_end().to_list()
    assert runs["last"]["ds"][0] == date(2024, 1, 31)

    gap = tmp_path / "gap.csv"
    dated = pl.DataFrame({"unique_id": "scripts", "ds": starts.dt.month_end(), "y": y})
    dated.filter(pl.col("ds") != date(2016, 4, 30)).write_csv(gap)
    result = CliRunner().invoke(app, ["forecast", "--series", str(gap), "--horizon", "4", "--freq", freq,
                                      "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    after = date(2016, 5, 31) if step == 1 else date(2016, 7, 31)
    assert f"gap.csv: series must be regular at '{freq}'" in result.stderr
    assert f"('scripts', datetime.date({after.year}, {after.month}, {after.day}))" in result.stderr


def test_forecast_csv_out_neutralises_ids_that_look_like_formulas(tmp_path):
    """Series ids starting with = + - @ are written with a leading ' (OWASP CSV injection rule)."""
    src = _series_file(tmp_path / "series.csv", weeks=60)
    frame = pl.read_csv(src).with_columns(
        pl.col("unique_id").replace({"seasonal": "=HYPERLINK(\"http://evil\",\"x\")", "sparse": "@SUM(1+1)"})
    )
    frame.write_csv(src)
    out = tmp_path / "fc.csv"
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    ids = set(pl.read_csv(out, infer_schema=False)["unique_id"].to_list())
    assert ids == {"'=HYPERLINK(\"http://evil\",\"x\")", "'@SUM(1+1)"}


def test_booked_orders_consume_the_forecast_as_in_a_run(tmp_path):
    """`plantwin forecast` took no orders: its mean was the statistical forecast where a run plans
    max(forecast, booked). With --booked it writes what a run stores: the raised mean, booked, booked_added."""
    src = _series_file(tmp_path / "series.csv", weeks=120)
    plain, out = tmp_path / "plain.csv", tmp_path / "fc.csv"
    args = ["forecast", "--series", str(src), "--horizon", "4", "--quantiles", "50", "--quantiles", "95"]
    assert CliRunner().invoke(app, [*args, "--out", str(plain)]).exit_code == 0
    first = date(2023, 1, 2) + timedelta(weeks=120)
    pl.DataFrame({"unique_id": ["seasonal", "seasonal", "launch", "seasonal"],
                  "ds": [first + timedelta(weeks=1), first + timedelta(weeks=2), first, first + timedelta(weeks=9)],
                  "y": [10_000.0, 1.0, 30.0, 5_000.0]}).write_csv(tmp_path / "booked.csv")
    result = CliRunner().invoke(app, [*args, "--out", str(out), "--booked", str(tmp_path / "booked.csv")])
    assert result.exit_code == 0, result.output
    fc = pl.read_csv(out, try_parse_dates=True)
    base = pl.read_csv(plain, try_parse_dates=True)
    assert fc.columns == ["unique_id", "ds", "model", "mean", "booked", "booked_added", "q50", "q95"]

    def at(frame, uid, k):
        return frame.filter((pl.col("unique_id") == uid) & (pl.col("ds") == first + timedelta(weeks=k))).row(
            0, named=True)

    was, now = at(base, "seasonal", 1), at(fc, "seasonal", 1)
    assert now["mean"] == 10_000.0 and now["booked_added"] == 10_000.0 - was["mean"]
    # the quantiles move up by the units the orders added: the forecast's spread in units
    assert now["q95"] == pytest.approx(was["q95"] + now["booked_added"])
    covered = at(fc, "seasonal", 2)  # an order the forecast covers: the forecast stands
    assert covered["mean"] == at(base, "seasonal", 2)["mean"] and covered["booked_added"] == 0.0
    launch = at(fc, "launch", 0)
    assert launch["model"] == "booked" and launch["mean"] == 30.0
    assert fc.height == base.height + 1  # the order past the horizon is not a row, and the command says so
    last = first + timedelta(weeks=3)
    assert f"booked orders outside the forecast's periods {first} to {last}, left out: 1 row, 5,000 units" \
        in result.stdout


def test_forecast_command_names_the_one_offs_it_fitted_at_their_level(tmp_path):
    """A week of the seasonal series at 4× (a tender) is fitted at its level, and the command says so."""
    src = _series_file(tmp_path / "series.csv")
    frame = pl.read_csv(src, try_parse_dates=True)
    week = date(2023, 1, 2) + timedelta(weeks=100)
    frame.with_columns(y=pl.when((pl.col("unique_id") == "seasonal") & (pl.col("ds") == week))
                       .then(pl.col("y") * 4).otherwise(pl.col("y"))).write_csv(src)
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "13",
                                      "--out", str(tmp_path / "fc.parquet")])
    assert result.exit_code == 0, result.output
    assert f"one-offs fitted at their local level: 1 period in 1 series (e.g. seasonal {week}:" in result.stdout


def test_forecast_command_names_the_series_that_end_early(tmp_path):
    """A series whose rows stop a year before the file's end is forecast from its own end (statsforecast's
    rule; a missing period is never made a zero), and the command says so, naming it, so that a product that
    stopped selling is not planned for last year's weeks without a word."""
    src = _series_file(tmp_path / "series.csv")
    frame = pl.read_csv(src, try_parse_dates=True)
    end = date(2023, 1, 2) + timedelta(weeks=97)
    frame.filter((pl.col("unique_id") == "seasonal") | (pl.col("ds") <= end)).write_csv(src)
    out = tmp_path / "fc.parquet"
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "13", "--out", str(out)])
    assert result.exit_code == 0, result.output
    last = date(2023, 1, 2) + timedelta(weeks=149)
    assert f"1 series end before the file's last date {last} (e.g. sparse at {end})" in result.stdout
    starts = pl.read_parquet(out).group_by("unique_id").agg(pl.col("ds").min()).sort("unique_id").rows()
    assert starts == [("seasonal", last + timedelta(weeks=1)), ("sparse", end + timedelta(weeks=1))]
    whole = CliRunner().invoke(app, ["forecast", "--series", str(_series_file(tmp_path / "whole.csv")),
                                     "--horizon", "13", "--out", str(tmp_path / "whole.parquet")])
    assert whole.exit_code == 0 and "end before" not in whole.stdout


@pytest.mark.parametrize(("freq", "dates"), [
    ("1mo", pl.date_range(date(2016, 1, 1), date(2023, 12, 1), "1mo", eager=True)),
    ("1q", pl.date_range(date(2010, 1, 1), date(2023, 10, 1), "3mo", eager=True).dt.month_end()),
])
def test_forecast_command_reads_the_frequency_from_the_dates(tmp_path, freq, dates):
    """Without --freq the frequency is read from the dates (it was taken as weekly, and a monthly file was
    refused as irregular at '1w'): the forecast is the one --freq gives, and the summary says where the
    frequency and the season came from."""
    src = tmp_path / "series.csv"
    pl.DataFrame({"unique_id": "scripts", "ds": dates, "y": _monthly(dates.len())}).write_csv(src)
    runs, said = {}, {}
    for given in ([], ["--freq", freq]):
        out = tmp_path / f"fc{len(runs)}.csv"
        result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "4", "--out",
                                          str(out), *given])
        assert result.exit_code == 0, result.output
        runs[len(given)], said[len(given)] = pl.read_csv(out, try_parse_dates=True), result.stdout
    assert runs[0].equals(runs[2])
    season = 12 if freq == "1mo" else 4
    assert (f"freq {freq} (read from the dates; --freq to set), season {season} (from the dates; "
            "--season-length to change)") in said[0]
    assert f"freq {freq}, season {season} (from --freq; --season-length to change)" in said[2]


def test_forecast_command_names_period_numbers_and_unreadable_steps(tmp_path):
    """A ds of period numbers (0, 1, 2 …, as M1's and M4's files give) is refused with how to date it; a file
    whose dates step by no day, week, month, quarter or year asks for --freq."""
    numbered = tmp_path / "numbered.csv"
    numbered.write_text("unique_id,ds,y\na,0,5\na,1,6\na,2,7\n")
    fortnights = tmp_path / "fortnights.csv"
    pl.DataFrame({"unique_id": "a", "y": [5.0, 6.0, 7.0],
                  "ds": [date(2024, 1, 1), date(2024, 1, 15), date(2024, 1, 29)]}).write_csv(fortnights)
    said = {}
    for src in (numbered, fortnights):
        result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "4", "--out",
                                          str(tmp_path / "o.csv")])
        assert result.exit_code == 2
        said[src.stem] = result.stderr
    assert "numbered.csv: 3 row(s) break rule iso_date in column ds" in said["numbered"]
    assert "ds holds period numbers, not dates: date the periods" in said["numbered"]
    assert ("fortnights.csv: the dates step by 14 days most often, which is not a day, week, month, quarter "
            "or year: give the frequency (--freq)") in said["fortnights"]


def test_forecast_command_says_how_many_periods_are_below_zero(tmp_path):
    """A period below zero (returns netted, a correction) was fitted as it is and not mentioned; the summary
    counts them, names the first and says how they were fitted (a rare one at its local level since stop 44;
    a series often below zero as given), and the forecast stays at or above zero."""
    src = _series_file(tmp_path / "series.csv")
    frame = pl.read_csv(src, try_parse_dates=True)
    frame.with_columns(y=pl.when((pl.col("unique_id") == "seasonal") & (pl.col("ds") == date(2023, 3, 6)))
                       .then(-40.0).otherwise("y")).write_csv(src)
    out = tmp_path / "fc.csv"
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert ("1 period below zero in 1 series (e.g. seasonal 2023-03-06: -40), fitted at their local level "
            "(net returns are not demand); the forecast is never below zero") in result.stdout
    assert pl.read_csv(out).select(pl.min_horizontal(pl.exclude("unique_id", "ds", "model")).min()).item() >= 0
    often = frame.with_columns(y=pl.when((pl.col("unique_id") == "seasonal") & (pl.col("ds").dt.month() == 3))
                               .then(-40.0).otherwise("y"))  # every March: a tenth of its weeks, in runs of 4
    often.write_csv(src)
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "below zero in 1 series (e.g. seasonal 2023-03-06: -40), fitted as they are;" in result.stdout


@pytest.mark.parametrize("odd", ["NaN", "inf", "-inf"])
def test_forecast_command_refuses_a_value_that_is_no_finite_number(tmp_path, odd):
    """``NaN`` and ``inf`` read as numbers and were fitted: the forecast's mean came out of the rest and its
    quantile columns empty, exit 0. They break the rule number now, named by row, as text does."""
    src = tmp_path / "odd.csv"
    src.write_text(f"unique_id,ds,y\na,2024-01-01,{odd}\na,2024-02-01,4\na,2024-03-01,6\n")
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "3", "--out",
                                      str(tmp_path / "o.csv")])
    assert result.exit_code == 2
    assert (f"odd.csv: 1 row(s) break rule number in column y; first (row, unique_id, ds, y): "
            f"[(1, 'a', '2024-01-01', '{odd}')]") in result.stderr


def test_forecast_command_says_the_sets_leap_effect(tmp_path):
    """20 monthly flows whose leap Februaries are 10% above their season: with --leap-effect the command says
    the factor it measured in the history and forecast at (forecasting/leap.py)."""
    from tests.test_forecasting_leap import _panel

    src = tmp_path / "monthly.csv"
    _panel(1.10, series=20).write_csv(src)
    out = tmp_path / "fc.csv"
    result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "3", "--out", str(out),
                                      "--leap-effect"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.stdout.splitlines() if line.startswith("periods holding a 29 February")]
    assert len(said) == 1 and "over 20 series" in said[0]
    assert float(said[0].split(": ")[1].split(" ")[0]) == pytest.approx(1.10, abs=0.02)
    assert pl.read_csv(out, try_parse_dates=True)["ds"].dt.month().unique().sort().to_list() == [1, 2, 3]


def test_forecast_command_says_the_sets_trading_day_effect(tmp_path):
    """24 monthly flows moving 1% a unit of td1: the command says the slope it measured in the history and
    fitted without (forecasting/tradingdays.py, the default since stop 48); with --no-trading-days,
    nothing."""
    from tests.test_forecasting_tradingdays import _panel

    src = tmp_path / "monthly.csv"
    _panel(0.01).write_csv(src)
    out = tmp_path / "fc.csv"
    said = {}
    for asked in ([], ["--no-trading-days"]):
        result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "3", "--out",
                                          str(out), *asked])
        assert result.exit_code == 0, result.output
        said[not asked] = [line for line in result.stdout.splitlines() if line.startswith("trading days: ")]
    assert said[False] == [] and len(said[True]) == 1 and "over 24 series" in said[True][0]
    assert float(said[True][0].split(": ")[1].split("%")[0]) == pytest.approx(1.0, abs=0.2)


def test_forecast_command_refuses_a_file_with_no_rows(tmp_path):
    """A header and no rows was an empty forecast and exit 0 (with or without --freq): it is an error naming
    the file and the rule, and no forecast file is written."""
    src = tmp_path / "empty.csv"
    src.write_text("unique_id,ds,y\n")
    out = tmp_path / "fc.csv"
    for freq in ([], ["--freq", "1mo"]):
        result = CliRunner().invoke(app, ["forecast", "--series", str(src), "--horizon", "3", "--out",
                                          str(out), *freq])
        assert result.exit_code == 2, result.output
        assert "empty.csv: no rows to forecast (rule: series_rows" in result.stderr
        assert not out.exists()
