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
from cli import forecast as cli_forecast, inputs as cli_inputs, outputs as cli_outputs  # noqa: E402
from cli import sql as cli_sql, twin_replay as cli_twin  # noqa: E402

cli_forecast.register(app, _friendly)
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
