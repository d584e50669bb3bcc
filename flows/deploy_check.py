"""Deploy-time check of the deployments' default parameters: a missing input folder fails ``prefect deploy``,
naming the setting to change, instead of failing the schedule every night at 02:00.

``prefect.yaml`` runs :func:`check_deployments` as its build step, so ``prefect deploy`` stops with the
message before anything is registered. Paths may come from the environment (``{{ $PLANTWIN_INPUT_DIR }}``,
Prefect's own placeholder syntax); relative paths are relative to the folder deployed from, which the
pull step makes the runs' working directory. Also ``python -m flows.deploy_check [prefect.yaml]``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DeploymentCheckError", "check_deployments", "deployment_problems"]

_ENV = re.compile(r"\{\{\s*\$(\w+)\s*\}\}")
#: parameter -> (what it is, must be a folder?); only what must exist before the first run
_MUST_EXIST = {"input_dir": ("the input folder", True), "source": ("the source config file", False)}


class DeploymentCheckError(RuntimeError):
    """A deployment's default parameters cannot work; the message names the deployment, setting and fix."""


def _resolve(value: Any, env: dict[str, str]) -> tuple[Any, list[str]]:
    """``value`` with ``{{ $VAR }}`` placeholders filled from ``env``, and the variables that are unset."""
    if not isinstance(value, str):
        return value, []
    missing = [name for name in _ENV.findall(value) if name not in env]
    return _ENV.sub(lambda m: env.get(m.group(1), m.group(0)), value), missing


def deployment_problems(config: dict[str, Any], root: Path, env: dict[str, str]) -> list[str]:
    """What is wrong with each deployment's default parameters, one sentence each (empty when all is well)."""
    problems = []
    for deployment in config.get("deployments") or []:
        name = deployment.get("name", "?")
        params = ((deployment.get("parameters") or {}).get("params")) or {}
        for key, raw in params.items():
            value, missing = _resolve(raw, env)
            where = f"deployment {name!r}: params.{key} = {raw!r}"
            if missing:
                problems.append(f"{where}: set the environment variable {', '.join(missing)} before "
                                "`prefect deploy`, or write the path in prefect.yaml")
                continue
            if key in _MUST_EXIST and value:
                what, folder = _MUST_EXIST[key]
                path = Path(value) if Path(value).is_absolute() else root / value
                if not (path.is_dir() if folder else path.is_file()):
                    problems.append(f"{where}: {what} {path} does not exist, so every scheduled run would "
                                    f"fail; create it or point params.{key} at it (prefect.yaml, or its "
                                    "environment variable) and deploy again")
                elif key == "source":
                    problems += [f"{where}: {p}" for p in _source_problems(path, key)]
    return problems


def _source_problems(path: Path, key: str) -> list[str]:
    """A source config that cannot work: unparsable, unknown keys, a password in it, or the folder or DuckDB
    file it names missing (a database is not reached at deploy time: it may be down for maintenance)."""
    from warehouse.source_config import SourceConfigError, load_source_config

    try:
        config = load_source_config(path)
    except SourceConfigError as exc:
        return [f"{exc} Fix the file (params.{key}) and deploy again"]
    source = config.source
    if source.type == "folder" and not source.path.is_dir():
        return [f"{path.name} names the input folder {source.path} (source.path), which does not exist, so every "
                "scheduled run would fail; create it or fix source.path and deploy again"]
    if source.type == "duckdb" and not source.path.is_file():
        return [f"{path.name} names the DuckDB file {source.path} (source.path), which does not exist, so every "
                "scheduled run would fail; create it or fix source.path and deploy again"]
    return []


def check_deployments(config: str = "prefect.yaml") -> dict[str, str]:
    """Prefect build step: raise :class:`DeploymentCheckError` when a deployment's defaults cannot work.

    Args:
        config: the deployments file, relative to the folder ``prefect deploy`` runs in.
    """
    path = Path(config)
    problems = deployment_problems(yaml.safe_load(path.read_text(encoding="utf-8")), path.resolve().parent,
                                   dict(os.environ))
    if problems:
        raise DeploymentCheckError("prefect.yaml: " + "; ".join(problems))
    return {"checked": str(path)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.deploy_check", description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="prefect.yaml", help="deployments file (prefect.yaml)")
    args = parser.parse_args(argv)
    try:
        check_deployments(args.config)
    except DeploymentCheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.config}: every deployment's default parameters can work")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
