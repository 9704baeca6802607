"""Helpers shared by the test modules."""
from __future__ import annotations

import os
import time


def wait_for_file(path, timeout: float = 20.0) -> None:
    """Waits until a task has created path (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.01)


def assert_pool_works(ray) -> None:
    """After a failure: the pool still runs tasks and returns right results."""
    @ray.remote
    def square(x):
        return x * x

    assert ray.get([square.remote(i) for i in range(8)], timeout=30) == [
        i * i for i in range(8)]


def square(x):
    return x * x


def fails(x):
    raise ValueError(f"bad {x}")


def assert_consumed_lazily(stream) -> None:
    """stream(iterable) gives the squares of the items; it must take items
    from a long generator only as results are asked for."""
    pulled = 0

    def numbers():
        nonlocal pulled
        for i in range(100_000):
            pulled += 1
            yield i

    results = stream(numbers())
    assert [next(results) for _ in range(3)] == [0, 1, 4]
    assert pulled < 1_000
