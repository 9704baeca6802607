"""Tasks: dependencies, parallelism, nesting, cancellation and submission.

Remote functions are defined inside the tests so cloudpickle ships them by
value (workers never import this module).
"""
from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest

import fastray
from fastray import exceptions
from helpers import wait_for_file


# ---------------------------------------------------------------- dependencies


@pytest.mark.timeout(60)
def test_refs_as_positional_and_keyword_args_are_resolved(ray):
    @ray.remote
    def describe(a, b, *, c, d=0):
        return (type(a).__name__, a, b, c, d)

    @ray.remote
    def make(x):
        return x

    a = make.remote(1)
    c = make.remote(3)
    d = ray.put(4)
    assert ray.get(describe.remote(a, 2, c=c, d=d), timeout=30) == ("int", 1, 2, 3, 4)


@pytest.mark.timeout(60)
def test_chain_of_fifty_tasks(ray):
    @ray.remote
    def inc(x):
        return x + 1

    ref = inc.remote(0)
    for _ in range(49):
        ref = inc.remote(ref)
    assert ray.get(ref, timeout=30) == 50


@pytest.mark.timeout(60)
def test_diamond(ray):
    @ray.remote
    def source():
        return 10

    @ray.remote
    def left(x):
        return x + 1

    @ray.remote
    def right(x):
        return x * 2

    @ray.remote
    def join(a, b):
        return (a, b)

    top = source.remote()
    assert ray.get(join.remote(left.remote(top), right.remote(top)), timeout=30) == (11, 20)


@pytest.mark.timeout(60)
def test_tree_reduction(ray):
    @ray.remote
    def leaf(i):
        return i

    @ray.remote
    def add(a, b):
        return a + b

    level = [leaf.remote(i) for i in range(64)]
    while len(level) > 1:
        level = [add.remote(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    assert ray.get(level[0], timeout=30) == sum(range(64))


@pytest.mark.timeout(60)
def test_independent_branches_run_in_parallel(ray, tmp_path):
    @ray.remote
    def meet(mine: str, other: str) -> int:
        """Says it has started, then waits for the other task: only two tasks that run
        at the same time both return (one run after the other would time out)."""
        open(mine, "w").close()
        wait_for_file(other, timeout=20)
        return os.getpid()

    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    pids = ray.get([meet.remote(first, second), meet.remote(second, first)], timeout=40)
    assert pids[0] != pids[1]


# ---------------------------------------------------------------- nesting


@pytest.mark.timeout(60)
def test_task_returning_a_ref_from_remote_inside(ray):
    """The inner tasks are still running when the outer ones return their refs."""
    @ray.remote
    def inner(x):
        time.sleep(0.5)
        return x * 3

    @ray.remote
    def outer(x):
        return inner.remote(x)

    @ray.remote
    def outer_pair(x):
        return [inner.remote(x), inner.remote(x + 1)]

    single = ray.get(outer.remote(1), timeout=30)
    assert isinstance(single, ray.ObjectRef)
    assert ray.get(single, timeout=30) == 3
    pair = ray.get(outer_pair.remote(2), timeout=30)
    assert all(isinstance(r, ray.ObjectRef) for r in pair)
    assert ray.get(pair, timeout=30) == [6, 9]


@pytest.mark.timeout(60)
def test_task_returning_refs_of_finished_inner_tasks(ray):
    """The inner tasks are done by the time the outer one returns their refs
    (it waited for them); the refs it returns must still be valid."""
    @ray.remote
    def inner(x):
        return x * 3

    @ray.remote
    def outer(x):
        refs = [inner.remote(x), inner.remote(x + 1)]
        fastray.wait(refs, num_returns=2, timeout=30)
        return refs

    refs = ray.get(outer.remote(1), timeout=30)
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(refs, timeout=30) == [3, 6]


@pytest.mark.timeout(60)
def test_get_inside_a_task_on_one_cpu_does_not_deadlock():
    fastray.init(num_cpus=1)

    @fastray.remote
    def inner(x):
        return x + 1

    @fastray.remote
    def outer(x):
        return fastray.get(inner.remote(x)) * 10

    assert fastray.get(outer.remote(1), timeout=30) == 20
    assert fastray.get([outer.remote(i) for i in range(4)], timeout=30) == [10, 20, 30, 40]


@pytest.mark.timeout(60)
def test_depth_three_nesting_on_one_cpu():
    fastray.init(num_cpus=1)

    @fastray.remote
    def level3(x):
        return x + 3

    @fastray.remote
    def level2(x):
        return fastray.get(level3.remote(x)) + 2

    @fastray.remote
    def level1(x):
        return fastray.get([level2.remote(x), level2.remote(x + 100)])

    assert fastray.get(level1.remote(0), timeout=30) == [5, 105]


# ---------------------------------------------------------------- cancel


def _blocking_task(ray):
    @ray.remote
    def blocker(started, interrupted):
        try:
            # Inside the try: a cancel may arrive as soon as the file exists.
            open(started, "w").close()
            time.sleep(30)
        except KeyboardInterrupt:
            open(interrupted, "w").close()
            raise
        return "finished"

    return blocker


@pytest.mark.timeout(60)
def test_cancel_pending_task_never_runs(tmp_path):
    fastray.init(num_cpus=1)
    blocker = _blocking_task(fastray)

    @fastray.remote
    def mark(path):
        open(path, "w").close()
        return "ran"

    started, interrupted = str(tmp_path / "started"), str(tmp_path / "interrupted")
    marker = tmp_path / "queued-ran"
    running = blocker.remote(started, interrupted)
    queued = mark.remote(str(marker))
    wait_for_file(started)
    fastray.cancel(queued)
    start = time.monotonic()
    with pytest.raises(exceptions.TaskCancelledError):
        fastray.get(queued, timeout=20)
    assert time.monotonic() - start < 10
    # free the CPU; a task submitted afterwards runs, the cancelled one never does
    fastray.cancel(running)
    with pytest.raises(exceptions.TaskCancelledError):
        fastray.get(running, timeout=20)
    assert fastray.get(mark.remote(str(tmp_path / "after")), timeout=30) == "ran"
    assert not marker.exists()


@pytest.mark.timeout(60)
def test_cancel_running_task_interrupts_it(ray, tmp_path):
    blocker = _blocking_task(ray)
    started, interrupted = tmp_path / "started", tmp_path / "interrupted"
    ref = blocker.remote(str(started), str(interrupted))
    wait_for_file(started)
    ray.cancel(ref)
    start = time.monotonic()
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)
    assert time.monotonic() - start < 10
    assert interrupted.exists(), "the task did not get KeyboardInterrupt"

    @ray.remote
    def after(x):
        return x + 1

    assert ray.get([after.remote(i) for i in range(4)], timeout=30) == [1, 2, 3, 4]


@pytest.mark.timeout(60)
def test_force_cancel_kills_the_worker_and_the_pool_keeps_working(tmp_path):
    context = fastray.init(num_cpus=2)

    @fastray.remote
    def hang(started):
        with open(started, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(30)

    started = tmp_path / "started"
    ref = hang.remote(str(started))
    wait_for_file(started)
    deadline = time.monotonic() + 20
    while not started.read_text() and time.monotonic() < deadline:
        time.sleep(0.01)
    victim = int(started.read_text())
    fastray.cancel(ref, force=True)
    start = time.monotonic()
    with pytest.raises(exceptions.WorkerCrashedError):
        fastray.get(ref, timeout=20)
    assert time.monotonic() - start < 10

    @fastray.remote
    def pid_and_square(x):
        return os.getpid(), x * x

    results = fastray.get([pid_and_square.remote(i) for i in range(6)], timeout=30)
    assert [square for _, square in results] == [i * i for i in range(6)]
    assert victim not in {pid for pid, _ in results}
    assert victim not in context.worker_pids


@pytest.mark.timeout(60)
@pytest.mark.parametrize("force", [False, True])
def test_cancel_of_a_task_handed_to_a_worker_that_is_still_starting(tmp_path, force):
    """The scheduler hands a task to a new worker before the spawner has
    reported that worker's pid (under CPU load the report comes late, and
    the running-task cancel tests above then time out).  Pausing the spawner
    makes that window wide: cancel() inside it must still take effect."""
    context = fastray.init(num_cpus=1)
    assert len(context.worker_pids) == 1  # the first worker is up and known
    blocker = _blocking_task(fastray)

    @fastray.remote(num_cpus=0)
    def mark(path):
        open(path, "w").close()
        return "ran"

    started, interrupted = str(tmp_path / "started"), str(tmp_path / "interrupted")
    running = blocker.remote(started, interrupted)
    wait_for_file(started)
    marker = tmp_path / "cancelled-task-ran"
    os.kill(context.spawner_pid, signal.SIGSTOP)
    try:
        ref = mark.remote(str(marker))  # the only worker is busy: needs a new one
        fastray.cancel(ref, force=force)
    finally:
        os.kill(context.spawner_pid, signal.SIGCONT)
    try:
        with pytest.raises((exceptions.TaskCancelledError, exceptions.WorkerCrashedError)):
            fastray.get(ref, timeout=20)
    finally:
        fastray.cancel(running, force=True)
    assert fastray.get(mark.remote(str(tmp_path / "after")), timeout=30) == "ran"
    assert not marker.exists(), "the cancelled task ran"


@pytest.mark.timeout(60)
def test_cancel_finished_task_keeps_its_value(ray):
    @ray.remote
    def value():
        return "kept"

    ref = value.remote()
    assert ray.get(ref, timeout=30) == "kept"
    ray.cancel(ref)
    ray.cancel(ref, force=True)
    assert ray.get(ref, timeout=30) == "kept"


@pytest.mark.timeout(60)
def test_dependents_of_a_cancelled_task_fail_cancelled(tmp_path):
    fastray.init(num_cpus=1)
    blocker = _blocking_task(fastray)

    @fastray.remote
    def produce():
        return 1

    @fastray.remote
    def consume(x):
        return x + 1

    started, interrupted = str(tmp_path / "started"), str(tmp_path / "interrupted")
    running = blocker.remote(started, interrupted)
    queued = produce.remote()
    before = consume.remote(queued)  # submitted while its input was pending
    wait_for_file(started)
    fastray.cancel(queued)
    after = consume.remote(queued)  # submitted after its input was cancelled
    grandchild = consume.remote(before)
    for ref in (queued, before, after, grandchild):
        with pytest.raises(exceptions.TaskCancelledError):
            fastray.get(ref, timeout=20)
    fastray.cancel(running, force=True)


@pytest.mark.timeout(60)
def test_cancel_task_waiting_for_its_inputs(ray):
    @ray.remote
    def slow():
        time.sleep(0.5)
        return 1

    @ray.remote
    def add(x):
        return x + 1

    source = slow.remote()
    waiting = add.remote(source)
    ray.cancel(waiting)
    with pytest.raises(exceptions.TaskCancelledError):
        ray.get(waiting, timeout=20)
    assert ray.get(source, timeout=20) == 1  # its input is not affected
    assert ray.get(add.remote(source), timeout=20) == 2


@pytest.mark.timeout(60)
def test_cancel_argument_must_be_a_ref(ray):
    with pytest.raises(TypeError):
        ray.cancel("not a ref")


# ---------------------------------------------------------------- submission


@pytest.mark.timeout(60)
def test_twenty_thousand_submissions_return_and_all_results_are_right(ray):
    @ray.remote
    def noop(i):
        return i

    start = time.monotonic()
    refs = [noop.remote(i) for i in range(20_000)]
    submitted = time.monotonic() - start
    assert len(refs) == 20_000 and len(set(refs)) == 20_000
    assert submitted < 30, f"20,000 submissions took {submitted:.1f} s"
    assert ray.get(refs, timeout=50) == list(range(20_000))


@pytest.mark.timeout(60)
def test_get_of_ready_values_by_every_path_gives_each_object_once(ray):
    """Plain inline values take get's quickest path; arrays, refs inside
    values and errors take the general one; a mix falls back whole."""
    @ray.remote
    def pair():
        return [1, 2]

    @ray.remote
    def fails():
        raise ValueError("boom")

    plain = pair.remote()
    array = ray.put(np.arange(100_000))
    holder = ray.put({"inner": plain})
    failed = fails.remote()
    ray.wait([plain, array, holder, failed], num_returns=4, timeout=30)
    first, again = ray.get([plain, plain])
    assert first == [1, 2] and first is again
    values = ray.get([plain, array, holder])
    assert values[0] == [1, 2] and int(values[1].sum()) == sum(range(100_000))
    assert ray.get(values[2]["inner"]) == [1, 2]
    with pytest.raises(ValueError, match="boom"):
        ray.get([plain, failed])
    # Right after submitting, the wait comes first, then the same paths.
    fresh = [pair.remote() for _ in range(200)]
    assert ray.get(fresh + fresh[:1])[-1] == [1, 2]


@pytest.mark.timeout(60)
def test_frames_longer_than_one_read_of_the_scheduler(ray):
    """A result naming 50,000 refs is a frame of about 400 KB, longer than
    what the scheduler reads from a worker's socket at once (256 KiB): it
    is put together from several reads, and every ref in it resolves."""
    @fastray.remote
    def many_refs(count):
        return [fastray.put(i) for i in range(count)]

    refs = fastray.get(many_refs.remote(50_000))
    assert len(refs) == 50_000
    assert fastray.get(refs[:3] + refs[-3:]) == [0, 1, 2, 49_997, 49_998, 49_999]
    assert sum(fastray.get(refs)) == sum(range(50_000))
