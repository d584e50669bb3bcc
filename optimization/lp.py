"""Thin helpers that turn index frames into PuLP variables and named constraints.

A :class:`ModelBuilder` owns the :class:`pulp.LpProblem` and one flat list of variables; every index
frame refers to its variables by the integer column ``col`` (the position in that list), so the rest
of the code works on frames and never loops over variables. Constraints are added from a *terms*
frame (constraint key, ``col``, ``coef``): terms are grouped per key and each row becomes one named
constraint whose expression is an :class:`~pulp.LpAffineExpression` built from ``(variable, coef)``
tuples.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pulp

__all__ = ["ModelBuilder", "check_empty_rows", "row_names"]

_SENSES = {"==": pulp.LpConstraintEQ, "<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE}


def row_names(family: str, frame: pl.DataFrame, key: list[str]) -> pl.Series:
    """LP-writer-safe unique names ``family_k1_k2_...`` (``family[k1,k2,...]`` with symbols replaced)."""
    if frame.height == 0:
        return pl.Series("name", [], dtype=pl.String)
    raw = frame.select(
        pl.concat_str([pl.lit(family), *[pl.col(k).cast(pl.String) for k in key]], separator="_")
        .str.replace_all(r"[^A-Za-z0-9_.]", "_")
        .alias("name")
    )["name"]
    dup = raw.is_duplicated()
    if dup.any():  # ids that differ only in symbols: disambiguate by row number
        raw = (
            pl.select(
                pl.when(dup)
                .then(pl.concat_str([raw, pl.int_range(raw.len()).cast(pl.String)], separator="_r"))
                .otherwise(raw)
            )
            .to_series()
            .alias("name")
        )
    return raw


@dataclass
class ModelBuilder:
    """An LP under construction: the problem, its variables and the named constraint families."""

    prob: pulp.LpProblem = field(default_factory=lambda: pulp.LpProblem("plantwin", pulp.LpMinimize))
    variables: list[pulp.LpVariable] = field(default_factory=list)
    #: constraint family → frame of its key columns plus ``name`` (rows that got a constraint)
    rows: dict[str, pl.DataFrame] = field(default_factory=dict)

    def add_variables(
        self,
        family: str,
        frame: pl.DataFrame,
        key: list[str],
        *,
        integer: bool = False,
        upper: float | None = None,
    ) -> pl.DataFrame:
        """Create one variable ``>= 0`` per row of ``frame``; return the frame with its ``col``."""
        start = len(self.variables)
        cat = pulp.LpInteger if integer else pulp.LpContinuous
        add = self.prob.add_variable
        self.variables.extend(add(n, 0, upper, cat) for n in row_names(family, frame, key))
        return frame.with_columns(col=pl.int_range(start, start + frame.height, dtype=pl.Int64))

    def add_constraints(
        self,
        family: str,
        rows: pl.DataFrame,
        key: list[str],
        terms: pl.DataFrame,
        sense: str,
        rhs: str,
    ) -> pl.DataFrame:
        """Add ``sum(coef * var) <sense> rhs`` for every row of ``rows`` that has terms.

        Args:
            family: constraint family, the name prefix (``balance`` → ``balance_P1_DC1_3``).
            rows: one row per constraint: ``key`` columns and the ``rhs`` column.
            key: columns identifying a constraint.
            terms: ``key`` columns, ``col`` (variable) and ``coef``; several per constraint.
            sense: ``==``, ``<=`` or ``>=``.
            rhs: column of ``rows`` holding the right-hand side.

        Returns:
            ``rows``' key columns and ``name`` for the rows that became constraints.

        Raises:
            ValueError: a row without terms whose constraint cannot hold (``0 == 3``), naming it.
        """
        grouped = terms.filter(pl.col("coef") != 0).group_by(key).agg("col", "coef")
        joined = rows.join(grouped, on=key, how="left", validate="1:1").filter(pl.col("col").is_not_null())
        empty = rows.join(grouped, on=key, how="anti")
        check_empty_rows(family, empty, key, sense, rhs)
        names = row_names(family, joined, key)
        var = self.variables.__getitem__
        con, expr, add = pulp.LpConstraint, pulp.LpAffineExpression, self.prob.addConstraint
        s = _SENSES[sense]
        for name, cols, coefs, b in zip(
            names, joined["col"].to_list(), joined["coef"].to_list(), joined[rhs].to_list()
        ):
            add(con(expr(zip(map(var, cols), coefs)), s, name, b))
        out = joined.select(key).with_columns(names)
        self.rows[family] = out
        return out

    def set_objective(self, costs: pl.DataFrame, constant: float = 0.0) -> None:
        """Objective ``sum(coef * var) + constant`` from a ``col, coef`` frame; registers every variable."""
        coef = dict(zip(costs["col"].to_list(), costs["coef"].to_list()))
        get = coef.get
        self.prob.setObjective(
            pulp.LpAffineExpression(
                ((v, get(i, 0.0)) for i, v in enumerate(self.variables)), constant=constant
            )
        )

    def values(self, frame: pl.DataFrame, name: str = "value") -> pl.DataFrame:
        """``frame`` with the solution value of its ``col`` (null when the solver gave none)."""
        v = self.variables
        return frame.with_columns(
            pl.Series(name, [v[i].varValue for i in frame["col"].to_list()], dtype=pl.Float64)
        )

    def duals(self, family: str) -> pl.DataFrame:
        """The family's constraint keys with ``pi`` (dual value as the solver reports it, or null)."""
        rows = self.rows.get(family)
        if rows is None:
            return pl.DataFrame()
        get = self.prob.get_constraint_by_name
        return rows.with_columns(
            pl.Series("pi", [get(n).pi for n in rows["name"].to_list()], dtype=pl.Float64)
        )


def check_empty_rows(family: str, empty: pl.DataFrame, key: list[str], sense: str, rhs: str) -> None:
    """Raise for rows without variables whose constraint cannot hold (``0 == 3``), naming them."""
    bad = {
        "==": pl.col(rhs).abs() > 1e-9,
        "<=": pl.col(rhs) < -1e-9,
        ">=": pl.col(rhs) > 1e-9,
    }[sense]
    broken = empty.filter(bad)
    if broken.height:
        raise ValueError(
            f"{family}: constraints without variables cannot hold: {broken.select(*key, rhs).head(5).rows()}"
        )
