"""The code's layout holds: imports run one way down the package table, no two modules import each other,
and every entry point answers ``--help`` with help (and writes nothing).

The package table is the README's "How the code is laid out"; a package may import only the packages
listed for it here. Imports inside functions and ``TYPE_CHECKING`` blocks count: a lazy import upward is
still an upward dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package -> the plantwin packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "data_contracts": set(),
    "warehouse": {"data_contracts"},
    "forecasting": {"data_contracts"},
    "optimization": {"data_contracts"},
    "demo": {"data_contracts"},
    "twin": {"data_contracts", "optimization", "forecasting"},
    "report": {"data_contracts", "warehouse", "forecasting", "optimization", "twin"},
    "flows": {"data_contracts", "warehouse", "forecasting", "optimization", "twin", "demo", "report"},
    "cli": {"data_contracts", "warehouse", "forecasting", "optimization", "twin", "demo", "report", "flows"},
}
PACKAGES = set(ALLOWED)


def _modules() -> dict[str, Path]:
    """Every module of the plantwin packages, by dotted name."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The plantwin modules ``name`` imports, anywhere in its body (resolved to the deepest known module)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod when there is one
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in PACKAGES and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_imports_run_one_way_down_the_package_table() -> None:
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in targets
        if (src := module.split(".")[0]) != (dst := target.split(".")[0]) and dst not in ALLOWED[src]
    )
    assert not upward, "imports against the layout (see README, 'How the code is laid out'):\n" + "\n".join(upward)


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a cycle with them
    edges = {m: {t for t in ts if not (m == t.rpartition(".")[0] and m in PACKAGES)} for m, ts in graph.items()}
    cycles = sorted(_cycles(edges))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components with more than one module (Tarjan), each as a sorted tuple."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(tuple(sorted(component)))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_report_reads_the_warehouse_through_its_api() -> None:
    """report/ renders frames: the queries that pick its rows live in warehouse/ (``warehouse.reads``)."""
    for name, path in _modules().items():
        if name.split(".")[0] == "report":
            text = path.read_text(encoding="utf-8")
            assert ".execute(" not in text and "SELECT " not in text, f"{name} queries DuckDB itself"


def test_no_flow_or_script_shares_its_name_with_a_package():
    """Prefect loads a flow from its file path (``flows/weekly.py``) with that folder on ``sys.path``, so a
    module ``flows/twin.py`` would shadow the ``twin`` package for everything the flow imports; the same
    holds for the folders whose files run as scripts (``bench/``)."""
    clashes = sorted(name for name in _modules()
                     if name.startswith("flows.") and name.rpartition(".")[2] in PACKAGES)
    clashes += sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bench").glob("*.py") if p.stem in PACKAGES)
    assert not clashes, f"modules named like a top-level package: {clashes}"


def test_the_check_catches_an_upward_import_and_a_cycle(tmp_path: Path) -> None:
    """The checks themselves can fail: a synthetic upward import and a synthetic cycle are found."""
    src = tmp_path / "optimization" / "bad.py"
    src.parent.mkdir()
    src.write_text("def f():\n    from flows.settings import RunParameters\n", encoding="utf-8")
    modules = {"optimization.bad": src, "flows.settings": ROOT / "flows" / "settings.py"}
    assert _imports("optimization.bad", src, modules) == {"flows.settings"}
    assert _cycles({"a.x": {"a.y"}, "a.y": {"a.x"}, "a.z": {"a.x"}}) == [("a.x", "a.y")]


def _entry_points() -> list[list[str]]:
    """Every ``python -m`` module and bench script that has a ``__main__`` block."""
    commands = [[sys.executable, "-m", "cli"]]
    for name, path in sorted(_modules().items()):
        if 'if __name__ == "__main__"' in path.read_text(encoding="utf-8"):
            commands.append([sys.executable, "-m", name])
    commands += [[sys.executable, str(p)] for p in sorted((ROOT / "bench").glob("*.py"))
                 if 'if __name__ == "__main__"' in p.read_text(encoding="utf-8")]
    return commands


@pytest.mark.parametrize("command", _entry_points(), ids=lambda c: c[-1].rpartition("/")[2])
def test_every_entry_point_answers_help(command: list[str], tmp_path: Path) -> None:
    done = subprocess.run([*command, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={**_env(), "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower(), done.stdout[:500]
    assert list(tmp_path.iterdir()) == [], "--help wrote files"


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
