"""What the contracts found, for people: a text report and Great Expectations Data Docs.

:func:`validation_report` is what ``plantwin validate`` prints. :func:`write_data_docs` builds GX Data
Docs (a static HTML site) for a run's validation results with a filesystem site in an ephemeral context:
no GX project on disk, nothing but the site written. The pages are plain files; their styling and
charts load from public CDNs when opened, so offline they show unstyled but complete.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any

import polars as pl

from data_contracts.config import ContractOutcome
from data_contracts.gx_runner import DeferredValidation, passed_validation_of
from data_contracts.safe_text import printable

__all__ = [
    "validation_report", "write_data_docs", "keep_data_docs_request", "render_data_docs", "DOCS_SITE", "DOCS_REQUEST",
]

#: Name of the Data Docs site plantwin builds.
DOCS_SITE = "plantwin"

#: In a run's Data Docs folder: the results of a run that keeps its Data Docs to be made on request
#: (``contracts.data_docs: on_failure`` and no row broke an expectation; ``plantwin data-docs``).
DOCS_REQUEST = "results.json"


def _table(header: list[str], rows: list[tuple], right: set[int] = frozenset()) -> list[str]:
    cells = [[str(c) for c in header]] + [[("" if v is None else str(v)) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    out = []
    for k, r in enumerate(cells):
        out.append(
            "  ".join(
                v.rjust(w) if i in right else v.ljust(w)
                for i, (v, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def validation_report(outcome: ContractOutcome, rows_shown: int = 10, all_expectations: bool = False) -> str:
    """A text report of a validation: rules checked and broken, counts, first offending rows, warnings.

    Args:
        outcome: What :func:`data_contracts.validate.validate_inputs` returned (or a ContractError's
            ``outcome``).
        rows_shown: Offending rows listed.
        all_expectations: List passed expectations too (by default: only failed ones and notes).

    Returns:
        The report, lines joined by newlines.
    """
    res, q, warn = outcome.results, outcome.quarantine, outcome.warnings
    failed = res.filter(~pl.col("success"))
    # counted on every row rejected: a refused entity's quarantine keeps its first rows only
    rej = outcome.rejected
    rejected = sum(rej.values())
    stored = q.select(pl.struct("entity", "load_id", "source_row").n_unique()).item() if q.height else 0
    kept = f" (the quarantine keeps {stored} of them: a refused file's first rows)" if stored < rejected else ""
    lines = [
        f"Input contracts: {res.get_column('entity').n_unique()} entities, {res.height} expectations, "
        f"{failed.height} failed; {rejected} rows quarantined{kept}; {warn.height} warnings",
        "",
    ]
    rows_in = {e: outcome.clean_rows(e) for e in outcome.clean}
    lines += _table(
        ["entity", "clean", "quarantined", "share"],
        [
            (e, n, rej.get(e, 0), f"{rej.get(e, 0) / max(n + rej.get(e, 0), 1):.1%}")
            for e, n in rows_in.items()
        ],
        right={1, 2, 3},
    )
    shown = (
        res
        if all_expectations
        else res.filter(~pl.col("success") | pl.col("expectation").str.starts_with("extra_column_dropped"))
    )
    lines += ["", "Expectations" + ("" if all_expectations else " failed (and notes)") + ":"]
    if shown.height:
        lines += _table(
            ["entity", "expectation", "rows", "broken", "status"],
            [
                (e, x, n, u, "ok" if s else "FAILED")
                for e, x, s, n, u in shown.select(
                    "entity", "expectation", "success", "element_count", "unexpected_count"
                ).iter_rows()
            ],
            right={2, 3},
        )
    else:
        lines.append("  none: every expectation passed")
    if q.height:
        by_rule = outcome.rule_rows.filter(pl.col("rows") > 0).sort(["entity", "rows"], descending=[False, True])
        lines += ["", "Quarantined rows by rule:"]
        lines += _table(["entity", "rule", "rows"], list(by_rule.iter_rows()), right={2})
        # every file with problems shows its first rows (validate reports all entities in one pass)
        per_entity = max(2, rows_shown // q.select(pl.col("entity").n_unique()).item())
        first = q.sort("entity", "source_row").group_by("entity", maintain_order=True).head(per_entity)
        lines += ["", f"First offending rows of each file ({first.height} of {q.height}):"]
        lines += [
            f"  {PurePath(f).name} row {r} [{rule}]: {why}"
            for f, r, rule, why in first.select("source_file", "source_row", "rule", "reason").iter_rows()
        ]
    if outcome.hints:  # counted on every row each rule broke, not on a refused file's first rows kept
        lines += ["", "How to fix what was recognised:", *outcome.hints]
    if warn.height:
        lines += ["", "Warnings:"]
        lines += [f"  {e} [{rule}] {key}: {why}" for e, rule, key, why in warn.iter_rows()]
    # Data (ids, file names, reasons quoting values) is printed as text: no terminal escape codes.
    return printable("\n".join(lines))


def write_data_docs(
    validations: ContractOutcome | Mapping[str, Any],
    out_dir: Path | str,
    run_name: str = "plantwin",
    run_time: dt.datetime | None = None,
) -> Path:
    """Write GX Data Docs (static HTML) for a run's validation results.

    Args:
        validations: A :class:`ContractOutcome` (its ``validations``) or name → GX
            ``ExpectationSuiteValidationResult``.
        out_dir: Folder of the site (created); the index is ``out_dir/index.html``.
        run_name: Run name shown and used in page paths (e.g. the run id).
        run_time: Run time shown (default now, UTC).

    Returns:
        Path of the site's ``index.html``.
    """
    # Great Expectations loads here, not with this module: the text report (``plantwin validate``) needs none
    import great_expectations as gx
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    results = validations.validations if isinstance(validations, ContractOutcome) else dict(validations)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    context.add_data_docs_site(
        DOCS_SITE,
        {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    run_id = RunIdentifier(
        run_name=run_name, run_time=run_time or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    )
    for name, result in results.items():
        if hasattr(type(result), "materialize"):  # a suite no row broke: GX's result made now
            result = result.materialize()
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=name),
            run_id=run_id,
            batch_identifier=name,
        )
        context.validation_results_store.set(key, result)
    context.build_data_docs(site_names=[DOCS_SITE])
    return out / "index.html"


def keep_data_docs_request(outcome: ContractOutcome, out_dir: Path | str, run_name: str,
                           run_time: dt.datetime) -> Path | None:
    """Keep what a run's Data Docs need, instead of writing them, when no suite ran in GX (no row broke any):
    every result is then made from counts (:meth:`DeferredValidation.spec`), and writing the site would
    import GX only for it (≈ 3 CPU-s). :func:`render_data_docs` writes the same site later.

    Returns:
        The kept file (``out_dir/results.json``), or None where some suite ran in GX (write the site now:
        GX is loaded anyway).
    """
    if not all(isinstance(v, DeferredValidation) for v in outcome.validations.values()):
        return None
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    kept = {"run_name": run_name, "run_time": run_time.isoformat(),
            "suites": {name: v.spec() for name, v in outcome.validations.items()}}
    (out / DOCS_REQUEST).write_text(json.dumps(kept))
    return out / DOCS_REQUEST


def render_data_docs(out_dir: Path | str) -> Path:
    """Write the Data Docs a run kept to be made on request (:func:`keep_data_docs_request`) into its folder
    ``out_dir``: the site the run would have written (same suites, expectations, counts, run name and time).

    Raises:
        FileNotFoundError: ``out_dir`` holds no kept results (the run wrote its Data Docs, or never ran).
    """
    kept = json.loads((Path(out_dir) / DOCS_REQUEST).read_text())
    results = {name: passed_validation_of(spec) for name, spec in kept["suites"].items()}
    return write_data_docs(results, out_dir, kept["run_name"], dt.datetime.fromisoformat(kept["run_time"]))
