"""The sdist is complete: it carries what building the extensions and running
the suite need, not the generated C++, and its build prints no warnings.
(`.ci/run` goes further: a manylinux wheel built from it, installed alone.)"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile

import pytest

import fastray

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(fastray.__file__)))


@pytest.mark.timeout(300)
def test_the_sdist_carries_the_sources_and_the_suite(tmp_path):
    # A copy without build leftovers: a stale egg-info's file list would
    # otherwise put into the sdist what the configuration leaves out.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".*", "*.egg-info", "build", "dist", "wheelhouse", "test-artifacts", "__pycache__",
        "*.so"))
    result = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path)],
        cwd=source, capture_output=True, text=True, timeout=280)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "warn" not in output.lower(), output
    (sdist,) = tmp_path.glob("fastray-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    needed = {str(path.relative_to(source)) for top in ("csrc", "tests")
              for path in (source / top).rglob("*")
              if path.suffix in (".pyx", ".pxi", ".pxd", ".h", ".hpp", ".py")}
    assert {"csrc/_scheduler.pyx", "csrc/arena.hpp", "tests/conftest.py"} <= needed
    assert needed <= names, f"missing from the sdist: {sorted(needed - names)}"
    assert not [name for name in names if name.endswith(".cpp")]
