"""runtime_env's env_vars and their inheritance (Ray's "Environment
Dependencies" page), on the local runtime and on a Ray head."""
from __future__ import annotations

import pytest

from core_api_functions import EnvReader, env_var, env_var_of_child

pytestmark = [pytest.mark.both_backends, pytest.mark.timeout(120)]


def test_env_vars_are_set_for_the_task_and_the_actor(ray):
    assert ray.get(env_var.options(runtime_env={"env_vars": {"FR_COLOR": "blue"}}).remote(
        "FR_COLOR"), timeout=60) == "blue"
    assert ray.get(env_var.remote("FR_COLOR"), timeout=60) is None
    reader = EnvReader.options(runtime_env={"env_vars": {"FR_COLOR": "red"}}).remote()
    assert ray.get(reader.read.remote("FR_COLOR"), timeout=60) == "red"


def test_children_inherit_and_merge_env_vars(ray):
    parent_env = {"env_vars": {"FR_A": "parent", "FR_B": "parent"}}
    inherited = env_var_of_child.options(runtime_env=parent_env)
    assert ray.get(inherited.remote("FR_A", None), timeout=60) == "parent"
    child_env = {"env_vars": {"FR_B": "child"}}
    assert ray.get(inherited.remote("FR_B", child_env), timeout=60) == "child"
    assert ray.get(inherited.remote("FR_A", child_env), timeout=60) == "parent"
