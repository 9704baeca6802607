"""runtime_env on the local runtime: a worker per runtime_env, the keys set
up locally (working_dir, py_modules, the setup hook, the job's), and the
keys refused."""
from __future__ import annotations

import os

import pytest

import fastray
from fastray.exceptions import RuntimeEnvSetupError

from core_api_functions import env_var, where_and_who

pytestmark = pytest.mark.timeout(120)


def test_a_worker_serves_one_runtime_env(ray):
    env = {"env_vars": {"FR_ONLY": "here"}}
    _, env_pid = ray.get(where_and_who.options(runtime_env=env).remote(), timeout=60)
    plain_pids = {pid for _, pid in ray.get([where_and_who.remote() for _ in range(20)],
                                            timeout=60)}
    assert env_pid not in plain_pids
    assert ray.get(env_var.remote("FR_ONLY"), timeout=60) is None


def test_more_runtime_envs_than_workers_still_all_run(ray):
    refs = [env_var.options(runtime_env={"env_vars": {"FR_N": str(i)}}).remote("FR_N")
            for i in range(12)]
    assert ray.get(refs, timeout=120) == [str(i) for i in range(12)]


def test_working_dir_and_py_modules_are_set_up(ray, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "helper_in_working_dir.py").write_text("VALUE = 'from working_dir'\n")
    package = tmp_path / "libs" / "fr_extra_package"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("VALUE = 'from py_modules'\n")

    @ray.remote
    def imports():
        import fr_extra_package
        import helper_in_working_dir
        return os.getcwd(), helper_in_working_dir.VALUE, fr_extra_package.VALUE

    env = {"working_dir": str(work), "py_modules": [str(package)]}
    assert ray.get(imports.options(runtime_env=env).remote(), timeout=60) == (
        str(work), "from working_dir", "from py_modules")


def test_the_setup_hook_runs_once_per_worker(ray):
    def hook():
        os.environ["FR_HOOK_RUNS"] = str(int(os.environ.get("FR_HOOK_RUNS", "0")) + 1)

    env = {"worker_process_setup_hook": hook}
    runs = ray.get([env_var.options(runtime_env=env).remote("FR_HOOK_RUNS") for _ in range(6)],
                   timeout=60)
    assert set(runs) == {"1"}


def test_a_failing_setup_hook_is_runtime_env_setup_error(ray):
    def hook():
        raise OSError("no such device")

    env = {"worker_process_setup_hook": hook}
    for _ in range(2):
        with pytest.raises(RuntimeEnvSetupError, match="no such device"):
            ray.get(env_var.options(runtime_env=env).remote("X"), timeout=60)
    assert ray.get(env_var.remote("X"), timeout=60) is None


def test_the_jobs_runtime_env_is_every_tasks():
    fastray.init(num_cpus=2, runtime_env={"env_vars": {"FR_JOB": "job"}})
    try:
        assert fastray.get(env_var.remote("FR_JOB"), timeout=60) == "job"
        merged = env_var.options(runtime_env={"env_vars": {"FR_TASK": "task"}})
        assert fastray.get([merged.remote("FR_JOB"), merged.remote("FR_TASK")],
                           timeout=60) == ["job", "task"]
    finally:
        fastray.shutdown()


@pytest.mark.parametrize("runtime_env, error", [
    ({"pip": ["requests"]}, NotImplementedError),
    ({"conda": "env"}, NotImplementedError),
    ({"container": {"image": "x"}}, NotImplementedError),
    ({"working_dir": "s3://bucket/code.zip"}, NotImplementedError),
    ({"py_modules": ["https://example.com/m.whl"]}, NotImplementedError),
    ({"env_vars": {"A": 1}}, TypeError),
    ({"working_dir": "/no/such/folder"}, ValueError),
    ("env_vars=A", TypeError),
    ({"worker_process_setup_hook": 3}, TypeError),
])
def test_what_cannot_be_set_up_locally_is_refused(ray, runtime_env, error):
    with pytest.raises(error):
        env_var.options(runtime_env=runtime_env)
    with pytest.raises(error):
        fastray.remote(runtime_env=runtime_env)(lambda: None)
