"""The plan report: one self-contained HTML file per run, next to its warehouse.

``report-<run_id>.html`` (and ``<stem>.report-latest.html``, named after the warehouse, for the latest plan of record) holds the KPIs and their
change since the previous run, forecast against history with quantile bands per product × DC, projected
stock against safety stock per product × site, a capacity heatmap by resource × week with bottlenecks, the
shortages with reasons and recovery options, expiry write-offs and, for a scenario, a comparison with its
base. Charts are inline SVG; the only script is a small inline filter (family, site, product; the state is
kept in the URL hash, e.g. ``#family=flu_vaccine&site=DC-EU-N``). Nothing is fetched from the network.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from data_contracts.config import ParameterError
from report import sections
from report.data import ReportData, load_report_data
from warehouse.connection import connect
from warehouse.paths import latest_report_path
from warehouse.views import latest_base_run, mip_gap, run_scope, solver_note

__all__ = ["render_report", "report_path", "write_report"]

_TEMPLATES = Path(__file__).with_name("templates")


def report_path(warehouse: Path | str, run_id: str) -> Path:
    """Where the report of ``run_id`` is written: ``report-<run_id>.html`` beside the warehouse."""
    return Path(warehouse).with_name(f"report-{run_id}.html")


def render_report(data: ReportData) -> str:
    """The report's HTML for the loaded data."""
    run = data.run
    css = (_TEMPLATES / "report.css").read_text(encoding="utf-8")
    js = (_TEMPLATES / "report.js").read_text(encoding="utf-8")
    scope = run_scope(run)
    weeks = f"{scope['horizon_weeks']} weeks" if scope["horizon_weeks"] is not None else "horizon unknown"
    title = f"plantwin plan — {run['scenario']} — {weeks} from {run['run_date']:%G-W%V}"
    meta = (f"run <code>{escape(run['run_id'])}</code> · {escape(run['kind'])} · scenario "
            f"<b>{escape(run['scenario'])}</b> · <b>{weeks}</b> from {run['run_date']:%G-W%V} ({run['run_date']})"
            f" · demand: {escape(scope['demand_source'])} · solver {escape(str(run['solver']))}"
            f" {escape(str(run['solver_status']))}"
            + ("" if (gap := mip_gap(run)) is None else f" (gap {gap:.2%})")
            + f" · code {escape(str(run['code_version']))}"
            + (f" · base run <code>{escape(run['base_run_id'])}</code>" if run["base_run_id"] else "")
            + f" · rendered {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    body = [
        sections.kpi_section(data),
        sections.warning_section(data),
        sections.comparison_section(data.comparison, dict(data.products.select("product_id", "family").iter_rows()))
        if data.comparison is not None else "",
        sections.twin_section(data),
        sections.shortage_section(data),
        sections.capacity_section(data),
        sections.campaign_section(data),
        sections.forecast_section(data),
        sections.stock_section(data),
        sections.expiry_section(data),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{escape(title)}</title><style>{css}</style></head>'
        f"<body><header><h1>{escape(title)}</h1><div class=\"meta\">{meta}</div>{_solver_notice(run)}"
        "</header>"
        f"{sections.filters(data)}<main>{''.join(body)}</main><script>{js}</script></body></html>\n"
    )


def _solver_notice(run: dict) -> str:
    """The header's notice of a MIP plan not proven within the gap asked (:func:`solver_note`); "" else."""
    note = solver_note(run)
    return "" if note is None else f'<div class="notice">{escape(note[0].upper() + note[1:])}.</div>'


def write_report(warehouse: Path | str, run_id: str | None = None, compare_to: str | None = None,
                 latest: bool | None = None, out: Path | str | None = None) -> Path:
    """Render the report of a run (default: the latest plan of record) beside the warehouse, or to ``out``.

    Args:
        warehouse: the warehouse (or published snapshot) file, opened read-only.
        run_id: the run; default the latest successful ``base`` run with a plan.
        compare_to: a run to compare with (default: a scenario's base run; none for a base run).
        latest: also write ``<stem>.report-latest.html``; default when the run is the latest plan of record
            (never with ``out``).
        out: a folder to write ``report-<run_id>.html`` into (made if missing), or an ``.html`` file; default
            beside the warehouse.

    Returns:
        The path written.
    """
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise ParameterError(f"no warehouse file {warehouse}")
    con = connect(warehouse, read_only=True)
    try:
        latest_id = latest_base_run(con)
        run_id = run_id or latest_id
        if run_id is None:
            raise ParameterError(f"{warehouse} has no successful plan to report on")
        data = load_report_data(con, run_id, compare_to)  # an unknown id: UnknownRun, a ParameterError
    finally:
        con.close()
    if data.run["status"] != "success":
        raise ParameterError(f"run {run_id} ended {data.run['status']}; it has no plan to report")
    html = render_report(data)
    target = report_path(warehouse, run_id)
    if out is not None:
        out = Path(out)
        target = out if out.suffix.lower() in (".html", ".htm") else out / target.name
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(target, html)
    except OSError as exc:  # a folder the user cannot write (a snapshot on a share), a name taken by a folder
        raise ParameterError(f"cannot write the report to {target}: {exc.strerror or exc}; give --out a "
                             "folder you can write to") from None
    if out is None and (latest if latest is not None else run_id == latest_id):
        _write_atomic(latest_report_path(warehouse), html)
    return target


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

