"""The solver as every step of a solve makes it, and its result read the same way by all of them.

:func:`make_solver` configures PuLP's HiGHS (the highspy API with a bulk transfer and an optional MIP start)
or CBC; :func:`objective_of` reads the objective at the variables' values, :func:`mip_gap_of` the gap reported
for a MIP's plan and :func:`_within_gap` the one rule for a plan proved within ``mip_gap``; :func:`_took` is a
step's CPU and wall seconds for the solve's attempts. :mod:`optimization.solve` and its steps
(``solve_start``, ``solve_bounds``, ``solve_duals``) import it; it imports none of them.
"""

from __future__ import annotations

import time

import numpy as np
import pulp

from optimization.campaign_blocks import relative_gap
from optimization.config import PlanConfig
from optimization.pulp_highs import BulkHiGHS

__all__ = ["make_solver", "mip_gap_of", "objective_of"]


def make_solver(
    name: str,
    config: PlanConfig,
    *,
    mip: bool,
    variables: list[pulp.LpVariable] | None = None,
    start: tuple[np.ndarray, np.ndarray] | None = None,
    method: str | None = None,
    options: dict[str, bool | int | float | str] | None = None,
) -> pulp.LpSolver:
    """A configured PuLP solver: ``HiGHS`` (highspy API, bulk transfer, optional MIP start, ``method``
    its LP ``solver`` option: ``simplex``, ``ipm``; None = HiGHS's choice; ``options``: more HiGHS options by
    name) or ``PULP_CBC_CMD``."""
    if name == "highs":
        return BulkHiGHS(
            mip=mip,
            msg=False,
            timeLimit=config.time_limit_seconds,
            gapRel=config.mip_gap,
            threads=config.threads,
            variables=variables,
            start=start,
            **({} if method is None else {"solver": method}),
            **(options or {}),
        )
    return pulp.PULP_CBC_CMD(
        mip=mip, msg=False, timeLimit=config.time_limit_seconds, gapRel=config.mip_gap, threads=config.threads
    )


def objective_of(prob: pulp.LpProblem) -> float | None:
    """The objective at the variables' current values (None when some have none)."""
    value = pulp.value(prob.objective)
    return None if value is None else float(value)


def mip_gap_of(objective: float | None, highs_bound: float | None, relaxed: float | None) -> float | None:
    """The gap reported for a MIP's plan: :func:`~optimization.campaign_blocks.relative_gap` (a number in
    [0, 1]) of ``objective`` against the best finite bound known (HiGHS's MIP dual bound, the relaxation's
    objective); None ("no gap") when there is no finite objective or no finite bound."""
    bounds = [b for b in (highs_bound, relaxed) if b is not None and np.isfinite(b)]
    if objective is None or not np.isfinite(objective) or not bounds:
        return None
    return relative_gap(objective, max(bounds))


def _within_gap(objective: float | None, lower: float | None, config: PlanConfig) -> bool:
    """Whether a plan of ``objective`` is proved within ``config.mip_gap`` of the bound ``lower``, by the gap
    :func:`mip_gap_of` reports (up to rounding, so a gap of 0 counts): the one rule for skipping the campaign
    MIP, for the search after the blocks' start and for reporting such a start ``Optimal``."""
    gap = mip_gap_of(objective, None, lower)
    return gap is not None and gap <= config.mip_gap + 1e-9


def _took(wall: float, cpu: float) -> str:
    """`` (x CPU-s, y s wall)`` since ``time.perf_counter()`` ``wall`` and ``time.process_time()`` ``cpu``."""
    return f" ({time.process_time() - cpu:.1f} CPU-s, {time.perf_counter() - wall:.1f} s wall)"
