"""Generator tasks (Ray's "Ray Generators" and "Dynamic generators" pages):
streaming refs from tasks and actor methods, errors in order, wait, async
iteration, cancel, crashes and retries, backpressure, and what is left
behind.  Tests taking `ray` run on the local runtime and on a Ray head."""
from __future__ import annotations

import asyncio
import os

import pytest

import fastray
from fastray.exceptions import TaskCancelledError

from core_api_functions import (AsyncStreams, Streams, ThreadedStreams, big_arrays, count_to,
                                 fails_after, gated, logs_progress)

pytestmark = [pytest.mark.both_backends, pytest.mark.timeout(120)]


def open_gate(gate_dir, i):
    with open(os.path.join(gate_dir, str(i)), "w"):
        pass


def test_a_generator_function_streams_refs_in_order(ray):
    gen = count_to.remote(50)
    assert isinstance(gen, fastray.ObjectRefGenerator)
    first = next(gen)
    assert isinstance(first, fastray.ObjectRef)
    assert ray.get(first) == 0
    assert [ray.get(ref) for ref in gen] == list(range(1, 50))
    with pytest.raises(StopIteration):
        next(gen)


def test_an_exception_comes_after_the_values_yielded_before_it(ray):
    gen = fails_after.remote(3)
    assert [ray.get(next(gen)) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="failed after 3"):
        ray.get(next(gen))
    with pytest.raises(StopIteration):
        next(gen)


def test_refs_arrive_before_the_task_ends(ray, tmp_path):
    gen = gated.remote(3, str(tmp_path))
    ready, not_ready = ray.wait([gen], timeout=0)
    assert (ready, not_ready) == ([], [gen])
    open_gate(tmp_path, 0)
    ready, not_ready = ray.wait([gen], timeout=60)
    assert ready == [gen] and not_ready == []
    assert ray.get(next(gen)) == 0
    # The task is still waiting for gate 1: the next value is not there.
    assert ray.wait([gen], timeout=0) == ([], [gen])
    assert ray.wait([gen.completed()], timeout=0)[0] == []
    open_gate(tmp_path, 1)
    open_gate(tmp_path, 2)
    assert [ray.get(ref) for ref in gen] == [1, 2]
    assert ray.get(gen.completed(), timeout=60) is None


def test_wait_mixes_generators_and_refs_until_all_are_done(ray):
    @ray.remote
    def plain():
        return "plain"

    results, unready = [], [count_to.remote(4), plain.remote()]
    while unready:
        ready, unready = ray.wait(unready)
        for item in ready:
            if isinstance(item, fastray.ObjectRefGenerator):
                try:
                    results.append(ray.get(next(item)))
                except StopIteration:
                    continue
                unready.append(item)
            else:
                results.append(ray.get(item))
    assert sorted(results, key=str) == sorted([0, 1, 2, 3, "plain"], key=str)


def test_async_for_awaits_each_ref(ray):
    async def consume():
        return [await ref async for ref in count_to.remote(5)]

    assert asyncio.run(consume()) == [0, 1, 2, 3, 4]


def test_large_values_travel_through_the_store(ray):
    values = [ray.get(ref) for ref in big_arrays.remote(4, 200_000)]
    assert [int(v[0]) for v in values] == [0, 1, 2, 3]
    assert all(v.shape == (200_000,) and (v == v[0]).all() for v in values)


@pytest.mark.parametrize("actor_class", [Streams, ThreadedStreams, AsyncStreams])
def test_actor_methods_stream_too(ray, actor_class):
    actor = actor_class.remote()
    gen = actor.numbers.remote(5)
    assert [ray.get(ref) for ref in gen] == [0, 10, 20, 30, 40]
    assert [ray.get(ref) for ref in actor.numbers.options(num_returns="streaming").remote(2)
            ] == [0, 10]


def test_cancel_ends_the_stream_with_task_cancelled_error(ray, tmp_path):
    gen = gated.remote(5, str(tmp_path))
    open_gate(tmp_path, 0)
    assert ray.get(next(gen)) == 0
    ray.cancel(gen)
    with pytest.raises(TaskCancelledError):
        for ref in gen:
            ray.get(ref, timeout=60)


def test_fixed_num_returns_takes_the_yielded_values(ray):
    refs = count_to.options(num_returns=3).remote(3)
    assert ray.get(refs) == [0, 1, 2]


def test_a_generator_cannot_be_passed_to_get(ray):
    gen = count_to.remote(1)
    with pytest.raises(TypeError):
        ray.get(gen)
    assert [ray.get(ref) for ref in gen] == [0]


def test_dynamic_num_returns_gives_one_ref_to_all_the_refs(ray):
    with pytest.warns(DeprecationWarning):
        ref = count_to.options(num_returns="dynamic").remote(4)
    dynamic = ray.get(ref)
    assert isinstance(dynamic, fastray.DynamicObjectRefGenerator)
    assert [ray.get(r) for r in dynamic] == [0, 1, 2, 3]


def test_bad_num_returns_and_bound_are_value_errors(ray):
    with pytest.raises(ValueError, match="num_returns"):
        count_to.options(num_returns="stream")
    with pytest.raises(ValueError, match="_generator_backpressure_num_objects"):
        count_to.options(_generator_backpressure_num_objects=0)
