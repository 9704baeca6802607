"""A cancel sent while its task is handed over to a worker (submitted,
queued, its TASK frame in flight, its function being unpickled) must not
be lost: ``get`` raises TaskCancelledError and never waits forever."""
from __future__ import annotations

import os
import time

import pytest

import fastray
from fastray.exceptions import GetTimeoutError, TaskCancelledError, WorkerCrashedError
from helpers import assert_pool_works, wait_for_file

ROUNDS = 25
# Far longer than a cancelled task takes to end, even on a loaded machine;
# a lost cancel leaves the task sleeping for days.
ROUND_TIMEOUT = 20.0


def blocking():
    time.sleep(10e6)


def quick(x):
    return x


def hold_a_cpu(path):
    open(path, "w").close()
    time.sleep(10e6)


def exit_worker():
    os._exit(3)


def cancel_straight_away(ray, function, ref=None) -> None:
    """Ray's own example for cancel, with a bound on get instead of a hang."""
    ref = ref or function.remote()
    ray.cancel(ref)
    try:
        with pytest.raises(TaskCancelledError):
            ray.get(ref, timeout=ROUND_TIMEOUT)
    except GetTimeoutError:
        ray.cancel(ref, force=True)
        pytest.fail(f"the cancel of {ref} was lost: get waited {ROUND_TIMEOUT} s")


@pytest.mark.parametrize("queued_quick_tasks", [False, True], ids=["alone", "behind-quick"])
@pytest.mark.parametrize("function", ["known", "new"])
@pytest.mark.parametrize("pool", ["idle", "busy"])
def test_a_cancel_sent_at_once_is_never_lost(ray, tmp_path, pool, function, queued_quick_tasks):
    quick_task = ray.remote(quick)
    assert ray.get([quick_task.remote(i) for i in range(20)]) == list(range(20))
    holder = None
    if pool == "busy":
        holder = ray.remote(hold_a_cpu).remote(str(tmp_path / "held"))
        wait_for_file(tmp_path / "held")
    known = ray.remote(blocking)
    for round_ in range(ROUNDS):
        quick_refs = [quick_task.remote(i) for i in range(8)] if queued_quick_tasks else []
        # A fresh function's first TASK frame carries it pickled, which
        # keeps the worker busy a little longer before the task starts.
        cancel_straight_away(ray, known if function == "known" else ray.remote(blocking))
        # A cancel meant for one task never interrupts another.
        assert ray.get(quick_refs, timeout=ROUND_TIMEOUT) == list(range(len(quick_refs)))
    if holder is not None:
        ray.cancel(holder)
        with pytest.raises(TaskCancelledError):
            ray.get(holder, timeout=ROUND_TIMEOUT)
    assert_pool_works(ray)


def test_a_cancel_sent_to_a_worker_still_starting_is_never_lost():
    """The task goes to a worker the moment its pid is known, before that
    worker has installed its SIGINT handler; the cancel follows at once."""
    fastray.init(num_cpus=1)
    known = fastray.remote(blocking)
    crash = fastray.remote(max_retries=0)(exit_worker)
    backend = fastray.api.state.backend
    for _ in range(ROUNDS):
        with pytest.raises(WorkerCrashedError):
            fastray.get(crash.remote(), timeout=ROUND_TIMEOUT)
        ref = known.remote()
        task_id = ref.hex()
        deadline = time.monotonic() + ROUND_TIMEOUT
        while not any(w["task"] and w["task"]["id"] == task_id
                      for w in backend.snapshot()["workers"]):
            assert time.monotonic() < deadline, "the task never reached a worker"
        cancel_straight_away(fastray, known, ref)
    assert_pool_works(fastray)
