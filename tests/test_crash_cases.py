"""What each way of failing, at each point of a task's life, turns into.

How it fails: the worker exits (os._exit), is killed (SIGKILL, as the
out-of-memory killer does), crashes in native code (a segfault), or the
code raises.  Where: while the worker unpickles the task's argument, while
the task runs, or while the worker pickles its result.  Every case must give
its own error on that task only, leave the pool working, and leave no
process and no store memory behind.
"""
from __future__ import annotations

import ctypes
import os
import signal

import numpy as np
import pytest

from fastray.exceptions import TaskError, WorkerCrashedError

from helpers import assert_pool_works, current_store_inode, store_holders


def detonate(how: str) -> None:
    if how == "exit":
        os._exit(7)
    if how == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segfault":
        ctypes.string_at(0)
    raise ValueError("boom")


class Bomb:
    """Goes off when it is unpickled (when) or pickled (pickled)."""

    def __init__(self, how: str, when: str) -> None:
        self.how = how
        self.when = when

    def __reduce__(self):
        if self.when == "pickled":
            detonate(self.how)
        return (detonate, (self.how,))


def take(argument) -> int:
    return 1


def run(how: str) -> int:
    detonate(how)
    return 1


def return_bomb(how: str) -> Bomb:
    return Bomb(how, "pickled")


CRASHES = {
    "exit": (WorkerCrashedError, "exited with code 7"),
    "sigkill": (WorkerCrashedError, "killed by signal 9"),
    "segfault": (WorkerCrashedError, "killed by signal 11"),
}
WHERE = ["argument unpickling", "running", "result pickling"]

CASES = [(how, where, *CRASHES[how]) for how in CRASHES for where in WHERE] + [
    ("raise", "argument unpickling", ValueError, "boom"),
    ("raise", "running", ValueError, "boom"),
    ("raise", "result pickling", TypeError, "could not serialize.*boom"),
]


@pytest.mark.parametrize("how, where, error, message", CASES,
                         ids=[f"{how}-{where.replace(' ', '-')}" for how, where, *_ in CASES])
def test_crash_case(ray, how, where, error, message):
    ok_before = ray.put(np.arange(300_000))
    finished = ray.remote(take).remote(None)
    assert ray.get(finished) == 1
    bystanders = [ray.remote(take).remote(i) for i in range(4)]
    if where == "argument unpickling":
        ref = ray.remote(take).options(max_retries=0).remote(Bomb(how, "unpickled"))
    elif where == "running":
        ref = ray.remote(run).options(max_retries=0).remote(how)
    else:
        ref = ray.remote(return_bomb).options(max_retries=0).remote(how)
    with pytest.raises(error, match=message) as raised:
        ray.get(ref, timeout=60)
    if error is WorkerCrashedError:
        assert "take" in str(raised.value) or "run" in str(raised.value) or (
            "return_bomb" in str(raised.value))
    else:
        assert isinstance(raised.value, TaskError)
    # Only that task failed: the others finished, earlier results are intact.
    assert ray.get(bystanders) == [1, 1, 1, 1]
    assert int(ray.get(ok_before)[-1]) == 299_999
    assert ray.get(finished) == 1
    assert_pool_works(ray)
    store = current_store_inode()
    ray.shutdown()
    assert store_holders(store) == set()
