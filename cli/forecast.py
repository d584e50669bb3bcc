"""``plantwin forecast``: the automatic forecaster on any long file (``unique_id, ds, y``), and what its
summary says about the file (series that end early, periods below zero, booked orders left out, one-offs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add ``forecast`` to ``app``; ``friendly`` turns known errors into one-paragraph messages (exit 2)."""
    app.command("forecast")(friendly(forecast_cmd))


def forecast_cmd(
    series: Annotated[Path, typer.Option("--series", help="Long file (CSV or Parquet): unique_id, ds, y.")],
    horizon: Annotated[int, typer.Option(min=1, help="Periods to forecast.")],
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet).")],
    freq: Annotated[str | None, typer.Option(
        help="Frequency as a polars duration: 1w, 1mo, 1q, 1d, 1y. Default: read from the dates (their most "
        "common step). Monthly, quarterly and yearly periods may be dated by their first day or by their "
        "month's last day (2014-01-31, 2014-02-28: the forecast is dated so too).")] = None,
    season_length: Annotated[int | None, typer.Option(
        min=1, help="Periods per season. Default: a year of --freq (52 weekly, 12 monthly, 4 quarterly), a "
        "week of daily data (7).")] = None,
    quantiles: Annotated[list[float] | None, typer.Option(
        "--quantiles", help="Quantile levels in percent, repeatable: --quantiles 2.5 --quantiles 97.5 "
        "(columns q02_5, q97_5).")] = None,
    levels: Annotated[list[float] | None, typer.Option(
        "--levels", help="Prediction interval coverages in percent, repeatable, as statsforecast's level: "
        "--levels 80 --levels 95 (columns lo-80, hi-80, lo-95, hi-95).")] = None,
    cluster: Annotated[str | None, typer.Option(
        help="Dask scheduler address (tcp://host:8786) to run the chunks on, or 'local'.")] = None,
    booked: Annotated[Path | None, typer.Option(
        "--booked", help="Long file (unique_id, ds, y) of orders already booked for the forecast's periods: "
        "each period's mean becomes max(forecast, booked), as the plan's demand in `run`, with columns "
        "booked and booked_added.")] = None,
    leap_effect: Annotated[bool, typer.Option(
        "--leap-effect/--no-leap-effect", help="Monthly and quarterly data: where the history shows its "
        "periods that hold a 29 February apart from their season (a flow counted over one day more), "
        "forecast each such period at the set's factor (forecasting/leap.py).")] = True,
    trading_days: Annotated[bool, typer.Option(
        "--trading-days/--no-trading-days", help="Monthly data: where the history shows its "
        "periods moving with the weekdays they hold (X-13's td1coef), fit the history without that effect "
        "and forecast each period at its own (forecasting/tradingdays.py).")] = True,
) -> None:
    """The automatic forecaster (classification, backtest champion, quantiles) on any long-format file.

    Without --quantiles or --levels the forecast carries the stored quantiles (q01 ... q99). Without --booked
    the mean is the statistical forecast; with it, the demand a plan would take (the statistical mean and
    quantiles are each less booked_added, as in the warehouse's ``forecast`` table).
    """
    import polars as pl

    from data_contracts.schema import quantile_column
    from flows.cluster import forecast_executor
    from forecasting import ForecastConfig, forecast_demand, infer_freq
    from warehouse.sources import SourceError, read_series_file, write_frame

    bad = [v for v in [*(quantiles or []), *(levels or [])] if not 0 < v < 100]
    if bad:
        raise typer.BadParameter(f"--quantiles and --levels are percents in (0, 100), got {bad}")
    asked = {round(q / 100, 6) for q in quantiles or []}
    # a level-L interval is the quantiles (1 − L)/2 and (1 + L)/2, statsforecast's lo-L / hi-L
    bounds = {lv: (round((100 - lv) / 200, 6), round((100 + lv) / 200, 6))
              for lv in sorted(set(levels or []))}
    wanted = tuple(sorted(asked | {q for pair in bounds.values() for q in pair}))
    given = {"season_length": season_length} if season_length else {}  # else a year of freq (season_of)
    history = read_series_file(series)
    if history.is_empty():  # else an empty forecast, exit 0: nothing said about a file with nothing in it
        raise SourceError(f"{series.name}: no rows to forecast (rule: series_rows: at least one unique_id, "
                          "ds, y row).")
    inferred = freq is None
    if inferred:
        try:
            freq = infer_freq(history)
        except ValueError as exc:
            raise SourceError(f"{series.name}: {exc} (--freq)") from None
    config = ForecastConfig(freq=freq, cluster=cluster, leap_effect=leap_effect, trading_days=trading_days,
                            **given,
                            **({"quantiles": wanted} if wanted else {}))
    try:
        with forecast_executor(config) as (executor, config):
            result = forecast_demand(history, horizon, config, executor)
    except ValueError as exc:  # the series break the frame contract (gaps, duplicates, another frequency)
        raise SourceError(f"{series.name}: {exc}") from None
    forecast, extra = result.forecast, []
    if booked is not None:  # orders outside the forecast's periods raise none of them: counted, left out
        orders = read_series_file(booked)
        first_ds, last_ds = forecast["ds"].min(), forecast["ds"].max()
        within = pl.col("ds").is_between(first_ds, last_ds)
        left_out = orders.filter(~within)
        forecast = _consumed(forecast, orders.filter(within), config.quantiles)
        extra = ["booked", "booked_added"]
    if wanted:
        result_fc = forecast.select(
            "unique_id", "ds", "model", "mean", *extra,
            *(quantile_column(q) for q in sorted(asked)),
            *(pl.col(quantile_column(b[i])).alias(f"{side}-{lv:g}")
              for lv, b in bounds.items() for i, side in ((0, "lo"), (1, "hi"))),
        )
    else:
        result_fc = forecast
    write_frame(result_fc, out)
    chosen = result.series.group_by("model").len().sort("len", descending=True)
    read = " (read from the dates; --freq to set)" if inferred else ""  # what was derived is said
    origin = "the dates" if inferred else "--freq"
    source = "" if season_length else f" (from {origin}; --season-length to change)"
    typer.echo(f"{result.series.height} series, horizon {horizon}, freq {config.freq}{read}, season "
               f"{config.season_length}{source}: {out}")
    typer.echo("models chosen: " + ", ".join(f"{m} {n}" for m, n in chosen.iter_rows()))
    _say_early_ends(history)
    _say_negatives(history, result.outliers)
    if (td := result.trading_days) is not None:
        typer.echo(f"trading days: {100 * td.slope:+.2f}% a unit of weekdays less 5/2 weekend days (robust "
                   f"t {td.t:.1f} over {td.series} series): the history fitted without it, each period "
                   "forecast at its own")
    if (leap := result.leap) is not None:
        typer.echo(f"periods holding a 29 February: {leap.factor:.3f} times their season in the history "
                   f"(robust t {leap.t:.1f} over {leap.series} series); the history fitted as ordered, those "
                   "periods forecast at that factor")
    if booked is not None and left_out.height:
        typer.echo(f"booked orders outside the forecast's periods {first_ds} to {last_ds}, left out: "
                   f"{left_out.height} row{'s' * (left_out.height != 1)}, {left_out['y'].sum():,.0f} units")
    spikes = None if result.outliers is None else result.outliers.filter(pl.col("y") >= 0)
    if spikes is not None and spikes.height:
        first, n = spikes.row(0, named=True), spikes.height
        typer.echo(f"one-offs fitted at their local level: {n} period{'s' * (n != 1)} in "
                   f"{spikes['unique_id'].n_unique()} series (e.g. {first['unique_id']} "
                   f"{first['ds']}: {first['y']:g} as {first['replaced_by']:g})")


def _say_early_ends(history) -> None:
    """Say which series end before the file's last date: each is forecast from its own last period, as
    statsforecast does, so its forecast starts where it stopped, before the others'. A product that stopped
    selling needs its zero periods in the file (a missing period is not a zero: it is never made one here)."""
    import polars as pl

    ends = history.group_by("unique_id").agg(end=pl.col("ds").max())
    last = ends.get_column("end").max()
    early = ends.filter(pl.col("end") < last).sort("end", "unique_id")
    if early.height:
        first = early.row(0, named=True)
        typer.echo(f"{early.height} series end before the file's last date {last} (e.g. "
                   f"{first['unique_id']} at {first['end']}): each is forecast from its own last date; if it "
                   "stopped selling, give it its zero periods up to the end")


def _say_negatives(history, replaced) -> None:
    """Say how many periods are below zero (returns netted, a correction) and how they were fitted: a
    series' rare ones at their local level (``replaced``: :func:`forecasting.outliers.below_zero`), those of a
    series often below zero as they are. No forecast or quantile is below zero."""
    import polars as pl

    below = history.filter(pl.col("y") < 0).sort("unique_id", "ds")
    if not below.height:
        return
    first = below.row(0, named=True)
    at_level = 0 if replaced is None else replaced.filter(pl.col("y") < 0).height
    how = ("fitted at their local level (net returns are not demand)" if at_level == below.height else
           "fitted as they are" if at_level == 0 else
           f"{at_level} fitted at their local level (net returns are not demand), the rest as they are "
           "(series often below zero)")
    typer.echo(f"{below.height} period{'s' * (below.height != 1)} below zero in "
               f"{below['unique_id'].n_unique()} series (e.g. {first['unique_id']} {first['ds']}: "
               f"{first['y']:g}), {how}; the forecast is never below zero")


def _consumed(forecast, booked, quantiles):
    """The forecast with booked orders (``unique_id, ds, y``, inside its periods) consuming it, by the rule
    the run applies (:func:`forecasting.consensus.consume_forecast`)."""
    import polars as pl

    from forecasting.consensus import consume_forecast

    orders = booked.group_by("unique_id", "ds").agg(quantity=pl.col("y").sum())
    # every raised row is shifted by today's rule: the warehouse's booked_band says nothing here
    return consume_forecast(forecast, orders, quantiles, keys=("unique_id", "ds")).drop("booked_band")
