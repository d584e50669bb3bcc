"""The worth of an hour on the blocks path: one hour more and one less, re-solved on the block that holds it.

The blocks' HiGHS models stay in memory with their optimal bases: :func:`block_price_range` re-solves one
hour more and one hour less on the block that holds a resource (a few simplex iterations on a fraction of
the model).
"""

from __future__ import annotations

import polars as pl

from optimization.decompose import BlockState
from optimization.decompose_highs import _OK
from optimization.highs_direct import ArrayBuilder

__all__ = ["block_price_range"]


def block_price_range(builder: ArrayBuilder, rows: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """What one hour is worth at each named resource-week, re-solved on the block that holds it.

    Args:
        builder: a model solved by :func:`~optimization.decompose.solve_blocks` (``builder.blocks`` set).
        rows: the capacity family's ``resource_id, t, row``.
        keys: ``resource_id, t`` of the capacity rows to measure.

    Returns:
        ``resource_id, t, price_low, price_high`` as :func:`optimization.solve_duals.capacity_price_range`.
    """
    schema = {"resource_id": pl.String, "t": pl.Int64, "price_low": pl.Float64, "price_high": pl.Float64}
    out: dict[str, list] = {k: [] for k in schema}
    state: BlockState | None = builder.blocks
    if state is None or keys.height == 0:
        return pl.DataFrame(out, schema=schema)
    named = rows.join(keys.select("resource_id", "t"), on=["resource_id", "t"], how="inner")
    lower, upper = builder.row_bounds()
    touched: set[int] = set()
    for resource, t, row in named.select("resource_id", "t", "row").iter_rows():
        k = int(state.row_model[row])
        if k < 0:
            continue
        h, i = state.highs[k], int(state.row_local[row])
        touched.add(k)
        base = h.getInfo().objective_function_value
        lo, up = float(lower[row]), float(upper[row])
        objective = []
        for hours in (up + 1.0, max(up - 1.0, 0.0)):
            h.changeRowBounds(i, lo, hours)
            h.run()
            objective.append(h.getInfo().objective_function_value if h.getModelStatus() == _OK else None)
        h.changeRowBounds(i, lo, up)
        h.run()  # back to the block's own optimum (the next key's base)
        more, less = objective
        out["resource_id"].append(resource)
        out["t"].append(t)
        out["price_low"].append(None if more is None else max(base - more, 0.0))
        # a week without hours (a shutdown) has no hour to lose; under one hour, per hour of what there is
        out["price_high"].append(None if less is None or up <= 0 else max(less - base, 0.0) / min(up, 1.0))
    return pl.DataFrame(out, schema=schema)
