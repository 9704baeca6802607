"""An async actor's event loop starts a call that comes alone at once,
inside its task, and never lets a call start before one that came earlier
(on 3.11 it does the first itself; from 3.12 asyncio's eager tasks do)."""
from __future__ import annotations

import asyncio
import selectors

import pytest

from fastray.actor_host import _CallsLoop

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def loop():
    made = _CallsLoop(selectors.DefaultSelector())
    yield made
    # A failed test may leave tasks pending: end them here, not in a later
    # test's garbage collection.
    for task in asyncio.all_tasks(made):
        task.cancel()
        made.run_until_complete(asyncio.wait([task]))
    made.close()


async def record(log: list, name: str, loop: asyncio.AbstractEventLoop) -> str:
    log.append((name, asyncio.current_task(loop) is not None))
    await asyncio.sleep(0)
    log.append((name + " after a wait", True))
    return name


def from_the_running_loop(loop: _CallsLoop, start):
    """What start() returns, run from a plain callback of the running loop,
    as the actor's reader starts calls (3.12's eager tasks start only on a
    running loop)."""
    done = loop.create_future()
    loop.call_soon(lambda: done.set_result(start()))
    return loop.run_until_complete(done)


def test_a_call_that_comes_alone_starts_at_once_inside_its_task(loop):
    log: list = []
    task, seen = from_the_running_loop(loop, lambda: (
        loop.start_call(record(log, "alone", loop), more_coming=False), list(log)))
    assert seen == [("alone", True)]
    assert loop.run_until_complete(task) == "alone"
    assert log[-1] == ("alone after a wait", True)


def test_a_call_never_starts_before_one_that_came_earlier(loop):
    log: list = []
    tasks = from_the_running_loop(loop, lambda: [
        loop.start_call(record(log, "first", loop), more_coming=True),
        loop.start_call(record(log, "second", loop), more_coming=False),
        loop.start_call(record(log, "third", loop), more_coming=False)])
    loop.run_until_complete(asyncio.gather(*tasks))
    started = [name for name, _ in log if "after" not in name]
    assert started == ["first", "second", "third"]
    assert all(in_task for _, in_task in log)


def test_a_call_started_from_inside_a_running_task_still_runs(loop):
    log: list = []

    async def starts_another() -> asyncio.Task:
        inner = loop.start_call(record(log, "inner", loop), more_coming=False)
        log.append(("outer goes on", True))
        return inner

    inner = loop.run_until_complete(loop.create_task(starts_another()))
    loop.run_until_complete(inner)
    assert {("inner", True), ("outer goes on", True)} <= set(log)
    assert inner.result() == "inner"
