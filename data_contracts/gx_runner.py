"""The Great Expectations boundary: one ephemeral context per validation, polars in, row numbers out.

This is the only module that turns polars frames into pandas frames (:func:`_to_pandas`), because GX
validates pandas frames here. Each frame validated becomes a dataframe asset of one pandas data source
and is checked against a suite built in code, with result format ``COMPLETE`` so that every failing row
comes back as a position in the frame.

The input contracts hand GX only the rows it must see (``verdicts`` of :meth:`GxValidator.validate`): the
rows some check breaks, found in polars (:func:`data_contracts.checks.broken`). GX runs the expectations
those rows break on those rows, its verdict must equal polars' row for row (else ``RuntimeError``: a bug in
a check), and each result is rescaled to the whole frame (element, missing and unexpected counts and
percentages, by GX's formulas), so the validation results and Data Docs read as if GX had seen every row.
The result of an expectation no row breaks is built without running GX (:func:`passed_result`,
:func:`passed_validation`: GX's own result objects, in GX's order, equal to what GX gives, tested for every
expectation of every entity in ``tests/test_contracts_engine.py``). The rows no check breaks pass every
expectation: GX would find nothing there, and converting millions of clean rows to pandas for it cost most
of the contracts' time and memory.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from typing import TYPE_CHECKING

import polars as pl

from data_contracts.checks import Check, Expectation, broken
from data_contracts.config import SUPPORTED_MAX_DATE, SUPPORTED_MIN_DATE

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CheckOutcome", "DeferredValidation", "GxValidator", "gx_order", "gx_view", "passed_result", "passed_validation",
    "passed_validation_of",
    "verdicts",
]

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
    verdicts break nothing hands GX no row, so its results are known without GX and its GX result object
    is built (not run) only when asked for (:class:`DeferredValidation`, e.g. by the Data Docs).
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
            verdicts: Optional, from :func:`verdicts`: GX then runs only the checks some row breaks there,
                on only those rows, must find exactly those rows for each check, and its results are
                rescaled to ``frame``; the other checks' results are built (:func:`passed_result`).
                Where no check breaks any row, GX sees nothing now: every check passed on every row, and
                the GX result is a :class:`DeferredValidation`, built (not run) when read.
                None: GX sees every row.
            outside: With ``verdicts``: rows of the entity not in ``frame`` at all, which passed every check
                where they are (:mod:`data_contracts.screen`), and per check how many of them lack a value
                it reads; the results are counted over ``frame`` and them.

        Returns:
            The GX validation result and one :class:`CheckOutcome` per check, in the order of ``checks``.

        Raises:
            RuntimeError: An expectation could not be evaluated, or GX and polars disagree on a row (a bug
                in a suite or in :func:`data_contracts.checks.broken`, not in the data).
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

        # with verdicts, GX runs only the expectations some row breaks; the others' results are built
        broken_any = (
            set(range(len(checks))) if verdicts is None
            else {i for i in range(len(checks)) if verdicts.to_series(i).any()}
        )
        self._open()
        suite = gx.ExpectationSuite(name=name)
        for i, check in enumerate(checks):
            if i not in broken_any:
                continue
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
        if len(broken_any) < len(checks):
            assert missing_counts is not None  # with verdicts
            _add_passed(validation, self.name, name, checks, n, missing_counts)
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
    """The GX result of a suite no row broke, made when first read (:func:`passed_validation`: what GX gives
    on no row, counted over every row, built without running the suite).

    What the contracts record (every check passed, counted over all rows) is known without GX; GX's own
    result object is made only for whoever reads it (:meth:`materialize`, or any attribute, such as
    ``results``): the Data Docs of a run. ``plantwin validate`` on clean inputs never makes it.
    """

    def __init__(self, validator: GxValidator, name: str, empty: pl.DataFrame, checks: list[Check],
                 verdicts: pl.DataFrame, n: int, missing_counts: Sequence[int]) -> None:
        self._args = (validator, name, empty, checks, verdicts, n, missing_counts)
        self._result: Any = None

    def materialize(self) -> Any:
        """The GX ``ExpectationSuiteValidationResult``, built without running the suite
        (:func:`passed_validation`: what GX gives on no row, counted over every row)."""
        if self._result is None:
            validator, name, _, checks, _, n, missing_counts = self._args
            self._result = passed_validation(validator.name, name, checks, n, missing_counts)
        return self._result

    def spec(self) -> dict[str, Any]:
        """What :func:`passed_validation` needs, as JSON-able values (no frame): the run keeps it instead of
        its Data Docs, which :func:`passed_validation_of` then builds at any later time, as the run would
        have."""
        validator, name, _, checks, _, n, missing_counts = self._args
        return {"source": validator.name, "name": name, "n": n, "missing_counts": list(missing_counts),
                "checks": [{"rule": c.rule, "columns": list(c.columns), "kind": c.expectation.kind,
                            "kwargs": c.expectation.kwargs} for c in checks]}

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
    computed in polars (:func:`data_contracts.checks.broken`) on the frame as GX would see it."""
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
    rows with ``missing`` rows GX ignores (the rows not handed over broke no expectation), by GX's own
    formulas (``_format_map_output``: ``count / total * 100``, None over no row)."""
    out = dict(result)
    out["element_count"] = n
    unexpected = out.get("unexpected_count")
    counts_missing = "missing_count" in out
    if counts_missing:
        out["missing_count"] = missing
        out["missing_percent"] = missing / n * 100 if n > 0 and unexpected is not None else None
    if unexpected is not None:
        total = unexpected / n * 100 if n > 0 else None
        nonmissing = total
        if counts_missing:
            nonmissing = unexpected / (n - missing) * 100 if n > 0 and n - missing > 0 else None
        if "unexpected_percent" in out:
            out["unexpected_percent"] = nonmissing
        if "unexpected_percent_total" in out:
            out["unexpected_percent_total"] = total
        if "unexpected_percent_nonmissing" in out:
            out["unexpected_percent_nonmissing"] = nonmissing
    return out


#: The result keys GX's column map expectations report with ``COMPLETE`` results when no row breaks them,
#: before :func:`_rescaled`; every kind but ``not_null`` also counts the rows it ignores as missing.
_PASSED: dict[str, Any] = {
    "element_count": 0, "unexpected_count": 0, "unexpected_percent": None, "partial_unexpected_list": [],
}
_PASSED_MISSING: dict[str, Any] = {
    "missing_count": 0, "missing_percent": None, "unexpected_percent_total": None,
    "unexpected_percent_nonmissing": None,
}
_PASSED_LISTS: dict[str, Any] = {
    "partial_unexpected_counts": [], "partial_unexpected_index_list": [], "unexpected_list": [],
    "unexpected_index_list": [], "unexpected_index_query": "df.filter(items=[], axis=0)",
}
#: Kinds whose result GX-free code can build (:func:`passed_result`); the contracts build no other kind
#: (:func:`data_contracts.checks.broken` refuses one it does not know).
_MISSING_COUNTED = frozenset({
    "ExpectColumnValuesToBeInSet", "ExpectColumnValuesToBeBetween", "ExpectColumnValuesToBeUnique",
    "ExpectCompoundColumnsToBeUnique", "ExpectColumnPairValuesAToBeGreaterThanB",
})


def passed_result(kind: str, n: int, missing: int) -> dict[str, Any]:
    """The ``result`` GX reports (format ``COMPLETE``) for an expectation of ``kind`` that no row breaks,
    counted over ``n`` rows of which ``missing`` lack a value it reads. Needs no GX import.

    Raises:
        TypeError: A kind whose result this function does not know.
    """
    if kind == "ExpectColumnValuesToNotBeNull":
        base = {**_PASSED, **_PASSED_LISTS}
    elif kind in _MISSING_COUNTED:
        base = {**_PASSED, **_PASSED_MISSING, **_PASSED_LISTS}
    else:
        raise TypeError(f"no GX-free result for {kind} (teach gx_runner.passed_result)")
    return _rescaled({k: list(v) if isinstance(v, list) else v for k, v in base.items()}, n, missing)


def gx_order(checks: Sequence[Check]) -> list[int]:
    """The order GX reports a suite's results in: grouped by the expectation's ``column`` argument, groups
    in order of first appearance, expectations without one (compound keys, column pairs) as one group
    (GX's ``Validator.process_expectations_for_validation``)."""
    groups: dict[object, list[int]] = {}
    for i, check in enumerate(checks):
        column = check.expectation.kwargs.get("column")
        groups.setdefault(column if isinstance(column, str) else None, []).append(i)
    return [i for group in groups.values() for i in group]


def _passed_results(source: str, name: str, checks: Sequence[Check], which: Sequence[int], n: int,
                    missing_counts: Sequence[int]) -> dict[int, Any]:
    """Check position → GX ``ExpectationValidationResult`` of the checks ``which``, that no row broke."""
    import uuid

    from great_expectations.core import ExpectationValidationResult

    out = {}
    for i in which:
        check = checks[i]
        config = check.expectation.to_gx().configuration
        config.kwargs["batch_id"] = f"{source}-{name}"
        config.meta = {"check": i, "rule": check.rule, "columns": list(check.columns)}
        config.id = str(uuid.uuid4())  # as a suite added to a context numbers its expectations
        out[i] = ExpectationValidationResult(
            success=True,
            expectation_config=config,
            result=passed_result(check.expectation.kind, n, missing_counts[i]),
            meta={},
            exception_info={"raised_exception": False, "exception_traceback": None, "exception_message": None},
        )
    return out


def passed_validation(source: str, name: str, checks: Sequence[Check], n: int,
                      missing_counts: Sequence[int]) -> Any:
    """GX's ``ExpectationSuiteValidationResult`` of the suite ``name`` where no row broke any check, built
    without running it: what GX gives on no row of the pandas data source ``source`` (every expectation
    passed, nothing listed), counted over ``n`` rows. ``tests/test_contracts_engine.py`` compares it with
    GX's own result for every expectation of every entity."""
    import datetime as dt

    import great_expectations as gx
    from great_expectations.core import ExpectationSuiteValidationResult

    built = _passed_results(source, name, checks, range(len(checks)), n, missing_counts)
    results = [built[i] for i in gx_order(checks)]
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return ExpectationSuiteValidationResult(
        success=True,
        results=results,
        suite_name=name,
        statistics=_statistics(results),
        meta={
            "great_expectations_version": gx.__version__,
            "batch_spec": {"batch_data": "PandasDataFrame"},
            # GX fingerprints the frame it validated: a frame of no row hashes as MD5 of nothing
            "batch_markers": {"ge_load_time": stamp, "pandas_data_fingerprint": "d41d8cd98f00b204e9800998ecf8427e"},
            "active_batch_definition": {
                "datasource_name": source, "data_connector_name": "fluent", "data_asset_name": name,
                "batch_identifiers": {"dataframe": "<DATAFRAME>"},
            },
        },
        batch_id=f"{source}-{name}",
    )


def passed_validation_of(spec: Mapping[str, Any]) -> Any:
    """:func:`passed_validation` of a suite kept as :meth:`DeferredValidation.spec` (a run's Data Docs made on
    request)."""
    checks = [Check(c["rule"], tuple(c["columns"]), Expectation(c["kind"], **c["kwargs"]), "")
              for c in spec["checks"]]
    return passed_validation(spec["source"], spec["name"], checks, spec["n"], spec["missing_counts"])


def _add_passed(validation: Any, source: str, name: str, checks: Sequence[Check], n: int,
                missing_counts: Sequence[int]) -> None:
    """Add to GX's ``validation`` of the broken checks the built results of the checks it did not run, in
    GX's order, and count its statistics over them all."""
    ran = {int(res.expectation_config.meta["check"]): res for res in validation.results}
    built = _passed_results(source, name, checks, [i for i in range(len(checks)) if i not in ran], n,
                            missing_counts)
    validation.results = [ran.get(i) or built[i] for i in gx_order(checks)]
    validation.statistics = _statistics(validation.results)
    validation.success = all(res.success for res in validation.results)


def _statistics(results: Sequence[Any]) -> dict[str, Any]:
    """A suite's statistics as GX counts them (``calc_validation_statistics``)."""
    good = sum(1 for r in results if r.success)
    return {
        "evaluated_expectations": len(results),
        "successful_expectations": good,
        "unsuccessful_expectations": len(results) - good,
        "success_percent": good / len(results) * 100 if results else None,
    }
