"""A worker's get of more than GET_ROUND objects takes them in rounds (see
SchedulerBackend._get_in_rounds): values in order and shared as usual, an
error or a timeout seen in a later round as in one wait."""
from __future__ import annotations

import asyncio

import pytest

from fastray import exceptions
from fastray.backend import GET_ROUND

MANY = GET_ROUND + 500


def gate_class(ray):
    @ray.remote
    class Gate:
        """Calls that return only once the gate is opened."""

        def __init__(self):
            self.opened = asyncio.Event()

        async def passage(self, value):
            await self.opened.wait()
            return value

        async def open(self):
            self.opened.set()

    return Gate


def collector(ray):
    @ray.remote
    def collect(refs, timeout=None):
        values = ray.get(refs, timeout=timeout)
        return values, values[0] is values[-1]

    return collect


@pytest.mark.timeout(120)
def test_a_worker_gets_many_values_in_order_across_rounds(ray):
    gate = gate_class(ray).remote()
    shared = ray.put(["shared"])
    early = [ray.put(i) for i in range(MANY)]
    late = [gate.passage.remote(-i) for i in range(1, 4)]
    refs = [shared] + early + late + [shared]
    collected = collector(ray).remote(refs)
    # The early values are there: the first round takes them, the next
    # waits for the calls behind the gate.
    assert ray.wait([collected], timeout=0.2)[0] == []
    ray.get(gate.open.remote(), timeout=30)
    values, same_object = ray.get(collected, timeout=60)
    assert values == [["shared"]] + list(range(MANY)) + [-1, -2, -3] + [["shared"]]
    assert same_object   # a ref listed twice gives one value, as in a single wait


@pytest.mark.timeout(120)
def test_an_error_in_a_later_round_raises_without_waiting_for_the_rest(ray):
    gate = gate_class(ray).remote()

    @ray.remote
    def fails():
        raise KeyError("late failure")

    refs = [ray.put(i) for i in range(MANY)] + [gate.passage.remote(0), fails.remote()]
    with pytest.raises(KeyError, match="late failure"):
        ray.get(collector(ray).remote(refs), timeout=60)   # the gate stays shut


@pytest.mark.timeout(120)
def test_a_timeout_in_a_later_round_names_what_is_missing(ray):
    gate = gate_class(ray).remote()
    refs = [ray.put(i) for i in range(MANY)] + [gate.passage.remote(0)]
    with pytest.raises(exceptions.GetTimeoutError, match=f"1 of {MANY + 1} object"):
        ray.get(collector(ray).remote(refs, timeout=0.5), timeout=60)
