"""The house rules, checked in the default run: the package layers of docs/design.md and no import cycles (import-linter's
contracts in pyproject.toml: a package that imports one above it, or a sibling on its line, fails naming the import),
and ruff's lint and format (its configuration in pyproject.toml)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_packages_import_only_the_layers_below_them():
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if linter is None:
        pytest.skip("import-linter is not installed (pip install '.[dev]')")
    result = subprocess.run([linter, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout  # the layers, and no import cycles


def test_the_contract_fails_on_an_upward_import(tmp_path):
    """A throwaway module in a copy of the package that imports a layer above its own breaks the contract, by name."""
    linter = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if linter is None:
        pytest.skip("import-linter is not installed (pip install '.[dev]')")
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "src" / "negrec" / "data" / "upward.py").write_text(
        '"""A data module that reaches up."""\n\nimport negrec.cli.cf\n'
    )
    env = {"PYTHONPATH": str(tmp_path / "src"), "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run([linter, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, env=env)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "negrec.data is not allowed to import negrec.cli" in result.stdout
    assert "negrec.data.upward -> negrec.cli.cf" in result.stdout


@pytest.mark.parametrize("args", [["check", "src", "tests", "benchmarks"], ["format", "--check", "src", "tests", "benchmarks"]])
def test_ruff_lint_and_format_pass(args):
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is None:
        pytest.skip("ruff is not installed (pip install '.[dev]')")
    result = subprocess.run([ruff, *args], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
