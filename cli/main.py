"""The ``plantwin`` command line: demo, generate-demo, run.

Bad input ends with a one-paragraph message and a non-zero exit code, never a traceback; arguments are
checked before anything starts, so a refused command creates nothing. Runs go through Prefect only when a
server is configured or ``--prefect`` asks for it (:mod:`cli.runner`); then Prefect's console logging is
kept to critical messages (``--verbose`` shows it) and the run's log is on the flow run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.runner import PrefectOption, check_paths, execute

app = typer.Typer(add_completion=False, no_args_is_help=True, help="plantwin: demand forecasting and supply "
                  "planning for biologics and vaccines.")

#: errors a user can fix from the message, by the module that defines them
_USER_ERRORS = {
    "pydantic": ("ValidationError",),
    "data_contracts.config": ("ContractError", "ParameterError"),
    "flows.cluster": ("ClusterError",),
    "optimization.config": ("PlanInputError",),
    "warehouse.connection": ("WarehouseLocked",),
    "warehouse.lock": ("WarehouseBusy",),
    "warehouse.sources": ("SourceError",),
}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors a user can fix from the message: printed as one paragraph, exit code 2.

    Only from modules already imported (an error of a module never loaded cannot have been raised), so
    a command refused early does not pay for importing the whole stack to recognise its error.
    """
    return tuple(getattr(sys.modules[module], name) for module, names in _USER_ERRORS.items()
                 if module in sys.modules for name in names)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn known errors into a one-paragraph message and exit code 2; anything else exits 1, briefly."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except Exception as exc:  # noqa: BLE001 — the CLI boundary
            from data_contracts.safe_text import printable  # data in messages: no terminal escape codes

            user = isinstance(exc, _user_errors())
            text = " ".join(str(exc).split()) if user else f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            text = printable(text, keep_newlines=False)
            typer.secho(("error: " if user else "failed: ") + text, fg="red", err=True)
            raise typer.Exit(2 if user else 1) from None

    return wrapper


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from None


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log on the console.")]
Horizon = Annotated[int | None, typer.Option(help="Planning horizon in weeks (default 26).")]
Demand = Annotated[Path | None, typer.Option(help="Consensus demand file to plan against.")]
ScenarioName = Annotated[str | None, typer.Option(help="Scenario name (default base).")]
PlanOfRecord = Annotated[bool, typer.Option(
    "--plan-of-record", help="Make this run the plan of record even if its horizon or demand source differs "
    "from the current plan of record's (otherwise such a run is kept but does not replace it).")]
ParamsFile = Annotated[Path | None, typer.Option(
    "--params", help="YAML or JSON file of run settings, shaped like a deployment's `params` (plan: "
    "{time_limit_seconds: 3600}, forecast: ..., contracts: ...); the options above win over it.")]


def _horizon(weeks: int | None) -> dict[str, int] | None:
    return None if weeks is None else {"horizon_weeks": weeks}


def _plan_and_summarise(kind: str, params: Any, prefect: bool | None, verbose: bool,
                        started: float | None = None) -> None:
    """Run ``kind`` (through Prefect or directly), then print the run's summary and the time since
    ``started`` (default: now)."""
    from report.summary import run_summary

    started = time.perf_counter() if started is None else started
    run_id = execute(kind, params, prefect, verbose)
    typer.echo(run_summary(params.warehouse, run_id))
    typer.echo(f"finished in {time.perf_counter() - started:.1f} s")


@app.command("generate-demo")
@_friendly
def generate_demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the input files to.")],
    products: Annotated[int, typer.Option(min=5, help="Number of products (at least one per family: 5).")] = 40,
    dcs: Annotated[int, typer.Option(min=1, help="Number of distribution centres.")] = 5,
    weeks_history: Annotated[int, typer.Option(
        min=30, help="Weeks of order history (at least 30: the launch and phase-out products need them).")] = 156,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    file_format: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    levels: Annotated[bool, typer.Option(
        "--levels/--single-level",
        help="Make monoclonals and vaccines over several levels (drug substance, antigen bulk; a bill of "
             "materials and freezers), as `plantwin demo` does; default: every product in one step.")] = False,
    campaigns: Annotated[bool, typer.Option(
        "--campaigns", help="Run the 2,000 L bioreactor suites in campaigns (one product a week, changeovers, "
                            "minimum and maximum campaign lengths): the plan becomes a MIP; default: every "
                            "resource switches freely.")] = False,
    regional_packs: Annotated[bool, typer.Option(
        "--regional-packs/--one-pack",
        help="With --levels: each vaccine's filled bulk feeds one pack per market it is sold in (VAC-01-EU, "
             "VAC-01-US, ...), as `plantwin demo` does; default: one pack per vaccine.")] = False,
) -> None:
    """Write the seeded demo network's input files (the input contract) to a folder."""
    from data_contracts.schema import INPUT_FILE_FORMATS
    from demo.network import generate_demo

    if file_format not in INPUT_FILE_FORMATS:
        raise typer.BadParameter("--format must be csv or parquet")
    if regional_packs and not levels:
        raise typer.BadParameter("--regional-packs needs --levels (the packs are filled from the vaccines' "
                                 "filled bulk)")
    paths = generate_demo(out, products=products, dcs=dcs, weeks_history=weeks_history, seed=seed,
                          file_format=file_format, levels=levels, campaigns=campaigns,
                          regional_packs=regional_packs)
    for entity, path in paths.items():
        typer.echo(f"{entity:<10} {path}")




@app.command("run")
@_friendly
def run_cmd(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse file.")],
    input_dir: Annotated[Path | None, typer.Option("--input", help="Input folder (one file per entity).")] = None,
    source: Annotated[Path | None, typer.Option("--source", help="Source config file (TOML/YAML) mapping "
                                                "entities to database tables or queries.")] = None,
    horizon: Horizon = None,
    run_date: Annotated[str | None, typer.Option(help="Plan from this date (YYYY-MM-DD); "
                                                      "default: the inventory's as-of date.")] = None,
    demand: Demand = None,
    scenario: ScenarioName = None,
    params_file: ParamsFile = None,
    plan_of_record: PlanOfRecord = False,
    prefect: PrefectOption = None,
    verbose: Verbose = False,
) -> None:
    """Run the weekly planning flow on an input folder (--input) or a configured source (--source)."""
    check_paths("weekly", warehouse, input_dir, source, demand)  # before the stack is even imported
    from flows.settings import RunParameters, parameters_from_file

    if (input_dir is None) == (source is None):
        raise typer.BadParameter("give exactly one of --input DIR or --source FILE")
    params = parameters_from_file(
        RunParameters, params_file, input_dir=input_dir, source=source, warehouse=warehouse,
        run_date=_parse_date(run_date), demand_file=demand, scenario=scenario, plan=_horizon(horizon),
        plan_of_record=plan_of_record or None,
    )
    # and the paths a --params file gave, before anything starts: a refused command creates nothing
    check_paths("weekly", params.warehouse, params.input_dir, params.source, params.demand_file)
    _plan_and_summarise("weekly", params, prefect, verbose)


@app.command("replan")
@_friendly
def replan_cmd(
    warehouse: Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse file.")],
    base: Annotated[str | None, typer.Option(
        help="Base run id; default: the latest successful run that is not a what-if scenario.")] = None,
    horizon: Horizon = None,
    demand: Demand = None,
    scenario: ScenarioName = None,
    params_file: ParamsFile = None,
    plan_of_record: PlanOfRecord = False,
    prefect: PrefectOption = None,
    verbose: Verbose = False,
) -> None:
    """Plan again on a past run's inputs and forecast, with a demand file or other settings."""
    check_paths("replan", warehouse, demand=demand)  # before the stack is even imported
    from flows.settings import ReplanParameters, parameters_from_file

    params = parameters_from_file(ReplanParameters, params_file, warehouse=warehouse, base_run_id=base,
                                  demand_file=demand, scenario=scenario, plan=_horizon(horizon),
                                  plan_of_record=plan_of_record or None)
    check_paths("replan", params.warehouse, demand=params.demand_file)
    _plan_and_summarise("replan", params, prefect, verbose)


@app.command("forecast")
@_friendly
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
    bounds = {lv: (round((100 - lv) / 200, 6), round((100 + lv) / 200, 6)) for lv in sorted(set(levels or []))}
    wanted = tuple(sorted(asked | {q for pair in bounds.values() for q in pair}))
    given = {"season_length": season_length} if season_length else {}  # else a year of freq (season_of)
    history = read_series_file(series)
    inferred = freq is None
    if inferred:
        try:
            freq = infer_freq(history)
        except ValueError as exc:
            raise SourceError(f"{series.name}: {exc} (--freq)") from None
    config = ForecastConfig(freq=freq, cluster=cluster, **given, **({"quantiles": wanted} if wanted else {}))
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
        typer.echo(f"{early.height} series end before the file's last date {last} (e.g. {first['unique_id']} "
                   f"at {first['end']}): each is forecast from its own last date; if it stopped selling, give "
                   "it its zero periods up to the end")


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
           f"{at_level} fitted at their local level (net returns are not demand), the rest as they are (series "
           "often below zero)")
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


#: `plantwin demo` splits each vaccine into one pack per market (the issue's "packs per region"; why the
#: default: docs/campaigns.md)
REGIONAL_PACKS_DEFAULT = True


@app.command("demo")
@_friendly
def demo_cmd(
    workdir: Annotated[Path, typer.Option("--workdir", help="Folder for the demo's input and warehouse.")] = Path(
        "plantwin-demo"
    ),
    campaigns: Annotated[bool, typer.Option(
        "--campaigns", help="Run the bioreactor suites in campaigns (a MIP with a time limit; see README, "
        "'Campaigns and changeovers').")] = False,
    regional_packs: Annotated[bool, typer.Option(
        "--regional-packs/--one-pack",
        help="Each vaccine's filled bulk feeds one pack per market it is sold in (VAC-01-EU, VAC-01-US, ...); "
             "--one-pack: one pack per vaccine.")] = REGIONAL_PACKS_DEFAULT,
    prefect: PrefectOption = None,
    verbose: Verbose = False,
) -> None:
    """Generate the demo network and run the weekly plan on it."""
    from flows.settings import RunParameters
    from demo.network import DEMO_RUN_DATE, generate_demo

    started = time.perf_counter()
    input_dir = workdir / "input"
    # the bill of materials (demo/levels.py), plant-like suites (demo/suites.py)
    generate_demo(input_dir, levels=True, campaigns=campaigns, regional_packs=regional_packs)
    typer.echo(f"demo network written to {input_dir.resolve()}")
    params = RunParameters(input_dir=input_dir, warehouse=workdir / "warehouse.duckdb", run_date=DEMO_RUN_DATE)
    _plan_and_summarise("weekly", params, prefect, verbose, started)


# Commands of the other capabilities register themselves on the same app.
from cli import inputs as cli_inputs, outputs as cli_outputs, sql as cli_sql, twin_replay as cli_twin  # noqa: E402

cli_outputs.register(app, _friendly)
cli_twin.register(app, _friendly)
cli_inputs.register(app, _friendly)
cli_sql.register(app, _friendly)


def main() -> None:
    """The ``plantwin`` console script: run the command, then end the process without tearing the interpreter
    down.

    A planning run has loaded Great Expectations, statsforecast, scipy and pandas; freeing their hundreds of
    thousands of objects one by one at exit took 1 CPU second and 3–5 s of wall time on a busy machine, after
    every output was written. The exit handlers (``atexit``: logging, Prefect's temporary server) still
    run and the console is flushed; only the module teardown is skipped. A command that leaves a
    non-daemon thread running, or ends with a traceback, exits the ordinary way.
    """
    try:
        app()
    except SystemExit as done:
        _leave(done.code)
    _leave(0)  # pragma: no cover - Typer's app always raises SystemExit


def _leave(code: int | str | None) -> None:
    import atexit
    import os
    import threading

    if isinstance(code, str):  # sys.exit("message"): the message on stderr, exit code 1
        print(code, file=sys.stderr)
        code = 1
    code = 0 if code is None else int(code)
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and not t.daemon]
    if others:  # the interpreter would wait for them: let it
        sys.exit(code)
    atexit._run_exitfuncs()  # noqa: SLF001 — what the interpreter's exit would run first
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
