"""Faults beyond a single crash: deep recursion with a bounded pool,
unretrieved errors, many threads, futures callbacks, fork, cancel in depth."""
from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time

import pytest

import fastray
from fastray.exceptions import TaskCancelledError

from conftest import descendants
from helpers import assert_pool_works, wait_for_file


def test_fibonacci_of_15_with_a_task_per_call_keeps_the_pool_bounded():
    context = fastray.init(num_cpus=2)

    @fastray.remote
    def fib(n):
        if n < 2:
            return n
        return sum(fastray.get([fib.remote(n - 1), fib.remote(n - 2)]))

    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, len(descendants(os.getpid())))
            time.sleep(0.002)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        assert fastray.get(fib.remote(15), timeout=120) == 610
    finally:
        done.set()
        sampler.join()
    bound = max(4 * 2, 8)
    assert context.max_workers == bound
    assert 3 <= peak <= bound + 1, f"{peak} processes (bound: {bound} workers + the spawner)"
    stats = context._runtime.stats()
    assert stats["workers_started"] <= bound
    assert stats["tasks_finished"] == 1973


def test_a_lost_error_is_logged_when_its_last_ref_goes(ray, caplog):
    @ray.remote(max_retries=0)
    def fails(tag):
        raise ValueError(f"nobody looked at {tag}")

    ref = fails.remote("this one")
    ray.wait([ref])
    with caplog.at_level(logging.ERROR, logger="fastray"):
        del ref
    assert "Unhandled error" in caplog.text and "nobody looked at this one" in caplog.text


def test_a_retrieved_error_is_not_logged(ray, caplog):
    @ray.remote(max_retries=0)
    def fails():
        raise ValueError("seen")

    ref = fails.remote()
    with pytest.raises(ValueError):
        ray.get(ref)
    dependent = ray.remote(lambda x: x).remote(fails.remote())
    with pytest.raises(ValueError):
        ray.get(dependent)
    with caplog.at_level(logging.ERROR, logger="fastray"):
        del ref, dependent
        ray.shutdown()
    assert "Unhandled error" not in caplog.text


def test_many_driver_threads_submit_and_get_at_once(ray):
    @ray.remote
    def square(x):
        return x * x

    def worker(base):
        refs = [square.remote(base + i) for i in range(100)]
        chained = [square.remote(r) for r in refs[:10]]
        assert ray.get(refs) == [(base + i) ** 2 for i in range(100)]
        assert ray.get(chained) == [(base + i) ** 4 for i in range(10)]
        return True

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert all(pool.map(worker, range(0, 8000, 1000)))


def test_get_inside_a_futures_callback(ray):
    @ray.remote
    def value(x):
        return x

    seen = []
    ready = threading.Event()

    def callback(future):
        seen.append(future.result() + ray.get(value.remote(10), timeout=30))
        ready.set()

    value.remote(1).future().add_done_callback(callback)
    assert ready.wait(30)
    assert seen == [11]
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(lambda: 5)
        future.add_done_callback(lambda f: seen.append(ray.get(value.remote(f.result()))))
        future.result()
    assert seen[-1] == 5


def test_a_forked_child_gets_a_fresh_runtime_and_a_clear_error_for_old_refs(ray):
    @ray.remote
    def double(x):
        return 2 * x

    old = ray.put(21)
    assert ray.get(double.remote(old)) == 42
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what happens, never return into pytest
        code = 1
        try:
            try:
                ray.get(old)
                message = "old ref worked"
            except fastray.exceptions.FastrayError as exc:
                message = type(exc).__name__
            message += f" {ray.get(double.remote(4), timeout=30)}"
            os.write(write, message.encode())
            ray.shutdown()
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    deadline = time.monotonic() + 60
    while True:
        finished, status = os.waitpid(pid, os.WNOHANG)
        if finished:
            break
        assert time.monotonic() < deadline, "the forked child hung"
        time.sleep(0.05)
    with os.fdopen(read) as pipe:
        report = pipe.read()
    assert os.waitstatus_to_exitcode(status) == 0, report
    assert report in ("FastrayError 8", "ObjectLostError 8")
    assert ray.get(double.remote(old)) == 42  # the parent's runtime is untouched


def test_a_function_that_cannot_be_pickled_fails_at_remote(ray):
    lock = threading.Lock()

    @ray.remote
    def uses_lock():
        with lock:
            return 1

    with pytest.raises(TypeError, match="uses_lock cannot be pickled.*lock"):
        uses_lock.remote()
    assert_pool_works(ray)


def announce_and_sleep(path: str) -> None:
    open(path, "w").close()
    time.sleep(60)


def cancel_once_started(ray, ref, started) -> None:
    """Cancels ref once its task has created the file started; the task
    must end cancelled and the pool must go on working."""
    wait_for_file(started)
    ray.cancel(ref)
    with pytest.raises(TaskCancelledError):
        ray.get(ref, timeout=30)
    assert_pool_works(ray)


def test_a_task_submitted_inside_a_task_can_be_cancelled_from_the_driver(ray, tmp_path):
    started = tmp_path / "inner started"
    inner = ray.remote(announce_and_sleep)

    @ray.remote
    def outer(path):
        return [inner.remote(path)]

    (inner_ref,) = ray.get(outer.remote(str(started)))
    cancel_once_started(ray, inner_ref, started)


def test_recursive_cancel_reaches_the_tasks_a_task_submitted(ray, tmp_path):
    started = tmp_path / "child started"
    child = ray.remote(announce_and_sleep)

    @ray.remote
    def parent(path):
        return ray.get(child.remote(path))

    cancel_once_started(ray, parent.remote(str(started)), started)


class SlowToUnpickle:
    """Unpickling takes a while and says when it starts."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_slow_restore, (self.path,))


def _slow_restore(path: str) -> str:
    open(path, "w").close()
    time.sleep(60)
    return path


def test_cancel_while_the_arguments_are_unpickled(ray, tmp_path):
    started = tmp_path / "unpickling"

    @ray.remote
    def never_runs(x):
        return "ran"

    cancel_once_started(ray, never_runs.remote(SlowToUnpickle(str(started))), started)


def test_a_cancelled_task_is_never_retried(ray, tmp_path):
    runs = tmp_path / "runs"
    started = tmp_path / "started"

    @ray.remote(max_retries=3)
    def counted(runs_path, started_path):
        with open(runs_path, "a") as out:
            out.write("run\n")
        open(started_path, "w").close()
        time.sleep(60)

    ref = counted.remote(str(runs), str(started))
    wait_for_file(started)
    ray.cancel(ref, force=True)
    with pytest.raises((TaskCancelledError, fastray.exceptions.WorkerCrashedError)):
        ray.get(ref, timeout=30)
    assert_pool_works(ray)
    assert runs.read_text().count("run") == 1


def test_upstream_tasks_of_a_cancelled_task_finish(ray, tmp_path):
    gate = tmp_path / "gate"

    @ray.remote
    def upstream(path):
        from helpers import wait_for_file as wait
        wait(path)
        return "upstream done"

    @ray.remote
    def downstream(x):
        return x

    up = upstream.remote(str(gate))
    down = downstream.remote(up)
    ray.cancel(down)
    gate.touch()
    with pytest.raises(TaskCancelledError):
        ray.get(down, timeout=30)
    assert ray.get(up, timeout=30) == "upstream done"


def test_init_rejects_bad_arguments_with_clear_messages():
    with pytest.raises(ValueError, match="num_cpus must be at least 1"):
        fastray.init(num_cpus=-2)
    with pytest.raises(ValueError, match="object_store_memory"):
        fastray.init(object_store_memory=10**18)
    with pytest.raises(TypeError, match="unexpected keyword argument.*bogus"):
        fastray.init(bogus=1)
    assert not fastray.is_initialized()


def test_max_retries_minus_one_retries_until_it_succeeds(ray, tmp_path):
    runs = tmp_path / "runs"

    @ray.remote(max_retries=-1)
    def dies_five_times(path):
        with open(path, "a") as out:
            out.write("x")
        if len(open(path).read()) <= 5:
            os._exit(1)
        return "survived"

    assert ray.get(dies_five_times.remote(str(runs)), timeout=60) == "survived"
    assert runs.read_text() == "x" * 6


def test_a_crash_leaves_running_and_queued_tasks_and_finished_results_alone(ray, tmp_path):
    @ray.remote
    def slow_square(x):
        time.sleep(0.05)
        return x * x

    @ray.remote(max_retries=0)
    def crash():
        os._exit(9)

    finished = slow_square.remote(7)
    assert ray.get(finished) == 49
    queued = [slow_square.remote(i) for i in range(20)]
    crashed = crash.remote()
    more = [slow_square.remote(i) for i in range(20, 30)]
    with pytest.raises(fastray.exceptions.WorkerCrashedError, match="exited with code 9"):
        ray.get(crashed)
    assert ray.get(queued + more) == [i * i for i in range(30)]
    assert ray.get(finished) == 49


def test_a_flood_of_quick_nested_tasks_never_deadlocks_the_queues(ray):
    """Quick tasks are queued behind busy workers; a queued task that blocks
    in get gives its queue back, so what it waits for still runs."""
    @ray.remote
    def inner(i):
        return i

    @ray.remote
    def outer(i):
        return ray.get(inner.remote(i)) + 1

    for _ in range(2):  # the scheduler learns that both are quick
        assert ray.get([outer.remote(i) for i in range(20)]) == list(range(1, 21))
    assert ray.get([outer.remote(i) for i in range(3000)], timeout=120) == list(
        range(1, 3001))
