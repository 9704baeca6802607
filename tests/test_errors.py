"""Errors: task exceptions, their propagation, retries and dying workers.

Remote functions are defined inside the tests so cloudpickle ships them by
value (workers never import this module).
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

import fastray
from fastray import exceptions
from helpers import assert_pool_works


def bump(path) -> int:
    """Increments the counter kept in the file at path; returns the old value.
    (Used inside tasks: a file survives a worker's death, memory does not.)"""
    try:
        with open(path) as f:
            count = int(f.read() or 0)
    except FileNotFoundError:
        count = 0
    with open(path, "w") as f:
        f.write(str(count + 1))
    return count


def read_count(path) -> int:
    with open(path) as f:
        return int(f.read())


# ---------------------------------------------------------------- the hierarchy


@pytest.mark.timeout(60)
def test_exception_classes_have_rays_names_and_hierarchy():
    assert exceptions.RayTaskError is exceptions.TaskError
    for name in ("GetTimeoutError", "TaskCancelledError", "WorkerCrashedError",
                 "ObjectStoreFullError", "RayTaskError", "ObjectLostError"):
        cls = getattr(exceptions, name)
        assert issubclass(cls, exceptions.RayError), name
        assert issubclass(cls, Exception), name
    assert issubclass(exceptions.GetTimeoutError, TimeoutError)
    assert issubclass(exceptions.RayError, Exception)
    assert not issubclass(exceptions.TaskCancelledError, exceptions.WorkerCrashedError)


# ---------------------------------------------------------------- task exceptions


@pytest.mark.timeout(60)
def test_task_exception_is_both_ray_task_error_and_the_cause(ray):
    @ray.remote
    def explode_with_value_error(x):
        raise ValueError(f"bad input {x}")

    ref = explode_with_value_error.remote(1234)
    with pytest.raises(ValueError) as info:
        ray.get(ref, timeout=30)
    error = info.value
    assert isinstance(error, exceptions.RayTaskError)
    assert isinstance(error, exceptions.TaskError)
    assert isinstance(error, exceptions.RayError)
    assert isinstance(error, ValueError)
    text = str(error)
    assert "explode_with_value_error" in text
    assert "bad input 1234" in text
    assert "Traceback" in text
    # the same error again on a second get, caught by Ray's name
    with pytest.raises(exceptions.RayTaskError):
        ray.get(ref, timeout=30)


@pytest.mark.timeout(60)
def test_task_exception_of_a_class_defined_in_the_test(ray):
    class Custom(Exception):
        pass

    @ray.remote
    def raise_custom():
        raise Custom("custom failure")

    with pytest.raises(Custom, match="custom failure") as info:
        ray.get(raise_custom.remote(), timeout=30)
    assert isinstance(info.value, exceptions.RayTaskError)


@pytest.mark.timeout(60)
def test_dependents_of_a_failed_task_fail_with_the_same_error(ray):
    @ray.remote
    def broken():
        raise KeyError("missing-key")

    @ray.remote
    def consume(x):
        return x

    failed = broken.remote()
    child = consume.remote(failed)
    grandchild = consume.remote(child)
    keyword = consume.remote(x=failed)
    for ref in (failed, child, grandchild, keyword):
        with pytest.raises(KeyError) as info:
            ray.get(ref, timeout=30)
        assert isinstance(info.value, exceptions.RayTaskError)
        assert "missing-key" in str(info.value)
        assert "broken" in str(info.value)


@pytest.mark.timeout(60)
def test_get_inside_a_task_raises_the_inner_error(ray):
    @ray.remote
    def inner():
        raise ZeroDivisionError("inner division")

    @ray.remote
    def outer():
        try:
            fastray.get(inner.remote())
        except ZeroDivisionError as error:
            return ("caught", isinstance(error, exceptions.RayTaskError))
        return ("not raised", False)

    assert ray.get(outer.remote(), timeout=30) == ("caught", True)


# ---------------------------------------------------------------- exceptions that do not unpickle
# Each class is made inside the test (shipped by value) or inside the task.


@pytest.mark.timeout(60)
@pytest.mark.parametrize("keyword_only", [False, True], ids=["positional", "keyword-only"])
def test_exception_whose_init_needs_arguments_keeps_class_message_and_traceback(
        ray, keyword_only):
    class NeedsArgs(Exception):
        def __init__(self, code, detail):
            super().__init__(f"code {code}: {detail}")
            self.code = code

    class NeedsKeywords(Exception):
        def __init__(self, *, code, detail):
            super().__init__(f"code {code}: {detail}")
            self.code = code

    cls = NeedsKeywords if keyword_only else NeedsArgs

    @ray.remote
    def fail_with_arguments():
        raise cls(code=42, detail="went wrong")

    with pytest.raises(cls) as info:
        ray.get(fail_with_arguments.remote(), timeout=30)
    error = info.value
    assert isinstance(error, exceptions.RayTaskError)
    assert error.cause.code == 42
    assert error.cause.args == ("code 42: went wrong",)
    text = str(error)
    assert f"{cls.__name__}: code 42: went wrong" in text
    assert "Traceback" in text and "fail_with_arguments" in text


@pytest.mark.timeout(60)
def test_exception_whose_init_needs_arguments_is_caught_in_a_task(ray):
    @ray.remote
    def inner():
        class NeedsTwo(Exception):
            def __init__(self, code, detail):
                super().__init__(f"{code}: {detail}")

        raise NeedsTwo(7, "inner")

    @ray.remote
    def outer():
        try:
            fastray.get(inner.remote())
        except exceptions.RayTaskError as error:
            return type(error.cause).__name__, str(error.cause)
        return None

    assert ray.get(outer.remote(), timeout=30) == ("NeedsTwo", "7: inner")


@pytest.mark.timeout(60)
def test_exception_of_a_class_only_the_worker_can_import(ray, tmp_path):
    (tmp_path / "only_in_the_worker.py").write_text("class Secret(Exception):\n    pass\n")
    folder = str(tmp_path)

    @ray.remote
    def fail_with_a_private_class():
        sys.path.insert(0, folder)
        import only_in_the_worker
        raise only_in_the_worker.Secret("kept to itself")

    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(fail_with_a_private_class.remote(), timeout=30)
    assert info.value.cause is None
    text = str(info.value)
    assert "only_in_the_worker.Secret: kept to itself" in text
    assert "Traceback" in text and "fail_with_a_private_class" in text
    assert "could not be rebuilt here: ModuleNotFoundError" in text
    assert_pool_works(ray)


@pytest.mark.timeout(60)
def test_exception_whose_class_cannot_be_pickled(ray):
    @ray.remote
    def fail_with_a_locked_class():
        import threading

        class Locked(Exception):
            lock = threading.Lock()

        raise Locked("holds a lock")

    with pytest.raises(exceptions.RayTaskError) as info:
        ray.get(fail_with_a_locked_class.remote(), timeout=30)
    assert info.value.cause is None
    text = str(info.value)
    assert "Locked: holds a lock" in text and "Traceback" in text
    assert "could not be pickled in the worker: TypeError: cannot pickle" in text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("refusal", ["__reduce__ raises", "an attribute does not pickle"])
def test_exception_that_does_not_pickle_is_still_of_its_class(ray, refusal):
    class RefusesPickling(Exception):
        def __reduce__(self):
            raise TypeError("not today")

    class HoldsALock(Exception):
        def __init__(self, message):
            import threading
            super().__init__(message)
            self.lock = threading.Lock()

    cls = RefusesPickling if refusal == "__reduce__ raises" else HoldsALock

    @ray.remote
    def fail_unpicklably():
        raise cls("refused")

    with pytest.raises(cls) as info:
        ray.get(fail_unpicklably.remote(), timeout=30)
    assert isinstance(info.value, exceptions.RayTaskError)
    assert info.value.cause.args == ("refused",)
    text = str(info.value)
    assert f"{cls.__name__}: refused" in text and "fail_unpicklably" in text


# ---------------------------------------------------------------- retries


@pytest.mark.timeout(60)
def test_retry_exceptions_retries_an_application_error(ray, tmp_path):
    counter = str(tmp_path / "count")

    @ray.remote(max_retries=1, retry_exceptions=True)
    def flaky(path):
        if bump(path) == 0:
            raise ValueError("first attempt fails")
        return "second attempt"

    assert ray.get(flaky.remote(counter), timeout=30) == "second attempt"
    assert read_count(counter) == 2


@pytest.mark.timeout(60)
def test_retry_exceptions_with_a_list_of_classes(ray, tmp_path):
    @ray.remote(max_retries=2, retry_exceptions=[KeyError])
    def flaky(path, error):
        if bump(path) == 0:
            raise error("first attempt fails")
        return "retried"

    listed, unlisted = str(tmp_path / "listed"), str(tmp_path / "unlisted")
    assert ray.get(flaky.remote(listed, KeyError), timeout=30) == "retried"
    assert read_count(listed) == 2
    with pytest.raises(TypeError):
        ray.get(flaky.remote(unlisted, TypeError), timeout=30)
    assert read_count(unlisted) == 1


@pytest.mark.timeout(60)
def test_application_errors_are_not_retried_by_default(ray, tmp_path):
    counter = str(tmp_path / "count")

    @ray.remote(max_retries=3, retry_exceptions=False)
    def flaky(path):
        if bump(path) == 0:
            raise ValueError("first attempt fails")
        return "second attempt"

    with pytest.raises(ValueError, match="first attempt fails"):
        ray.get(flaky.remote(counter), timeout=30)
    assert read_count(counter) == 1

    default_counter = str(tmp_path / "default")

    @ray.remote
    def flaky_default(path):
        if bump(path) == 0:
            raise ValueError("first attempt fails")
        return "second attempt"

    with pytest.raises(ValueError):
        ray.get(flaky_default.remote(default_counter), timeout=30)
    assert read_count(default_counter) == 1


@pytest.mark.timeout(60)
def test_retries_run_out(ray, tmp_path):
    counter = str(tmp_path / "count")

    @ray.remote(max_retries=2, retry_exceptions=True)
    def always_fails(path):
        attempt = bump(path)
        raise RuntimeError(f"attempt {attempt}")

    with pytest.raises(RuntimeError, match="attempt 2"):
        ray.get(always_fails.remote(counter), timeout=30)
    assert read_count(counter) == 3


# ---------------------------------------------------------------- worker death


@pytest.mark.timeout(60)
def test_worker_exit_without_retries_is_worker_crashed_error(ray, tmp_path):
    counter = str(tmp_path / "count")

    @ray.remote(max_retries=0)
    def die(path):
        bump(path)
        os._exit(7)

    with pytest.raises(exceptions.WorkerCrashedError) as info:
        ray.get(die.remote(counter), timeout=30)
    assert "code 7" in str(info.value)
    assert "die" in str(info.value)
    assert not isinstance(info.value, exceptions.RayTaskError)
    assert read_count(counter) == 1

    assert_pool_works(ray)


@pytest.mark.timeout(60)
def test_worker_exit_is_retried(ray, tmp_path):
    counter = str(tmp_path / "count")

    @ray.remote(max_retries=1)
    def die_once(path):
        if bump(path) == 0:
            os._exit(1)
        return os.getpid()

    pid = ray.get(die_once.remote(counter), timeout=30)
    assert isinstance(pid, int) and pid != os.getpid()
    assert read_count(counter) == 2

    assert_pool_works(ray)


@pytest.mark.timeout(60)
def test_worker_deaths_are_retried_three_times_by_default(ray, tmp_path):
    counter = str(tmp_path / "count")

    @ray.remote
    def always_dies(path):
        bump(path)
        os._exit(3)

    with pytest.raises(exceptions.WorkerCrashedError, match="code 3"):
        ray.get(always_dies.remote(counter), timeout=40)
    assert read_count(counter) == 4


@pytest.mark.timeout(60)
def test_dependents_of_a_crashed_task_fail_with_worker_crashed_error(ray):
    @ray.remote(max_retries=0)
    def die():
        os._exit(1)

    @ray.remote
    def consume(x):
        return x

    crashed = die.remote()
    child = consume.remote(crashed)
    for ref in (crashed, child):
        with pytest.raises(exceptions.WorkerCrashedError):
            ray.get(ref, timeout=30)


# The driver must survive this pattern; it runs in a child process so that a
# crash of the runtime fails this test alone instead of killing the session.
FAILED_INPUT_DROPPED = """
import os, sys
import fastray as ray

ray.init(num_cpus=2)

@ray.remote(max_retries=0)
def failing(kind):
    if kind == "crash":
        os._exit(1)
    raise ValueError("failing on purpose")

@ray.remote
def consume(x):
    return x

kind, rounds = sys.argv[1], int(sys.argv[2])
caught = 0
for _ in range(rounds):
    try:
        # the driver keeps no ref to failing()'s result: consume() holds the last one
        ray.get(consume.remote(failing.remote(kind)), timeout=20)
    except (ValueError, ray.exceptions.WorkerCrashedError):
        caught += 1
ray.shutdown()
print("caught", caught)
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind, rounds", [("raise", 200), ("crash", 20)])
def test_dependent_holding_the_last_ref_to_a_failed_input(tmp_path, kind, rounds):
    script = tmp_path / "failed_input_dropped.py"
    script.write_text(FAILED_INPUT_DROPPED)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(fastray.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, str(script), kind, str(rounds)], env=env,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, (
        f"driver died with status {result.returncode}\nstderr:\n{result.stderr[-3000:]}")
    assert f"caught {rounds}" in result.stdout
