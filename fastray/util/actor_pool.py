"""Ray's ``ray.util.ActorPool``: spreads calls over a fixed set of actors.

The pool only schedules: ``fn(actor, value)`` makes the call and returns its
ObjectRef, and the actor counts as busy until that ref is collected.  Each
call gets an index in the order it went out, so ``get_next`` can return
results in submission order while ``get_next_unordered`` takes whichever is
done first.  A value submitted while every actor is busy waits in the pool
and goes out, in order, as soon as an actor is handed back.
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterable, Iterator, TypeVar

from .. import api
from ..object_ref import ObjectRef

V = TypeVar("V")
CallFn = Callable[[Any, V], ObjectRef]

_TIMED_OUT = "Timed out waiting for result"


class ActorPool:
    """A fixed pool of actors that ``map``/``submit`` spread calls over."""

    def __init__(self, actors: Iterable[Any]) -> None:
        self._idle_actors: list[Any] = list(actors)
        self._call_of_ref: dict[ObjectRef, tuple[int, Any]] = {}   # ref -> (index, actor)
        self._ref_of_index: dict[int, ObjectRef] = {}
        self._next_task_index = 0
        self._next_return_index = 0
        self._queued: deque[tuple[CallFn, Any]] = deque()

    # -- submitting

    def map(self, fn: CallFn, values: Iterable[V]) -> Iterator[Any]:
        """Results of ``fn(actor, value)`` for each value, in order.  Results
        still pending from earlier submits are discarded first (as Ray)."""
        self._discard_pending()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next()

    def map_unordered(self, fn: CallFn, values: Iterable[V]) -> Iterator[Any]:
        """Like ``map``, but yields each result as soon as it is done."""
        self._discard_pending()
        for value in values:
            self.submit(fn, value)
        while self.has_next():
            yield self.get_next_unordered()

    def submit(self, fn: CallFn, value: V) -> None:
        """Calls ``fn(actor, value)`` on an idle actor, or queues the value
        until one is handed back."""
        if not callable(fn):
            raise TypeError(f"fn must be a callable taking (actor, value), got {fn!r}")
        if not self._idle_actors:
            self._queued.append((fn, value))
            return
        actor = self._idle_actors.pop()
        try:
            ref = fn(actor, value)
        except BaseException:
            self._idle_actors.append(actor)
            raise
        if not isinstance(ref, ObjectRef):
            self._idle_actors.append(actor)
            raise TypeError(f"fn must return the ObjectRef of the call it made (like "
                            f"actor.method.remote(value)), got {type(ref).__name__}")
        self._call_of_ref[ref] = (self._next_task_index, actor)
        self._ref_of_index[self._next_task_index] = ref
        self._next_task_index += 1

    # -- collecting

    def has_next(self) -> bool:
        """Whether any call's result has not been returned yet."""
        return bool(self._call_of_ref)

    def get_next(self, timeout: float | None = None, ignore_if_timedout: bool = False) -> Any:
        """The next result in submission order.

        Raises TimeoutError if it is not ready within timeout seconds; with
        ignore_if_timedout=True that call is dropped (its actor goes back to
        the pool) instead of staying next in line.
        """
        if not self.has_next():
            raise StopIteration("No more results to get")
        ref = self._ref_of_index.get(self._next_return_index)
        if ref is None:
            raise ValueError("It is not allowed to call get_next() after "
                             "get_next_unordered().")
        if timeout is not None:
            ready, _ = api.wait([ref], timeout=timeout)
            if not ready:
                self._time_out(ref, ignore_if_timedout)
        self._collect(ref)
        return api.get(ref)

    def get_next_unordered(self, timeout: float | None = None,
                           ignore_if_timedout: bool = False) -> Any:
        """Whichever pending result is done first.

        Raises TimeoutError if none is ready within timeout seconds; with
        ignore_if_timedout=True the oldest pending call is dropped.
        """
        if not self.has_next():
            raise StopIteration("No more results to get")
        ready, _ = api.wait(list(self._call_of_ref), num_returns=1, timeout=timeout)
        if not ready:
            oldest = min(self._call_of_ref, key=lambda ref: self._call_of_ref[ref][0])
            self._time_out(oldest, ignore_if_timedout)
        ref = ready[0]
        self._collect(ref)
        return api.get(ref)

    def _time_out(self, ref: ObjectRef, ignore: bool) -> None:
        if not ignore:
            raise TimeoutError(_TIMED_OUT)
        self._collect(ref)
        raise TimeoutError(f"{_TIMED_OUT}. The task {ref} has been ignored.")

    def _collect(self, ref: ObjectRef) -> None:
        """Takes a call off the books and hands its actor back, even when
        the call failed: the actor serves the next call."""
        index, actor = self._call_of_ref.pop(ref)
        del self._ref_of_index[index]
        self._next_return_index = max(self._next_return_index, index + 1)
        self._return_actor(actor)

    def _discard_pending(self) -> None:
        while self.has_next():
            try:
                self.get_next_unordered(timeout=0, ignore_if_timedout=True)
            except TimeoutError:
                pass

    # -- the actors

    def has_free(self) -> bool:
        """Whether an actor is idle and no value is waiting for one."""
        return bool(self._idle_actors) and not self._queued

    def pop_idle(self) -> Any | None:
        """Takes an idle actor out of the pool; None if none is free."""
        return self._idle_actors.pop() if self.has_free() else None

    def push(self, actor: Any) -> None:
        """Adds an actor to the pool as idle (it serves a queued value at once)."""
        busy = [busy_actor for _, busy_actor in self._call_of_ref.values()]
        if actor in self._idle_actors or actor in busy:
            raise ValueError("Actor already belongs to current ActorPool")
        self._return_actor(actor)

    def _return_actor(self, actor: Any) -> None:
        self._idle_actors.append(actor)
        if self._queued:
            self.submit(*self._queued.popleft())
