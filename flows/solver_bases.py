"""Where a large plan's solver bases are kept between runs, so a replan starts from its base run's optimum.

On the ``blocks`` path (:mod:`optimization.decompose`) every block of the plan is its own HiGHS model. After
the plan stage each block's optimal basis is written with HiGHS's own basis file format to
``<stem>.solver-bases/<run_id>/<block key>.bas`` (:func:`warehouse.paths.solver_bases_dir`); a later run on
top of that run (a replan, a scenario, or the next weekly run, with ``frozen_weeks`` or not) offers each block
the file of the same key: the key digests the block's products and matrix pattern, so only the same block
of the same shape gets it. A block whose data did not change then solves in zero iterations; one whose hours,
demand or costs changed starts the simplex from the previous optimum. Files of other keys are ignored; a
missing or unreadable file means a cold start, never an error; but a base run whose folder is missing altogether
(a warehouse copied without it) is said in a ``warm_start_missing`` run warning
(:func:`missing_bases_warning`), since its plan can take fifteen times the solver time of a warm one.

The folder does not grow without end: after each save only the newest :data:`KEEP_RUNS` runs' bases are
kept, and the run the plan started from (a replan's base, whose bases the next what-if wants again). An older
run replanned later starts cold.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import highspy
import polars as pl

from data_contracts.config import WARNING_SCHEMA
from optimization.decompose import BlockState, WarmStart
from warehouse.paths import solver_bases_dir

__all__ = ["KEEP_RUNS", "WARM_START_MISSING", "basis_loader", "missing_bases_warning", "save_bases"]

#: the rule's name in ``run_warnings``
WARM_START_MISSING = "warm_start_missing"

#: runs whose bases are kept beside the warehouse (besides the base of the run just saved)
KEEP_RUNS = 8


def save_bases(
    warehouse: Path | str, run_id: str, blocks: BlockState | None, base_run: str | None = None
) -> int:
    """Write each block's basis of a plan solved block by block; returns the number written.

    Nothing is written for the ``pulp`` path or when a lane coupled the blocks (the whole model was solved).
    Then the bases of all but the newest :data:`KEEP_RUNS` runs and ``base_run`` are removed.
    """
    if blocks is None or blocks.whole:
        return 0
    folder = solver_bases_dir(warehouse) / run_id
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    for key, h in zip(blocks.keys, blocks.highs):
        if h.getInfo().basis_validity == 1:  # getBasis() would copy every status into Python
            h.writeBasis(str(folder / f"{key}.bas"))
            written += 1
    _prune(solver_bases_dir(warehouse), keep={run_id, base_run})
    return written


def _prune(root: Path, keep: set[str | None]) -> None:
    """Remove the run folders under ``root`` beyond the newest :data:`KEEP_RUNS` (by modification time),
    never one named in ``keep``."""
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in runs[KEEP_RUNS:]:
        if old.name not in keep:
            shutil.rmtree(old, ignore_errors=True)


def basis_loader(warehouse: Path | str, run_id: str | None) -> WarmStart | None:
    """A warm start reading the bases ``run_id``'s plan stored (None when it stored none)."""
    if run_id is None:
        return None
    folder = solver_bases_dir(warehouse) / run_id
    if not folder.is_dir():
        return None

    def load(key: str, h) -> bool:
        path = folder / f"{key}.bas"
        if not path.is_file():
            return False
        return h.readBasis(str(path)) == highspy.HighsStatus.kOk

    return load


def missing_bases_warning(
    warehouse: Path | str, base_run: str | None, blocks: BlockState | None, base_saved: int | None = None
) -> pl.DataFrame:
    """The ``warm_start_missing`` warning (``WARNING_SCHEMA``, entity ``plan``, key the folder) when a plan solved
    block by block had a base run whose bases folder does not exist, so every block started cold.

    Not said without a base run (a first plan), on the ``pulp`` path (no bases are kept), when the base run
    kept none (``base_saved`` 0, its ``runs.solver_bases``: it was solved on the ``pulp`` path or whole, so
    there was never a folder to copy), or when the folder is there (a block whose shape changed starting cold
    is the what-if's own doing, not a missing file). A base older than ``runs.solver_bases`` (None) is
    looked for as before.
    """
    if base_run is None or blocks is None or blocks.whole or base_saved == 0:
        return pl.DataFrame(schema=WARNING_SCHEMA)
    folder = solver_bases_dir(warehouse) / base_run
    if folder.is_dir():
        return pl.DataFrame(schema=WARNING_SCHEMA)
    reason = (f"no solver bases of the base run {base_run} in {folder}: all {len(blocks.keys)} blocks of the plan "
              "started cold (on the big network 15 times the solver time of a warm start). A warehouse copied without its "
              f"{folder.parent.name} folder (or a base older than the newest {KEEP_RUNS} runs') loses its warm "
              "start; copy that folder beside the warehouse to keep it")
    return pl.DataFrame([("plan", WARM_START_MISSING, str(folder), reason)], schema=WARNING_SCHEMA, orient="row")
