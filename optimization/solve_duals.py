"""A MIP's duals and the worth of an hour: the LP with the integers fixed, and the rows taken out before it.

After a MIP, the rows in the model for the bound only (:data:`BOUND_FAMILIES`) and the link rows its
capacity rows imply (:func:`_drop_implied_link_rows`, by :func:`link_caps`) leave the model; then
:func:`_duals_with_integers_fixed` re-solves the LP with every integer fixed, so shadow prices mean "one more
hour, same batches". :func:`capacity_price_range` measures an hour from both sides by re-solving.
"""

from __future__ import annotations

import highspy
import polars as pl
import pulp

from optimization.campaigns import PRT
from optimization.config import PlanConfig
from optimization.decompose_price import block_price_range
from optimization.highs_direct import ArrayBuilder
from optimization.model import Model
from optimization.solver import make_solver

__all__ = ["BOUND_FAMILIES", "LINK_FAMILIES", "capacity_price_range", "link_caps"]


#: families of valid inequalities that are in the model for the bound only (``campaign_fit`` and
#: ``campaign_fill``: ``campaign_fit_bound`` or ``campaign_fit_cuts``; ``campaign_weeks``: ``campaign_week_rows``)
BOUND_FAMILIES = ("campaign_fit", "campaign_fill", "campaign_weeks")


def _drop_bound_rows(model: Model) -> None:
    """Take the :data:`BOUND_FAMILIES` rows out of the model after its MIP. Every integer plan holds them, so
    they change no plan; but in the LP with the integers fixed a row may bind beside the capacity and stock
    rows it was derived from (a continuous campaign routing's ``campaign_fit`` row is its week's hours after
    the switch; a cover row bounds an echelon's stock and backlog) and take a share of their duals, which
    would change the shadow prices, price ranges and shortage reasons reported with the plan."""
    prob, rows = model.builder.prob, model.builder.rows
    for family in BOUND_FAMILIES:
        named = rows.pop(family, None)
        for name in [] if named is None else named["name"].to_list():
            del prob.constraints[name]


#: link rows ``make ≤ m × y`` by family, with the frame of their integer ``y`` (``campaign``: a campaign
#: resource set up for the product; ``setup``: lot sizing's "anything started" for a minimum batch)
LINK_FAMILIES = {"campaign": "setup_for", "setup": "setup"}


def _drop_implied_link_rows(model: Model) -> None:
    """Take out of the model, before the LP with the integers fixed, the link rows ``make ≤ m × y`` whose
    ``y`` is 1 in the plan and whose ``m`` is at least the week's hours over the routing's hours per unit.

    With the integers fixed such a row says ``make ≤ hours / hours per unit``, which the resource's
    capacity row already says (its other terms are other starts' hours and changeover hours, none
    negative with the setups fixed: a named switch's pair replaces the default hours by its own). In a
    campaign week without a switch the two rows are the same row for a continuous routing, and HiGHS
    may give the dual to the link row: the hour was priced 0 where it is worth the late units it would
    make (the hand case of ``tests/test_campaign_fit.py``: 0 for 1,999 and 999), with no price range and
    a planner told that hours are free. Without the row the feasible set is the same and the hour's
    value is on the capacity row. Kept: rows whose ``y`` is 0 (they say nothing starts), rows whose
    ``m`` is below the capacity (``campaign_need_bound``'s need: a real limit on that LP, though a
    dominance one) and routings using no hours (their ``m`` is a demand bound, not hours)."""
    prob, variables, rows = model.builder.prob, model.builder.variables, model.builder.rows
    links = link_caps(model)
    for family in LINK_FAMILIES:
        named = rows.get(family)
        if named is None:
            continue
        mine = links.filter(pl.col("family") == family).drop("family")
        linked = named.join(mine, on=PRT, validate="1:1").filter(pl.col("cap").is_not_null())
        implied = []
        for name, col, cap in linked.select("name", "col", "cap").iter_rows():
            y = variables[col]
            if round(y.varValue or 0.0) == 1 and -prob.constraints[name].get(y, 0.0) >= cap * (1.0 - 1e-9):
                implied.append(name)
        for name in implied:
            del prob.constraints[name]
        rows[family] = named.filter(~pl.col("name").is_in(implied))


def link_caps(model: Model) -> pl.DataFrame:
    """Every link row's integer (``col``), its row family (``family``), the start it bounds (``make_col``) and
    ``cap``, the most the week's hours start (its hours over the routing's hours per unit; null for a routing
    using none): what :func:`_drop_implied_link_rows` and, on the blocks path,
    :func:`~optimization.campaign_blocks.free_implied_links` compare a link's ``m`` with."""
    hours = model.network.hours.select("resource_id", "t", "hours_available")
    per_unit = model.frames["make"].select(pl.col("col").alias("make_col"), "hours_per_unit")
    parts = [model.frames[name].select(*PRT, "col", "make_col", family=pl.lit(family))
             for family, name in LINK_FAMILIES.items() if name in model.frames]
    if not parts:  # no integer links: none, in the make frame's types
        parts = [model.frames["make"].clear().select(*PRT, "col", make_col="col", family=pl.lit(""))]
    cap = pl.when(pl.col("hours_per_unit") > 0).then(pl.col("hours_available") / pl.col("hours_per_unit"))
    return (
        pl.concat(parts)
        .join(per_unit, on="make_col", validate="m:1")
        .join(hours, on=["resource_id", "t"], validate="m:1")
        .select(*PRT, "family", "col", "make_col", cap=cap)
    )


def _duals_with_integers_fixed(model: Model, config: PlanConfig, solver: str) -> bool:
    """Re-solve the LP with integer variables fixed at their values; True if it solved to optimality."""
    ints = [v for v in model.builder.variables if v.cat == pulp.LpInteger]
    saved = [(v.lowBound, v.upBound) for v in ints]
    values = {id(v): v.varValue for v in model.builder.variables}
    for v in ints:
        v.lowBound = v.upBound = round(v.varValue or 0.0)
    try:
        status = model.builder.prob.solve(
            make_solver(solver, config, mip=False, variables=model.builder.variables)
        )
    except Exception:
        status = pulp.LpStatusNotSolved
    for v, (lo, up) in zip(ints, saved):
        v.lowBound, v.upBound = lo, up
    if status != pulp.LpStatusOptimal:  # keep the MIP's values
        for v in model.builder.variables:
            v.varValue = values[id(v)]
        return False
    return True


def capacity_price_range(model: Model, keys: pl.DataFrame) -> pl.DataFrame:
    """What one hour is worth at each named resource-week, from both sides, by re-solving.

    At a full resource the dual is not unique (any value between the two one-sided derivatives is
    one), so one hour more and one hour less are each solved again from the optimal basis (HiGHS warm
    start; a few simplex iterations each) and the bounds are put back.

    Args:
        model: a model solved by HiGHS (the LP, or a MIP's LP with the integers fixed).
        keys: ``resource_id, t`` of the capacity rows to measure.

    Returns:
        ``resource_id, t, price_low`` (objective saved by one hour more) and ``price_high`` (objective
        lost by one hour less); empty when the model was not solved by HiGHS.
    """
    if isinstance(model.builder, ArrayBuilder):
        rows = model.builder.rows.get("capacity", pl.DataFrame(schema={"resource_id": pl.String, "t": pl.Int64,
                                                                        "row": pl.Int64}))
        return block_price_range(model.builder, rows, keys)
    out = {"resource_id": [], "t": [], "price_low": [], "price_high": []}
    schema = {"resource_id": pl.String, "t": pl.Int64, "price_low": pl.Float64, "price_high": pl.Float64}
    prob = model.builder.prob
    h = getattr(prob, "solverModel", None)
    rows = model.builder.rows.get("capacity")
    if not isinstance(h, highspy.Highs) or rows is None or keys.height == 0:
        return pl.DataFrame(out, schema=schema)
    named = rows.join(keys.select("resource_id", "t"), on=["resource_id", "t"], how="inner")
    base = h.getInfo().objective_function_value
    lp = h.getLp()
    for resource, t, name in named.select("resource_id", "t", "name").iter_rows():
        i = prob.constraints[name].index
        lo, up = lp.row_lower_[i], lp.row_upper_[i]
        objective = []
        for hours in (up + 1.0, max(up - 1.0, 0.0)):
            h.changeRowBounds(i, lo, hours)
            h.run()
            ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
            objective.append(h.getInfo().objective_function_value if ok else None)
        h.changeRowBounds(i, lo, up)
        more, less = objective
        out["resource_id"].append(resource)
        out["t"].append(t)
        out["price_low"].append(None if more is None else max(base - more, 0.0))
        # a week without hours (a shutdown) has no hour to lose; under one hour, per hour of what there is
        out["price_high"].append(None if less is None or up <= 0 else max(less - base, 0.0) / min(up, 1.0))
    h.run()  # back to the plan's own optimum
    return pl.DataFrame(out, schema=schema)
