"""An async actor's event loop.  A call costs the actor's process mostly
Python: so the loop starts a call as it arrives, inside its task, and
reads its own socket without a pass of asyncio's machinery when nothing
else is ready; a call that never waits then ends and its result goes out
before the loop looks for I/O again."""
from __future__ import annotations

import asyncio
import collections
import contextvars
import selectors
import sys
import time
from typing import Any, Callable

from .connection import SPIN_SECONDS


class CallLimit:
    """How many more calls of a concurrency group may run on the loop: a
    counter while there is room (an asyncio.Semaphore's ``async with`` cost
    a few microseconds on every call), and the calls waiting, in order,
    when there is none."""

    __slots__ = ("free", "waiting")

    def __init__(self, limit: int) -> None:
        self.free = limit
        self.waiting: collections.deque[asyncio.Future] = collections.deque()

    async def room(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Waits for a running call to hand over its place; False if the
        waiting call was cancelled first."""
        handed = loop.create_future()
        self.waiting.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self.release()   # handed over as the cancel came: pass it on
            return False
        return True

    def release(self) -> None:
        """A call ended: the first waiting call takes its place."""
        while self.waiting:
            handed = self.waiting.popleft()
            if not handed.done():
                handed.set_result(None)
                return
        self.free += 1


class CallsLoop(asyncio.SelectorEventLoop):
    """The loop of an async actor's calls.

    start_call() starts a call up to its first real wait, inside its task:
    most calls never wait, and then end with no pass of the loop.  From
    3.12 asyncio's eager task factory does so for every task.  3.11's tasks
    take their first step on the loop's next pass; there start_call takes
    it at once for a call that comes alone with nothing waiting to start
    (what came before it starts first), and leaves a batch of calls to
    start together on the next pass.

    serve() runs the loop over the actor's socket.  send_held sends the
    results held back: before the loop looks for I/O, and after a read
    that left nothing else to run in the pass."""

    _first_step_now = False

    def __init__(self, send_held: Callable[[], None]) -> None:
        super().__init__(_SpinningSelector(self))
        self.send_held = send_held
        self.socket_fd = -1
        self._on_readable: Callable[[], None] = _nothing
        if sys.version_info >= (3, 12):
            self.set_task_factory(asyncio.eager_task_factory)

    def serve(self, fd: int, on_readable: Callable[[], None]) -> None:
        """Runs until stop(), calling on_readable whenever fd has data (and
        once at the start, for what was read before)."""
        self.socket_fd, self._on_readable = fd, on_readable
        self.add_reader(fd, on_readable)
        self.call_soon(on_readable)
        self.run_forever()

    def read_socket_now(self) -> None:
        """on_readable called by the selector itself, when the socket is
        the only file ready (as a reader's handle would be run, without the
        pass of the loop that runs it)."""
        try:
            self._on_readable()
        except Exception as exc:  # as Handle._run: reported, the loop goes on
            self.call_exception_handler({"message": "Exception in the actor's reader",
                                         "exception": exc})
        if not self.more_to_run():
            self.send_held()

    def more_to_run(self) -> bool:
        """Whether callbacks are due in this pass of the loop (or the next)."""
        return bool(self._ready)  # type: ignore[attr-defined]

    def call_soon(self, callback: Callable[..., object], *args: Any,  # type: ignore[override]
                  context: contextvars.Context | None = None) -> asyncio.Handle:
        if self._first_step_now:   # a new task's Task() asking for its first step
            self._first_step_now = False
            if context is not None:
                context.run(callback, *args)
            else:
                callback(*args)
            return None  # type: ignore[return-value]  # Task() drops it
        return super().call_soon(callback, *args, context=context)

    def start_call(self, coroutine: Any, more_coming: bool) -> asyncio.Task:
        """A task for a call; more_coming: another frame has arrived behind it."""
        if (sys.version_info >= (3, 12) or more_coming
                or self._ready  # type: ignore[attr-defined]  # due on the next pass
                or asyncio.current_task(self) is not None):
            return self.create_task(coroutine)
        self._first_step_now = True
        try:
            return self.create_task(coroutine)
        finally:
            self._first_step_now = False


def _nothing() -> None:
    pass


class _SpinningSelector(selectors.EpollSelector):
    """Sends the held results at the start of each pass of the loop, then
    looks for I/O; looks again for a few tens of microseconds before the
    loop sleeps: a caller's next call often comes that soon, sooner than a
    wake-up (the task worker's socket reads do the same).  When the actor's
    socket is all that is ready, it is read here, at once."""

    def __init__(self, loop: CallsLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list:
        loop = self._loop
        loop.send_held()
        poll = self._selector.poll  # type: ignore[attr-defined]  # the epoll object
        ready = poll(0)
        if not ready and (timeout is None or timeout > 0):
            # Never past the loop's next timer.
            give_up = time.perf_counter() + (SPIN_SECONDS if timeout is None
                                             else min(SPIN_SECONDS, timeout))
            while not ready and time.perf_counter() < give_up:
                ready = poll(0)
            if not ready:
                ready = poll(-1 if timeout is None else timeout)
        if not ready:
            return []
        if len(ready) == 1 and ready[0][0] == loop.socket_fd:
            loop.read_socket_now()
            return []
        # Other files too: asyncio's own way, which sees the same events.
        return super().select(0)
