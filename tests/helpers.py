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
