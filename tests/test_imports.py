"""Imports run one way: no two plantwin modules import each other, not even lazily inside a function."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("data_contracts", "forecasting", "optimization", "twin", "warehouse", "demo", "report", "cli", "flows")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, modules: dict[str, Path], me: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        out.update(n for n in names if n in modules and n != me)
    return out


def test_no_two_modules_import_each_other():
    modules = _modules()
    assert "warehouse.source_config" in modules  # the scan sees the packages
    edges = {m: _imports(p, modules, m) for m, p in modules.items()}
    mutual = [(a, b) for a, b in itertools.combinations(sorted(modules), 2) if b in edges[a] and a in edges[b]]
    assert mutual == []
