"""Fixtures shared by the tests: a runtime per test (on both backends in
modules marked both_backends), a Ray head for those, and a check that nothing
(worker processes, session files) is left behind after shutdown."""
from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys

import pytest

import fastray

from helpers import RAY_ENV, RUNTIME_ENV, free_port

# The processes the tests start (drivers that get Ctrl-C, the Ray head whose
# cancel interrupts a task with SIGINT) are programs started from a terminal,
# with SIGINT handled.  A suite started in the background by a shell without
# job control (`pytest &`, nohup) has SIGINT ignored, and every process it
# started would inherit that: Python's handler here makes theirs the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def descendants(pid: int) -> set[int]:
    """Every live process below pid (read from /proc, no dependencies)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


@pytest.fixture(autouse=True)
def no_leftovers():
    """Fails a test that leaves a runtime, a process or a session dir behind."""
    before = descendants(os.getpid())
    yield
    fastray.shutdown()
    left = descendants(os.getpid()) - before
    assert not left, f"processes left after shutdown(): {sorted(left)}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In a module marked both_backends, each test that takes `ray` runs on the
    local runtime and on a Ray head (that one marked slow)."""
    if "ray" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("ray", ["local", pytest.param("ray", marks=pytest.mark.slow)],
                             indirect=True)


@pytest.fixture
def ray(request):
    """fastray initialized for the test, shut down after it: a 2-CPU local
    runtime, or a client of the ray_head cluster where the test is so
    parametrized."""
    backend = getattr(request, "param", "local")
    if backend == "local":
        context = fastray.init(num_cpus=2)
    else:
        context = fastray.init(address=request.getfixturevalue("ray_head"),
                               runtime_env=RUNTIME_ENV, logging_level="ERROR",
                               log_to_driver=False)
    assert context.backend == backend
    yield fastray
    context.disconnect()


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory):
    """The address of a Ray head node started for these tests, on loopback
    with token authentication (a token of its own).

    It runs in a process group of its own, and only that group is stopped after
    the tests: `ray stop` would stop every Ray head on the machine, other programs'
    too (the head's workers, in groups of their own, exit with its raylet)."""
    # Looked up, not imported: ray reads the auth settings below when it is imported.
    if importlib.util.find_spec("ray") is None:
        pytest.skip('the Ray backend\'s tests need the ray extra: pip install -e ".[test,ray]"')
    workdir = tmp_path_factory.mktemp("ray")
    token = workdir / "auth_token"
    token.write_text(secrets.token_hex(32))
    env = dict(RAY_ENV, RAY_AUTH_TOKEN_PATH=str(token))
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)  # this process is a client of the cluster too
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    port = free_port()
    # ray start leads a new process group; the head's processes stay in it after it exits.
    # The GPUs and custom resources are declared, as tests/test_gpus.py declares them locally.
    with subprocess.Popen([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2",
                           "--num-gpus=2", '--resources={"slot": 2}',
                           f"--dashboard-agent-listen-port={free_port()}",
                           "--include-dashboard=false", "--disable-usage-stats",
                           f"--temp-dir={workdir / 't'}"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True) as start:
        output = start.communicate(timeout=120)[0]
    try:
        assert start.returncode == 0, f"ray start failed:\n{output}"
        yield f"127.0.0.1:{port}"
    finally:
        try:
            os.killpg(start.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
