"""What happens to tasks a program submits and never waits for, when it
ends (README: "At exit"): they get a bounded time to finish, then are
cancelled, and the program says how many."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.timeout(120)

SCRIPT = textwrap.dedent("""
    import sys, time
    import fastray as ray

    @ray.remote
    def write_after(path, delay):
        time.sleep(delay)
        with open(path, "w") as out:
            out.write("done")

    ray.init(num_cpus=2)
    write_after.remote(sys.argv[1], float(sys.argv[2]))
""")


def run(path, delay: float, wait_s: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FASTRAY_EXIT_WAIT_S=wait_s)
    return subprocess.run([sys.executable, "-c", SCRIPT, str(path), str(delay)],
                          capture_output=True, text=True, timeout=100, env=env)


def test_a_task_never_waited_for_still_runs_before_exit(tmp_path):
    done = run(tmp_path / "out", 0.2, "60")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out").read_text() == "done"
    assert "cancelled" not in done.stderr


def test_a_task_past_the_wait_is_cancelled_and_reported(tmp_path):
    done = run(tmp_path / "out", 90, "0.2")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "out").exists()
    assert "1 task(s) still pending or running" in done.stderr
