"""Task semantics on both backends: fastray's local runtime, and a real Ray
head node that this module starts on loopback (token authentication on,
with a token of its own) and stops at the end."""
from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

import fastray
from fastray.exceptions import (FastrayError, GetTimeoutError, TaskCancelledError, TaskError,
                                WorkerCrashedError)

from helpers import wait_for_file

# Ray on one machine: every address on loopback, no cluster-wide IP.
RAY_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "token"}
# Ray's workers import the functions defined in this module by name, as for
# any module a Ray program imports: they get its directory (Ray's semantics;
# fastray's local workers get the driver's sys.path).
RUNTIME_ENV = {"env_vars": {"PYTHONPATH": os.pathsep.join([
    os.path.dirname(__file__), os.path.dirname(os.path.dirname(fastray.__file__))])}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def ray_head(tmp_path_factory):
    """The address of a Ray head node started for these tests.

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
    with subprocess.Popen([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=2",
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


@pytest.fixture(params=["local", pytest.param("ray", marks=pytest.mark.slow)])
def ray(request):
    """fastray, initialized on one backend or the other."""
    if request.param == "local":
        context = fastray.init(num_cpus=2)
    else:
        context = fastray.init(address=request.getfixturevalue("ray_head"),
                               runtime_env=RUNTIME_ENV, logging_level="ERROR",
                               log_to_driver=False)
    assert context.backend == request.param
    yield fastray
    fastray.shutdown()


def square(x):
    return x * x


def test_tasks_refs_and_dependencies(ray):
    task = ray.remote(square)
    first = task.remote(3)
    assert isinstance(first, ray.ObjectRef)
    assert ray.get(task.remote(first)) == 81
    assert ray.get([task.remote(i) for i in range(5)]) == [0, 1, 4, 9, 16]
    stored = ray.put({"numbers": [1, 2], "ref": first})
    value = ray.get(stored)
    assert value["numbers"] == [1, 2] and ray.get(value["ref"]) == 9


def test_nested_tasks_bind_to_the_same_backend(ray):
    g = ray.remote(square)

    @ray.remote
    def h(x):
        return ray.get(g.remote(x)) + 1

    assert ray.get(h.remote(4)) == 17


def test_options_and_multiple_returns(ray):
    @ray.remote(num_returns=2)
    def pair(x):
        return x, x + 1

    a, b = pair.remote(1)
    assert ray.get([a, b]) == [1, 2]
    c, d = pair.options(num_cpus=1).remote(5)
    assert ray.get(d) == 6


def test_wait_splits_in_order(ray):
    task = ray.remote(square)
    refs = [task.remote(i) for i in range(4)]
    ready, pending = ray.wait(refs, num_returns=4, timeout=60)
    assert ready == refs and pending == []


def test_errors_are_fastray_errors_and_the_cause(ray):
    @ray.remote(max_retries=0)
    def fails():
        raise KeyError("missing")

    with pytest.raises(TaskError) as raised:
        ray.get(fails.remote())
    assert isinstance(raised.value, KeyError)
    with pytest.raises(KeyError):
        ray.get(ray.remote(square).remote(fails.remote()))


class NeedsArgs(Exception):
    """Its pickle calls NeedsArgs(message), which __init__ refuses."""

    def __init__(self, code, detail):
        super().__init__(f"code {code}: {detail}")


def fail_with_arguments():
    raise NeedsArgs(42, "went wrong")


def test_an_exception_that_does_not_unpickle_keeps_its_class_and_message(ray):
    # Locally a TaskError (and a NeedsArgs); Ray raises its UnserializableException.
    with pytest.raises(FastrayError) as raised:
        ray.get(ray.remote(max_retries=0)(fail_with_arguments).remote())
    text = str(raised.value)
    assert "NeedsArgs" in text and "code 42: went wrong" in text
    assert "fail_with_arguments" in text


def test_get_timeout_and_cancel(ray, tmp_path):
    started = tmp_path / "started"

    @ray.remote
    def slow(path):
        open(path, "w").close()
        time.sleep(60)

    ref = slow.remote(str(started))
    with pytest.raises(GetTimeoutError):
        ray.get(ref, timeout=0.1)
    wait_for_file(started, timeout=60)
    ray.cancel(ref, force=True)
    with pytest.raises((TaskCancelledError, WorkerCrashedError)):
        ray.get(ref, timeout=60)


def test_a_dead_worker_is_worker_crashed_error(ray):
    @ray.remote(max_retries=0)
    def die():
        os._exit(1)

    with pytest.raises(WorkerCrashedError):
        ray.get(die.remote(), timeout=60)


def test_resources_context_and_futures(ray):
    assert ray.cluster_resources()["CPU"] == 2
    assert ray.get_runtime_context().get_task_id() is None

    @ray.remote
    def my_task_id():
        return ray.get_runtime_context().get_task_id()

    assert ray.get(my_task_id.remote())
    assert ray.remote(square).remote(7).future().result(timeout=60) == 49


def test_asking_for_a_cluster_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"fastray\[ray\]"):
        fastray.init(address="127.0.0.1:1")
    assert not fastray.is_initialized()


@pytest.mark.slow
def test_fastray_address_in_the_environment_selects_ray(monkeypatch, ray_head):
    monkeypatch.setenv("FASTRAY_ADDRESS", ray_head)
    context = fastray.init(runtime_env=RUNTIME_ENV, logging_level="ERROR", log_to_driver=False)
    try:
        assert context.backend == "ray"
        assert ray_head.split(":")[1] in context.address_info["address"]
        assert fastray.get(fastray.remote(square).remote(6)) == 36
    finally:
        fastray.shutdown()


def test_importing_exceptions_does_not_import_ray():
    code = ("import sys, fastray.exceptions, fastray; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60,
                   env=dict(os.environ, PYTHONPATH=os.path.dirname(
                       os.path.dirname(fastray.__file__))))
