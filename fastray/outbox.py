"""A worker's outgoing frames, held back briefly so that several go in one
send (one wake-up of the scheduler instead of one per frame): the results
of quick tasks queued behind each other, and a burst of submissions."""
from __future__ import annotations

import threading
import time
from typing import Callable, Optional

from ._deadline import Deadline

# Frames held at most before they go (about sixty-four submissions or
# results): each send wakes the scheduler, and the receiver reads what a
# send carried in one pass (a smaller batch made a busy actor's caller and
# the scheduler spend a seventh more per call).
OUTBOX_FRAMES = 128
# How old the oldest held frame may get before the worker sends it, on its
# next call into the runtime.
OUTBOX_SECONDS = 0.0005
# How old it gets at most: the watcher sends it then, if the worker has not
# (later than the worker would, so that the two do not race for the GIL
# every time a steady stream of frames comes due).
OUTBOX_LATEST_SECONDS = 2 * OUTBOX_SECONDS


class Outbox:
    """Frames waiting to be sent through send_all (the socket's sendall).

    Held frames go out with the next frame that may not wait, when the
    outbox is full, when the worker is about to block, when a frame is
    added or the worker looks (due()) and they are OUTBOX_SECONDS old, or
    at the latest OUTBOX_LATEST_SECONDS after the first was held: a watcher
    thread sends them then, as the task may compute or sleep for long
    before its next call into the runtime, and a held frame must not wait
    for that.  The watcher waits for that deadline in C, without the GIL,
    so it costs the worker nothing while frames go out in time.

    before_send, if set, gives frames to add at the end of each send (a
    generator task sends the values it made since the last one, and links
    them); lock is held while it runs, and may be held around adding frames
    that must go together with what it adds.  expect() says it has
    something: the outbox then sends as if a frame were held."""

    def __init__(self, send_all: Callable[[bytes], None]) -> None:
        self._send_all = send_all
        self._frames: list[bytes] = []
        self._since = 0.0
        self.lock = threading.RLock()
        self.before_send: Optional[Callable[[], list[bytes]]] = None
        self._expecting = False
        self._deadline: Deadline | None = None
        self._armed = 0   # the deadline of the frames held (its generation), or 0

    def __bool__(self) -> bool:
        return bool(self._frames) or self._expecting

    def add(self, frames: list[bytes], later: bool) -> None:
        """Adds frames; later: they may wait for the next send."""
        lock = self.lock
        lock.acquire()   # not ``with``: this runs for every frame, and costs less so
        try:
            now = time.perf_counter()
            first = not self._frames and not self._expecting
            if first:
                self._since = now
            self._frames += frames
            if (not later or len(self._frames) >= OUTBOX_FRAMES
                    or now - self._since > OUTBOX_SECONDS):
                self._send_held()
            elif first:
                self._watch()
        finally:
            lock.release()

    def send(self) -> None:
        """Sends every held frame now."""
        lock = self.lock
        lock.acquire()
        try:
            self._send_held()
        finally:
            lock.release()

    def expect(self) -> None:
        """before_send has frames to add (lock held): they go at the latest
        OUTBOX_LATEST_SECONDS from now, or with an earlier send."""
        if not self._frames and not self._expecting:
            self._since = time.perf_counter()
            self._watch()
        self._expecting = True

    def due(self) -> bool:
        """Whether the held frames should go before anything else is done."""
        return (bool(self._frames) or self._expecting) and (
            len(self._frames) >= OUTBOX_FRAMES
            or time.perf_counter() - self._since > OUTBOX_SECONDS)

    def _send_held(self) -> None:
        if self.before_send is not None:
            self._frames += self.before_send()
        self._expecting = False
        if self._armed:
            self._armed = 0
            self._deadline.disarm()   # type: ignore[union-attr]
        if self._frames:
            self._send_all(b"".join(self._frames))
            self._frames.clear()

    def _watch(self) -> None:
        """Starts the held frames' deadline (lock held); the watcher thread
        starts with the first."""
        if self._deadline is None:
            self._deadline = Deadline(OUTBOX_LATEST_SECONDS)
            threading.Thread(target=self._send_when_old, args=(self._deadline,),
                             name="fastray-outbox", daemon=True).start()
        self._armed = self._deadline.arm()

    def _send_when_old(self, deadline: Deadline) -> None:
        """Sends what is held when its deadline passes with it still held."""
        while overdue := deadline.wait():
            with self.lock:
                if overdue == self._armed:
                    self._send_held()
