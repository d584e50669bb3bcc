"""``plantwin validate``: check inputs against the contracts without a warehouse and without planning.

The inputs (``--input DIR`` or ``--source FILE``) are read exactly as a run reads them, turned into the
raw frames a run hands to the contracts (through a throwaway in-memory warehouse) and validated. The
command prints a report: entities with clean and quarantined row counts, failed expectations (and notes
such as dropped extra columns), quarantined rows by rule, the first offending rows and warnings.

Exit codes:
    0: no row would be quarantined and no structural check failed (warnings, such as demand no plant
       reaches, do not count): a run would use every row.
    1: some rows would be quarantined, within the allowed share: a run would succeed without them.
    2: a run would fail: a source cannot be read, the structure is wrong (missing file or column,
       empty master data) or an entity has more rows rejected than allowed. The message says why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # imported lazily at run time: the CLI starts without Great Expectations
    from data_contracts.config import ContractConfig, ContractOutcome
    from warehouse.sources import SourceFile

__all__ = ["EXIT_CLEAN", "EXIT_FAILED", "EXIT_QUARANTINED", "check_inputs", "register"]

EXIT_CLEAN, EXIT_QUARANTINED, EXIT_FAILED = 0, 1, 2


def check_inputs(
    input_dir: Path | None, source: Path | None, run_date: date | None, config: ContractConfig,
    clean_frames: bool = True, announce: Callable[[str], None] | None = None,
) -> tuple[ContractOutcome, date, list[SourceFile]]:
    """Read the inputs and validate them as a run would.

    Args:
        input_dir: Input folder (or None).
        source: Source config file (or None); exactly one of the two.
        run_date: The run date; None = as a run infers it (latest inventory as-of date, else today).
        config: Thresholds and bounds of the contracts.
        clean_frames: Return every clean row in ``outcome.clean``; False: the rows the contracts checked in
            SQL are only counted (``outcome.kept``), as the report needs (``plantwin validate``).
        announce: Given the line naming the files read and the run date, before they are validated: a
            refused input's report says what was read too (it printed no such line).

    Returns:
        ``(outcome, run_date, sources)``: the contracts' outcome, the run date used, the sources read.

    Raises:
        SourceError: a source cannot be read.
        ContractError: a run would fail its contracts (``error.outcome`` holds what was validated).
    """
    from data_contracts.validate import validate_inputs
    from warehouse.dry_run import inferred_run_date, landed, read_sources
    from warehouse.screen import raw_inputs

    sources = read_sources(input_dir, source)
    with landed(sources) as (wh, load_ids):
        raw = raw_inputs(wh, load_ids)  # as a run reads them: the big entities checked where they are
        when = run_date or inferred_run_date(raw)
        if announce is not None:
            announce(_sources_line(sources, when))
        if source is not None:  # the source's decimal mark and week start, as a run applies them
            from warehouse.source_config import source_settings

            config, _ = source_settings(source, config)
        outcome = validate_inputs(raw, when, config)
        from dataclasses import replace

        if clean_frames and outcome.kept:
            clean = {e: raw[e].clean_frame(f, outcome.positions[e]) if e in outcome.kept else f
                     for e, f in outcome.clean.items()}
            outcome = replace(outcome, clean=clean, kept={}, positions={})
        return replace(outcome, warnings=_with_load_warnings(outcome.warnings, wh, load_ids, config)), \
            when, sources


def _with_load_warnings(warnings: Any, wh: Any, load_ids: dict[str, str], config: ContractConfig) -> Any:
    """``warnings`` and one more per number column written as thousands-grouped whole numbers
    (:func:`warehouse.reads.thousands_warnings`) and per file cut off mid-line
    (:func:`warehouse.reads.cut_off_files`), as a run's contracts stage stores them; and, as a run's forecast
    stage warns, monthly or quarterly figures dated on one week a period
    (:func:`data_contracts.findings.period_bucket_warnings`): every such row passes the contracts, and
    validate said nothing of a file the forecast would read as lumpy weekly demand."""
    import polars as pl

    from data_contracts import schema
    from data_contracts.findings import period_bucket_warnings
    from warehouse.reads import cut_off_files, order_weeks, thousands_warnings

    orders = load_ids.get(schema.ORDERS.name)
    periods = period_bucket_warnings(order_weeks(wh, orders)) if orders is not None else None
    return pl.concat([warnings, thousands_warnings(wh.con, load_ids, config.decimal),
                      cut_off_files(wh.con, load_ids), *([] if periods is None else [periods])])


def _report(outcome: ContractOutcome, rows: int, all_expectations: bool) -> str:
    from data_contracts.report import validation_report

    return validation_report(outcome, rows_shown=rows, all_expectations=all_expectations)


def _sources_line(sources: list[SourceFile], run_date: date) -> str:
    from data_contracts.safe_text import printable

    files = ", ".join(f"{Path(s.path).name} ({s.row_count} rows)" for s in sources)
    return printable(f"Read {len(sources)} entities: {files}; run date {run_date}.")


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add ``validate`` to ``app``; ``friendly`` turns known errors into one-paragraph messages (exit 2)."""

    @app.command("validate")
    @friendly
    def validate_cmd(
        input_dir: Annotated[
            Path | None, typer.Option("--input", help="Input folder (one file per entity).")
        ] = None,
        source: Annotated[
            Path | None, typer.Option("--source", help="Source config file (TOML or YAML).")
        ] = None,
        run_date: Annotated[
            str | None,
            typer.Option(help="Validate as of this date (YYYY-MM-DD); default: the inventory's as-of date."),
        ] = None,
        rows: Annotated[int, typer.Option(min=1, help="Offending rows listed.")] = 10,
        all_expectations: Annotated[
            bool, typer.Option("--all", help="List passed expectations too.")
        ] = False,
        max_reject_share: Annotated[
            float | None,
            typer.Option(
                min=0.0, max=1.0, help="Share of an entity's rows that may be rejected (default 0.05)."
            ),
        ] = None,
        params_file: Annotated[
            Path | None,
            typer.Option("--params", help="The run's --params file (YAML or JSON): its `contracts` settings "
                         "(min_date, max_quantity, ...) are the ones checked; --max-reject-share wins over it."),
        ] = None,
    ) -> None:
        """Check input files or a source against the data contracts, without a warehouse or a plan.

        Exit code 0: every row is clean; 1: some rows would be quarantined (a run would go on
        without them); 2: a run would fail (unreadable source, wrong structure, too many rejects).
        """
        from data_contracts.config import ContractError, ParameterError

        if (input_dir is None) == (source is None):
            raise ParameterError(
                "give exactly one of --input DIR (a folder of files) or --source FILE (a source config)"
            )
        when = _date(run_date)
        config = _contract_settings(params_file, max_reject_share)
        try:
            outcome, _, _ = check_inputs(input_dir, source, when, config, clean_frames=False,
                                         announce=typer.echo)
        except ContractError as exc:
            if exc.outcome is not None:
                typer.echo(_report(exc.outcome, rows, all_expectations))
                typer.echo("")
            typer.echo("Verdict: a run would FAIL on these inputs (exit 2).")
            raise
        if source is not None:
            from warehouse.source_config import source_write_warnings

            for warning in source_write_warnings(source):
                typer.echo(f"Warning: {warning}")
        typer.echo(_report(outcome, rows, all_expectations))
        typer.echo("")
        if outcome.quarantine.height:
            typer.echo("Verdict: a run would go on without the quarantined rows above (exit 1).")
            raise typer.Exit(EXIT_QUARANTINED)
        typer.echo("Verdict: every row passes the contracts (exit 0).")


def _contract_settings(params_file: Path | None, max_reject_share: float | None) -> ContractConfig:
    """The contracts' settings a run given ``params_file`` (``plantwin run --params``) would check with, and
    ``max_reject_share`` over them: without the file, a user who moved ``contracts.min_date`` for old history
    had ``validate`` refuse the rows the run takes. Only ``contracts`` is read; the run checks the rest."""
    from data_contracts.config import ContractConfig

    given = {} if max_reject_share is None else {"max_reject_share": max_reject_share}
    if params_file is None:
        return ContractConfig(**given)
    from pydantic import BaseModel, ConfigDict

    from flows.settings import parameters_from_file

    class ContractsOnly(BaseModel):
        model_config = ConfigDict(extra="ignore")
        contracts: ContractConfig = ContractConfig()

    return parameters_from_file(ContractsOnly, params_file, contracts=given or None).contracts


def _date(value: str | None) -> date | None:
    from data_contracts.config import ParameterError

    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ParameterError(f"--run-date {value!r} is not a date in YYYY-MM-DD form") from None
