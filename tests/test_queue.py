"""fastray.util.queue: Ray's Queue, from its documentation's examples and the
errors Ray raises for each kind of misuse."""
from __future__ import annotations

import asyncio
import queue

import pytest

from fastray.exceptions import ActorDiedError
from fastray.util.queue import Empty, Full, Queue


def test_items_come_out_in_the_order_they_went_in(ray):
    q = Queue()
    items = list(range(10))
    for item in items:
        q.put(item)
    assert [q.get(timeout=30) for _ in items] == items


def test_tasks_share_the_queue_passed_to_them(ray):
    @ray.remote
    def consumer(q):
        got = []
        try:
            while True:
                got.append(q.get(block=True, timeout=1))
        except Empty:
            return got

    q = Queue(maxsize=100)
    for i in range(10):
        q.put(i)
    batches = ray.get([consumer.remote(q) for _ in range(2)], timeout=60)
    assert sorted(batches[0] + batches[1]) == list(range(10))


def test_an_actor_puts_into_the_driver_queue(ray):
    @ray.remote
    class Producer:
        def fill(self, q, n):
            for i in range(n):
                q.put(i)
            return n

    q = Queue()
    assert ray.get(Producer.remote().fill.remote(q, 5), timeout=30) == 5
    assert q.get_nowait_batch(5) == [0, 1, 2, 3, 4]


def test_a_blocked_put_goes_in_once_a_task_takes_an_item(ray):
    @ray.remote
    def take(q):
        return q.get(timeout=30)

    q = Queue(maxsize=1)
    q.put("first")
    taken = take.remote(q)
    q.put("second", timeout=30)
    assert ray.get(taken, timeout=30) == "first"
    assert q.get_nowait() == "second"


def test_sizes(ray):
    q = Queue(maxsize=2)
    assert (len(q), q.size(), q.qsize(), q.empty(), q.full()) == (0, 0, 0, True, False)
    q.put(None)
    q.put(("empty",))
    assert (len(q), q.empty(), q.full()) == (2, False, True)
    assert [q.get_nowait(), q.get_nowait()] == [None, ("empty",)]
    assert not Queue(maxsize=0).full()


def test_empty_and_full_without_waiting(ray):
    q = Queue(maxsize=1)
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(Empty):
        q.get(block=False, timeout=-1)   # the timeout is not used
    q.put_nowait(1)
    with pytest.raises(Full):
        q.put_nowait(2)
    with pytest.raises(Full):
        q.put(2, block=False)
    assert issubclass(Empty, queue.Empty) and issubclass(Full, queue.Full)


def test_timeouts(ray):
    q = Queue(maxsize=1)
    with pytest.raises(Empty):
        q.get(timeout=0.05)
    q.put(1)
    with pytest.raises(Full):
        q.put(2, timeout=0.05)
    assert q.qsize() == 1


def test_batches_go_in_and_come_out_whole_or_not_at_all(ray):
    q = Queue(maxsize=3)
    q.put_nowait_batch(item for item in "ab")
    with pytest.raises(Full, match="Cannot add 2 items to queue of size 2 and maxsize 3"):
        q.put_nowait_batch([1, 2])
    with pytest.raises(Empty, match="Cannot get 3 items from queue of size 2"):
        q.get_nowait_batch(3)
    assert q.get_nowait_batch(0) == []
    assert q.get_nowait_batch(2) == ["a", "b"]


def test_async_put_and_get(ray):
    q = Queue()

    async def round_trip():
        await q.put_async("x")
        got = await q.get_async(timeout=30)
        with pytest.raises(Empty):
            await q.get_async(timeout=0.05)
        with pytest.raises(Empty):
            await q.get_async(block=False)
        return got

    assert asyncio.run(round_trip()) == "x"


def test_bad_input_raises_what_ray_raises(ray):
    q = Queue()
    for call in (lambda: q.get(timeout=-1), lambda: q.put(1, timeout=-1),
                 lambda: asyncio.run(q.get_async(timeout=-1)),
                 lambda: asyncio.run(q.put_async(1, timeout=-1))):
        with pytest.raises(ValueError, match="'timeout' must be a non-negative number"):
            call()
    with pytest.raises(ValueError, match="nonnegative"):
        q.get_nowait_batch(-1)
    with pytest.raises(TypeError, match="must be an int"):
        q.get_nowait_batch("1")
    with pytest.raises(TypeError, match="must be an Iterable"):
        q.put_nowait_batch(5)
    with pytest.raises(TypeError, match="maxsize must be an int"):
        Queue(maxsize="10")
    with pytest.raises(ValueError, match="bogus"):
        Queue(actor_options={"bogus": 1})
    assert q.empty()


@pytest.mark.parametrize("force", [False, True])
def test_shutdown_ends_the_actor_for_every_copy(ray, force):
    @ray.remote
    def size(q):
        return q.qsize()

    q = Queue()
    q.put(1)
    assert ray.get(size.remote(q), timeout=30) == 1
    actor = q.actor
    q.shutdown(force=force, grace_period_s=5)
    with pytest.raises(RuntimeError, match="shut down"):
        q.put(2)
    q.shutdown()   # again: nothing to do
    with pytest.raises(ActorDiedError):
        ray.get(actor.qsize.remote(), timeout=30)
