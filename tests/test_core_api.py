"""The names Ray programs import and task options Ray documents, on the
local runtime and on a Ray head."""
from __future__ import annotations

import collections
import os

import pytest

import fastray
from fastray import exceptions

from core_api_functions import (Sleeper, counts_with_a_bar, env_var, notes_its_cancel,
                                pid_once, pid_twice, two_then_fails)
from helpers import wait_for_file

pytestmark = [pytest.mark.both_backends, pytest.mark.timeout(120)]


def test_max_calls_gives_each_worker_that_many_calls(ray):
    once = [ray.get(pid_once.remote(), timeout=60) for _ in range(4)]
    assert len(set(once)) == 4
    twice = collections.Counter(ray.get(pid_twice.remote(), timeout=60) for _ in range(6))
    assert max(twice.values()) <= 2


def test_the_names_ray_programs_import_are_there(ray):
    from fastray._raylet import ObjectRefGenerator
    import fastray.cloudpickle as cloudpickle
    assert fastray.ObjectRefGenerator is ObjectRefGenerator
    assert cloudpickle.loads(fastray.cloudpickle.dumps(lambda: 3))() == 3
    assert fastray.actor.ActorHandle is not None
    for name in ("RayActorError", "ActorDiedError", "ActorUnavailableError", "OwnerDiedError",
                 "OutOfMemoryError", "ObjectReconstructionFailedError", "RaySystemError",
                 "TaskUnschedulableError", "ActorUnschedulableError",
                 "PendingCallsLimitExceeded", "TaskPlacementGroupRemoved",
                 "ActorPlacementGroupRemoved", "RuntimeEnvSetupError"):
        assert issubclass(getattr(exceptions, name), exceptions.RayError), name
    assert issubclass(exceptions.OwnerDiedError, exceptions.ObjectLostError)


def test_max_calls_is_set_in_the_decorator_only(ray):
    with pytest.raises(ValueError, match="max_calls"):
        pid_once.options(max_calls=3)
    with pytest.raises(ValueError, match="max_calls"):
        ray.remote(max_calls=-1)(lambda: None)


def test_the_readme_example_of_the_rest_of_ray_core_runs(capsys):
    with open(os.path.join(os.path.dirname(__file__), "..", "README.md")) as file:
        readme = file.read()
    section = readme[readme.index("## The rest of Ray Core"):]
    code = section[section.index("```python") + len("```python"):section.index("```\n", 10)]
    exec(compile(code, "README.md", "exec"), {})
    assert capsys.readouterr().out.split() == ["[0,", "1,", "4,", "9]", "test"]


def test_a_cancelled_task_sees_is_canceled(ray, tmp_path):
    started, note = str(tmp_path / "started"), str(tmp_path / "note")
    ref = notes_its_cancel.remote(started, note)
    wait_for_file(started)
    ray.cancel(ref)
    # As Ray: cancelled while it ran, the error is a RayTaskError too.
    with pytest.raises(exceptions.TaskCancelledError) as raised:
        ray.get(ref, timeout=60)
    assert isinstance(raised.value, exceptions.RayTaskError)
    wait_for_file(note)
    with open(note) as text:
        assert text.read() == "True"


def test_declaring_gpus_is_not_asking_for_them(ray, request):
    @ray.remote(num_gpus=1024)   # more than any machine here has
    def never_called():
        return 1

    @ray.remote(resources={"accelerator": 1})
    def never_called_either():
        return 1

    if request.node.callspec.params["ray"] == "local":
        with pytest.raises(ValueError, match="num_gpus"):
            never_called.remote()
        with pytest.raises(ValueError, match="custom resources"):
            never_called_either.remote()
    with pytest.raises(ValueError):
        never_called.options(num_gpus=-1)


def test_a_cancelled_async_call_is_a_task_error_even_if_it_caught_the_cancel(ray, tmp_path):
    started = str(tmp_path / "started")
    sleeper = Sleeper.remote()
    ref = sleeper.sleep_through_cancel.remote(started)
    wait_for_file(started)
    ray.cancel(ref)
    with pytest.raises(exceptions.TaskCancelledError) as raised:
        ray.get(ref, timeout=60)
    assert isinstance(raised.value, exceptions.RayTaskError)


def test_fixed_and_dynamic_returns_of_a_failing_generator(ray):
    refs = two_then_fails.options(num_returns=4).remote()
    assert ray.get(refs[:2], timeout=60) == [0, 1]
    for ref in refs[2:]:
        with pytest.raises(KeyError, match="after two"):
            ray.get(ref, timeout=60)
    with pytest.warns(DeprecationWarning):
        dynamic = two_then_fails.options(num_returns="dynamic").remote()
    first, second, error = ray.get(dynamic, timeout=60)
    assert ray.get([first, second], timeout=60) == [0, 1]
    with pytest.raises(KeyError, match="after two"):
        ray.get(error, timeout=60)


def test_older_runtime_context_properties_and_typed_runtime_env(ray):
    from fastray.runtime_env import RuntimeEnv
    from fastray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    context = ray.get_runtime_context()
    with pytest.warns(DeprecationWarning):
        node_id = context.node_id
    assert node_id.hex() == context.get_node_id()
    here = NodeAffinitySchedulingStrategy(node_id=node_id, soft=False)
    assert ray.get(env_var.options(scheduling_strategy=here,
                                   runtime_env=RuntimeEnv(env_vars={"FR_T": "typed"})
                                   ).remote("FR_T"), timeout=60) == "typed"
    assert RuntimeEnv(env_vars={"A": "1"}) == {"env_vars": {"A": "1"}}


def test_a_task_can_draw_a_progress_bar(ray):
    assert ray.get(counts_with_a_bar.remote(25), timeout=60) == 25
