"""Where files derived from a warehouse live: beside it, named after it.

Two warehouses in one folder (``plan.duckdb`` and ``test.duckdb``) never write the same file: each
derived name starts with the warehouse file's stem.

=============================  ====================================================
``<stem>.published.duckdb``    the read-only snapshot analysts open (``publish``)
``<stem>.report-latest.html``  the latest plan of record's report
``<stem>.data-docs/<run_id>/`` Great Expectations Data Docs of each run (or ``results.json``: made on request)
``<stem>.solver-bases/<run>/`` the optimal basis of each block of a large plan (warm start of replans)
=============================  ====================================================
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_docs_dir", "latest_report_path", "published_path", "solver_bases_dir"]

def _beside(warehouse: Path | str, suffix: str) -> Path:
    """``<stem>.<suffix>`` in the warehouse's folder: every derived file is named after its warehouse."""
    path = Path(warehouse)
    return path.with_name(f"{path.stem}.{suffix}")


def published_path(warehouse: Path | str) -> Path:
    """The published snapshot of ``warehouse``: ``<stem>.published.duckdb`` beside it."""
    return _beside(warehouse, "published.duckdb")


def latest_report_path(warehouse: Path | str) -> Path:
    """The latest plan of record's report: ``<stem>.report-latest.html`` beside the warehouse."""
    return _beside(warehouse, "report-latest.html")


def data_docs_dir(warehouse: Path | str) -> Path:
    """Data Docs of each run: ``<stem>.data-docs/<run_id>/`` beside the warehouse."""
    return _beside(warehouse, "data-docs")


def solver_bases_dir(warehouse: Path | str) -> Path:
    """Solver bases of each run's plan blocks: ``<stem>.solver-bases/<run_id>/`` beside the warehouse."""
    return _beside(warehouse, "solver-bases")
