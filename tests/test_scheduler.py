"""The scheduler runs without the GIL and never blocks the submitter."""
from __future__ import annotations

import ctypes
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import fastray

from helpers import wait_for_file


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_chain_finishes_while_the_driver_holds_the_gil(ray):
    @ray.remote
    def inc(x):
        return x + 1

    ray.get(inc.remote(0))  # both workers warm, function shipped
    before = fastray.api.state.backend.stats()["tasks_finished"]
    ref = inc.remote(0)
    for _ in range(19):
        ref = inc.remote(ref)
    # usleep through PyDLL keeps the GIL for the whole 3 s call.
    ctypes.PyDLL(None).usleep(3_000_000)
    finished = fastray.api.state.backend.stats()["tasks_finished"] - before
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


def test_the_snapshot_shows_workers_tasks_by_state_and_large_objects(ray, tmp_path):
    import numpy as np


    @ray.remote
    def sleeper(path):
        open(path, "w").close()
        time.sleep(60)

    @ray.remote(max_retries=0)
    def fails():
        raise ValueError("counted")

    @ray.remote(max_retries=0)
    def dies():
        os._exit(5)

    runtime = ray.api.state.backend
    assert ray.get([ray.remote(lambda i: i).remote(i) for i in range(5)]) == list(range(5))
    for task in (fails, dies):
        try:
            ray.get(task.remote())
        except Exception:
            pass
    big = ray.put(np.ones(1_000_000))
    started = tmp_path / "started"
    running = sleeper.remote(str(started))
    wait_for_file(started)
    snapshot = runtime.snapshot()
    tasks = snapshot["tasks"]
    assert tasks["finished"] >= 5 and tasks["failed"] >= 1 and tasks["crashed"] >= 1
    assert tasks["running"] == 1
    busy = [w for w in snapshot["workers"] if w["task"] is not None]
    assert len(busy) == 1 and busy[0]["task"]["function"].endswith("sleeper")
    assert busy[0]["pid"] in runtime.worker_pids()
    assert snapshot["largest_objects"][0]["bytes"] >= 8_000_000
    ray.cancel(running, force=True)
    del big


def test_quick_tasks_never_wait_behind_a_long_one(ray, tmp_path):
    """With every CPU taken, quick tasks are queued behind busy workers, but
    never behind a task that runs long: they would wait for all of it."""
    release = tmp_path / "release"

    @ray.remote
    def held(marker: str, release: str) -> str:
        open(marker, "w").close()
        wait_for_file(release, timeout=60)
        return "released"

    quick = ray.remote(lambda i: i)
    assert ray.get([quick.remote(i) for i in range(50)]) == list(range(50))  # known quick
    marker = str(tmp_path / "started")
    blocked = held.remote(marker, str(release))
    wait_for_file(marker)
    # One CPU is taken by `held`: these keep the other busy and must not
    # queue behind `held`, which ends only after they all have.
    assert ray.get([quick.remote(i) for i in range(2_000)], timeout=30) == list(range(2_000))
    release.touch()
    assert ray.get(blocked) == "released"


@pytest.mark.timeout(60)
def test_answers_are_read_whether_or_not_a_thread_waits_for_them(ray, tmp_path):
    """Driver threads waiting for quick answers read the workers' sockets
    themselves, with the scheduler thread's watch of them off while any
    does; once none waits, the scheduler thread reads them again."""
    @ray.remote
    def echo(x):
        return x

    @ray.remote
    class Echo:
        def echo(self, x):
            return x

    @ray.remote
    def after(release: str) -> str:
        wait_for_file(release, timeout=60)
        return "done"

    actor = Echo.remote()

    def calls(offset: int) -> list:
        return [ray.get((echo if i % 2 else actor.echo).remote(offset + i))
                for i in range(200)]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(calls, range(0, 4000, 1000)))
    assert results == [list(range(offset, offset + 200)) for offset in range(0, 4000, 1000)]
    release = tmp_path / "release"
    answer = after.remote(str(release))
    release.touch()
    # No thread waits in get: the scheduler thread alone reads the answer.
    while not ray.wait([answer], timeout=0)[0]:
        time.sleep(0.01)
    assert ray.get(answer, timeout=0) == "done"
