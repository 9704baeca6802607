"""Ray's ``ray.util.queue``: a FIFO queue shared by the driver, tasks and
actors.

The items live in an async actor holding an ``asyncio.Queue``, so a call
blocked in ``get`` or ``put`` waits inside the actor without holding up the
others.  A ``Queue`` object is only a handle to that actor plus its maxsize:
pickled into a task or an actor, it reaches the same queue.  The actor
answers "empty" and "full" as values, and the caller raises ``Empty`` or
``Full`` itself, so they arrive as plain exceptions of those classes.
"""
from __future__ import annotations

import asyncio
import queue
from collections.abc import Iterable
from typing import Any

from .. import api
from ..remote_function import remote

__all__ = ["Empty", "Full", "Queue"]


class Empty(queue.Empty):
    """The queue had no item to get (or not as many as asked for)."""


class Full(queue.Full):
    """The queue had no room for the item(s)."""


class _QueueActor:
    """The actor that holds the items."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)

    def qsize(self) -> int:
        return self.queue.qsize()

    def empty(self) -> bool:
        return self.queue.empty()

    def full(self) -> bool:
        return self.queue.full()

    async def put(self, item: Any, timeout: float | None = None) -> bool:
        """Whether the item went in within timeout seconds."""
        try:
            await asyncio.wait_for(self.queue.put(item), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    async def get(self, timeout: float | None = None) -> tuple[bool, Any]:
        """(True, item), or (False, None) if none came within timeout seconds."""
        try:
            return True, await asyncio.wait_for(self.queue.get(), timeout)
        except asyncio.TimeoutError:
            return False, None

    def put_nowait(self, item: Any) -> bool:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    def put_nowait_batch(self, items: list[Any]) -> str | None:
        if self.maxsize > 0 and len(items) + self.qsize() > self.maxsize:
            return (f"Cannot add {len(items)} items to queue of size {self.qsize()} and "
                    f"maxsize {self.maxsize}.")
        for item in items:
            self.queue.put_nowait(item)
        return None

    def get_nowait(self) -> tuple[bool, Any]:
        try:
            return True, self.queue.get_nowait()
        except asyncio.QueueEmpty:
            return False, None

    def get_nowait_batch(self, num_items: int) -> list[Any] | str:
        if num_items > self.qsize():
            return f"Cannot get {num_items} items from queue of size {self.qsize()}."
        return [self.queue.get_nowait() for _ in range(num_items)]


_QueueActorClass: Any = None


def _actor_class() -> Any:
    """``@remote`` of the actor class, made on first use so that importing
    this module starts nothing."""
    global _QueueActorClass
    if _QueueActorClass is None:
        _QueueActorClass = remote(_QueueActor)
    return _QueueActorClass


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
        raise TypeError(f"'timeout' must be a number of seconds or None, got {timeout!r}")
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout


def _got(answer: tuple[bool, Any]) -> Any:
    found, item = answer
    if not found:
        raise Empty()
    return item


def _put(went_in: bool) -> None:
    if not went_in:
        raise Full()


class Queue:
    """A first-in, first-out queue on an actor, like ``asyncio.Queue``.

    maxsize <= 0 means unbounded.  actor_options go to the actor's
    ``.options(...)`` (for example ``{"num_cpus": 1}``).
    """

    def __init__(self, maxsize: int = 0, actor_options: dict[str, Any] | None = None) -> None:
        if not isinstance(maxsize, int) or isinstance(maxsize, bool):
            raise TypeError(f"maxsize must be an int (0 or less: unbounded), got {maxsize!r}")
        if actor_options is not None and not isinstance(actor_options, dict):
            raise TypeError(f"actor_options must be a dict of actor options, got "
                            f"{type(actor_options).__name__}")
        self.maxsize = maxsize
        self.actor: Any = _actor_class().options(**(actor_options or {})).remote(maxsize)

    def _actor(self) -> Any:
        if self.actor is None:
            raise RuntimeError("this Queue was shut down; create a new Queue")
        return self.actor

    def __len__(self) -> int:
        return self.size()

    def size(self) -> int:
        """The number of items in the queue."""
        return api.get(self._actor().qsize.remote())

    def qsize(self) -> int:
        """The number of items in the queue."""
        return self.size()

    def empty(self) -> bool:
        return api.get(self._actor().empty.remote())

    def full(self) -> bool:
        return api.get(self._actor().full.remote())

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        """Adds an item; when full, waits up to timeout seconds (forever if
        None) for room, then raises Full.  block=False raises Full at once."""
        _put(api.get(self._put_call(item, block, timeout)))

    async def put_async(self, item: Any, block: bool = True,
                        timeout: float | None = None) -> None:
        """``put`` for coroutines: awaits instead of blocking the thread."""
        _put(await self._put_call(item, block, timeout))

    def _put_call(self, item: Any, block: bool, timeout: float | None) -> Any:
        if not block:
            return self._actor().put_nowait.remote(item)
        return self._actor().put.remote(item, _check_timeout(timeout))

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Removes and returns the oldest item; when empty, waits up to
        timeout seconds (forever if None), then raises Empty.  block=False
        raises Empty at once."""
        return _got(api.get(self._get_call(block, timeout)))

    async def get_async(self, block: bool = True, timeout: float | None = None) -> Any:
        """``get`` for coroutines: awaits instead of blocking the thread."""
        return _got(await self._get_call(block, timeout))

    def _get_call(self, block: bool, timeout: float | None) -> Any:
        if not block:
            return self._actor().get_nowait.remote()
        return self._actor().get.remote(_check_timeout(timeout))

    def put_nowait(self, item: Any) -> None:
        """``put(item, block=False)``."""
        self.put(item, block=False)

    def put_nowait_batch(self, items: Iterable[Any]) -> None:
        """Adds all items in order, or none (raising Full) if they do not all fit."""
        if not isinstance(items, Iterable):
            raise TypeError(f"Argument 'items' must be an Iterable, got "
                            f"{type(items).__name__}")
        refusal = api.get(self._actor().put_nowait_batch.remote(list(items)))
        if refusal is not None:
            raise Full(refusal)

    def get_nowait(self) -> Any:
        """``get(block=False)``."""
        return self.get(block=False)

    def get_nowait_batch(self, num_items: int) -> list[Any]:
        """Removes and returns num_items items in order, or none (raising
        Empty) if the queue holds fewer."""
        if not isinstance(num_items, int) or isinstance(num_items, bool):
            raise TypeError(f"Argument 'num_items' must be an int, got {num_items!r}")
        if num_items < 0:
            raise ValueError("'num_items' must be nonnegative")
        answer = api.get(self._actor().get_nowait_batch.remote(num_items))
        if isinstance(answer, str):
            raise Empty(answer)
        return answer

    def shutdown(self, force: bool = False, grace_period_s: int = 5) -> None:
        """Ends the queue's actor, dropping any items left.  Unless force,
        the actor is asked to exit and gets grace_period_s seconds to do so
        before it is killed.  Copies of this Queue elsewhere fail from then on."""
        actor, self.actor = self.actor, None
        if actor is None:
            return
        if not force:
            exited = actor.__ray_terminate__.remote()
            api.wait([exited], timeout=grace_period_s)
        api.kill(actor)
