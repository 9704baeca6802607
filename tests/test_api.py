"""The public API: init/shutdown, @remote and its options, ObjectRef, get, put,
wait, resources, the runtime context, and what a worker process looks like.

Remote functions are defined inside the tests so cloudpickle ships them by
value (workers never import this module).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import pickle
import time

import numpy as np
import pytest

import fastray
from fastray import exceptions
from helpers import wait_for_file


# ---------------------------------------------------------------- init / shutdown


@pytest.mark.timeout(60)
def test_init_returns_a_context_describing_the_runtime():
    assert not fastray.is_initialized()
    context = fastray.init(num_cpus=2)
    assert fastray.is_initialized()
    info = context.address_info
    assert isinstance(info, dict)
    assert info["node_ip_address"] == "127.0.0.1"
    assert info["webui_url"] is None
    assert os.path.isdir(info["session_dir"])
    assert context["session_dir"] == info["session_dir"]
    assert hasattr(context, "dashboard_url")
    assert context.dashboard_url is None

    @fastray.remote
    def pid():
        return os.getpid()

    worker_pid = fastray.get(pid.remote(), timeout=30)
    assert worker_pid != os.getpid()
    assert worker_pid in context.worker_pids
    text = repr(context)
    assert "worker_pids" in text
    assert str(worker_pid) in text


@pytest.mark.timeout(60)
def test_shutdown_removes_the_session_dir_and_the_workers():
    context = fastray.init(num_cpus=2)

    @fastray.remote
    def pid():
        return os.getpid()

    pids = set(fastray.get([pid.remote() for _ in range(4)], timeout=30))
    session_dir = context.address_info["session_dir"]
    fastray.shutdown()
    assert not fastray.is_initialized()
    assert not os.path.exists(session_dir)
    for worker_pid in pids:
        assert not os.path.exists(f"/proc/{worker_pid}"), f"worker {worker_pid} outlived shutdown"


@pytest.mark.timeout(60)
def test_second_init_raises_unless_ignore_reinit_error():
    first = fastray.init(num_cpus=1)
    with pytest.raises(RuntimeError, match="already"):
        fastray.init(num_cpus=1)
    again = fastray.init(num_cpus=1, ignore_reinit_error=True)
    assert again is first
    assert fastray.is_initialized()

    @fastray.remote
    def one():
        return 1

    assert fastray.get(one.remote(), timeout=30) == 1


@pytest.mark.timeout(60)
def test_init_rejects_an_unknown_keyword_by_name():
    with pytest.raises(TypeError, match="bogus_option"):
        fastray.init(num_cpus=1, bogus_option=3)
    assert not fastray.is_initialized()


@pytest.mark.timeout(60)
def test_init_accepts_rays_keywords(tmp_path):
    fastray.init(num_cpus=1, logging_level=logging.WARNING, include_dashboard=False,
                 namespace="tests", runtime_env={"env_vars": {}}, _temp_dir=str(tmp_path),
                 log_to_driver=True, configure_logging=False, local_mode=False)
    assert fastray.is_initialized()

    @fastray.remote
    def double(x):
        return 2 * x

    assert fastray.get(double.remote(21), timeout=30) == 42


@pytest.mark.timeout(60)
@pytest.mark.parametrize("num_cpus", [0, -1])
def test_init_rejects_non_positive_num_cpus(num_cpus):
    with pytest.raises(ValueError, match="num_cpus"):
        fastray.init(num_cpus=num_cpus)
    assert not fastray.is_initialized()


@pytest.mark.timeout(60)
def test_init_rejects_negative_object_store_memory():
    with pytest.raises(ValueError, match="object_store_memory"):
        fastray.init(num_cpus=1, object_store_memory=-5)
    assert not fastray.is_initialized()


@pytest.mark.timeout(60)
def test_init_as_context_manager_shuts_down_at_block_end():
    with fastray.init(num_cpus=2) as context:
        assert fastray.is_initialized()

        @fastray.remote
        def pid():
            return os.getpid()

        worker_pid = fastray.get(pid.remote(), timeout=30)
        session_dir = context.address_info["session_dir"]
    assert not fastray.is_initialized()
    assert not os.path.exists(session_dir)
    assert not os.path.exists(f"/proc/{worker_pid}")


@pytest.mark.timeout(60)
def test_shutdown_twice_and_without_init_is_fine():
    fastray.shutdown()
    assert not fastray.is_initialized()
    fastray.init(num_cpus=1)
    fastray.shutdown()
    fastray.shutdown()
    assert not fastray.is_initialized()
    # and the runtime can be started again afterwards
    fastray.init(num_cpus=1)

    @fastray.remote
    def three():
        return 3

    assert fastray.get(three.remote(), timeout=30) == 3


@pytest.mark.timeout(60)
def test_remote_call_starts_the_runtime():
    assert not fastray.is_initialized()

    @fastray.remote
    def square(x):
        return x * x

    ref = square.remote(7)
    assert fastray.is_initialized()
    assert fastray.get(ref, timeout=30) == 49


@pytest.mark.timeout(60)
def test_put_starts_the_runtime():
    assert not fastray.is_initialized()
    ref = fastray.put({"a": 1})
    assert fastray.is_initialized()
    assert fastray.get(ref, timeout=30) == {"a": 1}


# ---------------------------------------------------------------- @remote


@pytest.mark.timeout(60)
def test_remote_bare_decorator_and_with_options(ray):
    @ray.remote
    def add(x, y):
        return x + y

    @ray.remote(num_cpus=1, max_retries=0)
    def sub(x, y):
        return x - y

    def mul(x, y):
        return x * y

    remote_mul = ray.remote(num_cpus=1)(mul)
    assert ray.get([add.remote(2, 3), sub.remote(2, 3), remote_mul.remote(2, 3)],
                   timeout=30) == [5, -1, 6]
    assert ray.get(add.options(num_cpus=1).remote(10, y=5), timeout=30) == 15


@pytest.mark.timeout(60)
def test_options_num_returns(ray):
    @ray.remote
    def pair(x):
        return x, x + 1

    first, second = pair.options(num_returns=2).remote(10)
    assert isinstance(first, ray.ObjectRef) and isinstance(second, ray.ObjectRef)
    assert ray.get([first, second], timeout=30) == [10, 11]
    # without the option the tuple is one value
    assert ray.get(pair.remote(1), timeout=30) == (1, 2)


@pytest.mark.timeout(60)
def test_lambdas_and_closures_run_as_tasks(ray):
    triple = ray.remote(lambda x: 3 * x)
    assert ray.get(triple.remote(5), timeout=30) == 15

    offset = 100
    table = {"k": [1, 2, 3]}

    @ray.remote
    def closure(i):
        return offset + table["k"][i]

    assert ray.get([closure.remote(i) for i in range(3)], timeout=30) == [101, 102, 103]


@pytest.mark.timeout(60)
def test_calling_a_remote_function_directly_is_a_type_error(ray):
    @ray.remote
    def f(x):
        return x

    with pytest.raises(TypeError, match=r"\.remote"):
        f(1)


@pytest.mark.timeout(60)
def test_remote_of_a_non_function_is_a_type_error():
    with pytest.raises(TypeError):
        fastray.remote(42)
    assert not fastray.is_initialized()


@pytest.mark.timeout(60)
def test_unknown_option_is_a_value_error(ray):
    with pytest.raises(ValueError, match="not_an_option"):
        @ray.remote(not_an_option=1)
        def f():
            return 1

    @ray.remote
    def g():
        return 1

    with pytest.raises(ValueError, match="not_an_option"):
        g.options(not_an_option=1)


@pytest.mark.timeout(60)
def test_wrong_arguments_fail_at_remote_time(ray):
    @ray.remote
    def f(x, y=2):
        return x + y

    with pytest.raises(TypeError):
        f.remote()  # missing
    with pytest.raises(TypeError):
        f.remote(1, 2, 3)  # extra
    with pytest.raises(TypeError):
        f.remote(1, z=3)  # unknown keyword
    with pytest.raises(TypeError):
        f.options(num_cpus=1).remote()
    assert ray.get(f.remote(1), timeout=30) == 3


@pytest.mark.timeout(60)
def test_num_cpus_beyond_the_pool_fails_at_remote_time(ray):
    @ray.remote
    def f():
        return 1

    with pytest.raises(ValueError, match="num_cpus"):
        f.options(num_cpus=3).remote()

    @ray.remote(num_cpus=4)
    def g():
        return 1

    with pytest.raises(ValueError, match="num_cpus"):
        g.remote()
    assert ray.get(f.options(num_cpus=2).remote(), timeout=30) == 1


@pytest.mark.timeout(60)
def test_num_returns_zero_returns_none_and_still_runs(ray, tmp_path):
    marker = tmp_path / "ran"

    @ray.remote(num_returns=0)
    def side_effect(path):
        with open(path, "w") as f:
            f.write("done")

    assert side_effect.remote(str(marker)) is None
    wait_for_file(marker)
    deadline = time.monotonic() + 20
    while marker.read_text() != "done" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.read_text() == "done"


@pytest.mark.timeout(60)
def test_num_returns_two_gives_two_refs(ray):
    @ray.remote(num_returns=2)
    def divmod_task(a, b):
        return divmod(a, b)

    refs = divmod_task.remote(17, 5)
    assert isinstance(refs, list) and len(refs) == 2
    assert refs[0] != refs[1]
    assert ray.get(refs, timeout=30) == [3, 2]
    assert ray.get(refs[1], timeout=30) == 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("returned", [[1, 2, 3], [1], 5])
def test_returning_the_wrong_number_of_values_is_a_value_error(ray, returned):
    @ray.remote(num_returns=2)
    def wrong():
        return returned

    first, second = wrong.remote()
    with pytest.raises(ValueError, match="num_returns"):
        ray.get(first, timeout=30)
    with pytest.raises(ValueError, match="num_returns"):
        ray.get(second, timeout=30)


# ---------------------------------------------------------------- ObjectRef


@pytest.mark.timeout(60)
def test_object_refs_are_hashable_and_comparable(ray):
    a = ray.put(1)
    b = ray.put(1)
    assert a == a
    assert a != b
    assert hash(a) == hash(a)
    assert len({a, b, a}) == 2
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b"
    copy = pickle.loads(pickle.dumps(a))
    assert copy == a and hash(copy) == hash(a)
    assert table[copy] == "a"
    assert copy != 1 and a != "ObjectRef"


@pytest.mark.timeout(60)
def test_object_ref_hex_and_repr(ray):
    a = ray.put("x")
    b = ray.put("y")
    h = a.hex()
    assert isinstance(h, str) and h
    int(h, 16)  # is hexadecimal
    assert a.hex() != b.hex()
    assert repr(a).startswith("ObjectRef(")
    assert h in repr(a)


@pytest.mark.timeout(60)
def test_object_ref_survives_pickling_in_the_driver(ray):
    ref = ray.put([1, 2, 3])
    copy = pickle.loads(pickle.dumps(ref))
    assert isinstance(copy, ray.ObjectRef)
    assert ray.get(copy, timeout=30) == [1, 2, 3]


@pytest.mark.timeout(60)
def test_refs_nested_in_arguments_stay_refs_inside_the_task(ray):
    value_ref = ray.put(41)

    @ray.remote
    def inc_task():
        return 1

    task_ref = inc_task.remote()

    @ray.remote
    def look(container):
        inner = container["put"][0]
        other = container["task"]
        return (isinstance(inner, fastray.ObjectRef), isinstance(other, fastray.ObjectRef),
                fastray.get(inner) + fastray.get(other))

    assert ray.get(look.remote({"put": [value_ref], "task": task_ref}), timeout=30) == (
        True, True, 42)
    # a list argument holding refs is not resolved either
    assert ray.get(ray.remote(lambda refs: fastray.get(refs)).remote([value_ref, task_ref]),
                   timeout=30) == [41, 1]


@pytest.mark.timeout(60)
def test_a_task_can_return_refs_it_put(ray):
    """Refs created inside a task and returned in its value must stay valid."""
    @ray.remote
    def make_refs(n):
        return [fastray.put(i * 10) for i in range(n)]

    refs = ray.get(make_refs.remote(3), timeout=30)
    assert len(refs) == 3 and all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(refs, timeout=30) == [0, 10, 20]


@pytest.mark.timeout(60)
def test_object_ref_future(ray):
    @ray.remote
    def slow_value(x):
        time.sleep(0.2)
        return x * 2

    future = slow_value.remote(21).future()
    assert isinstance(future, concurrent.futures.Future)
    assert future.result(timeout=30) == 42

    @ray.remote
    def fails():
        raise KeyError("no such key")

    bad = fails.remote().future()
    error = bad.exception(timeout=30)
    assert isinstance(error, KeyError)
    assert isinstance(error, exceptions.RayTaskError)


@pytest.mark.timeout(60)
def test_await_object_ref(ray):
    @ray.remote
    def slow_value(x):
        time.sleep(0.1)
        return x + 1

    async def main():
        single = await slow_value.remote(1)
        many = await asyncio.gather(*[slow_value.remote(i) for i in range(5)])
        return single, many

    single, many = asyncio.run(asyncio.wait_for(main(), 30))
    assert single == 2
    assert many == [1, 2, 3, 4, 5]


# ---------------------------------------------------------------- get


@pytest.mark.timeout(60)
def test_get_preserves_order_and_accepts_duplicates(ray):
    @ray.remote
    def delayed(x, delay):
        time.sleep(delay)
        return x

    # later refs finish first
    refs = [delayed.remote(i, 0.3 - 0.05 * i) for i in range(6)]
    assert ray.get(refs, timeout=30) == list(range(6))
    a, b = ray.put("a"), ray.put("b")
    assert ray.get([a, b, a, refs[2], a], timeout=30) == ["a", "b", "a", 2, "a"]
    assert ray.get([], timeout=30) == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad", [5, "ref", None, {"a": 1}])
def test_get_of_a_non_ref_non_list_is_a_value_error(ray, bad):
    with pytest.raises(ValueError):
        ray.get(bad)


@pytest.mark.timeout(60)
def test_get_of_a_tuple_is_a_value_error(ray):
    ref = ray.put(1)
    with pytest.raises(ValueError):
        ray.get((ref,))


@pytest.mark.timeout(60)
def test_get_of_a_list_holding_a_non_ref_is_a_type_error(ray):
    ref = ray.put(1)
    with pytest.raises(TypeError):
        ray.get([ref, 2])


@pytest.mark.timeout(60)
def test_get_timeout_raises_get_timeout_error_and_a_later_get_works(ray, tmp_path):
    release = tmp_path / "release"

    @ray.remote
    def held(release: str) -> str:
        wait_for_file(release)
        return "late"

    ref = held.remote(str(release))
    start = time.monotonic()
    with pytest.raises(exceptions.GetTimeoutError) as info:
        ray.get(ref, timeout=0.3)
    elapsed = time.monotonic() - start
    assert isinstance(info.value, TimeoutError)
    assert isinstance(info.value, exceptions.RayError)
    # The task is held until released: get returned because its timeout ran out.
    assert 0.25 <= elapsed < 10
    with pytest.raises(TimeoutError):
        ray.get([ref], timeout=0)
    release.touch()
    assert ray.get(ref, timeout=30) == "late"
    assert ray.get([ref], timeout=0) == ["late"]


@pytest.mark.timeout(60)
def test_get_raises_at_once_when_one_element_fails(ray):
    @ray.remote
    def sleeper():
        time.sleep(30)
        return "slept"

    @ray.remote
    def fails():
        raise ValueError("fails fast")

    slow = sleeper.remote()
    bad = fails.remote()
    start = time.monotonic()
    with pytest.raises(ValueError, match="fails fast"):
        ray.get([slow, bad], timeout=40)
    assert time.monotonic() - start < 10
    ray.cancel(slow, force=True)


# ---------------------------------------------------------------- put


@pytest.mark.timeout(60)
def test_put_of_a_ref_is_a_type_error(ray):
    ref = ray.put(1)
    with pytest.raises(TypeError):
        ray.put(ref)
    # wrapped in a list is fine
    assert ray.get(ray.get(ray.put([ref]), timeout=30)[0], timeout=30) == 1


@pytest.mark.timeout(60)
@pytest.mark.parametrize("value", [
    {"a": 1, "b": [1, 2, {"c": None}]}, None, 0, "text", b"\x00\x01" * 1000, (1, "two", 3.0),
    list(range(10_000)),
], ids=["dict", "None", "zero", "str", "bytes", "tuple", "long-list"])
def test_put_get_roundtrip(ray, value):
    assert ray.get(ray.put(value), timeout=30) == value


@pytest.mark.timeout(60)
def test_put_get_numpy_array(ray):
    array = np.arange(1_000_000, dtype=np.float64).reshape(1000, 1000)
    back = ray.get(ray.put(array), timeout=30)
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)

    @ray.remote
    def total(a):
        return float(a.sum())

    assert ray.get(total.remote(ray.put(array)), timeout=30) == float(array.sum())


@pytest.mark.timeout(60)
def test_put_get_nested_refs_in_a_list(ray):
    inner = [ray.put(i) for i in range(3)]
    outer = ray.put(inner)
    got = ray.get(outer, timeout=30)
    assert got == inner
    assert all(isinstance(r, ray.ObjectRef) for r in got)
    del inner
    assert ray.get(got, timeout=30) == [0, 1, 2]


# ---------------------------------------------------------------- wait


@pytest.mark.timeout(60)
def test_wait_splits_ready_and_not_ready_in_input_order(ray):
    @ray.remote
    def sleeper(delay):
        time.sleep(delay)
        return delay

    slow = sleeper.remote(30)
    p1, p2 = ray.put(1), ray.put(2)
    ready, not_ready = ray.wait([p2, slow, p1], num_returns=2, timeout=20)
    assert ready == [p2, p1]
    assert not_ready == [slow]
    ray.cancel(slow, force=True)


@pytest.mark.timeout(60)
def test_wait_ready_list_follows_input_order_not_completion_order(ray):
    @ray.remote
    def sleeper(delay):
        time.sleep(delay)
        return delay

    later = sleeper.remote(0.5)
    sooner = sleeper.remote(0.0)
    ready, not_ready = ray.wait([later, sooner], num_returns=2, timeout=30)
    assert ready == [later, sooner]
    assert not_ready == []


@pytest.mark.timeout(60)
def test_wait_num_returns(ray):
    refs = [ray.put(i) for i in range(4)]
    ready, not_ready = ray.wait(refs, num_returns=1, timeout=10)
    assert ready == refs[:1] and not_ready == refs[1:]
    ready, not_ready = ray.wait(refs, num_returns=3, timeout=10)
    assert ready == refs[:3] and not_ready == refs[3:]
    ready, not_ready = ray.wait(refs, num_returns=4)
    assert ready == refs and not_ready == []


@pytest.mark.timeout(60)
def test_wait_timeout_returns_what_is_ready(ray):
    @ray.remote
    def sleeper():
        time.sleep(30)

    slow = sleeper.remote()
    done = ray.put("done")
    start = time.monotonic()
    ready, not_ready = ray.wait([slow, done], num_returns=2, timeout=0.3)
    elapsed = time.monotonic() - start
    assert ready == [done] and not_ready == [slow]
    assert 0.25 <= elapsed < 5
    ready, not_ready = ray.wait([slow], timeout=0)
    assert ready == [] and not_ready == [slow]
    ray.cancel(slow, force=True)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("order", ["as made", "reversed"])
def test_wait_answers_the_same_whatever_the_order_of_the_refs(ray, tmp_path, order):
    """Refs in the order they were made take a shortcut in C; any other
    order takes the general path; both must give Ray's answer."""
    @ray.remote
    def held(path):
        wait_for_file(path, timeout=60)

    release = str(tmp_path / "release")
    refs = [ray.put(0), held.remote(release), ray.put(2), held.remote(release), ray.put(4)]
    if order == "reversed":
        refs.reverse()
    done = [refs[i] for i in (0, 2, 4)]
    pending = [refs[i] for i in (1, 3)]
    assert ray.wait(refs, num_returns=2, timeout=10) == (done[:2], [refs[1], refs[3], refs[4]])
    assert ray.wait(refs, num_returns=3, timeout=10) == (done, pending)
    assert ray.wait(refs, num_returns=4, timeout=0.1) == (done, pending)
    with pytest.raises(ValueError, match="unique"):
        ray.wait(refs + refs[:1])
    with pytest.raises(ValueError, match="timeout"):
        ray.wait(refs, timeout=-1)
    open(release, "w").close()
    assert ray.wait(refs, num_returns=5, timeout=30) == (refs, [])


@pytest.mark.timeout(60)
def test_wait_takes_a_list_subclass_like_a_list(ray):
    class Refs(list):
        pass

    refs = [ray.put(i) for i in range(3)]
    assert ray.wait(Refs(refs), num_returns=2) == (refs[:2], refs[2:])


@pytest.mark.timeout(60)
def test_wait_argument_errors(ray):
    a, b = ray.put(1), ray.put(2)
    with pytest.raises(ValueError):
        ray.wait([a, a])
    with pytest.raises(ValueError):
        ray.wait([a, b], num_returns=3)
    with pytest.raises(TypeError):
        ray.wait(a)
    with pytest.raises(TypeError):
        ray.wait((a, b))
    with pytest.raises(TypeError):
        ray.wait([a, "b"])
    assert ray.wait([]) == ([], [])


# ---------------------------------------------------------------- resources, context


@pytest.mark.timeout(60)
def test_resources_have_cpu(ray, tmp_path):
    total = ray.cluster_resources()
    assert total["CPU"] == 2.0
    assert ray.available_resources()["CPU"] == 2.0

    @ray.remote
    def hold(path):
        open(path, "w").close()
        time.sleep(30)

    started = tmp_path / "started"
    ref = hold.remote(str(started))
    wait_for_file(started)
    assert ray.available_resources()["CPU"] == 1.0
    assert ray.cluster_resources()["CPU"] == 2.0
    ray.cancel(ref, force=True)
    with pytest.raises(exceptions.RayError):
        ray.get(ref, timeout=30)
    assert ray.available_resources()["CPU"] == 2.0


@pytest.mark.timeout(60)
def test_runtime_context_task_id(ray):
    assert ray.get_runtime_context().get_task_id() is None

    @ray.remote
    def task_id():
        return fastray.get_runtime_context().get_task_id()

    ids = ray.get([task_id.remote() for _ in range(3)], timeout=30)
    for task_hex in ids:
        assert isinstance(task_hex, str) and task_hex
        int(task_hex, 16)
    assert len(set(ids)) == 3
    assert ray.get_runtime_context().get_task_id() is None


# ---------------------------------------------------------------- worker processes


@pytest.mark.timeout(60)
def test_workers_run_in_the_drivers_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fastray.init(num_cpus=2)

    @fastray.remote
    def cwd():
        return os.getcwd()

    assert {os.path.realpath(p) for p in fastray.get([cwd.remote() for _ in range(4)],
                                                     timeout=30)} == {
        os.path.realpath(tmp_path)}


@pytest.mark.timeout(60)
def test_print_in_a_task_reaches_the_driver_marked_with_task_and_pid(capfd):
    fastray.init(num_cpus=1)  # started now, so workers write into capfd's file

    @fastray.remote
    def chatty_task(x):
        print(f"hello from task {x}")
        return os.getpid()

    pid = fastray.get(chatty_task.remote(42), timeout=30)
    out = capfd.readouterr().out
    lines = [line for line in out.splitlines() if "hello from task 42" in line]
    assert len(lines) == 1, out
    assert "chatty_task" in lines[0]
    assert f"pid={pid}" in lines[0]


@pytest.mark.timeout(60)
def test_workers_default_omp_num_threads_to_one(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    fastray.init(num_cpus=2)

    @fastray.remote
    def omp():
        return os.environ.get("OMP_NUM_THREADS")

    assert fastray.get(omp.remote(), timeout=30) == "1"
    assert "OMP_NUM_THREADS" not in os.environ


@pytest.mark.timeout(60)
def test_workers_keep_the_drivers_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    fastray.init(num_cpus=2)

    @fastray.remote
    def omp():
        return os.environ.get("OMP_NUM_THREADS")

    assert fastray.get(omp.remote(), timeout=30) == "3"
