"""The layer rules import-linter cannot see on its own (pyproject.toml, `[tool.importlinter]`)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_SHIPPED = {"tests", "bench"}


def _linter_config() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    linter: dict[str, object] = config["tool"]["importlinter"]
    return linter


def test_every_package_of_the_project_is_under_the_layer_contracts() -> None:
    packages = {
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_SHIPPED
    }
    assert packages == set(_linter_config()["root_packages"])  # type: ignore[arg-type]


def test_the_composition_root_imports_neither_the_shell_nor_the_simulator() -> None:
    tree = ast.parse((ROOT / "worker.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert "workflows" in imported  # the walk sees worker.py's imports at all
    assert not imported & {"samverkan", "simulator"}
