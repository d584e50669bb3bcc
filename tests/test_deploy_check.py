"""The deploy-time check of prefect.yaml's default parameters (the build step of `prefect deploy`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.deploy_check import DeploymentCheckError, check_deployments, deployment_problems

REPO = Path(__file__).resolve().parents[1]


def _config(params: dict) -> dict:
    return {"deployments": [{"name": "nightly-refresh", "parameters": {"params": params}}]}


def test_the_repository_prefect_yaml_runs_the_check_at_build_time():
    config = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
    assert config["build"] == [{"flows.deploy_check.check_deployments": {"config": "prefect.yaml"}}]
    problems = deployment_problems(config, REPO, env={})
    assert any("set the environment variable PLANTWIN_INPUT_DIR" in p for p in problems)


def test_a_missing_input_folder_names_deployment_setting_and_folder(tmp_path):
    problems = deployment_problems(_config({"input_dir": "{{ $IN }}", "warehouse": "w.duckdb"}), tmp_path,
                                   env={"IN": "data/input"})
    assert problems == [
        f"deployment 'nightly-refresh': params.input_dir = '{{{{ $IN }}}}': the input folder "
        f"{tmp_path / 'data/input'} does not exist, so every scheduled run would fail; create it or point "
        "params.input_dir at it (prefect.yaml, or its environment variable) and deploy again"]
    (tmp_path / "data" / "input").mkdir(parents=True)
    assert deployment_problems(_config({"input_dir": "{{ $IN }}"}), tmp_path, env={"IN": "data/input"}) == []


def test_a_missing_source_config_and_an_unset_variable_are_named(tmp_path):
    problems = deployment_problems(_config({"source": str(tmp_path / "src.toml"), "warehouse": "{{ $WH }}"}),
                                   tmp_path, env={})
    assert len(problems) == 2
    assert "the source config file" in problems[0] and "set the environment variable WH" in problems[1]


def test_the_build_step_raises_and_the_module_exits_2(tmp_path, monkeypatch, capsys):
    config = tmp_path / "prefect.yaml"
    config.write_text(yaml.safe_dump(_config({"input_dir": "nope"})), encoding="utf-8")
    with pytest.raises(DeploymentCheckError, match="input folder .*nope does not exist"):
        check_deployments(str(config))
    from flows.deploy_check import main

    assert main([str(config)]) == 2
    assert "nope does not exist" in capsys.readouterr().err
    (tmp_path / "nope").mkdir()
    assert check_deployments(str(config)) == {"checked": str(config)}


def test_a_source_config_naming_a_missing_folder_or_a_typo_fails_at_deploy_time(tmp_path):
    config = tmp_path / "src.yaml"
    config.write_text("source: {type: folder, path: export}\n", encoding="utf-8")
    (problem,) = deployment_problems(_config({"source": str(config)}), tmp_path, env={})
    assert problem == (
        f"deployment 'nightly-refresh': params.source = '{config}': src.yaml names the input folder "
        f"{tmp_path / 'export'} (source.path), which does not exist, so every scheduled run would fail; create it "
        "or fix source.path and deploy again")
    (tmp_path / "export").mkdir()
    assert deployment_problems(_config({"source": str(config)}), tmp_path, env={}) == []
    config.write_text("source: {type: folder, path: export}\ndecimals: ','\n", encoding="utf-8")
    (problem,) = deployment_problems(_config({"source": str(config)}), tmp_path, env={})
    assert "src.yaml: decimals: Extra inputs are not permitted; did you mean 'decimal'? (rule: source_config)" in problem
    config.write_text("source: {type: duckdb, path: erp.duckdb}\nentities: {products: {table: p}}\n",
                      encoding="utf-8")
    (problem,) = deployment_problems(_config({"source": str(config)}), tmp_path, env={})
    assert f"names the DuckDB file {tmp_path / 'erp.duckdb'} (source.path), which does not exist" in problem


def test_the_checkout_ignores_a_local_data_folder():
    """A `plantwin-data/` folder made by hand for the deployments never shows as untracked in the checkout."""
    patterns = (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/plantwin-data/" in patterns
