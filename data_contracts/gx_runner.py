"""The Great Expectations boundary: one ephemeral context per validation, polars in, row numbers out.

This is the only module that turns polars frames into pandas frames (:func:`_to_pandas`), because GX
validates pandas frames here. Each frame validated becomes a dataframe asset of one pandas data source
and is checked against a suite built in code, with result format ``COMPLETE`` so that every failing row
comes back as a position in the frame.

The input contracts hand GX only the rows it must see (``rows`` of :meth:`GxValidator.validate`): the
rows some check breaks, found in polars (:func:`data_contracts.rules.broken`). GX runs every expectation
on those rows, its verdict must equal polars' row for row (else ``RuntimeError``: a bug in a check), and
each result is rescaled to the whole frame (element, missing and unexpected counts and percentages), so the
validation results and Data Docs read as if GX had seen every row. The rows no check breaks pass every
expectation: GX would find nothing there, and converting millions of clean rows to pandas for it cost most
of the contracts' time and memory.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from typing import TYPE_CHECKING

import polars as pl

from data_contracts.config import SUPPORTED_MAX_DATE, SUPPORTED_MIN_DATE
from data_contracts.rules import Check, broken

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CheckOutcome", "DeferredValidation", "GxValidator", "gx_view", "verdicts"]

logging.getLogger("great_expectations").setLevel(logging.ERROR)


@dataclass(frozen=True)
class CheckOutcome:
    """How one check fared on one frame.

    Attributes:
        check: The check.
        success: Whether every row passed.
        element_count: Rows checked.
        unexpected_count: Rows that broke it.
        rows: 0-based positions of the rows that broke it.
    """

    check: Check
    success: bool
    element_count: int
    unexpected_count: int
    rows: list[int]


def gx_view(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` as GX sees it, still in polars: dates outside what ``datetime64[ns]`` holds are null."""
    dates = [
        pl.when(pl.col(c).is_between(SUPPORTED_MIN_DATE, SUPPORTED_MAX_DATE)).then(pl.col(c)).alias(c)
        for c, dtype in frame.schema.items()
        if dtype == pl.Date
    ]
    return frame.with_columns(dates) if dates else frame


def _to_pandas(frame: pl.DataFrame) -> "pd.DataFrame":
    """The one polars → pandas conversion (GX validates pandas frames); positions become the index.

    Dates become ``datetime64[ns]``: GX compares those vectorised, other datetime units value by value.
    Text becomes pandas categoricals: GX fingerprints each batch by hashing the whole frame (twice per
    validation), and pandas hashes an object column by factorising it first while a categorical hashes
    its distinct values once; on 8.5 million order lines that halves the time of the input contracts.
    The expectations used here give the same verdicts and rows either way (GX lists a null as NaN).
    Dates outside what ``datetime64[ns]`` holds (``9999-12-31``, ``0001-01-01``) become null here: the
    ``date_range`` rule, computed in polars before this conversion, has already flagged them.
    """
    dates = [
        pl.when(pl.col(c).is_between(SUPPORTED_MIN_DATE, SUPPORTED_MAX_DATE))
        .then(pl.col(c))
        .cast(pl.Datetime("ns"))
        for c, dtype in frame.schema.items()
        if dtype == pl.Date
    ]
    return frame.with_columns(*dates, pl.col(pl.String).cast(pl.Categorical)).to_pandas()


def _row_positions(result: dict[str, Any]) -> list[int]:
    rows = result.get("unexpected_index_list") or []
    # Multi-column expectations may report each row as a dict holding its index.
    return [int(r["index"]) if isinstance(r, dict) else int(r) for r in rows]


class GxValidator:
    """An ephemeral GX context with one pandas data source; validates frames against suites of checks.

    The context (and Great Expectations itself) is made on the first suite GX must run: a validation whose
    verdicts break nothing hands GX no row, so its results are known without GX and are made by GX only
    when asked for (:class:`DeferredValidation`, e.g. by the Data Docs).
    """

    def __init__(self, name: str = "plantwin") -> None:
        self.name = name
        self._source: Any = None

    @property
    def context(self) -> Any:
        """The ephemeral GX context (imports Great Expectations on first use)."""
        self._open()
        return self._context

    def _open(self) -> None:
        if self._source is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            self._context = gx.get_context(mode="ephemeral")
            self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
            self._source = self._context.data_sources.add_pandas(self.name)

    def validate(
        self,
        name: str,
        frame: pl.DataFrame,
        checks: Sequence[Check],
        verdicts: pl.DataFrame | None = None,
        outside: tuple[int, Sequence[int]] | None = None,
    ) -> tuple[Any, list[CheckOutcome]]:
        """Validate ``frame`` against ``checks`` as the suite ``name``.

        Args:
            name: Suite and asset name (unique within this validator).
            frame: Typed frame; helper columns of the checks are derived here.
            checks: The checks.
            verdicts: Optional, from :func:`verdicts`: GX then sees only the rows some check breaks there,
                must find exactly those rows for each check, and its results are rescaled to ``frame``.
                Where no check breaks any row, GX sees nothing now: every check passed on every row, and
                the GX result is a :class:`DeferredValidation`, made (on no row, rescaled) when read.
                None: GX sees every row.
            outside: With ``verdicts``: rows of the entity not in ``frame`` at all, which passed every check
                where they are (:mod:`data_contracts.screen`), and per check how many of them lack a value
                it reads; the results are counted over ``frame`` and them.

        Returns:
            The GX validation result and one :class:`CheckOutcome` per check, in the order of ``checks``.

        Raises:
            RuntimeError: An expectation could not be evaluated, or GX and polars disagree on a row (a bug
                in a suite or in :func:`data_contracts.rules.broken`, not in the data).
        """
        frame = _derived(frame, checks)
        n = frame.height + (outside[0] if outside else 0)
        if verdicts is None:
            return self._run(name, frame, checks, None, None, n, None)
        seen = (
            verdicts.select(pl.any_horizontal(pl.all())).to_series().arg_true()
            if verdicts.width
            else pl.Series(dtype=pl.UInt32)
        )
        missing_counts = gx_view(frame).select(
            pl.any_horizontal(pl.col(c).is_null() for c in _columns_of(check.expectation)).sum().alias(str(i))
            for i, check in enumerate(checks)
        ).row(0)
        if outside:
            missing_counts = tuple(m + k for m, k in zip(missing_counts, outside[1], strict=True))
        if seen.len() == 0:  # nothing broken: GX would be handed no row and find nothing
            deferred = DeferredValidation(self, name, frame.head(0), list(checks), verdicts.head(0), n, missing_counts)
            return deferred, [CheckOutcome(c, True, n, 0, []) for c in checks]
        return self._run(name, frame[seen], checks, seen, verdicts, n, missing_counts)

    def _run(
        self,
        name: str,
        frame: pl.DataFrame,
        checks: Sequence[Check],
        seen: pl.Series | None,
        verdicts: pl.DataFrame | None,
        n: int,
        missing_counts: Sequence[int] | None,
    ) -> tuple[Any, list[CheckOutcome]]:
        """GX on ``frame`` (the rows ``seen`` of the entity's frame, or all of it when ``seen`` is None)."""
        import great_expectations as gx
        import pandas as pd

        self._open()
        suite = gx.ExpectationSuite(name=name)
        for i, check in enumerate(checks):
            exp = check.expectation.to_gx()
            exp.meta = {"check": i, "rule": check.rule, "columns": list(check.columns)}
            suite.add_expectation(exp)
        suite = self._context.suites.add(suite)
        batch_def = self._source.add_dataframe_asset(name).add_batch_definition_whole_dataframe(name)
        data = _to_pandas(frame)
        if seen is not None:
            data.index = pd.Index(seen.cast(pl.Int64).to_numpy(), dtype="int64")
        batch = batch_def.get_batch(batch_parameters={"dataframe": data})
        validation = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        outcomes: dict[int, CheckOutcome] = {}
        for res in validation.results:
            i = int(res.expectation_config.meta["check"])
            if res.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"{name}: expectation {checks[i].name} could not be evaluated: "
                    f"{res.exception_info.get('exception_message')}"
                )
            rows = _row_positions(res.result)
            if verdicts is not None:
                expected = verdicts.to_series(i).arg_true().to_list()
                if sorted(set(rows)) != expected:
                    differ = sorted(set(rows) ^ set(expected))
                    raise RuntimeError(
                        f"{name}: GX and polars disagree on expectation {checks[i].name} for rows "
                        f"{differ[:10]} (a bug in data_contracts.rules.broken, not in the data)"
                    )
                res.result = _rescaled(res.result, n, missing_counts[i])
            outcomes[i] = CheckOutcome(
                check=checks[i],
                success=bool(res.success),
                element_count=int(res.result.get("element_count", n)),
                unexpected_count=int(res.result.get("unexpected_count", len(rows))),
                rows=rows,
            )
        missing = [checks[i].name for i in range(len(checks)) if i not in outcomes]
        if missing:
            raise RuntimeError(f"{name}: GX returned no result for {missing}")
        return validation, [outcomes[i] for i in range(len(checks))]


class DeferredValidation:
    """The GX result of a suite no row broke, made when first read: GX on no row, counted over every row.

    What the contracts record (every check passed, counted over all rows) is known without GX; GX's own
    result object is made only for whoever reads it (:meth:`materialize`, or any attribute, such as
    ``results``): the Data Docs of a run. ``plantwin validate`` on clean inputs never makes it.
    """

    def __init__(self, validator: GxValidator, name: str, empty: pl.DataFrame, checks: list[Check],
                 verdicts: pl.DataFrame, n: int, missing_counts: Sequence[int]) -> None:
        self._args = (validator, name, empty, checks, verdicts, n, missing_counts)
        self._result: Any = None

    def materialize(self) -> Any:
        """The GX ``ExpectationSuiteValidationResult``; raises RuntimeError if GX fails a check on no row."""
        if self._result is None:
            validator, name, empty, checks, verdicts, n, missing_counts = self._args
            self._result, outcomes = validator._run(
                name, empty, checks, pl.Series(dtype=pl.UInt32), verdicts, n, missing_counts
            )
            failed = [o.check.name for o in outcomes if not o.success]
            if failed:
                raise RuntimeError(f"{name}: GX failed {failed} on no row (every row passed in polars)")
        return self._result

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.materialize(), attr)


def _derived(frame: pl.DataFrame, checks: Sequence[Check]) -> pl.DataFrame:
    """``frame`` with the checks' helper columns."""
    derived = {k: v for c in checks for k, v in c.derive.items()}
    return frame.with_columns(v.alias(k) for k, v in derived.items()) if derived else frame


def verdicts(frame: pl.DataFrame, checks: Sequence[Check]) -> pl.DataFrame:
    """One boolean column per check (named by its position), true on the rows of ``frame`` that break it,
    computed in polars (:func:`data_contracts.rules.broken`) on the frame as GX would see it."""
    view = gx_view(_derived(frame, checks))
    return view.select(broken(c).fill_null(False).alias(str(i)) for i, c in enumerate(checks))


def _columns_of(exp: Any) -> list[str]:
    """The columns an expectation reads (a row missing one of them is "missing" in GX's counts)."""
    for attr in ("column_list",):
        if getattr(exp, attr, None):
            return list(getattr(exp, attr))
    if getattr(exp, "column_A", None):
        return [exp.column_A, exp.column_B]
    return [exp.column]


def _rescaled(result: dict[str, Any], n: int, missing: int) -> dict[str, Any]:
    """A result GX computed on the rows handed to it, as counts and percentages of the whole frame of ``n``
    rows with ``missing`` rows GX ignores (the rows not handed over broke no expectation)."""
    out = dict(result)
    out["element_count"] = n
    unexpected = out.get("unexpected_count")
    nonmissing = n
    if "missing_count" in out:
        nonmissing = n - missing
        out["missing_count"] = missing
        out["missing_percent"] = 100.0 * missing / n if n else None
    if unexpected is not None:
        if "unexpected_percent" in out:
            out["unexpected_percent"] = 100.0 * unexpected / nonmissing if nonmissing else None
        if "unexpected_percent_total" in out:
            out["unexpected_percent_total"] = 100.0 * unexpected / n if n else None
        if "unexpected_percent_nonmissing" in out:
            out["unexpected_percent_nonmissing"] = 100.0 * unexpected / nonmissing if nonmissing else None
    return out
