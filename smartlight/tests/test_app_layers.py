"""Apps depend in one direction, accounts ← devices ← schedules, with no cycle inside an app.

Every import is counted, including one inside a function (an import hidden there to dodge a cycle
is still a cycle); `TYPE_CHECKING` imports are only annotations and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ["accounts", "devices", "schedules"]  # each may import only those before it


def modules(app: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if "tests" in parts or "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_app_imports_an_app_above_it():
    wrong = []
    for rank, app in enumerate(LAYERS):
        above = LAYERS[rank + 1:]
        for name, path in modules(app).items():
            for target in imports(path):
                if target.split(".")[0] in above:
                    wrong.append(f"{name} imports {target}")
    assert wrong == []


@pytest.mark.parametrize("app", LAYERS)
def test_no_two_modules_of_an_app_import_each_other(app):
    found = modules(app)
    graph = {
        name: {t for t in imports(path) if t in found and t != name}
        for name, path in found.items()
    }
    cycles = sorted(
        f"{a} <-> {b}" for a, targets in graph.items() for b in targets
        if a < b and a in graph.get(b, set())
    )
    assert cycles == []


def test_the_check_sees_imports_hidden_in_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from schedules.actions import x\n")
    assert "schedules.actions" in imports(module)
