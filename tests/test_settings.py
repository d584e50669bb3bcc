"""Run parameters from a file (the shape of a deployment's ``params``) with the command line on top."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.settings import ParameterError, ReplanParameters, RunParameters, parameters_from_file


def _file(tmp_path: Path, text: str, name: str = "params.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_file_settings_merge_with_the_command_line(tmp_path):
    path = _file(tmp_path, "plan:\n  time_limit_seconds: 3600\n  frozen_weeks: 2\ncontracts:\n  max_reject_share: 0.1\n")
    params = parameters_from_file(RunParameters, path, input_dir=tmp_path, warehouse=tmp_path / "w.duckdb",
                                  plan={"horizon_weeks": 13}, scenario=None)
    assert params.plan.time_limit_seconds == 3600 and params.plan.frozen_weeks == 2
    assert params.plan.horizon_weeks == 13  # the command line's key joins the file's plan settings
    assert params.contracts.max_reject_share == 0.1 and params.scenario == "base"


def test_json_and_no_file(tmp_path):
    path = _file(tmp_path, '{"plan": {"solver": "cbc"}, "base_run_id": "run-1"}', "params.json")
    assert parameters_from_file(ReplanParameters, path, warehouse=tmp_path / "w").plan.solver == "cbc"
    assert parameters_from_file(ReplanParameters, None, warehouse=tmp_path / "w").plan.solver == "highs"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plan:\n  time_limit: 60\n", r"params.yaml: plan.time_limit: Extra inputs are not permitted"),
        ("plan:\n  time_limit_seconds: -1\n", r"plan.time_limit_seconds: Input should be greater than 0"),
        ("- plan\n", r"params.yaml: a parameters file is a mapping of settings .* not a list"),
        ("plan: [unclosed\n", r"params.yaml line 2: not valid YAML or JSON"),
    ],
)
def test_a_bad_file_names_the_file_and_the_setting(tmp_path, text, message):
    path = _file(tmp_path, text)
    with pytest.raises(ParameterError, match=message):
        parameters_from_file(RunParameters, path, input_dir=tmp_path, warehouse=tmp_path / "w.duckdb")


def test_a_missing_file_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="nope.yaml: cannot be read"):
        parameters_from_file(RunParameters, tmp_path / "nope.yaml", input_dir=tmp_path, warehouse=tmp_path / "w")
