"""A worker's outgoing frames, held back briefly so that several go in one
send (one wake-up of the scheduler instead of one per frame): the results
of quick tasks queued behind each other, and a burst of submissions."""
from __future__ import annotations

import threading
import time
from typing import Callable, Optional

# Frames held at most before they go (about sixty-four submissions or
# results): each send wakes the scheduler, and the receiver reads what a
# send carried in one pass (a smaller batch made a busy actor's caller and
# the scheduler spend a seventh more per call).
OUTBOX_FRAMES = 128
# How old the oldest held frame may get.
OUTBOX_SECONDS = 0.0005


class Outbox:
    """Frames waiting to be sent through send_all (the socket's sendall).

    Held frames go out with the next frame that may not wait, when the
    outbox is full, when the worker is about to block, or at the latest
    OUTBOX_SECONDS after the first was held: a watcher thread sends them
    then, as the task may compute or sleep for long before its next call
    into the runtime, and a held frame must not wait for that.

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
        self._held = threading.Event()
        self._watched = False   # _held is set (read on every add: no call)
        self._watcher: threading.Thread | None = None

    def __bool__(self) -> bool:
        return bool(self._frames) or self._expecting

    def add(self, frames: list[bytes], later: bool) -> None:
        """Adds frames; later: they may wait for the next send."""
        lock = self.lock
        lock.acquire()   # not ``with``: this runs for every frame, and costs less so
        try:
            if not self._frames and not self._expecting:
                self._since = time.perf_counter()
            self._frames += frames
            if not later or len(self._frames) >= OUTBOX_FRAMES:
                self._send_held()
            elif not self._watched:
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
        OUTBOX_SECONDS from now, or with an earlier send."""
        if not self._frames and not self._expecting:
            self._since = time.perf_counter()
        self._expecting = True
        if not self._watched:
            self._watch()

    def due(self) -> bool:
        """Whether the held frames should go before anything else is done."""
        return (bool(self._frames) or self._expecting) and (
            len(self._frames) >= OUTBOX_FRAMES
            or time.perf_counter() - self._since > OUTBOX_SECONDS)

    def _send_held(self) -> None:
        if self.before_send is not None:
            self._frames += self.before_send()
        self._expecting = False
        if self._frames:
            self._send_all(b"".join(self._frames))
            self._frames.clear()

    def _watch(self) -> None:
        """Has the watcher look at the outbox (lock held)."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._send_when_old, name="fastray-outbox",
                                             daemon=True)
            self._watcher.start()
        self._held.set()
        self._watched = True

    def _send_when_old(self) -> None:
        while True:
            self._held.wait()
            time.sleep(OUTBOX_SECONDS)
            with self.lock:
                if ((self._frames or self._expecting)
                        and time.perf_counter() - self._since >= OUTBOX_SECONDS):
                    self._send_held()
                if not self._frames and not self._expecting:
                    self._held.clear()
                    self._watched = False
