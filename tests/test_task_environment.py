"""A task runs in the driver's environment and sees the driver's sys.path,
however long, with nothing of fastray's own added but the documented
variables."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastray
from fastray.spawner import THREAD_VARIABLES

# README lists these: fastray's own variables, and thread counts of 1
# unless the driver set them.
FASTRAY_VARIABLES = ("FASTRAY_NUM_CPUS", "FASTRAY_NODE_ID", "FASTRAY_NAMESPACE",
                     "FASTRAY_PROGRESS_FD", "FASTRAY_RESOURCES")


@fastray.remote
def environment() -> dict[str, str]:
    return dict(os.environ)


@fastray.remote
def pythonpath_of_a_subprocess() -> str:
    return subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('PYTHONPATH'))"],
                          capture_output=True, text=True, check=True).stdout.strip()


@fastray.remote
def search_path() -> list[str]:
    return sys.path


@pytest.mark.timeout(60)
def test_a_tasks_environment_is_the_drivers_plus_the_documented_variables():
    fastray.init(num_cpus=1)
    seen = fastray.get(environment.remote(), timeout=30)
    documented = set(FASTRAY_VARIABLES) | set(THREAD_VARIABLES)

    def others(env):
        return {name: value for name, value in env.items() if name not in documented}

    assert others(seen) == others(os.environ)
    for name in THREAD_VARIABLES:
        assert seen[name] == os.environ.get(name, "1")
    assert seen["FASTRAY_NUM_CPUS"] == "1"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("drivers", [None, "/opt/the-drivers-own-folder"])
def test_a_tasks_subprocess_sees_no_pythonpath_the_driver_lacks(monkeypatch, drivers):
    if drivers is None:
        monkeypatch.delenv("PYTHONPATH", raising=False)
    else:
        monkeypatch.setenv("PYTHONPATH", drivers)
    fastray.init(num_cpus=1)
    assert fastray.get(pythonpath_of_a_subprocess.remote(), timeout=30) == str(drivers)


@pytest.mark.timeout(120)
def test_a_huge_sys_path_reaches_the_tasks(monkeypatch):
    # About 600 KB pickled: more than a socket message may carry.
    extra = [f"/nonexistent/{'entry-' * 30}{i}" for i in range(3000)]
    monkeypatch.setattr(sys, "path", sys.path + extra)
    fastray.init(num_cpus=1)
    assert fastray.get(search_path.remote(), timeout=60) == sys.path
