"""The deadline that the outbox's and the threaded actor's watchers wait
for without the GIL."""
from __future__ import annotations

import threading
import time

import pytest

from fastray._deadline import Deadline

pytestmark = pytest.mark.timeout(30)


def waited(deadline: Deadline) -> tuple[threading.Thread, list[int]]:
    """A thread that waits once; its result lands in the list."""
    out: list[int] = []
    thread = threading.Thread(target=lambda: out.append(deadline.wait()), daemon=True)
    thread.start()
    return thread, out


def test_a_deadline_that_passes_returns_its_generation_no_sooner_than_due():
    deadline = Deadline(0.02)
    started = time.monotonic()
    generation = deadline.arm()
    assert generation > 0
    assert deadline.wait() == generation
    assert time.monotonic() - started >= 0.02


def test_a_disarmed_deadline_never_fires():
    deadline = Deadline(0.001)
    first = deadline.arm()
    deadline.disarm()
    second = deadline.arm()
    assert second != first
    assert deadline.wait() == second


def test_arming_again_replaces_the_deadline():
    deadline = Deadline(0.001)
    deadline.arm()
    latest = deadline.arm()
    assert deadline.wait() == latest


def test_a_waiter_sleeping_with_nothing_armed_wakes_for_a_new_deadline():
    deadline = Deadline(0.0001)
    thread, out = waited(deadline)
    # Long enough for the waiter's idle polls to end: it then sleeps until
    # arm() signals it.  Whether it sleeps yet or not, it must fire.
    time.sleep(0.05)
    generation = deadline.arm()
    thread.join(10)
    assert out == [generation]


def test_close_ends_a_wait_with_zero():
    deadline = Deadline(60)
    deadline.arm()
    thread, out = waited(deadline)
    deadline.close()
    thread.join(10)
    assert out == [0]
    assert deadline.wait() == 0


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan")])
def test_a_deadline_needs_a_positive_delay(seconds):
    with pytest.raises(ValueError, match="positive delay"):
        Deadline(seconds)
