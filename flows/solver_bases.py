"""Where a large plan's solver bases are kept between runs, so a replan starts from its base run's optimum.

On the ``blocks`` path (:mod:`optimization.decompose`) every block of the plan is its own HiGHS model. After
the plan stage each block's optimal basis is written with HiGHS's own basis file format to
``<stem>.solver-bases/<run_id>/<block key>.bas`` (:func:`warehouse.paths.solver_bases_dir`); a later run on
top of that run (a replan, a scenario, or the next weekly run, with ``frozen_weeks`` or not) offers each block
the file of the same key: the key digests the block's products and matrix pattern, so only the same block
of the same shape gets it. A block whose data did not change then solves in zero iterations; one whose hours,
demand or costs changed starts the simplex from the previous optimum. Files of other keys are ignored; a
missing or unreadable file means a cold start, never an error.
"""

from __future__ import annotations

from pathlib import Path

import highspy

from optimization.decompose import BlockState, WarmStart
from warehouse.paths import solver_bases_dir

__all__ = ["basis_loader", "save_bases"]


def save_bases(warehouse: Path | str, run_id: str, blocks: BlockState | None) -> int:
    """Write each block's basis of a plan solved block by block; returns the number written.

    Nothing is written for the ``pulp`` path or when a lane coupled the blocks (the whole model was solved).
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
    return written


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
