"""Commands of plantwin's CLI for the twin (registered on the main app by cli.main).

``plantwin twin`` replays a stored plan over sample paths (:func:`flows.pipeline.twin`) and prints its risk: the
distribution of fill rate, stock-out weeks, expiry and ending stock beside the plan's own figures, and
the product × DCs most at risk. With ``--scenario`` it replays a what-if scenario's plan and its base
plan with the same paths, and prints the two side by side.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.runner import PrefectOption, execute

__all__ = ["register", "format_summary"]


def format_summary(summary: list[dict[str, Any]], title: str) -> str:
    """The summary rows as a small text table."""
    lines = [title, f"  {'figure':<24}{'plan':>14}{'mean':>14}{'P5':>14}{'P50':>14}{'P95':>14}"]
    for r in summary:
        share = r["unit"] == "share"
        cells = [_fmt(r[c], share) for c in ("plan_value", "mean", "p05", "p50", "p95")]
        lines.append(f"  {r['metric']:<24}" + "".join(f"{c:>14}" for c in cells))
    return "\n".join(lines + _reading({r["metric"]: r for r in summary}))


def _reading(s: dict[str, dict[str, Any]]) -> list[str]:
    """How to read the replay against the plan: demand above the plan's quantity, the plan's production of
    sold items released, and how much of the on-time shortfall is only late."""
    keys = ("demand_units", "demand_above_plan_units", "released_units", "fill_rate_units",
            "fill_rate_by_end")
    if any(s.get(k, {}).get("mean") is None for k in keys) or not (
            s["demand_units"]["plan_value"] and s["released_units"]["plan_value"]):
        return []
    demand, released = s["demand_units"], s["released_units"]
    above = s["demand_above_plan_units"]["mean"] / demand["plan_value"]
    return [
        "reading (the replay follows the plan, without re-planning):",
        f"  demand {demand['mean'] / demand['plan_value']:.1%} of the plan's; {above:.1%} of it came in "
        "weeks and places above the plan's quantity (served only from stock the plan holds for later, or "
        "short)",
        f"  sold items released: {released['mean'] / released['plan_value']:.1%} of the plan's units",
        f"  served by the horizon's end {s['fill_rate_by_end']['mean']:.1%}, on time "
        f"{s['fill_rate_units']['mean']:.1%} (the plan: {s['fill_rate_by_end']['plan_value']:.1%}, "
        f"{s['fill_rate_units']['plan_value']:.1%})",
    ]


def _fmt(v: float | None, share: bool) -> str:
    if v is None:
        return "-"
    return f"{v:.1%}" if share else f"{v:,.0f}"


def _risks(warehouse: Path, twin_id: str, top: int = 5) -> str:
    import polars as pl

    from data_contracts import schema
    from warehouse.db import open_warehouse

    with open_warehouse(warehouse, read_only=True) as wh:
        risk = wh.read(schema.TWIN_RISK.name).filter(pl.col("twin_id") == twin_id)
    worst = risk.filter(~pl.col("meets_target")).sort("expected_short_units", descending=True).head(top)
    lines = [f"below their service target: {risk.filter(~pl.col('meets_target')).height} of {risk.height} "
             "product × DCs; largest expected shortages:"]
    for r in worst.iter_rows(named=True):
        lines.append(
            f"  {r['product_id']:<12} {r['site_id']:<10} P(short) {r['shortage_probability']:>5.0%}  "
            f"short {r['expected_short_units']:>12,.0f}  service {r['service_level_achieved'] or 0:>5.1%} "
            f"(target {r['service_level_target']:.1%})  {r['weeks_at_risk']} weeks at risk"
        )
    return "\n".join(lines)


def _failed_batches(given: list[str]) -> tuple[Any, ...]:
    """``RESOURCE:YYYY-MM-DD[:PRODUCT]`` options as FailedBatch what-ifs (repeated: more batches fail)."""
    from collections import Counter
    from datetime import date, timedelta

    from flows.settings import ParameterError
    from twin.config import FailedBatch

    counted: Counter[tuple[str, date, str | None]] = Counter()
    for text in given:
        parts = text.split(":")
        try:
            day = date.fromisoformat(parts[1]) if len(parts) in (2, 3) and parts[0] else None
        except ValueError:
            day = None
        if day is None:
            raise ParameterError(
                f"--fail-batch {text!r}: expected RESOURCE:YYYY-MM-DD or RESOURCE:YYYY-MM-DD:PRODUCT")
        counted[(parts[0], day - timedelta(days=day.weekday()), parts[2] if len(parts) == 3 else None)] += 1
    return tuple(FailedBatch(resource_id=r, week=w, product_id=p, batches=n)
                 for (r, w, p), n in counted.items())


def _scenario_run(warehouse: Path, scenario: str, prefect: bool | None,
                  verbose: bool) -> tuple[str | None, str | None]:
    """(run id, name): a scenario file is planned first (the scenario run); a name is looked up."""
    path = Path(scenario)
    if not path.is_file():
        return None, scenario
    from flows.stages_scenario import load_scenario, scenario_parameters

    params = scenario_parameters(warehouse, path)
    load_scenario(params)  # refuse a bad file before anything starts
    return execute("scenario", params, prefect, verbose), None


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add this module's commands to ``app``; ``friendly`` turns known errors into one-paragraph messages."""

    @app.command("twin")
    @friendly
    def twin_cmd(
        warehouse: Annotated[Path, typer.Option("--warehouse", help="DuckDB warehouse file.")],
        run: Annotated[str | None, typer.Option("--run", help="Run whose plan to replay; default: the "
                                                              "latest successful base plan.")] = None,
        scenario: Annotated[str | None, typer.Option(
            "--scenario", help="A scenario file (planned first, then replayed beside its base plan), or the "
                               "name of a scenario already planned (its latest run).")] = None,
        paths: Annotated[int, typer.Option(min=1, help="Sample paths.")] = 1000,
        seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
        no_variance: Annotated[bool, typer.Option(
            "--no-variance", help="Replay the plan exactly (no demand or process variance).")] = False,
        variance: Annotated[str, typer.Option(
            "--variance", help="What the paths vary: both (default), process (demand as planned) or "
                               "demand (production as planned); one side alone shows its share of the "
                               "drop.")] = "both",
        fail_batch: Annotated[list[str] | None, typer.Option(
            "--fail-batch", help="A what-if: one batch of the start on RESOURCE in the week of DATE fails on "
                                 "every path (RESOURCE:YYYY-MM-DD[:PRODUCT]; repeat for more).")] = None,
        cluster: Annotated[str | None, typer.Option(
            help="Dask scheduler address (tcp://host:8786) to run the blocks of paths on, or 'local' "
                 "(twin.cluster); the tables are the same as without it.")] = None,
        prefect: PrefectOption = None,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's log.")] = False,
    ) -> None:
        """Replay a stored plan over sample paths (the digital twin) and store its risk."""
        from flows.settings import ParameterError, TwinParameters
        from twin.replay import TwinConfig, compare_twins

        def twin_replay(params: TwinParameters) -> dict[str, Any]:
            return execute("twin", params, prefect, verbose)

        if run is not None and scenario is not None:
            raise ParameterError("give --run or --scenario, not both")
        if not Path(warehouse).is_file():
            raise ParameterError(f"no warehouse {warehouse}")
        if variance not in ("both", "process", "demand"):
            raise ParameterError(f"--variance must be both, process or demand, got {variance!r}")
        config = TwinConfig(paths=paths, seed=seed, demand_variance=not no_variance and variance != "process",
                            process_variance=not no_variance and variance != "demand", cluster=cluster,
                            failed_batches=_failed_batches(fail_batch or []))
        run_id, name = (run, None) if scenario is None else _scenario_run(warehouse, scenario, prefect, verbose)
        out = twin_replay(TwinParameters(warehouse=warehouse, run_id=run_id, scenario=name, twin=config))
        title = (f"twin {out['twin_id']} of run {out['run_id']} (scenario {out['scenario']}, {paths} paths, "
                 f"seed {seed})")
        typer.echo(format_summary(out["summary"], title))
        typer.echo(_risks(warehouse, out["twin_id"]))
        if scenario is not None:
            import polars as pl

            from warehouse.db import open_warehouse

            with open_warehouse(warehouse, read_only=True) as wh:
                base_id = wh.run(out["run_id"])["base_run_id"]
            if base_id:
                base = twin_replay(TwinParameters(warehouse=warehouse, run_id=base_id, twin=config))
                title = f"twin {base['twin_id']} of the base run {base_id}"
                typer.echo(format_summary(base["summary"], title))
                diff = compare_twins(pl.DataFrame(base["summary"]), pl.DataFrame(out["summary"]))
                typer.echo("scenario − base (mean over paths):")
                for r in diff.iter_rows(named=True):
                    typer.echo(f"  {r['metric']:<24}{_fmt(r['delta_mean'], r['unit'] == 'share'):>14}")
