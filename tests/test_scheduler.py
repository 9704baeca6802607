"""The scheduler runs without the GIL and never blocks the submitter."""
from __future__ import annotations

import ctypes

import pytest

import fastray


@pytest.mark.timeout(60)
def test_chain_finishes_while_the_driver_holds_the_gil(ray):
    @ray.remote
    def inc(x):
        return x + 1

    ray.get(inc.remote(0))  # both workers warm, function shipped
    before = fastray.api.process.backend.stats()["tasks_finished"]
    ref = inc.remote(0)
    for _ in range(19):
        ref = inc.remote(ref)
    # usleep through PyDLL keeps the GIL for the whole 3 s call.
    ctypes.PyDLL(None).usleep(3_000_000)
    finished = fastray.api.process.backend.stats()["tasks_finished"] - before
    assert finished == 20, f"only {finished} of 20 chained tasks ran by the end of the GIL hold"
    assert ray.get(ref, timeout=0) == 20


@pytest.mark.timeout(60)
def test_many_submissions_return_before_the_work_is_done(ray):
    @ray.remote
    def slow(x):
        import time
        time.sleep(0.5)
        return x

    refs = [slow.remote(i) for i in range(8)]
    ready, not_ready = ray.wait(refs, num_returns=len(refs), timeout=0)
    assert not_ready, "submission waited for tasks to finish"
    assert ray.get(refs) == list(range(8))
