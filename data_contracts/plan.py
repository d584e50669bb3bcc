"""Output contracts: a plan's tables must balance, keep stock non-negative, respect capacity and lanes.

:func:`validate_plan` runs after planning and before a run is committed. Each rule is one GX expectation
on a plan table (a flag column computed here in polars where the rule spans several columns); a broken
rule raises :class:`PlanContractError` with the rows that break it, so a wrong plan is never published.
As the input contracts do (:mod:`data_contracts.gx_runner`), polars finds the rows each rule breaks and GX
is handed only those, must find exactly them, and its counts are those of the whole table; a plan that
breaks nothing (every plan the solver returns) needs no GX at all: on the big network that was 420,000
inventory rows converted to pandas and Great Expectations imported for every plan, ≈ 3 CPU-s of its plan
stage (docs/big-network.md, stop 32).

Tolerances: a balance holds when ``|residual| ≤ atol + rtol · scale`` (scale = the largest term of the
row), which is 1e-6 for ordinary quantities and allows the solver's relative feasibility tolerance on
very large ones; bounds allow ``atol`` (and ``rtol`` of the bound).
"""

from __future__ import annotations

import polars as pl

from data_contracts import schema
from data_contracts.checks import Check, E, flag
from data_contracts.config import RESULT_COLUMNS, PlanContractError
from data_contracts.gx_runner import CheckOutcome, GxValidator, verdicts

__all__ = ["validate_plan", "PLAN_ENTITY", "BALANCE_IN", "BALANCE_OUT"]

#: ``entity`` of output contract results.
PLAN_ENTITY = "plan"
#: Stock balance: opening + inflows − outflows = closing.
BALANCE_IN = ("opening", "released", "receipts", "arrivals")
BALANCE_OUT = ("departures", "served", "consumed", "expired")
_STOCK = ("opening", "closing")
_FLOWS = ("released", "receipts", "arrivals", "departures", "served", "consumed", "expired")


def _need(tables: dict[str, pl.DataFrame], t: schema.Table, columns: tuple[str, ...]) -> pl.DataFrame:
    if t.name not in tables:
        raise PlanContractError(f"{t.name}: plan table missing (rule: plan_tables)")
    frame = tables[t.name]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise PlanContractError(f"{t.name}: missing columns {missing} (rule: plan_columns)")
    return frame


def _flag(name: str, rule: str, columns: tuple[str, ...], broken: pl.Expr, reason: str) -> Check:
    # in a plan a missing value is itself a bug: null breaks the rule
    return flag(name, rule, columns, broken, reason, null_breaks=True)


def _inventory_checks(atol: float, rtol: float) -> list[Check]:
    terms = [*BALANCE_IN, *BALANCE_OUT, "closing"]
    residual = pl.sum_horizontal(BALANCE_IN) - pl.sum_horizontal(BALANCE_OUT) - pl.col("closing")
    scale = pl.max_horizontal([pl.col(c).abs() for c in terms])
    checks = [
        _flag(
            "balance",
            "stock_balance",
            ("opening", *_FLOWS, "closing"),
            residual.abs() > atol + rtol * scale,
            "breaks opening + released + receipts + arrivals − departures − served − consumed − expired = closing",
        )
    ]
    checks += [
        Check(rule, (c,), E.ExpectColumnValuesToBeBetween(column=c, min_value=-atol), words)
        for rule, columns, words in (("non_negative_stock", _STOCK, "is negative stock"),
                                     ("non_negative_flow", _FLOWS, "is a negative flow"))
        for c in columns
    ]
    checks += [Check("not_null", (c,), E.ExpectColumnValuesToNotBeNull(column=c), "is empty") for c in terms]
    return checks


def _capacity_checks(atol: float, rtol: float) -> list[Check]:
    return [
        _flag(
            "over_capacity",
            "capacity",
            ("resource_id", "week", "hours_used", "hours_available"),
            pl.col("hours_used") > pl.col("hours_available") * (1 + rtol) + atol,
            "uses more hours than available",
        )
    ]


def _shipment_checks(lanes: pl.DataFrame, atol: float) -> list[Check]:
    known = lanes.select(pl.concat_str("from_site", pl.lit("→"), "to_site")).to_series().unique().to_list()
    return [
        Check(
            "known_lane",
            ("from_site", "to_site"),
            E.ExpectColumnValuesToBeInSet(column="__lane", value_set=known),
            "is not an existing lane",
            derive={"__lane": pl.concat_str("from_site", pl.lit("→"), "to_site")},
        ),
        Check(
            "non_negative_flow",
            ("quantity",),
            E.ExpectColumnValuesToBeBetween(column="quantity", min_value=-atol),
            "is a negative shipment",
        ),
    ]


def _production_checks(resources: pl.DataFrame) -> list[Check]:
    known = (
        resources.select(pl.concat_str("resource_id", pl.lit("@"), "site_id")).to_series().unique().to_list()
    )
    return [
        Check(
            "known_resource",
            ("resource_id", "site_id"),
            E.ExpectColumnValuesToBeInSet(column="__resource_at", value_set=known),
            "is not a known resource at that plant",
            derive={"__resource_at": pl.concat_str("resource_id", pl.lit("@"), "site_id")},
        )
    ]


def _describe(frame: pl.DataFrame, t: schema.Table, o: CheckOutcome, shown: int) -> str:
    keys = [k for k in t.key if k != "run_id" and k in frame.columns]
    cols = keys + [c for c in o.check.columns if c not in keys]
    rows = frame[o.rows[:shown]].select(cols)
    lines = [
        "  " + ", ".join(f"{c}={v}" for c, v in zip(cols, r, strict=True)) + f": {o.check.reason}"
        for r in rows.iter_rows()
    ]
    return (
        f"{t.name}: {o.unexpected_count} of {o.element_count} rows break {o.check.name} "
        f"(rule: {o.check.rule}); first:\n" + "\n".join(lines)
    )


def validate_plan(
    tables: dict[str, pl.DataFrame],
    lanes: pl.DataFrame,
    resources: pl.DataFrame | None = None,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-9,
    shown: int = 5,
) -> pl.DataFrame:
    """Check a plan's output contracts.

    Args:
        tables: Plan table name (``schema.PLAN_*.name``) → frame; ``plan_inventory``, ``plan_capacity``
            and ``plan_shipments`` are required (``run_id`` may be there or not).
        lanes: The lanes planned on (``from_site``, ``to_site``).
        resources: The resources planned on (``resource_id``, ``site_id``); when given, production must be
            on a known resource at its own plant.
        atol: Absolute tolerance of balances and bounds.
        rtol: Relative tolerance (of the largest term of a balance, of the hours available).
        shown: Offending rows listed per broken rule in the error.

    Returns:
        The results: one row per expectation (``entity`` = ``plan``), all successful.

    Raises:
        PlanContractError: A table or column is missing, or a rule is broken; the message lists each broken
            rule with its first offending rows, and ``error.results`` holds every result.
    """
    inv_t, cap_t, ship_t, prod_t = (
        schema.PLAN_INVENTORY,
        schema.PLAN_CAPACITY,
        schema.PLAN_SHIPMENTS,
        schema.PLAN_PRODUCTION,
    )
    work = [
        (
            inv_t,
            _need(tables, inv_t, ("product_id", "site_id", "week", "opening", *_FLOWS, "closing")),
            _inventory_checks(atol, rtol),
        ),
        (
            cap_t,
            _need(tables, cap_t, ("resource_id", "week", "hours_used", "hours_available")),
            _capacity_checks(atol, rtol),
        ),
        (
            ship_t,
            _need(tables, ship_t, ("product_id", "from_site", "to_site", "week", "quantity")),
            _shipment_checks(lanes, atol),
        ),
    ]
    if resources is not None:
        work.append(
            (
                prod_t,
                _need(tables, prod_t, ("product_id", "resource_id", "site_id", "week")),
                _production_checks(resources),
            )
        )
    validator = GxValidator("plan")
    results, failures = [], []
    for t, frame, checks in work:
        _, outcomes = validator.validate(t.name, frame, checks, verdicts=verdicts(frame, checks))
        for o in outcomes:
            results.append(
                (PLAN_ENTITY, f"{t.name}:{o.check.name}", o.success, o.element_count, o.unexpected_count)
            )
            if not o.success:
                failures.append(_describe(frame, t, o, shown))
    table = pl.DataFrame(results, schema=RESULT_COLUMNS, orient="row")
    if failures:
        raise PlanContractError("plan breaks its output contracts:\n" + "\n".join(failures), table)
    return table
