"""``plantwin validate``: a report and an exit code, without a warehouse and without a plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.inputs import EXIT_CLEAN, EXIT_FAILED, EXIT_QUARANTINED
from demo.network import demo_network, write_demo


@pytest.fixture(scope="module")
def valid_input(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("valid") / "input"
    write_demo(demo_network(products=5, dcs=1, weeks_history=40), folder)
    return folder


def _copy(valid_input: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "input"
    shutil.copytree(valid_input, folder)
    return folder


def _set_orders(folder: Path, rows: range, **values: str) -> None:
    frame = pl.read_csv(folder / "orders.csv", infer_schema=False).with_row_index("i", offset=1)
    frame = frame.with_columns(
        pl.when(pl.col("i").is_in(list(rows))).then(pl.lit(v)).otherwise(pl.col(c)).alias(c)
        for c, v in values.items()
    )
    frame.drop("i").write_csv(folder / "orders.csv")


def _validate(*args: str):
    result = CliRunner().invoke(app, ["validate", *args])
    return result, " ".join(result.output.split())


def test_clean_inputs_exit_0_and_write_nothing(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    before = sorted(tmp_path.rglob("*"))  # the input files and the generator's _READY marker
    result, out = _validate("--input", str(folder))
    assert result.exit_code == EXIT_CLEAN, result.output
    assert (
        "Read 10 entities: products.csv (5 rows)" in out and "run date 2026-05-04" in out
    )  # the inventory's date
    assert "0 rows quarantined" in out and "Verdict: every row passes the contracts (exit 0)" in out
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".csv") == ["_READY"]
    assert sorted(tmp_path.rglob("*")) == before


def test_quarantined_rows_exit_1_with_rules_counts_and_first_rows(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(10, 12), quantity="-40")
    result, out = _validate("--input", str(folder), "--run-date", "2026-05-04")
    assert result.exit_code == EXIT_QUARANTINED, result.output
    assert "2 rows quarantined" in out
    assert "orders non_negative 2" in out  # quarantined rows by rule
    assert "orders.csv row 10 [non_negative]: quantity '-40' is negative" in out
    assert "orders.csv row 11 [non_negative]" in out
    assert "Verdict: a run would go on without the quarantined rows above (exit 1)" in out


def test_too_many_rejects_exit_2_with_the_report_so_far_and_the_message(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(1, 101), quantity="lots")
    result, out = _validate("--input", str(folder), "--run-date", "2026-05-04")
    assert result.exit_code == EXIT_FAILED, result.output
    assert (
        "orders type 100" in out and "orders.csv row 1 [type]: quantity 'lots' is not a finite number" in out
    )
    assert "Verdict: a run would FAIL on these inputs (exit 2)" in out
    assert "error: orders.csv: 100 of 848 orders rows rejected (11.8%)" in out
    # the threshold is an option
    result, out = _validate("--input", str(folder), "--run-date", "2026-05-04", "--max-reject-share", "0.2")
    assert result.exit_code == EXIT_QUARANTINED, result.output


def test_structure_and_unreadable_files_exit_2_with_the_message(valid_input, tmp_path):
    folder = _copy(valid_input, tmp_path)
    pl.read_csv(folder / "orders.csv", infer_schema=False).drop("site_id").write_csv(folder / "orders.csv")
    result, out = _validate("--input", str(folder))
    assert result.exit_code == EXIT_FAILED and "error: orders.csv: missing column 'site_id'" in out
    (folder / "sites.csv").write_bytes((folder / "sites.csv").read_bytes().replace(b"Wavre", b"Wavr\xe9"))
    result, out = _validate("--input", str(folder))
    assert result.exit_code == EXIT_FAILED and "error: sites.csv: not UTF-8 text: byte 0xe9 on line 2" in out


def test_a_source_config_is_validated_the_same_way(valid_input, tmp_path):
    config = tmp_path / "source.yaml"
    config.write_text(f"source:\n  type: folder\n  path: {valid_input}\n")
    result, out = _validate("--source", str(config), "--run-date", "2026-05-04")
    assert result.exit_code == EXIT_CLEAN, result.output
    config.write_text(f"source:\n  type: folder\n  path: {valid_input}\n  password: x\n")
    result, out = _validate("--source", str(config))
    assert result.exit_code == EXIT_FAILED and "rule: no_password_in_config" in out


@pytest.mark.parametrize("args", [[], ["--input", "a", "--source", "b.toml"]])
def test_exactly_one_of_input_or_source(args):
    result, out = _validate(*args)
    assert result.exit_code == EXIT_FAILED and "give exactly one of --input DIR" in out
