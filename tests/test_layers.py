"""fastray's modules are layered (pyproject.toml's import-linter contract):
each imports only the layers below it, so no import cycle can come back."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import fastray

ROOT = Path(fastray.__file__).resolve().parents[1]


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    if command is None:
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]')")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([command, "--no-cache"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_layers_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fastray's modules are layered KEPT" in result.stdout


def test_an_import_up_the_layers_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is not vacuous: the auto-init import the package used to
    have (ObjectRef importing the API) breaks it."""
    shutil.copytree(ROOT / "fastray", tmp_path / "fastray",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "fastray" / "object_ref.py", "a") as module:
        module.write("\nfrom . import api\n")
    result = lint_imports(tmp_path, pythonpath=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "fastray.object_ref is not allowed to import fastray.api" in result.stdout
