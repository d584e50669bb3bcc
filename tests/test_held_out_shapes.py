"""Stop 28: the input contract tried as a new user would on public sets nobody tuned it to (PBS monthly
scripts since 1991, M1 monthly and quarterly, M4 Weekly since 1984), each series a product at one DC.

Each test is one defect met there, rebuilt on generated data (the demo network, 5 products): history
older than the contracts' date floor, and monthly or quarterly figures read as weekly demand.
"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from test_sources_validate import _copy, _set_orders, valid_input  # noqa: F401 (the small demo input)

#: a Monday before the contracts' default floor (``contracts.min_date``, 2000-01-01)
OLD_MONDAY = "1999-01-04"


def _validate(folder: Path, *args: str):
    result = CliRunner().invoke(app, ["validate", "--input", str(folder), *args])
    return result, " ".join(result.output.split())


def _params(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_checks_with_the_runs_contract_settings(valid_input, tmp_path):  # noqa: F811
    """A user who moved ``contracts.min_date`` for old history (``run --params``) had ``validate`` refuse the
    rows the run takes: it had no way to read the run's settings. ``--params`` reads the same file."""
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(1, 4), order_date=OLD_MONDAY, requested_week=OLD_MONDAY)
    result, out = _validate(folder)
    assert result.exit_code == 1 and "[date_range]" in out, out
    params = _params(tmp_path, "plan: {horizon_weeks: 13}\ncontracts:\n  min_date: 1990-01-01\n")
    result, out = _validate(folder, "--params", str(params))
    assert result.exit_code == 0, out
    typo = _params(tmp_path, "contracts:\n  min_dat: 1990-01-01\n")
    result, out = _validate(folder, "--params", str(typo))
    assert result.exit_code == 2 and f"{typo}: contracts.min_dat: Extra inputs are not permitted" in out, out


def test_history_before_the_date_floor_names_the_setting(valid_input, tmp_path):  # noqa: F811
    """PBS's scripts from 1991 (M4 Weekly's from 1984) were refused as ``date_range`` with no word of
    ``contracts.min_date``: half the file rejected, the run refused, nothing said of how to take it.
    validate's "How to fix" and the refusal itself now name the setting, with the floor the file needs."""
    folder = _copy(valid_input, tmp_path)
    _set_orders(folder, range(1, 4), order_date=OLD_MONDAY, requested_week=OLD_MONDAY)
    result, out = _validate(folder)
    hint = ("orders.csv: 3 row(s) [date_range]: dates before 2000-01-01, the earliest the contracts take as "
            "plausible (contracts.min_date). If this history is real")
    assert result.exit_code == 1 and "How to fix what was recognised: " + hint in out, out
    assert "(YAML: contracts: {min_date: 1999-01-01}) and give plantwin validate the same --params" in out
    _set_orders(folder, range(1, 101), order_date=OLD_MONDAY, requested_week=OLD_MONDAY)  # 100 of 848
    result, out = _validate(folder)
    refusal = next(line for line in result.output.splitlines() if line.startswith("error: "))
    assert result.exit_code == 2 and "(rule: max_reject_share)" in refusal, out
    assert ("how to fix what was recognised: orders.csv: 100 row(s) [date_range]: dates before 2000-01-01"
            in refusal), refusal
    _set_orders(folder, range(1, 4), order_date="1650-01-04")  # before any date the contracts can hold
    result, out = _validate(folder)
    assert "row(s) [date_range]: dates before 2000-01-01" in out  # the 1999 rows still get it
    assert "min_date: 1650" not in out and "min_date: 1999-01-01" in out, out
