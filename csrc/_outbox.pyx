# cython: language_level=3
"""A worker's outgoing frames, held back briefly so that several go in one
send (one wake-up of the scheduler instead of one per frame): the results
of quick tasks queued behind each other, and a burst of submissions.

Compiled because every result and submission of every task and actor call
passes add(), and a worker's loop asks due() between frames: in Python the
two ran a seventh of a no-op actor call's bytecodes."""
import threading

from libc.stdint cimport int64_t, uint64_t
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from deadline cimport CDeadline

cdef enum:
    # Frames held at most before they go (about sixty-four submissions or
    # results): each send wakes the scheduler, and the receiver reads what a
    # send carried in one pass (a smaller batch made a busy actor's caller
    # and the scheduler spend a seventh more per call).
    MOST_FRAMES = 128
    # How old the oldest held frame may get before the worker sends it, on
    # its next call into the runtime.
    OLDEST_NS = 500000

OUTBOX_FRAMES = MOST_FRAMES
OUTBOX_SECONDS = OLDEST_NS / 1e9
# How old it gets at most: the watcher sends it then, if the worker has not
# (later than the worker would, so that the two do not race for the GIL
# every time a steady stream of frames comes due).
OUTBOX_LATEST_SECONDS = 2 * OUTBOX_SECONDS


cdef inline int64_t monotonic_ns() noexcept nogil:
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return now.tv_sec * 1000000000 + now.tv_nsec


cdef class Outbox:
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
    something: the outbox then sends as if a frame were held.

    clock (seconds, for tests) replaces the monotonic clock, and
    latest_seconds the watcher's OUTBOX_LATEST_SECONDS."""

    cdef object _send_all
    cdef list _frames
    cdef object _clock
    cdef object _acquire
    cdef object _release
    cdef readonly object lock
    cdef public object before_send
    cdef bint _expecting
    cdef int64_t _since
    cdef int64_t _latest_ns
    cdef uint64_t _armed        # the generation of the held frames' deadline, or 0
    cdef CDeadline *_deadline   # made with the first hold, with its watcher

    def __cinit__(self, send_all, clock=None, double latest_seconds=OUTBOX_LATEST_SECONDS):
        if not latest_seconds > 0:
            raise ValueError(f"latest_seconds must be positive, not {latest_seconds!r}")
        self._send_all = send_all
        self._frames = []
        self._clock = clock
        self.lock = threading.RLock()
        # Bound once: they run for every frame.
        self._acquire = self.lock.acquire
        self._release = self.lock.release
        self.before_send = None
        self._latest_ns = <int64_t>(latest_seconds * 1e9)
        self._deadline = NULL

    def __dealloc__(self):
        # The watcher holds a reference to self while it waits.
        del self._deadline

    def __bool__(self):
        return bool(self._frames) or self._expecting

    def add(self, frames, bint later) -> None:
        """Adds frames (a list); later: they may wait for the next send."""
        cdef int64_t now
        cdef bint first
        self._acquire()
        try:
            now = self._now()
            first = not self._frames and not self._expecting
            if first:
                self._since = now
            self._frames.extend(frames)
            if (not later or len(self._frames) >= MOST_FRAMES
                    or now - self._since > OLDEST_NS):
                self._send_held()
            elif first:
                self._watch()
        finally:
            self._release()

    def send(self) -> None:
        """Sends every held frame now."""
        self._acquire()
        try:
            self._send_held()
        finally:
            self._release()

    def expect(self) -> None:
        """before_send has frames to add (lock held): they go at the latest
        OUTBOX_LATEST_SECONDS from now, or with an earlier send."""
        if not self._frames and not self._expecting:
            self._since = self._now()
            self._watch()
        self._expecting = True

    def due(self) -> bool:
        """Whether the held frames should go before anything else is done."""
        if not self._frames and not self._expecting:
            return False
        return len(self._frames) >= MOST_FRAMES or self._now() - self._since > OLDEST_NS

    cdef int64_t _now(self) except? -1:
        if self._clock is None:
            return monotonic_ns()
        return <int64_t>(self._clock() * 1e9)

    cdef int _send_held(self) except -1:
        if self.before_send is not None:
            self._frames.extend(self.before_send())
        self._expecting = False
        if self._armed:
            self._armed = 0
            self._deadline.disarm()
        if self._frames:
            self._send_all(b"".join(self._frames))
            del self._frames[:]
        return 0

    cdef int _watch(self) except -1:
        """Starts the held frames' deadline (lock held); the watcher thread
        starts with the first."""
        if self._deadline == NULL:
            self._deadline = new CDeadline(self._latest_ns)
            threading.Thread(target=self._send_when_old, name="fastray-outbox",
                             daemon=True).start()
        self._armed = self._deadline.arm()
        return 0

    def _send_when_old(self) -> None:
        """Sends what is held when its deadline passes with it still held."""
        cdef uint64_t overdue
        while True:
            with nogil:
                overdue = self._deadline.wait()
            if overdue == 0:
                return
            self._acquire()
            try:
                if overdue == self._armed:
                    self._send_held()
            finally:
                self._release()
