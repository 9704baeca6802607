"""A worker's outbox: held frames go together, in order, and never wait
long, whatever the task does next."""
from __future__ import annotations

import os
import threading
import time

import pytest

from fastray._outbox import OUTBOX_FRAMES, OUTBOX_SECONDS, Outbox


class Sent:
    """What an outbox sent, send by send."""

    def __init__(self) -> None:
        self.sends: list[bytes] = []
        self.sent = threading.Event()

    def __call__(self, data: bytes) -> None:
        self.sends.append(data)
        self.sent.set()


def test_frames_that_may_wait_go_in_one_send_with_the_next_that_may_not():
    sent = Sent()
    outbox = Outbox(sent)
    outbox.add([b"a", b"b"], later=True)
    outbox.add([b"c"], later=False)
    assert sent.sends[0] == b"abc"
    assert not outbox


@pytest.fixture
def clock():
    """The outbox's clock, set by hand."""
    return [100.0]


def by_hand(sent, clock):
    """An outbox on that clock, its watcher's deadline a minute away, so
    that only the clock decides what goes when."""
    return Outbox(sent, clock=lambda: clock[0], latest_seconds=60.0)


def test_a_full_outbox_is_sent_at_once(clock):
    sent = Sent()
    outbox = by_hand(sent, clock)
    for i in range(OUTBOX_FRAMES):
        outbox.add([bytes([i])], later=True)
    assert sent.sends == [bytes(range(OUTBOX_FRAMES))]


def test_held_frames_go_with_the_first_frame_added_once_they_are_old(clock):
    sent = Sent()
    outbox = by_hand(sent, clock)
    outbox.add([b"a"], later=True)
    clock[0] += OUTBOX_SECONDS / 2
    outbox.add([b"b"], later=True)
    assert sent.sends == [] and not outbox.due()
    clock[0] += OUTBOX_SECONDS
    assert outbox.due()
    outbox.add([b"c"], later=True)
    assert sent.sends == [b"abc"]
    assert not outbox


@pytest.mark.timeout(30)
def test_held_frames_go_soon_even_when_nothing_else_is_sent():
    sent = Sent()
    outbox = Outbox(sent)
    outbox.add([b"held"], later=True)
    assert sent.sent.wait(20), "a held frame was never sent"
    assert sent.sends == [b"held"]
    # The watcher keeps watching later holds too.
    sent.sent.clear()
    outbox.add([b"again"], later=True)
    assert sent.sent.wait(20)
    assert sent.sends == [b"held", b"again"]


@pytest.mark.timeout(60)
def test_a_child_task_starts_while_its_parent_computes(ray, tmp_path):
    """The submission is held briefly for company, not until the parent's
    next call into the runtime."""
    marker = str(tmp_path / "child-ran")

    @ray.remote
    def child(path):
        open(path, "w").close()

    @ray.remote
    def parent(path):
        ref = child.remote(path)
        deadline = time.monotonic() + 30
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.005)
        seen = os.path.exists(path)
        ray.get(ref)
        return seen

    assert ray.get(parent.remote(marker), timeout=50) is True


@pytest.mark.timeout(60)
def test_a_result_is_not_held_behind_a_long_call(ray, tmp_path):
    @ray.remote
    class Worker:
        def wait_for(self, path):
            deadline = time.monotonic() + 40
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.005)
            return path

    worker = Worker.remote()
    gate, release = str(tmp_path / "gate"), str(tmp_path / "release")
    # Both calls reach the actor's process while the first runs: when it
    # ends, the second's result must not wait for the third to end.
    first = worker.wait_for.remote(gate)
    quick = worker.wait_for.remote(str(tmp_path))
    long = worker.wait_for.remote(release)
    open(gate, "w").close()
    assert ray.get([first, quick], timeout=20) == [gate, str(tmp_path)]
    open(release, "w").close()
    assert ray.get(long, timeout=40) == release


def test_what_before_send_has_goes_out_soon_with_no_frame_held():
    # A generator's values wait in before_send, not as frames: expect()
    # must still get them sent without any later call.
    sent = Sent()
    outbox = Outbox(sent)
    waiting = [b"value", b"link"]
    outbox.before_send = lambda: [waiting.pop(0) for _ in range(len(waiting))]
    with outbox.lock:
        outbox.expect()
    assert outbox and sent.sent.wait(10)
    assert sent.sends == [b"valuelink"]
    assert not outbox


def test_before_send_adds_after_the_frames_held():
    sent = Sent()
    outbox = Outbox(sent)
    outbox.before_send = lambda: [b"!"]
    outbox.add([b"a"], later=True)
    outbox.send()
    assert sent.sends == [b"a!"]


def test_a_watcher_deadline_must_be_positive():
    with pytest.raises(ValueError, match="latest_seconds"):
        Outbox(Sent(), latest_seconds=0)


def test_a_failed_send_keeps_the_frames_for_the_next():
    attempts = []

    def breaks_once(data: bytes) -> None:
        attempts.append(data)
        if len(attempts) == 1:
            raise BrokenPipeError("the scheduler went away")

    outbox = Outbox(breaks_once)
    with pytest.raises(BrokenPipeError):
        outbox.add([b"a"], later=False)
    assert outbox
    outbox.send()
    assert attempts == [b"a", b"a"] and not outbox
