"""Task semantics on both backends: fastray's local runtime, and a real Ray
head node (conftest's ray_head) that the `ray` fixture connects to."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

import fastray
from fastray.exceptions import (FastrayError, GetTimeoutError, TaskCancelledError, TaskError,
                                WorkerCrashedError)

from helpers import RUNTIME_ENV, wait_for_file

pytestmark = pytest.mark.both_backends


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
