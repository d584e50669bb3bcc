"""The contracts' engine: every check computed in polars, GX handed only the rows some check breaks,
and one pass that reports every refused entity.

The reduced validation must give what GX gives on the whole frame: the same failing rows per
expectation, the same success, and results counted over every row (element, missing and unexpected
counts and percentages), for every kind of expectation the contracts build.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from data_contracts import schema
from data_contracts.checks import Check, E, broken
from data_contracts.config import ContractConfig
from data_contracts.gx_runner import GxValidator, verdicts
from data_contracts.rules import entity_checks
from data_contracts.testing import TINY_RUN_DATE, tiny_inputs

RESULT_KEYS = (
    "element_count",
    "missing_count",
    "missing_percent",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_percent_total",
    "unexpected_percent_nonmissing",
)


def _broken_copies(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame``, a copy of it (every key duplicated), and per column rows with that column emptied,
    negated / huge (numbers), unknown (text), out of range or far past (dates), then some rows twice."""
    parts = [frame, frame]
    for c, dtype in frame.schema.items():
        parts.append(frame.with_columns(pl.lit(None, dtype).alias(c)))
        if dtype.is_numeric():
            parts.append(frame.with_columns((-pl.col(c) - 1).cast(dtype).alias(c)))
            parts.append(frame.with_columns(pl.lit(10**12).cast(dtype).alias(c)))
        elif dtype == pl.String:
            parts.append(frame.with_columns(pl.lit("ZZZ").alias(c)))
        elif dtype == pl.Date:
            parts.append(frame.with_columns(pl.lit(date(9999, 12, 31)).alias(c)))
            parts.append(frame.with_columns(pl.lit(date(1600, 1, 3)).alias(c)))
            parts.append(frame.with_columns(pl.lit(date(2026, 3, 4)).alias(c)))  # a Wednesday
    return pl.concat(parts)


def _compare(validator: GxValidator, name: str, frame: pl.DataFrame, checks: list[Check]) -> int:
    """Validate ``frame`` whole and reduced; assert the same outcomes and results. Returns failed checks."""
    whole, whole_out = validator.validate(f"{name}_whole", frame, checks)
    judged = verdicts(frame, checks)
    reduced, reduced_out = validator.validate(f"{name}_reduced", frame, checks, verdicts=judged)
    for w, r in zip(whole_out, reduced_out, strict=True):
        assert (w.success, w.element_count, w.unexpected_count) == (
            r.success,
            r.element_count,
            r.unexpected_count,
        ), w.check.name
        assert sorted(set(w.rows)) == sorted(set(r.rows)), w.check.name
    by_check = {int(res.expectation_config.meta["check"]): res for res in whole.results}
    for res in reduced.results:
        w = by_check[int(res.expectation_config.meta["check"])]
        assert res.success == w.success
        for key in RESULT_KEYS:
            assert (key in res.result) == (key in w.result), key
            if key in w.result and w.result[key] is not None:
                assert res.result[key] == pytest.approx(w.result[key]), (checks[0].name, key)
    return sum(not o.success for o in whole_out)


@pytest.fixture(scope="module")
def validator() -> GxValidator:
    return GxValidator("engine-test")


def test_reduced_validation_equals_gx_on_every_row_for_every_entity(validator):
    """Every check the contracts build, on frames broken in every column: GX on the broken rows only
    gives what GX gives on the whole frame."""
    typed = tiny_inputs()
    refs = dict(typed)
    failed_total = 0
    for t in schema.INPUT_ENTITIES:
        frame = _broken_copies(typed[t.name])
        cycle = pl.lit(False) if t.name == schema.LANES.name else None
        checks = entity_checks(t, refs, TINY_RUN_DATE, ContractConfig(), zero_lead_cycle=cycle)
        failed_total += _compare(validator, t.name, frame, checks)
    assert failed_total > 50  # the frames do break many expectations: the comparison is not vacuous


def test_clean_frame_hands_gx_no_rows_and_counts_every_row(validator):
    typed = tiny_inputs()[schema.ORDERS.name]
    checks = entity_checks(schema.ORDERS, tiny_inputs(), TINY_RUN_DATE, ContractConfig())
    judged = verdicts(typed, checks)
    assert not judged.select(pl.any_horizontal(pl.all()).any()).item()
    validation, outcomes = validator.validate("clean_orders", typed, checks, verdicts=judged)
    assert len(validation.results) == len(checks)
    assert all(o.success and o.element_count == typed.height for o in outcomes)
    assert all(r.result.get("element_count") == typed.height for r in validation.results if r.result)


def _plain(result) -> dict:
    """A GX result as JSON without what differs between two identical validations: the expectations' ids,
    the load time, and the batch's fingerprint (GX on no row hashes nothing, GX on every row the frame)."""
    out = result.to_json_dict()
    out["expectation_config"].pop("id", None)
    return out


def _frames_of(frame: pl.DataFrame) -> list[pl.DataFrame]:
    """Clean, one key repeated (only the uniqueness checks break), and broken in every column."""
    return [frame, pl.concat([frame, frame.head(1)]), _broken_copies(frame)]


def test_results_built_without_gx_equal_gx_own_for_every_expectation_of_every_entity():
    """Where no row breaks a suite, its GX result is built without running GX (``passed_validation``); where
    some rows break some expectations, GX runs those expectations only and the others' results are built.
    Either way every expectation's result (success, counts, percentages, lists, configuration, meta), the
    order of the results, the statistics and the suite's meta equal GX's own on every row."""
    typed = tiny_inputs()
    compared = {"built": 0, "ran": 0}
    for t in schema.INPUT_ENTITIES:
        cycle = pl.lit(False) if t.name == schema.LANES.name else None
        checks = entity_checks(t, typed, TINY_RUN_DATE, ContractConfig(), zero_lead_cycle=cycle)
        for k, frame in enumerate(_frames_of(typed[t.name])):
            name = f"{t.name}_{k}"
            whole, _ = GxValidator("same").validate(name, frame, checks)  # GX on every row, every expectation
            judged = verdicts(frame, checks)
            reduced, _ = GxValidator("same").validate(name, frame, checks, verdicts=judged)
            if hasattr(type(reduced), "materialize"):
                reduced = reduced.materialize()
            assert reduced.success == whole.success and reduced.statistics == whole.statistics, name
            assert reduced.suite_name == whole.suite_name and reduced.batch_id == whole.batch_id, name
            meta = {k: v for k, v in whole.meta.items() if k != "batch_markers"}
            assert {k: v for k, v in reduced.meta.items() if k != "batch_markers"} == meta, name
            assert set(reduced.meta["batch_markers"]) == set(whole.meta["batch_markers"]), name
            order = [r.expectation_config.meta["check"] for r in whole.results]
            assert [r.expectation_config.meta["check"] for r in reduced.results] == order, name
            for w, r in zip(whole.results, reduced.results):
                broke = bool(judged.to_series(w.expectation_config.meta["check"]).any())
                compared["ran" if broke else "built"] += 1
                if not broke:  # built without GX: the whole of GX's result
                    assert _plain(r) == _plain(w), (name, w.expectation_config.type)
                else:  # GX ran on the broken rows: counted over every row (test above), same rows
                    assert r.success == w.success and not w.success
                    assert sorted(r.result["unexpected_index_list"], key=str) == sorted(
                        w.result["unexpected_index_list"], key=str
                    ), name
    assert compared["built"] > 300 and compared["ran"] > 50  # neither side of the comparison is vacuous


def test_a_result_gx_free_code_cannot_build_is_refused():
    from data_contracts.gx_runner import passed_result

    with pytest.raises(TypeError, match="no GX-free result for ExpectColumnValuesToMatchRegex"):
        passed_result("ExpectColumnValuesToMatchRegex", 3, 0)
    assert passed_result("ExpectColumnValuesToBeInSet", 4, 4)["unexpected_percent"] is None  # all missing


def test_gx_and_polars_disagreeing_is_an_error(validator):
    frame = pl.DataFrame({"q": [1.0, -2.0, 3.0]})
    checks = [Check("non_negative", ("q",), E.ExpectColumnValuesToBeBetween(column="q", min_value=0), "is negative")]
    judged = verdicts(frame, checks)
    assert judged.to_series(0).to_list() == [False, True, False]
    wrong = pl.DataFrame({"0": [True, True, False]})  # says row 0 breaks it: GX finds it does not
    with pytest.raises(RuntimeError, match=r"disagree on expectation non_negative\(q\) for rows \[0\]"):
        validator.validate("disagree", frame, checks, verdicts=wrong)


def test_an_expectation_without_a_polars_verdict_is_refused():
    check = Check("odd", ("q",), E.ExpectColumnValuesToMatchRegex(column="q", regex="^a"), "odd")
    with pytest.raises(TypeError, match="no polars verdict for ExpectColumnValuesToMatchRegex"):
        broken(check)


def test_validate_names_every_refused_file_in_one_run(tmp_path: Path):
    """Two bad files → both named in one ``plantwin validate``, each with its rule and first rows."""
    from cli.main import app
    from demo.network import DEMO_RUN_DATE, demo_network, write_demo

    folder = tmp_path / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    resources = pl.read_csv(folder / "resources.csv", infer_schema=False)
    resources.with_columns(pl.lit("-5").alias("hours_per_week")).write_csv(folder / "resources.csv")
    orders = pl.read_csv(folder / "orders.csv", infer_schema=False)
    garbled = pl.int_range(pl.len()) % 5 == 0  # 20% of the order lines
    orders.with_columns(
        pl.when(garbled).then(pl.lit("lots")).otherwise(pl.col("quantity")).alias("quantity")
    ).write_csv(folder / "orders.csv")

    result = CliRunner().invoke(
        app, ["validate", "--input", str(folder), "--run-date", DEMO_RUN_DATE.isoformat(), "--rows", "500"]
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "2 entities refused" in text, result.output
    assert "resources.csv: " in text and "non_negative" in text, result.output
    assert "orders.csv: " in text and "type (" in text, result.output
    assert text.count("(rule: max_reject_share)") == 2, result.output
    # the report lists both entities' quarantined rows
    assert "resources.csv row 1 [non_negative]" in text and "orders.csv row 1 [type]" in text, result.output


def test_csv_is_parsed_from_its_bytes_with_bom_crlf_semicolons_and_blanks(tmp_path: Path):
    """The reader parses the file's bytes as they are (no decoded copy): a byte-order mark, Windows line
    ends, a semicolon separator, blanks around values and empty cells read as before."""
    from warehouse.sources import SourceError, read_source_file

    path = tmp_path / "sites.csv"
    path.write_bytes(b"\xef\xbb\xbfsite_id;name;site_type;region\r\n PL1 ;Plant 1;plant;EU\r\nDC1;;dc; \r\n")
    frame = read_source_file(path, "sites").frame
    assert frame.columns[:4] == ["site_id", "name", "site_type", "region"]
    assert frame.get_column("site_id").to_list() == ["PL1", "DC1"]
    assert frame.get_column("name").to_list() == ["Plant 1", None]
    assert frame.get_column("region").to_list() == ["EU", None]
    assert frame.get_column(schema.SOURCE_ROW).to_list() == [1, 2]
    path.write_bytes(b"site_id,name\nPL1,Usine \xe9\n")
    with pytest.raises(SourceError, match=r"not UTF-8 text: byte 0xe9 on line 2"):
        read_source_file(path, "sites")
    path.write_bytes(b" \r\n\n")
    with pytest.raises(SourceError, match="the file is empty"):
        read_source_file(path, "sites")


def test_raw_rows_of_a_first_load_are_its_rows_in_file_order_duplicates_kept(tmp_path: Path):
    """An event entity's first load is read without the newest-version window; a later load still is."""
    import time

    from warehouse.db import open_warehouse
    from warehouse.sources import read_source_file

    header = "order_id,order_date,requested_week,product_id,site_id,quantity,status\n"
    path = tmp_path / "in" / "orders.csv"
    path.parent.mkdir()
    path.write_text(header + "O2,2026-01-02,2026-01-12,P1,DC1,5,open\nO1,2026-01-01,2026-01-12,P1,DC1,1,open\n"
                    "O2,2026-01-02,2026-01-12,P1,DC1,6,open\n")
    with open_warehouse(tmp_path / "wh.duckdb") as wh:
        first, _ = wh.land(read_source_file(path, "orders"))
        time.sleep(0.01)
        path.write_text(header + "O1,2026-01-01,2026-01-12,P1,DC1,1,cancelled\n")
        second, _ = wh.land(read_source_file(path, "orders"))
        one = wh.raw_rows("orders", first)
        both = wh.raw_rows("orders", second)
    assert one["order_id"].to_list() == ["O2", "O1", "O2"]
    assert one["quantity"].to_list() == ["5", "1", "6"] and one[schema.SOURCE_ROW].to_list() == [1, 2, 3]
    assert sorted(zip(both["order_id"], both["status"])) == [("O1", "cancelled"), ("O2", "open"), ("O2", "open")]
