"""The search over the suites' schedules that the campaign MIP's start may be taken from.

:func:`_searched_setups` judges the relaxation sequenced into campaigns and the suites' rotations, each by a
whole-batch plan on a copy of the relaxation without the bound's rows (:class:`PlainRelaxation`), then moves,
merges and swaps campaigns (:class:`~optimization.campaign_search.SetupSearch`) within its budget of
schedules. Run by :mod:`optimization.solve_start`.
"""

from __future__ import annotations

from dataclasses import dataclass

import highspy
import numpy as np
import polars as pl

from optimization.campaign_schedule import SuiteGrid, rotation_setups
from optimization.campaign_search import HOT_START_SHARE, SetupSearch
from optimization.config import PlanConfig
from optimization.highs_direct import new_highs
from optimization.model import Model
from optimization.pulp_highs import integer_mask


#: rotations tried: each suite through its products this many times over the horizon
ROTATION_CYCLES = (1, 2, 3)


@dataclass(frozen=True)
class PlainRelaxation:
    """The relaxation the search copies (its LP, optimal basis and simplex iterations), taken before rows for
    the bound join it: judged on the relaxation with the fit rows, the search's first LP took 7.7 CPU-s and
    41,649 iterations on the piece where its 48 schedules took 4.8 CPU-s without them (load 40)."""

    lp: highspy.HighsLp
    basis: highspy.HighsBasis
    iterations: int

    @classmethod
    def of(cls, h: highspy.Highs) -> PlainRelaxation:
        """``h``'s LP and basis as they are now (copies)."""
        return cls(h.getLp(), h.getBasis(), int(h.getInfo().simplex_iteration_count))


def _searched_setups(
    model: Model, relaxation: highspy.Highs | PlainRelaxation, setup: pl.DataFrame, sequenced: pl.DataFrame, deadline: float,
    evaluations: int = PlanConfig().campaign_search_evaluations, priced: bool = False,
    first: dict[str, pl.DataFrame] | None = None,
) -> tuple[pl.DataFrame, str, tuple[np.ndarray, float] | None]:
    """The setups to complete: the relaxation sequenced into campaigns (``sequenced``) and the suites'
    rotations (:func:`~optimization.campaign_schedule.rotation_setups`) judged by the LP with those setups
    fixed, suite by suite, then improved by moving, merging and swapping campaigns
    (:class:`~optimization.campaign_search.SetupSearch`) until ``evaluations`` schedules are judged (or, a
    safety limit named in the line when it cuts, ``deadline`` passes); with ``priced``, the moves (and
    suites) in the order of their gain priced by the best plan's reduced costs. Each schedule is judged by a
    whole-batch plan: the LP with its setups fixed, its batches rounded down and up where the hours hold
    them, the LP again with every integer fixed; both on a copy of the relaxation from the last basis. The
    best schedule's plan is the start. ``first``: named setups (``col, start``) judged before the others (the
    first is judged whatever the clock says: the blocks' priced schedule when their completion found no plan).
    Returns the setups (``col, start``), a line for the attempts and that
    plan (every column's value, objective; None when both LPs fail)."""
    plain = relaxation if isinstance(relaxation, PlainRelaxation) else PlainRelaxation.of(relaxation)
    grid = SuiteGrid.of(setup)
    h = new_highs()
    h.passModel(plain.lp)
    h.setBasis(plain.basis)  # tried first, for HOT_START_SHARE of the relaxation's iterations
    candidates = {name: grid.chosen(f) for name, f in (first or {}).items()} | {"sequenced": grid.chosen(sequenced)}
    for cycles in ROTATION_CYCLES:
        chosen = rotation_setups(grid, cycles)
        if all(grid.valid(r, chosen[r]) for r in range(len(chosen))) and not any(
                np.array_equal(chosen, c) for c in candidates.values()):
            candidates[f"rotation x{cycles}"] = chosen
    capacity = model.builder.rows.get("capacity")
    if capacity is not None:
        capacity = capacity.select("resource_id", "t", row=pl.Series(
            [model.builder.prob.constraints[n].index for n in capacity["name"].to_list()], dtype=pl.Int64))
    search = SetupSearch(h, grid, model.frames, np.flatnonzero(integer_mask(model.builder.variables)), capacity,
                         hot_iterations=int(HOT_START_SHARE * plain.iterations),
                         ordered=priced)
    name, chosen, value = search.best_of(candidates, deadline, evaluations)
    first = search.evaluations
    chosen, searched = search.improve(chosen, value, deadline, evaluations)
    plan = (search.plan, search.best) if search.plan is not None else None
    ended = f"{search.evaluations} of {evaluations} schedules"
    if search.clock_cut:
        ended = f"CUT BY THE CLOCK after {ended}: this plan depends on the machine's load"
    note = (f"setups searched: {'; '.join(search.log)}; best {name} {value:,.0f} ({first} LPs), moves "
            f"{searched:,.0f} ({search.evaluations - first} LPs); {ended}, "
            f"{search.work:,} simplex iterations")
    return grid.setups(chosen), note, plan
