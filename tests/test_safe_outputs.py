"""Outputs safe to open: CSV cells that are not formulas, console text without control codes, no secrets."""

from __future__ import annotations

import polars as pl
import pytest

from data_contracts.safe_text import REPLACEMENT, neutralise_formulas, printable, printable_expr, shown_expr
from warehouse.redact import env_reference, is_env_name
from warehouse.sources import SourceError, read_source_file, write_frame

IDS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "MAB-01", "a=b", ""]


def test_csv_cells_starting_like_a_formula_get_a_quote(tmp_path):
    frame = pl.DataFrame({"unique_id": IDS, "y": [-1.5] * len(IDS)})
    path = write_frame(frame, tmp_path / "out.csv")
    back = pl.read_csv(path, infer_schema=False)
    assert back["unique_id"].to_list() == [
        "'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tTAB", "'\rCR", "MAB-01", "a=b", "",
    ]
    assert back["y"].to_list() == ["-1.5"] * len(IDS)  # numbers stay numbers


def test_parquet_outputs_keep_values_as_they_are(tmp_path):
    frame = pl.DataFrame({"unique_id": IDS})
    assert pl.read_parquet(write_frame(frame, tmp_path / "out.parquet")).equals(frame)


def test_neutralise_formulas_leaves_non_text_columns_and_nulls():
    frame = pl.DataFrame({"a": ["=1", None], "n": [-1, 2], "c": pl.Series(["@x", "y"], dtype=pl.Categorical)})
    out = neutralise_formulas(frame)
    assert out["a"].to_list() == ["'=1", None] and out["n"].to_list() == [-1, 2]
    assert out["c"].to_list() == ["'@x", "y"]


@pytest.mark.parametrize(
    "raw",
    ["\x1b[2J\x1b[31mP1", "P1\x07", "P1\u202egnp.exe", "P\x9b31m1", "P\u200b1", "P1\x00"],
)
def test_control_characters_are_replaced_in_python_and_polars(raw):
    assert REPLACEMENT in printable(raw)
    assert printable(raw) == pl.select(printable_expr(pl.lit(raw))).item()
    assert all(ch.isprintable() for ch in printable(raw))


def test_printable_keeps_newlines_only_when_asked():
    assert printable("a\nb\tc") == f"a\nb{REPLACEMENT}c"
    assert printable("a\nb", keep_newlines=False) == f"a{REPLACEMENT}b"


def test_shown_values_are_quoted_and_long_ones_cut_with_their_length():
    frame = pl.DataFrame({"v": ["short", "x" * 2_000_000, None]})
    shown = frame.select(shown_expr(pl.col("v"), max_chars=10)).to_series().to_list()
    assert shown == ["'short'", "'xxxxxxxxxx…' (2000000 characters)", None]


def test_a_password_given_as_password_env_is_not_shown():
    assert is_env_name("PLANTWIN_PG_PASSWORD") and env_reference("PLANTWIN_PG_PASSWORD") == "PLANTWIN_PG_PASSWORD"
    for secret in ("hunter2", "S3cr3t!pw", "correct horse battery staple"):
        message = env_reference(secret)
        assert secret not in message and f"{len(secret)} characters" in message


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pl.Series("quantity", [[1.0], [2.0]]), "List"),
        (pl.Series("quantity", [{"a": 1}, {"a": 2}]), "Struct"),
        (pl.Series("quantity", [b"\x00\x01", b"\x02"]), "Binary"),
    ],
)
def test_nested_and_binary_parquet_columns_are_refused_naming_file_and_column(tmp_path, column, kind):
    path = tmp_path / "orders.parquet"
    pl.DataFrame({"order_id": ["O1", "O2"]}).with_columns(column).write_parquet(path)
    with pytest.raises(SourceError, match=rf"orders\.parquet: column\(s\) quantity \({kind}.*\(rule: parquet_column_type\)"):
        read_source_file(path, "orders")


def test_a_password_in_password_env_never_reaches_the_source_error(monkeypatch):
    from warehouse.source_config import SourceConfigError, resolve_password
    from warehouse.source_models import PostgresSource

    secret = "S3cr3t!pw-of-the-erp"
    monkeypatch.delenv(secret, raising=False)
    source = PostgresSource(type="postgres", dbname="erp", user="reader", password_env=secret)
    with pytest.raises(SourceConfigError) as failed:
        resolve_password(source, "erp.toml")
    assert secret not in str(failed.value)
    assert "20 characters" in str(failed.value) and "(rule: credentials)" in str(failed.value)
