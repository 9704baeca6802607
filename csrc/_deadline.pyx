# cython: language_level=3
"""A deadline watched without the GIL (csrc/deadline.hpp).

A worker holds results back for a moment, and a threaded actor's reader
runs calls itself; in both, a Python thread must act if the moment grows
long.  A thread that slept and looked every few hundred microseconds took
the GIL each time, and on every look had to win it from the thread doing
the work: at tens of thousands of calls a second that cost a tenth of the
throughput.  Here the watching thread waits inside C with the GIL released
and comes back to Python only when a deadline has really passed."""
from libc.stdint cimport int64_t, uint64_t

from deadline cimport CDeadline


cdef class Deadline:
    """arm() starts a deadline `seconds` from now; wait(), in the one thread
    that watches, returns when one passes with no arm() or disarm() since."""

    cdef CDeadline *_deadline

    def __cinit__(self, double seconds):
        if not seconds > 0:
            raise ValueError(f"a deadline needs a positive delay, not {seconds!r}")
        self._deadline = new CDeadline(<int64_t>(seconds * 1e9))

    def __dealloc__(self):
        # Nobody waits: a waiting thread holds a reference to self.
        del self._deadline

    def arm(self) -> int:
        """Starts a deadline (replacing one armed); its generation, never 0."""
        return self._deadline.arm()

    def disarm(self) -> None:
        self._deadline.disarm()

    def close(self) -> None:
        """Ends the watch: wait() returns 0."""
        self._deadline.close()

    def wait(self) -> int:
        """Blocks, without the GIL, until an armed deadline passes; returns
        its generation (it is disarmed), or 0 once closed."""
        cdef uint64_t generation
        with nogil:
            generation = self._deadline.wait()
        return generation
