"""Stop 28: the input contract tried as a new user would on public sets nobody tuned it to (PBS monthly
scripts since 1991, M1 monthly and quarterly, M4 Weekly since 1984), each series a product at one DC.

Each test is one defect met there, rebuilt on generated data (the demo network, 5 products): history
older than the contracts' date floor, and monthly or quarterly figures read as weekly demand.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
from typer.testing import CliRunner

from cli.main import app
from data_contracts import schema
from data_contracts.findings import period_bucket_warnings
from test_sources_validate import _copy, _set_orders, valid_input  # noqa: F401 (the small demo input)

#: a Monday before the contracts' default floor (``contracts.min_date``, 2000-01-01)
OLD_MONDAY = "1999-01-04"


def _validate(folder: Path, *args: str):
    result = CliRunner().invoke(app, ["validate", "--input", str(folder), *args])
    return result, " ".join(result.output.split())


def _params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_checks_with_the_runs_contract_settings(valid_input, tmp_path):  # noqa: F811
    """A user who moved ``contracts.min_date`` for old history (``run --params``) had ``validate`` refuse the
    rows the run takes: it had no way to read the run's settings. ``--params`` reads the same file."""
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(1, 4), order_date=OLD_MONDAY, requested_week=OLD_MONDAY)
    result, out = _validate(folder)
    assert result.exit_code == 1 and "[date_range]" in out, out
    params = _params(tmp_path, "plan: {horizon_weeks: 13}\ncontracts:\n  min_date: 1990-01-01\n")
    result, out = _validate(folder, "--params", str(params))
    assert result.exit_code == 0, out
    typo = _params(tmp_path, "contracts:\n  min_dat: 1990-01-01\n")
    result, out = _validate(folder, "--params", str(typo))
    assert result.exit_code == 2 and f"{typo}: contracts.min_dat: Extra inputs are not permitted" in out, out


def test_history_before_the_date_floor_names_the_setting(valid_input, tmp_path):  # noqa: F811
    """PBS's scripts from 1991 (M4 Weekly's from 1984) were refused as ``date_range`` with no word of
    ``contracts.min_date``: half the file rejected, the run refused, nothing said of how to take it.
    validate's "How to fix" and the refusal itself now name the setting, with the floor the file needs."""
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(1, 4), order_date=OLD_MONDAY, requested_week=OLD_MONDAY)
    result, out = _validate(folder)
    hint = ("orders.csv: 3 row(s) [date_range]: dates before 2000-01-01, the earliest the contracts take as "
            "plausible (contracts.min_date). If this history is real")
    assert result.exit_code == 1 and "How to fix what was recognised: " + hint in out, out
    assert "(YAML: contracts: {min_date: 1999-01-01}) and give plantwin validate the same --params" in out
    _set_orders(folder, range(1, 101), order_date=OLD_MONDAY, requested_week=OLD_MONDAY)  # 100 of 848
    result, out = _validate(folder)
    refusal = next(line for line in result.output.splitlines() if line.startswith("error: "))
    assert result.exit_code == 2 and "(rule: max_reject_share)" in refusal, out
    assert ("how to fix what was recognised: orders.csv: 100 row(s) [date_range]: dates before 2000-01-01"
            in refusal), refusal
    _set_orders(folder, range(1, 4), order_date="1650-01-04")  # before any date the contracts can hold
    result, out = _validate(folder)
    assert "row(s) [date_range]: dates before 2000-01-01" in out  # the 1999 rows still get it
    assert "min_date: 1650" not in out and "min_date: 1999-01-01" in out, out


def _monthly_orders(folder: Path) -> None:
    """The order book as a set of monthly figures (M1, PBS): one line per product, site and month, on the
    Monday of the week holding the month's 1st (what a user who must give weeks writes first)."""
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    first = pl.col("requested_week").str.to_date().dt.month_start()
    monthly = (orders.with_columns(pl.col("quantity").cast(pl.Float64), (first - pl.duration(days=first.dt.weekday() - 1))
                                   .dt.strftime("%Y-%m-%d").alias("requested_week"))
               .group_by("product_id", "site_id", "requested_week", maintain_order=True)
               .agg(pl.col("order_date").min(), pl.col("quantity").sum(), pl.col("status").last()))
    monthly.with_columns(pl.format("M-{}", pl.int_range(1, pl.len() + 1)).alias("order_id")).select(
        orders.columns).write_csv(folder / "orders.csv")


def test_monthly_figures_read_as_weeks_are_warned_of(valid_input, tmp_path):  # noqa: F811
    """M1 and PBS as orders, each month on the Monday of its 1st's week: every row passes, the forecast takes
    the weeks between as no demand (M1 monthly: CrostonSBA or HistoricAverage on 591 of 617 smooth
    series) and M1 quarterly gets a zero forecast for all 203 series, under a stale-data warning at most.
    The run now says what it read (``period_buckets``), in its summary and ``run_warnings``."""
    folder = _copy(valid_input, tmp_path)
    _monthly_orders(folder)
    warehouse = tmp_path / "w.duckdb"
    result = CliRunner().invoke(app, ["run", "--input", str(folder), "--warehouse", str(warehouse),
                                      "--horizon", "4", "--no-prefect"])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "have demand only in the week holding the 1st of a month, 4 weeks apart (median): monthly or " \
           "quarterly figures read as weekly demand?" in out, out
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(f"SELECT entity, rule, key FROM {schema.RUN_WARNINGS.name} "
                           "WHERE rule = 'period_buckets'").fetchall()
    assert rows == [("orders", "period_buckets", "requested_week")]


def test_validate_warns_of_monthly_figures_and_says_how_to_resample_them(valid_input, tmp_path):  # noqa: F811
    """The same monthly extract through ``validate``, the planner's first command: every row passes, so it
    exited 0 saying nothing (only a run's forecast stage warned). It now prints the run's warning, whose
    last words say what to do: resample to weeks (spread over the days, summed by ISO week), as no setting
    reads months. Dated on the months' 1sts instead, the rows are refused (``week_is_monday``), and that hint
    no longer ends at "the Monday of its ISO week", which for monthly figures leads to the warning above."""
    folder = _copy(valid_input, tmp_path)
    _monthly_orders(folder)
    result, out = _validate(folder)
    assert result.exit_code == 0, out
    assert ("Warnings: orders [period_buckets] requested_week: 4 of 5 series" in out
            and "monthly or quarterly figures read as weekly demand?" in out), out
    assert "no setting reads months or quarters: resample the extract to weeks: spread each period's figure" in out
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    firsts = pl.col("requested_week").str.to_date().dt.month_start().dt.strftime("%Y-%m-%d")
    orders.with_columns(firsts.alias("requested_week")).write_csv(folder / "orders.csv")
    result, out = _validate(folder)
    assert "row(s) [week_is_monday]: weeks are identified by their Monday" in out, out
    assert ("Figures per month or quarter (not orders) are no week's demand: moved to one Monday each, they read "
            "as lumpy weekly demand with empty weeks between (forecast as intermittent, or as zero); resample "
            "the extract to weeks") in out, out


def test_weekly_demand_is_not_called_monthly():
    """The rule on its own: weekly series, intermittent ones (a week in five, not on the 1st) and series with
    fewer than six weeks with demand are quiet; a quarterly one is named with its gap."""
    start = date(2024, 1, 1)
    weekly = [("W", start + timedelta(weeks=i), 10.0) for i in range(104)]
    sparse = [("S", start + timedelta(weeks=5 * i + 2), 3.0) for i in range(20)]
    quarters = [date(2022 + q // 4, 1 + 3 * (q % 4), 1) for q in range(12)]
    quarterly = [("Q", d - timedelta(days=d.weekday()), 7.0) for d in quarters]
    few = [("F", d - timedelta(days=d.weekday()), 7.0) for d in quarters[:5]]

    def history(rows):
        return pl.DataFrame(rows, schema=["product_id", "week", "quantity"], orient="row").with_columns(
            site_id=pl.lit("DC"))

    assert period_bucket_warnings(history(weekly + sparse + few)).height == 0
    found = period_bucket_warnings(history(weekly + quarterly), inactive_weeks=13)
    assert found["reason"].to_list() == [
        "1 of 2 series (Q at DC) have demand only in the week holding the 1st of a month, 13 weeks apart "
        "(median): monthly or quarterly figures read as weekly demand? The forecast takes the weeks between "
        "as no demand (lumpy, with no yearly season) and forecasts as zero a series with none in the last 13 "
        "weeks (forecast.inactive_weeks), as a quarterly one is for most of each quarter. plantwin plans in "
        "ISO weeks and no setting reads months or quarters: resample the extract to weeks: spread each "
        "period's figure evenly over its days and sum the days by ISO week, each week dated on its Monday (in "
        "SQL: one row per day of the period, quantity / days in the period, grouped by date_trunc('week', "
        "day)); a week across two months takes its days' share of each. Orders really placed once a month "
        "need nothing."]


def test_a_refused_input_still_says_what_was_read_and_the_run_date(valid_input, tmp_path):  # noqa: F811
    """PBS and M4 Weekly refused by ``date_range``: validate's report began with the counts, without the
    files read and the run date the rows were judged against (an accepted input's report has them)."""
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(1, 101), quantity="many")
    result, out = _validate(folder)
    assert result.exit_code == 2, out
    assert out.startswith("Read 10 entities: products.csv (5 rows), ") and "; run date 2026-05-04. " in out, out
