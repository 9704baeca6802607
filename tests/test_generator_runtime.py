"""Generator tasks on the local runtime: crashes and retries, backpressure
and its release, consumers inside tasks, and nothing left behind."""
from __future__ import annotations

import os
import pickle
import time

import pytest

import fastray
from fastray.exceptions import WorkerCrashedError

from core_api_functions import count_to, logs_progress
from helpers import wait_for_file

pytestmark = pytest.mark.timeout(120)


def live_objects() -> int:
    return fastray.state.backend.stats()["objects"]


def objects_back_to(baseline: int, timeout: float = 20.0) -> None:
    """Waits until the runtime holds no more objects than baseline: workers
    send their last reference drops a moment after a task's result."""
    deadline = time.monotonic() + timeout
    while live_objects() > baseline:
        if time.monotonic() > deadline:
            raise AssertionError(f"{live_objects() - baseline} objects left")
        time.sleep(0.005)


def lines(path) -> list[str]:
    with open(path) as log:
        return log.read().split()


def test_a_crash_without_retries_ends_the_stream_with_worker_crashed_error(ray):
    @ray.remote(max_retries=0)
    def crashes():
        yield 1
        os._exit(3)

    # As in Ray, a value yielded just before the crash may or may not come
    # (it may not have left the process); the error comes last.
    gen = crashes.remote()
    values = []
    with pytest.raises(WorkerCrashedError):
        for ref in gen:
            values.append(ray.get(ref, timeout=60))
    assert values in ([], [1])
    with pytest.raises(StopIteration):
        next(gen)


def test_a_retried_generator_does_not_send_a_value_twice(ray, tmp_path):
    flag = str(tmp_path / "crashed")

    @ray.remote(max_retries=1)
    def crashes_once():
        for i in range(6):
            yield i
            if i == 3 and not os.path.exists(flag):
                open(flag, "w").close()
                os._exit(3)

    assert [ray.get(ref) for ref in crashes_once.remote()] == list(range(6))
    assert os.path.exists(flag)


def test_the_producer_pauses_at_the_bound_until_values_are_read(ray, tmp_path):
    log = str(tmp_path / "log")
    bound = 5
    gen = logs_progress.options(_generator_backpressure_num_objects=bound).remote(200, log)
    wait_for_file(log)
    done = gen.completed()
    # However long it has had, the task cannot finish, nor get far ahead.
    assert ray.wait([done], timeout=0.5)[0] == []
    assert len(lines(log)) <= bound + 1
    assert [ray.get(ref) for ref in gen] == list(range(200))
    assert ray.get(done, timeout=60) is None


def test_memory_stays_bounded_with_producers_faster_than_the_consumer(ray):
    baseline = live_objects()
    bound, producers = 20, 3
    gens = [count_to.options(_generator_backpressure_num_objects=bound).remote(3000)
            for _ in range(producers)]
    most, total = 0, 0
    for _ in range(3000):
        for gen in gens:
            total += ray.get(next(gen))
        most = max(most, live_objects() - baseline)
    assert total == producers * sum(range(3000))
    # Per producer: the values ahead of the consumer, a batch not yet
    # linked, and a few links and acks.
    assert most <= producers * (2 * bound + 40)


def test_dropping_a_generator_lets_the_task_finish_and_frees_its_values(ray):
    baseline = live_objects()
    gen = count_to.options(_generator_backpressure_num_objects=3).remote(500)
    first = next(gen)
    done = gen.completed()
    del gen
    assert ray.get(done, timeout=60) is None
    assert ray.get(first) == 0
    del first, done
    objects_back_to(baseline)


def test_a_task_consumes_a_generator(ray):
    @ray.remote
    def total(n):
        return sum(fastray.get(ref) for ref in count_to.remote(n))

    assert ray.get(total.remote(100), timeout=60) == sum(range(100))


def test_an_exhausted_generator_leaves_no_object(ray):
    baseline = live_objects()
    for _ in range(3):
        assert [ray.get(ref) for ref in count_to.remote(300)] == list(range(300))
    assert [ray.get(ref) for ref in count_to.remote(0)] == []
    objects_back_to(baseline)


def test_a_generator_is_not_picklable(ray):
    gen = count_to.remote(2)
    with pytest.raises(TypeError, match="cannot be passed"):
        pickle.dumps(gen)
    assert [ray.get(ref) for ref in gen] == [0, 1]


def test_an_actor_bounds_its_generator_methods(ray, tmp_path):
    @ray.remote(_actor_generator_backpressure_num_objects=3)
    class Producer:
        def numbers(self, n, log_path):
            for i in range(n):
                with open(log_path, "a") as log:
                    log.write(f"{i}\n")
                yield i

    log = str(tmp_path / "log")
    producer = Producer.remote()
    gen = producer.numbers.remote(100, log)
    wait_for_file(log)
    assert ray.wait([gen.completed()], timeout=0.5)[0] == []
    assert len(lines(log)) <= 4
    assert [ray.get(ref) for ref in gen] == list(range(100))
