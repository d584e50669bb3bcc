"""Commands of plantwin's CLI for the outputs (registered on the main app by cli.main).

``plantwin report`` renders a run's HTML report again; ``plantwin data-docs`` writes the GX Data Docs a run
kept to be made on request; ``plantwin scenario run`` plans a what-if file on
a base run; ``plantwin scenario compare`` prints two plans' differences and writes the comparison report;
``plantwin views`` lists the analysts' views; ``plantwin dictionary`` writes the data dictionary.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.runner import PrefectOption, execute

__all__ = ["register"]

Warehouse = Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse (or published snapshot) file.")]


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add this module's commands to ``app``; ``friendly`` turns known errors into one-paragraph messages."""

    @app.command("report")
    @friendly
    def report_cmd(
        warehouse: Warehouse,
        run: Annotated[str | None, typer.Option("--run", help="Run id; default: the latest plan of record.")] = None,
        compare: Annotated[str | None, typer.Option(
            "--compare", help="Run id or scenario to compare with (default: a scenario's base run).")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder to write report-<run>.html into (made if missing), or an .html file; default: "
                          "beside the warehouse file.")] = None,
    ) -> None:
        """Render the HTML plan report of a run (again), beside the warehouse file or to --out."""
        from report.page import write_report

        typer.echo(write_report(warehouse, run, compare_to=_resolve(warehouse, compare), out=out))

    @app.command("data-docs")
    @friendly
    def data_docs_cmd(
        warehouse: Warehouse,
        run: Annotated[str, typer.Option("--run", help="Run id (the run summary names the command).")],
    ) -> None:
        """Write a run's GX Data Docs where it kept them to be made on request (no row broke an expectation,
        ``contracts.data_docs: on_failure``): the site the run would have written. Prints its index."""
        from data_contracts.config import ParameterError
        from data_contracts.report import DOCS_REQUEST
        from warehouse.paths import data_docs_dir

        docs = data_docs_dir(warehouse) / run
        if (docs / "index.html").exists():
            typer.echo(docs.resolve() / "index.html")
            return
        if not (docs / DOCS_REQUEST).exists():
            raise ParameterError(f"run {run!r} has no Data Docs in {docs} (a replan or scenario reuses its "
                                 "base run's validated inputs; or no such run)")
        from data_contracts.report import render_data_docs

        typer.echo(render_data_docs(docs))

    scenario = typer.Typer(no_args_is_help=True, help="What-if scenarios on top of a base run.")
    app.add_typer(scenario, name="scenario")

    @scenario.command("run")
    @friendly
    def scenario_run_cmd(
        file: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
        warehouse: Warehouse,
        base: Annotated[str | None, typer.Option("--base", help="Base run id; default: the latest plan of "
                                                                "record.")] = None,
        horizon: Annotated[int | None, typer.Option(help="Planning horizon in weeks; default: the base "
                                                         "run's.")] = None,
        prefect: PrefectOption = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log.")] = False,
    ) -> None:
        """Plan a scenario file's changes on a base run's inputs and forecast; store it as a run."""
        from flows.stages_scenario import load_scenario, scenario_parameters
        from report.compare import compare_runs, format_comparison
        from report.page import report_path
        from report.summary import run_summary

        params = scenario_parameters(warehouse, file, base, horizon)
        load_scenario(params)  # refuse a bad file before anything starts
        started = time.perf_counter()
        run_id = execute("scenario", params, prefect, verbose)
        typer.echo(run_summary(warehouse, run_id))
        with _read_only(warehouse) as con:
            typer.echo(format_comparison(compare_runs(con, params.base_run_id, run_id)))
        typer.echo(f"report: {report_path(warehouse, run_id)}")
        typer.echo(f"finished in {time.perf_counter() - started:.1f} s")

    @scenario.command("compare")
    @friendly
    def scenario_compare_cmd(
        a: Annotated[str, typer.Argument(help="Run id or scenario name (A, e.g. base).")],
        b: Annotated[str, typer.Argument(help="Run id or scenario name (B).")],
        warehouse: Warehouse,
        report: Annotated[bool, typer.Option(help="Also write B's report with the comparison section.")] = True,
    ) -> None:
        """Print the differences of plan B against plan A (cost, fill rate, shortages, stock, capacity)."""
        from report.page import write_report
        from report.compare import compare_runs, format_comparison, resolve_run

        with _read_only(warehouse) as con:
            run_a, run_b = resolve_run(con, a), resolve_run(con, b)
            typer.echo(format_comparison(compare_runs(con, run_a, run_b)))
        if report:
            typer.echo(f"report: {write_report(warehouse, run_b, compare_to=run_a, latest=False)}")

    @app.command("dictionary")
    @friendly
    def dictionary_cmd(
        out: Annotated[Path | None, typer.Option("--out", help="Markdown file to write; default: the "
                                                              "checkout's docs/warehouse.md.")] = None,
    ) -> None:
        """Write the warehouse data dictionary (tables, columns, views, example queries) as Markdown."""
        from warehouse.dictionary import DEFAULT_OUT, write_dictionary

        typer.echo(write_dictionary(out or DEFAULT_OUT))


def _resolve(warehouse: Path, ref: str | None) -> str | None:
    if ref is None:
        return None
    from report.compare import resolve_run

    with _read_only(warehouse) as con:
        return resolve_run(con, ref)


@contextmanager
def _read_only(path: Path) -> Iterator[Any]:
    """A read-only DuckDB connection to the warehouse file."""
    from warehouse.connection import connect

    if not Path(path).exists():
        from data_contracts.config import ParameterError

        raise ParameterError(f"no warehouse file {path}")
    con = connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()
