"""Turning values, task arguments and task errors into payloads and back.

A value is pickled with protocol 5, which hands out the large buffers
(numpy arrays, bytes, bytearrays; see pickler.py) out of band.  The payload is ``[u8 kind]
[u32 nparts] nparts x [u8 where, u64 size, u64 blob id, u64 offset]``
followed by the bytes of the inline parts; part 0 is the pickle stream, the
others are the out-of-band buffers.

Small values travel inline.  When a value's parts come to more than
``INLINE_LIMIT`` bytes, its large parts are copied once into a new blob of
the shared-memory store and the payload only says where they are; a reader
maps them as read-only buffers, so getting a stored array copies nothing.
A buffer that already lies in the store (an array from ``get`` passed on
again) is referenced where it is, not copied.  Pickling records every
ObjectRef and blob the value uses, so whoever stores the payload keeps them
alive as long as the value.
"""
from __future__ import annotations

import pickle
import struct
from typing import Any, Protocol

from . import wire
from ._store import BlobView, Mapping
from .object_ref import collecting_refs
from .exceptions import (ActorDiedError, ActorUnavailableError, ActorUnschedulableError,
                         ObjectLostError, ObjectStoreFullError, TaskCancelledError, TaskError,
                         TaskPlacementGroupRemoved, TaskUnschedulableError, WorkerCrashedError)

# Ray inlines task arguments and results up to 100 KiB; above that they go
# through its object store.  Parts smaller than a page stay inline even then.
INLINE_LIMIT = 100 * 1024
SMALL_PART = 4096
PART_ALIGN = 64

_U32 = struct.Struct("<I")
_PART = struct.Struct("<BQQQ")
_INLINE, _STORED = 0, 1
_ONE_INLINE_PART = struct.Struct("<BIBQQQ")   # the header of a small plain value
_NONE_PICKLE = pickle.dumps(None, protocol=5)
_NONE_PAYLOAD = (_ONE_INLINE_PART.pack(wire.PAYLOAD_VALUE, 1, _INLINE, len(_NONE_PICKLE), 0, 0)
                 + _NONE_PICKLE)
_PLAIN_TYPES = frozenset({int, float, str, bool, type(None)})
_PLAIN_KEY_TYPES = _PLAIN_TYPES | {bytes}

# What a reader gets for one object: the payload and a pinned view of each
# blob it uses (the views unpin when the last array made from them goes).
Fetched = tuple[bytes | memoryview, list[BlobView]]


class BlobStore(Protocol):
    """What serialization needs from the process's backend."""

    mapping: Mapping

    def allocate_blob(self, size: int) -> tuple[int, int]:
        """A new blob: (its id, its offset in the mapping).  The caller holds
        one reference to it until it calls drop_created."""

    def drop_created(self, blob_ids: list[int]) -> None: ...


def _is_plain(value: Any, depth: int = 3) -> bool:
    """Builtin scalars (bytes up to INLINE_LIMIT) and small containers of
    them: the C pickler writes exactly what cloudpickle would, with no refs
    or buffers to collect."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return True
    if kind is bytes:
        return len(value) <= INLINE_LIMIT   # a larger one goes out of band
    if depth == 0:
        return False
    # Loops, not all() over a generator: this runs for every task's arguments.
    if kind is tuple or kind is list:
        if len(value) > 16:
            return False
        for item in value:
            if type(item) not in _PLAIN_TYPES and not _is_plain(item, depth - 1):
                return False
        return True
    if kind is dict:
        if len(value) > 16:
            return False
        for key, item in value.items():
            if type(key) not in _PLAIN_KEY_TYPES or (
                    type(item) not in _PLAIN_TYPES and not _is_plain(item, depth - 1)):
                return False
        return True
    return False


def _dumps(value: Any, kind: int, store: BlobStore | None
           ) -> tuple[bytes, list[int], list[int]]:
    if value is None and kind == wire.PAYLOAD_VALUE:
        return _NONE_PAYLOAD, [], []   # what most tasks and method calls return
    kind_of_value = type(value)
    if (kind_of_value in _PLAIN_TYPES
            or (kind_of_value is bytes and len(value) <= INLINE_LIMIT) or _is_plain(value)):
        data = pickle.dumps(value, protocol=5)
        if len(data) <= INLINE_LIMIT:
            return _ONE_INLINE_PART.pack(kind, 1, _INLINE, len(data), 0, 0) + data, [], []
    # Imported here: a worker whose values are all plain never loads
    # cloudpickle, which is most of the first task's imports.
    from . import pickler
    buffers: list[pickle.PickleBuffer] = []
    with collecting_refs() as contained:
        data = pickler.dumps(value, buffers.append)
    raws = [memoryview(data)] + [b.raw() for b in buffers]
    parts: list[tuple[int, int, int, int] | None] = [None] * len(raws)
    created: list[int] = []
    if store is not None and len(raws) > 1:
        _reference_stored_parts(raws, parts, contained, store.mapping)
    try:
        if store is not None:
            _copy_large_parts(raws, parts, contained, created, store)
    except BaseException:
        if created and store is not None:
            store.drop_created(created)
        raise
    header = bytearray([kind]) + _U32.pack(len(raws))
    inline = []
    for raw, part in zip(raws, parts):
        if part is None:
            header += _PART.pack(_INLINE, raw.nbytes, 0, 0)
            inline.append(raw)
        else:
            header += _PART.pack(*part)
    return b"".join([header, *inline]), contained, created


def _reference_stored_parts(raws: list[memoryview], parts: list, contained: list[int],
                            mapping: Mapping) -> None:
    for i in range(1, len(raws)):
        found = mapping.find(raws[i])
        if found is not None:
            blob_id, offset = found
            parts[i] = (_STORED, raws[i].nbytes, blob_id, offset)
            contained.append(blob_id)


def _copy_large_parts(raws: list[memoryview], parts: list, contained: list[int],
                      created: list[int], store: BlobStore) -> None:
    """Writes the large parts of a large value into one new blob."""
    inline_size = sum(raw.nbytes for raw, part in zip(raws, parts) if part is None)
    if inline_size <= INLINE_LIMIT:
        return
    layout: list[tuple[int, int]] = []
    size = 0
    for i, (raw, part) in enumerate(zip(raws, parts)):
        if part is None and raw.nbytes >= SMALL_PART:
            layout.append((i, size))
            size += -(-raw.nbytes // PART_ALIGN) * PART_ALIGN
    blob_id, base = store.allocate_blob(size)
    created.append(blob_id)
    contained.append(blob_id)
    for i, offset in layout:
        store.mapping.write(base + offset, raws[i])
        parts[i] = (_STORED, raws[i].nbytes, blob_id, offset)


def serialize(value: Any, store: BlobStore | None) -> tuple[bytes, list[int], list[int]]:
    """The payload of a value, the ids of the refs and blobs it uses, and
    the blobs created for it (the caller drops them once the payload is
    stored).  Raises TypeError naming the value when it cannot be pickled."""
    try:
        return _dumps(value, wire.PAYLOAD_VALUE, store)
    except ObjectStoreFullError:
        raise
    except Exception as exc:
        where = _culprit(value)
        part = f" (its part {where[0]}, {_describe(where[1])})" if where else ""
        raise TypeError(f"could not serialize {_describe(value)}{part}: {exc}") from exc


def _children(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [(f"[{key!r}]", item) for key, item in value.items()]
    if isinstance(value, (list, tuple)):
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return [("{...}", item) for item in value]
    attributes = getattr(value, "__dict__", None)
    if isinstance(attributes, dict):
        return [(f".{name}", item) for name, item in attributes.items()]
    return []


def _culprit(value: Any, depth: int = 6) -> tuple[str, Any] | None:
    """The innermost part of a value that cannot be pickled on its own, with
    its path (``[2]['key'].attr``), so the error says which object it is."""
    if depth == 0:
        return None
    import cloudpickle
    for path, child in _children(value)[:1000]:
        try:
            cloudpickle.dumps(child, protocol=5, buffer_callback=lambda _: None)
        except Exception:
            inner = _culprit(child, depth - 1)
            return (path + inner[0], inner[1]) if inner else (path, child)
    return None


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = object.__repr__(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _loads(payload: bytes | memoryview, views: list[BlobView]) -> Any:
    view = memoryview(payload)
    (nparts,) = _U32.unpack_from(view, 1)
    if nparts == 1 and view[5] == _INLINE:
        return pickle.loads(view[5 + _PART.size:])
    blobs = {blob.blob_id: memoryview(blob) for blob in views}
    position = 5 + _PART.size * nparts
    parts = []
    for i in range(nparts):
        where, size, blob_id, offset = _PART.unpack_from(view, 5 + _PART.size * i)
        if where == _INLINE:
            parts.append(view[position:position + size])
            position += size
        else:
            parts.append(blobs[blob_id][offset:offset + size])
    return pickle.loads(parts[0], buffers=parts[1:])


def deserialize(fetched: Fetched) -> Any:
    """Returns the value of a payload, or raises the error it holds."""
    payload, views = fetched
    if payload[0] == wire.PAYLOAD_VALUE:
        return _loads(payload, views)
    raise error_of(payload)


def error_of(payload: bytes | memoryview) -> BaseException:
    """The exception a failed object's payload stands for."""
    kind = payload[0]
    if kind == wire.PAYLOAD_ERROR:
        from .task_errors import received_error   # as pickler: off the first task's path
        return received_error(_loads(payload, []))
    text = bytes(payload[1:]).decode("utf-8", "replace")
    if kind == wire.PAYLOAD_INTERRUPTED:
        # As Ray: cancelled while it ran, the task "raised" the cancel, so the
        # error is a RayTaskError too (RayTaskError(TaskCancelledError)).
        return TaskError("task", text, TaskCancelledError(text)).as_instanceof_cause()
    return _TEXT_ERRORS.get(kind, WorkerCrashedError)(text)


# The error of each payload kind that carries a message only.
_TEXT_ERRORS: dict[int, type[Exception]] = {
    wire.PAYLOAD_CANCELLED: TaskCancelledError,
    wire.PAYLOAD_LOST: ObjectLostError,
    wire.PAYLOAD_STORE_FULL: ObjectStoreFullError,
    wire.PAYLOAD_ACTOR_DIED: ActorDiedError,
    wire.PAYLOAD_ACTOR_UNAVAILABLE: ActorUnavailableError,
    wire.PAYLOAD_UNSCHEDULABLE: TaskUnschedulableError,
    wire.PAYLOAD_ACTOR_UNSCHEDULABLE: ActorUnschedulableError,
    wire.PAYLOAD_GROUP_REMOVED: TaskPlacementGroupRemoved,
    wire.PAYLOAD_CRASHED: WorkerCrashedError,
}


def serialize_error(exc: BaseException, function_name: str) -> bytes:
    """The payload of an exception raised by a task, with its traceback."""
    from .task_errors import sent_error
    return _dumps(sent_error(exc, function_name), wire.PAYLOAD_ERROR, None)[0]


def text_payload(kind: int, text: str) -> bytes:
    """A payload of one of the kinds that carry a message only."""
    return bytes([kind]) + text.encode("utf-8", "replace")
