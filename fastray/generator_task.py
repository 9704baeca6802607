"""The task's side of a streaming generator: the yielded values go into
the store in batches, one per send of the worker's outbox, each batch with
the link the caller follows to it (the protocol is told in
fastray/generators.py).

A value is serialized as soon as it is yielded and waits for the outbox's
next send, which puts the values made since the last one (one PUT_MANY
frame) and links them.  The outbox sends at the latest
OUTBOX_LATEST_SECONDS after a value came, so a value never waits for the
next yield, however long the generator takes to make it.

This process holds the link it will set next and the acks it has not
waited for: if it dies, the scheduler fails the unset link, and the caller
turns to the stream of the task's next attempt.
"""
from __future__ import annotations

import collections
import struct
import threading
from typing import TYPE_CHECKING, Any, AsyncIterable, Iterable

from . import wire
from .object_ref import ObjectRef
from .serialization import serialize, serialize_error
from .wire import HEADER, pack_ids, refs_frame

# Values made at most before the outbox sends them (and their link) anyway.
MOST_UNSENT = 256
# A value's id and its payload's length in a PUT_MANY body.
_U64 = struct.Struct("<Q")

if TYPE_CHECKING:
    from .worker import WorkerBackend


class ValueStream:
    """Sends one generator task's values and links.  The lock is the
    outbox's: a value's frame and its place in the next link are added
    together, and links are made while the outbox sends, from whichever
    thread sends."""

    def __init__(self, worker: WorkerBackend, roots: tuple[int, ...], release: int,
                 backpressure: int) -> None:
        self._worker = worker
        self._outbox = worker.connection.outbox
        self._lock: threading.RLock = self._outbox.lock
        self._roots = roots
        self._link = 0
        self._release = release
        self._bound = backpressure
        # Values made since the last send: (id, payload, ids it contains).
        self._unsent: list[tuple[int, bytes, list[int]]] = []
        self._linked = 0
        # (values linked when the ack was made, ack id), oldest first.
        self._acks: collections.deque[tuple[int, int]] = collections.deque()
        self._acked_count = 0
        self._ended = False

    def run(self, values: Iterable[Any], name: str) -> None:
        """Sends what values yields; an exception it raises becomes the
        last value, whose get raises it."""
        if not self._start():
            for _ in values:  # nobody reads the values: the task still runs
                pass
            return
        try:
            try:
                for value in values:
                    self._add(serialize(value, self._worker))
                    del value
                    ack = self._ack_to_wait_for()
                    while ack is not None:
                        states, _ = self._worker._wait([ack, self._release], 1, None, False,
                                                       False)
                        ack = self._acked(states[1] != wire.OBJ_PENDING)
            except Exception as exc:
                self._add((serialize_error(exc, name), [], []))
            self._finish()
        finally:
            self._stop()

    async def run_async(self, values: AsyncIterable[Any], name: str) -> None:
        """run() for an async generator, on an async actor's loop."""
        import asyncio  # loaded already by that loop; not by every worker
        if not self._start():
            async for _ in values:
                pass
            return
        try:
            try:
                async for value in values:
                    self._add(serialize(value, self._worker))
                    del value
                    ack = self._ack_to_wait_for()
                    while ack is not None:
                        released = self._worker.future(ObjectRef(self._release))
                        await asyncio.wait([asyncio.wrap_future(self._worker.future(
                            ObjectRef(ack))), asyncio.wrap_future(released)],
                            return_when=asyncio.FIRST_COMPLETED)
                        ack = self._acked(released.done())
            except Exception as exc:
                self._add((serialize_error(exc, name), [], []))
            self._finish()
        finally:
            self._stop()

    def _start(self) -> bool:
        """Takes the first unset root (an earlier attempt of the task set or
        failed the ones before it) and holds it; False if none is left."""
        states, _ = self._worker._wait(list(self._roots), 0, None, False, False)
        for root, root_state in zip(self._roots, states):
            if root_state == wire.OBJ_PENDING:
                self._link = root
                self._outbox.add([refs_frame([root], [], [])], True)
                self._outbox.before_send = self._link_frames
                return True
        return False

    def _add(self, serialized: tuple[bytes, list[int], list[int]]) -> None:
        payload, contained, created = serialized
        worker = self._worker
        if contained:
            worker.send_outbox(later=True)  # the references it names go first
        with self._lock:
            self._unsent.append((worker._next_ids(1), payload, contained))
            self._outbox.expect()
            full = len(self._unsent) >= MOST_UNSENT
        if full or created:
            # Blobs made for it are let go just below: it must be put first.
            self._outbox.send()
        if created:
            worker.drop_created(created)

    def _ack_to_wait_for(self) -> int | None:
        """The ack to wait for while the caller is the bound or more values
        behind; None: go on."""
        if self._linked + len(self._unsent) - self._acked_count < self._bound - 64:
            return None  # far from the bound: no need to look closer (or lock)
        while self._bound >= 0:
            with self._lock:
                if self._linked + len(self._unsent) - self._acked_count < self._bound:
                    return None
                if self._acks:
                    return self._acks[0][1]
            self._outbox.send()  # links what is unlinked, with its ack
        return None

    def _acked(self, released: bool) -> int | None:
        """The oldest ack is set (or released: the caller let go of the
        generator, so no more pausing); returns the next to wait for."""
        with self._lock:
            if released:
                self._bound = -1
            count, ack = self._acks.popleft()
            self._acked_count = count
        self._worker.decref(ack)
        return self._ack_to_wait_for()

    def _link_frames(self) -> list[bytes]:
        """The frames that put the values made since the last send and link
        them (called by the outbox as it sends, its lock held)."""
        if not self._unsent or self._ended:
            return []
        ids = [value[0] for value in self._unsent]
        frames = [self._put_frame()]
        next_link = self._worker._next_ids(2)
        ack = next_link + 1
        self._linked += len(ids)
        self._acks.append((self._linked, ack))
        frames.append(HEADER.pack(0, wire.PROMISE, next_link, 2))
        frames += self._set_link((ids, next_link, ack), ids + [next_link, ack])
        self._link = next_link
        return frames

    def _put_frame(self) -> bytes:
        """A PUT_MANY frame of the unsent values, which it takes."""
        parts = [struct.pack("<I", len(self._unsent))]
        for object_id, payload, contained in self._unsent:
            parts += [_U64.pack(object_id), pack_ids(contained), _U64.pack(len(payload)),
                      payload]
        self._unsent = []
        body = b"".join(parts)
        return HEADER.pack(len(body), wire.PUT_MANY, 0, 0) + body

    def _set_link(self, value: tuple, contained: list[int]) -> list[bytes]:
        """Frames that set the current link and drop this process's holds on
        it and on the values it names."""
        payload = serialize(value, self._worker)[0]
        body = pack_ids(contained) + payload
        return [HEADER.pack(len(body), wire.PUT, self._link, 0), body,
                refs_frame([], list(value[0]) + [self._link], [])]

    def _finish(self) -> None:
        """Puts and links the last values and ends the stream, now."""
        with self._lock:
            ids = [value[0] for value in self._unsent]
            frames = [self._put_frame()] if ids else []
            self._ended = True
            self._outbox.add(frames + self._set_link((ids, 0, 0), ids), False)

    def _stop(self) -> None:
        """Drops this process's holds on the acks it still had and, if the
        stream did not end (the task was interrupted), on its unset link;
        values not sent yet are never sent."""
        with self._lock:
            self._outbox.before_send = None
            dropped = [ack for _, ack in self._acks]
            self._acks.clear()
            if not self._ended:
                dropped.append(self._link)
                self._unsent = []
                self._ended = True
            if dropped:
                self._outbox.add([refs_frame([], dropped, [])], True)
