"""fastray.util.ActorPool: Ray's semantics for ordering, timeouts, errors and
the pool's actors.  Most tests use remote functions as the "actors" (the pool
only needs ``fn(actor, value)`` to return a ref); the last ones use real actors."""
from __future__ import annotations

import os
import time

import pytest

from fastray.util import ActorPool


def _act(value):
    """2 * value; a (gate path, result) pair waits for the file first."""
    if value == "boom":
        raise ValueError("boom")
    if isinstance(value, tuple):
        path, result = value
        deadline = time.monotonic() + 60
        while not os.path.exists(path):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} never appeared")
            time.sleep(0.005)
        return result
    return 2 * value


def call(actor, value):
    return actor.remote(value)


@pytest.fixture
def actors(ray):
    return [ray.remote(_act), ray.remote(_act)]


@pytest.fixture
def gate(tmp_path):
    """A path tasks wait for; opened at the latest when the test ends."""
    path = tmp_path / "open"
    yield path
    path.touch()


def test_map_returns_results_in_submission_order(actors):
    pool = ActorPool(actors)
    assert list(pool.map(call, [1, 2, 3, 4])) == [2, 4, 6, 8]
    assert not pool.has_next()


def test_map_unordered_yields_each_result_as_soon_as_it_is_done(actors, gate):
    pool = ActorPool(actors)
    results = pool.map_unordered(call, [(str(gate), "slow"), 5])
    assert next(results) == 10
    gate.touch()
    assert list(results) == ["slow"]


def test_get_next_waits_for_the_oldest_call(actors, gate):
    pool = ActorPool(actors)
    pool.submit(call, (str(gate), "first"))
    pool.submit(call, 2)
    with pytest.raises(TimeoutError, match="Timed out waiting for result"):
        pool.get_next(timeout=0.1)
    assert pool.has_next()
    gate.touch()
    assert [pool.get_next(timeout=30), pool.get_next(timeout=30)] == ["first", 4]


def test_get_next_ignore_if_timedout_drops_the_call_and_frees_its_actor(actors, gate):
    pool = ActorPool(actors[:1])
    pool.submit(call, (str(gate), "dropped"))
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next(timeout=0.05, ignore_if_timedout=True)
    assert not pool.has_next() and pool.has_free()


def test_get_next_unordered_ignore_if_timedout_drops_the_oldest_call(actors, gate):
    pool = ActorPool(actors)
    pool.submit(call, (str(gate), "oldest"))
    pool.submit(call, (str(gate), "newer"))
    with pytest.raises(TimeoutError, match="has been ignored"):
        pool.get_next_unordered(timeout=0.05, ignore_if_timedout=True)
    assert pool.has_next()
    gate.touch()
    assert pool.get_next_unordered(timeout=30) == "newer"
    assert not pool.has_next()


def test_nothing_pending_raises_stop_iteration(actors):
    pool = ActorPool(actors)
    with pytest.raises(StopIteration, match="No more results"):
        pool.get_next()
    with pytest.raises(StopIteration, match="No more results"):
        pool.get_next_unordered()


def test_get_next_after_get_next_unordered_skipped_a_result_is_refused(actors, gate):
    pool = ActorPool(actors)
    pool.submit(call, (str(gate), "slow"))
    pool.submit(call, 1)
    assert pool.get_next_unordered(timeout=30) == 2
    with pytest.raises(ValueError, match="after get_next_unordered"):
        pool.get_next()


def test_a_failed_call_raises_its_error_and_its_actor_stays_in_the_pool(actors):
    pool = ActorPool(actors[:1])
    pool.submit(call, "boom")
    with pytest.raises(ValueError, match="boom"):
        pool.get_next(timeout=30)
    assert pool.has_free()
    assert pool.pop_idle() is actors[0]


def test_map_stops_at_the_first_error(actors):
    results = ActorPool(actors).map(call, [1, "boom", 3])
    assert next(results) == 2
    with pytest.raises(ValueError, match="boom"):
        next(results)
    with pytest.raises(StopIteration):
        next(results)


def test_values_wait_for_a_free_actor_and_go_out_in_order(actors):
    pool = ActorPool(actors[:1])
    for value in range(4):
        pool.submit(call, value)
    assert not pool.has_free()
    assert pool.pop_idle() is None
    assert [pool.get_next(timeout=30) for _ in range(4)] == [0, 2, 4, 6]
    assert pool.has_free()


def test_push_adds_an_actor_that_takes_a_waiting_value(actors):
    pool = ActorPool([])
    pool.submit(call, 21)
    assert not pool.has_next()
    pool.push(actors[0])
    assert pool.get_next(timeout=30) == 42


def test_push_of_an_actor_already_in_the_pool_is_refused(actors, gate):
    pool = ActorPool(actors)
    pool.submit(call, (str(gate), "busy"))
    for member in actors:   # one busy, one idle
        with pytest.raises(ValueError, match="already belongs"):
            pool.push(member)


def test_map_discards_results_pending_from_earlier_submits(actors, gate):
    pool = ActorPool(actors)
    pool.submit(call, (str(gate), "stale"))
    assert list(pool.map(call, [1, 2, 3])) == [2, 4, 6]
    assert not pool.has_next()


def test_bad_input_is_refused_and_leaves_the_actor_idle(actors):
    pool = ActorPool(actors[:1])
    with pytest.raises(TypeError, match="callable"):
        pool.submit(None, 1)
    with pytest.raises(TypeError, match="must return the ObjectRef"):
        pool.submit(lambda actor, value: value, 1)
    assert pool.has_free() and not pool.has_next()
    pool.submit(call, 1)
    with pytest.raises(ValueError, match="timeout"):
        pool.get_next(timeout=-1)
    assert pool.get_next(timeout=30) == 2


def test_ray_documentation_example_with_actors(ray):
    @ray.remote
    class Actor:
        def double(self, v):
            return 2 * v

    a1, a2 = Actor.remote(), Actor.remote()
    pool = ActorPool([a1, a2])
    assert list(pool.map(lambda a, v: a.double.remote(v), [1, 2, 3, 4])) == [2, 4, 6, 8]
    assert set(pool.map_unordered(lambda a, v: a.double.remote(v), [1, 2, 3, 4])) == {
        2, 4, 6, 8}
    assert {pool.pop_idle(), pool.pop_idle()} == {a1, a2}
    assert pool.pop_idle() is None


def test_an_actor_whose_call_raised_serves_the_next_call(ray):
    @ray.remote
    class Counter:
        def __init__(self):
            self.calls = 0

        def add(self, v):
            self.calls += 1
            if v is None:
                raise ValueError("no value")
            return v + self.calls

    pool = ActorPool([Counter.remote()])
    pool.submit(lambda a, v: a.add.remote(v), None)
    pool.submit(lambda a, v: a.add.remote(v), 10)
    with pytest.raises(ValueError, match="no value"):
        pool.get_next(timeout=30)
    assert pool.get_next(timeout=30) == 12   # the same actor, its second call
