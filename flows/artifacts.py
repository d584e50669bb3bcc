"""Prefect artifacts of a run: a markdown summary, the largest shortages, where the outputs are.

Rendering is pure (facts in, markdown and rows out) so it is tested without a server; only
:func:`publish_run_artifacts` talks to Prefect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from report.summary import RunFacts, booked_line, run_facts, run_scope
from warehouse.publish import published_path
from warehouse.views import solver_note

__all__ = ["publish_run_artifacts", "shortage_rows", "summary_markdown"]

_HEADLINE_KPIS = ("fill_rate_units", "fill_rate_served_units", "plan_cost", "cost_production", "cost_transport",
                  "cost_holding", "cost_expiry", "service_penalties", "cost_backlog", "cost_lost_sales",
                  "cost_safety_stock", "cost_end_stock_shortfall", "cost_total", "weeks_of_cover",
                  "stock_value_end")


def _fmt(kpi: str, value: float | None) -> str:
    if value is None:
        return "–"
    if kpi.startswith("fill_rate"):
        return f"{value:.1%}"
    return f"{value:,.1f}" if kpi == "weeks_of_cover" else f"{value:,.0f}"


def _horizon_text(run: dict[str, Any]) -> str:
    scope = run_scope(run)
    weeks = f"{scope['horizon_weeks']} weeks" if scope["horizon_weeks"] is not None else "horizon unknown"
    return f"{weeks} (demand: {scope['demand_source']})"


def summary_markdown(facts: RunFacts, report_path: Path | None = None) -> str:
    """KPIs with their change since the previous run, contract failures, bottlenecks, paths."""
    run = facts.run
    note = solver_note(run)
    solved = (f"solver {run['solver']} **{run['solver_status']}** ({run['problem_type']})."
              + ("" if note is None else f" **Note:** {note}.")
              if run["solver"] else "no plan in this run (forecast refresh).")
    lines = [
        f"# {run['kind'].replace('_', ' ')}: {facts.run_id}",
        f"Scenario **{run['scenario']}**, {_horizon_text(run)} from {run['run_date']}; {solved}",
        "",
        "| KPI | this run | previous run | change |",
        "|---|---:|---:|---:|",
    ]
    for kpi in _HEADLINE_KPIS:
        if kpi not in facts.kpis:
            continue
        now, before = facts.kpis[kpi], facts.previous_kpis.get(kpi)
        change = "–" if before is None else "not comparable" if not facts.comparable else (
            f"{(now - before) * 100:+.1f} pts" if kpi.startswith("fill_rate") else f"{now - before:+,.0f}")
        lines.append(f"| {kpi} | {_fmt(kpi, now)} | {_fmt(kpi, before)} | {change} |")
    lines.append("")
    if facts.previous_run_id and not facts.comparable:
        lines.append(f"Run `{facts.previous_run_id}` planned another horizon or demand source: not comparable.")
    else:
        lines.append(f"Compared with run `{facts.previous_run_id}`." if facts.previous_run_id
                     else "No earlier run of this scenario to compare with.")
    if facts.booked:
        lines += ["", booked_line(facts.booked)]
    lines += ["", "## Data contracts"]
    if facts.failed_rules.is_empty() and not facts.quarantined:
        lines.append("Every expectation passed; no row quarantined.")
    else:
        lines.append(f"{facts.quarantined} row(s) quarantined (table `quarantine`). Failed expectations:")
        lines += [f"- {r['entity']}: `{r['expectation']}` — {r['unexpected_count']} row(s)"
                  for r in facts.failed_rules.iter_rows(named=True)]
    if facts.warnings is not None and facts.warnings.height:
        lines += ["", f"{facts.warnings.height} warning(s) (table `run_warnings`):"]
        lines += [f"- {r['entity']} `{r['rule']}`: {r['reason']}"
                  for r in facts.warnings.head(20).iter_rows(named=True)]
    lines += ["", "## Busiest resources", "| resource | plant | utilisation | weeks at capacity |",
              "|---|---|---:|---:|"]
    lines += [f"| {r['resource_id']} | {r['site_id']} | {r['utilisation']:.1%} | {r['weeks_at_capacity']} |"
              for r in facts.busiest.iter_rows(named=True)]
    lines += ["", "## Outputs", f"- warehouse: `{facts.warehouse.resolve()}`",
              f"- published snapshot: `{published_path(facts.warehouse).resolve()}`"]
    if report_path is not None:
        lines.append(f"- plan report: `{Path(report_path).resolve()}`")
    return "\n".join(lines)


def shortage_rows(facts: RunFacts, top: int = 20) -> list[dict[str, Any]]:
    """The largest shortages with their reasons, as table-artifact rows."""
    return [
        {"product": r["product_id"], "dc": r["site_id"], "units_short": round(r["short"], 1),
         "weeks_short": r["weeks"], "reason": r["reason"], "detail": r["detail"]}
        for r in facts.shortages.head(top).iter_rows(named=True)
    ]


def publish_run_artifacts(warehouse: Path, run_id: str, report_path: Path | None = None) -> dict[str, str]:
    """Create the run's Prefect artifacts (inside a flow run); returns their keys."""
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    facts = run_facts(warehouse, run_id)
    kind = facts.run["kind"].replace("_", "-")
    keys = {"summary": f"{kind}-summary", "shortages": f"{kind}-shortages"}
    create_markdown_artifact(markdown=summary_markdown(facts, report_path), key=keys["summary"],
                             description=f"plantwin {kind} run {run_id}")
    create_table_artifact(table=shortage_rows(facts) or [{"product": "none", "dc": "", "units_short": 0,
                                                         "weeks_short": 0, "reason": "", "detail": ""}],
                          key=keys["shortages"], description=f"Largest shortages of run {run_id}")
    return keys
