"""The package's type hints hold: mypy passes on it (settings in
pyproject.toml), compiled modules included through their .pyi stubs."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastray

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastray.__file__)))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_mypy_passes_on_the_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path), "fastray"],
        cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_package_says_it_is_typed():
    assert os.path.exists(os.path.join(ROOT, "fastray", "py.typed"))
    for module in ("_scheduler", "_store"):
        assert os.path.exists(os.path.join(ROOT, "fastray", f"{module}.pyi"))
