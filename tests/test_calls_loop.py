"""An async actor's event loop starts a call that comes alone at once,
inside its task, and never lets a call start before one that came earlier
(on 3.11 it does the first itself; from 3.12 asyncio's eager tasks do)."""
from __future__ import annotations

import asyncio
import socket
import sys

import pytest

from fastray.calls_loop import CallsLoop

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def loop():
    made = CallsLoop(lambda: None)
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


def from_the_running_loop(loop: CallsLoop, start):
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


@pytest.fixture
def socket_pair():
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    yield ours, theirs
    ours.close()
    theirs.close()


def reader(sock: socket.socket, seen: list, name: str = "ours"):
    """An on_readable that logs what it reads (serve() calls it once at the
    start too, when nothing may have come yet)."""
    def on_readable() -> None:
        try:
            seen.append((name, sock.recv(100)))
        except BlockingIOError:
            pass
    return on_readable


def caller() -> str:
    return sys._getframe(2).f_code.co_name


def test_the_socket_alone_is_read_at_once_and_its_results_sent_then(loop, socket_pair):
    """Without a pass of asyncio's machinery: the selector reads the socket
    when nothing else is ready, and a result held by a call that ended
    during the read goes out right after it."""
    ours, theirs = socket_pair
    seen: list = []
    read = reader(ours, seen)
    loop.send_held = lambda: seen.append(("sent", caller()))

    def on_readable() -> None:
        read()
        seen.append(("read by", caller()))
        if ("ours", b"go") in seen:
            loop.stop()

    loop.call_later(0.01, theirs.send, b"go")
    loop.serve(ours.fileno(), on_readable)
    at = seen.index(("ours", b"go"))
    assert seen[at + 1:at + 3] == [("read by", "read_socket_now"),
                                   ("sent", "read_socket_now")]


def test_an_error_in_the_reader_is_reported_and_the_loop_goes_on(loop, socket_pair):
    ours, theirs = socket_pair
    reported: list = []
    loop.set_exception_handler(lambda _, context: reported.append(context["exception"]))
    seen: list = []
    read = reader(ours, seen)

    def on_readable() -> None:
        read()
        if seen and seen[-1] == ("ours", b"bad"):
            loop.call_soon(theirs.send, b"good")
            raise ValueError("a broken frame")
        if seen and seen[-1] == ("ours", b"good"):
            loop.stop()

    loop.call_later(0.01, theirs.send, b"bad")
    loop.serve(ours.fileno(), on_readable)
    assert [type(error) for error in reported] == [ValueError]
    assert seen[-1] == ("ours", b"good")


def test_other_files_and_timers_are_served_beside_the_socket(loop, socket_pair):
    ours, theirs = socket_pair
    other, other_end = socket.socketpair()
    seen: list = []
    read_ours, read_other = reader(ours, seen), reader(other, seen, "other")

    def stopping_when_both_came(read):
        def on_readable() -> None:
            read()
            if len(seen) == 2:
                loop.stop()
        return on_readable

    try:
        loop.add_reader(other.fileno(), stopping_when_both_came(read_other))

        def send_both() -> None:
            other_end.send(b"b")
            theirs.send(b"a")

        loop.call_later(0.01, send_both)
        loop.serve(ours.fileno(), stopping_when_both_came(read_ours))
    finally:
        loop.remove_reader(other.fileno())
        other.close()
        other_end.close()
    assert sorted(seen) == [("other", b"b"), ("ours", b"a")]


def test_more_to_run_says_whether_callbacks_are_due(loop):
    """An async actor sends a call's result at once when nothing else is
    due: it asks more_to_run()."""
    def look() -> list:
        alone = loop.more_to_run()
        loop.call_soon(lambda: None)
        return [alone, loop.more_to_run()]

    assert from_the_running_loop(loop, look) == [False, True]
