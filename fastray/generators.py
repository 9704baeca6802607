"""The caller's side of generator tasks: the refs to the values a task
yields, as it yields them (``ObjectRefGenerator``, Ray's default for a
generator function), or all at once (``DynamicObjectRefGenerator``).

How the values travel (the task's side is fastray/generator_task.py): the
caller makes promises, objects that stay pending until somebody puts their
value: the first *link* of the stream, its *release*, and one more first
link for each retry of the task.  The task puts each value as an object of
its own, then sets the current link to ``(value ids, id of the next link,
id of an ack)``, a batch at a time.  The caller reads link after link, and
sets each ack once it has read its link: the task pauses when it is more
than the backpressure bound ahead of the acks.  Dropping the generator
early sets the release, and the task then runs to its end without pausing,
as Ray's does.

Only the caller holds the links it has not read: the task's arguments
carry plain ids, so read links and their values go as soon as the caller
moves on.  If the task's process dies, its unset link fails; a retry of
the task streams from the next first link, and the caller skips the values
it has already.
"""
from __future__ import annotations

import collections
import time
from typing import Any, Callable, Iterator, Sequence

from . import state
from .exceptions import GetTimeoutError
from .call_extras import with_extras
from .object_ref import ObjectRef, RaysToo

# Retries of a task whose values are not sent again: after that many, a
# retry's values go unread, and its crash is the stream's last value.
MOST_RETRIED_STREAMS = 4


class ObjectRefGenerator(metaclass=RaysToo):
    """The refs to a generator task's values, in the order it yields them.

    ``next(gen)`` blocks until the next value is there; ``async for`` and
    ``wait([gen])`` wait without blocking.  An exception the task raises
    comes as a ref whose ``get`` raises it, after the values yielded before
    it; so does a crash or a cancel of the task."""

    def __init__(self, completed: ObjectRef, roots: list[ObjectRef], release: ObjectRef) -> None:
        self._completed = completed
        self._link: ObjectRef | None = roots[0]
        self._next_roots = collections.deque(roots[1:])
        self._release: ObjectRef | None = release
        self._refs: collections.deque[ObjectRef] = collections.deque()
        self._received = 0
        self._skip = 0
        self._generation = state.generation

    def __iter__(self) -> ObjectRefGenerator:
        return self

    def __next__(self) -> ObjectRef:
        while not self._refs:
            if self._link is None:
                raise StopIteration
            self._advance(None)
        return self._refs.popleft()

    def __aiter__(self) -> ObjectRefGenerator:
        return self

    async def __anext__(self) -> ObjectRef:
        import asyncio  # loaded already by the loop that runs this; not by every program
        while not self._refs:
            link = self._link
            if link is None:
                raise StopAsyncIteration
            futures = [asyncio.wrap_future(link.future()),
                       asyncio.wrap_future(self._completed.future())]
            await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)
            for future in futures:
                if future.done():
                    future.exception()  # seen here: its error comes as a ref
                else:
                    future.cancel()
            self._advance(0.0)
        return self._refs.popleft()

    def completed(self) -> ObjectRef:
        """A ref that is ready once the task has ended (Ray's name)."""
        return self._completed

    def next_ready(self) -> bool:
        """Whether next() would return at once (a value or the end)."""
        if not self._refs and self._link is not None:
            self._advance(0.0)
        return bool(self._refs) or self._link is None

    def waitables(self) -> list[ObjectRef]:
        """The refs one of which turns ready when next() may go on."""
        return [] if self._link is None else [self._link, self._completed]

    def _advance(self, timeout: float | None) -> None:
        """Reads the current link if it is set (waiting up to timeout, None:
        for ever); if the task ended without setting it, its error is the
        next ref and the stream ends."""
        link = self._link
        assert link is not None
        backend: Any = state.require_backend()
        waited = [link, self._completed]
        split = backend.wait_ready(waited, 1)  # the quick check, when one is ready
        ready = split[0] if split is not None else backend.wait(waited, 1, timeout)[0]
        if link in ready:
            try:
                item_ids, next_id, ack_id = backend.get([link], None)[0]
            except Exception:  # its writer died
                self._writer_died(backend, link)
                return
            self._take(item_ids)
            if next_id:
                self._link = ObjectRef(next_id)
                backend.fulfil(ack_id, None)
            else:
                self._end()
        elif ready:
            if _failed(backend, self._completed):
                self._refs.append(self._completed)
            self._end()

    def _take(self, item_ids: list[int]) -> None:
        """Refs to the values a link names, but for those a crashed attempt
        of the task sent already."""
        skipped = min(self._skip, len(item_ids))
        self._skip -= skipped
        backend: Any = state.require_backend()
        self._refs.extend(backend.take_refs(item_ids[skipped:]))
        self._received += len(item_ids) - skipped

    def _writer_died(self, backend: Any, link: ObjectRef) -> None:
        """The task's process died before setting link: the task failed
        (its error ends the stream), or its next attempt streams anew."""
        if _failed(backend, self._completed):
            self._refs.append(self._completed)
        elif self._next_roots:
            self._link = self._next_roots.popleft()
            self._skip = self._received
            return
        else:
            self._refs.append(link)
        self._end()

    def _end(self) -> None:
        self._link = self._release = None
        self._next_roots.clear()

    def __del__(self) -> None:
        """Dropped before its end: the task may run on without pausing."""
        release = self._release
        backend: Any = state.backend
        if release is not None and backend is not None and self._generation == state.generation:
            try:
                backend.fulfil(release.id, None)
            except Exception:  # the runtime is shutting down: nothing to release
                pass

    def __reduce__(self):
        raise TypeError("an ObjectRefGenerator cannot be passed to a task or stored; iterate "
                        "it here and pass the refs it gives")

    def __repr__(self) -> str:
        return f"ObjectRefGenerator({self._completed.hex()})"


def _failed(backend: Any, ref: ObjectRef) -> bool:
    """Whether ref is ready with an error (not pending, not a value)."""
    try:
        backend.get([ref], 0.0)
    except GetTimeoutError:
        return False
    except Exception:
        return True
    return False


class DynamicObjectRefGenerator(metaclass=RaysToo):
    """What a ``num_returns="dynamic"`` task's one ref holds: the refs to the
    values it yielded (Ray's deprecated form of generator task)."""

    def __init__(self, refs: list[ObjectRef]) -> None:
        self._refs = refs

    def __iter__(self) -> Iterator[ObjectRef]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def __reduce__(self):
        return (DynamicObjectRefGenerator, (self._refs,))

    def __repr__(self) -> str:
        return f"DynamicObjectRefGenerator({len(self._refs)} refs)"


def start_stream(backend: Any, submit: Callable[[dict], list[ObjectRef]], kwargs: dict,
                 max_retries: int, backpressure: int) -> ObjectRefGenerator:
    """Submits a streaming generator task (submit takes the call's keyword
    arguments) with its first links and release."""
    retried = MOST_RETRIED_STREAMS if max_retries < 0 else min(max_retries,
                                                                MOST_RETRIED_STREAMS)
    release, *roots = backend.promises(2 + retried)
    stream = (tuple(root.id for root in roots), release.id, backpressure)
    refs = submit(with_extras(kwargs, stream=stream))
    return ObjectRefGenerator(refs[0], roots, release)


def wait_with_generators(backend: Any, waitables: Sequence[Any], num_returns: int,
                         timeout: float | None) -> tuple[list[Any], list[Any]]:
    """wait() over refs and generators: a generator is ready when its next
    value (or its end) is there.  Waits on each generator's current link and
    end, and on the refs, until num_returns are ready or timeout passes."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        refs = [w for w in waitables if isinstance(w, ObjectRef)]
        done = set(backend.wait(refs, len(refs), 0.0)[0]) if refs else set()
        ready_flags = [w in done if isinstance(w, ObjectRef) else w.next_ready()
                       for w in waitables]
        remaining = None if deadline is None else deadline - time.monotonic()
        if sum(ready_flags) >= num_returns or (remaining is not None and remaining <= 0):
            break
        pending = [r for w, ok in zip(waitables, ready_flags) if not ok
                   for r in (w.waitables() if isinstance(w, ObjectRefGenerator) else [w])]
        backend.wait(list(dict.fromkeys(pending)), 1, remaining)
    ready: list[Any] = []
    not_ready: list[Any] = []
    for waitable, ok in zip(waitables, ready_flags):
        (ready if ok and len(ready) < num_returns else not_ready).append(waitable)
    return ready, not_ready
