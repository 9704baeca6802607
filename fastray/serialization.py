"""Turning values, task arguments and task errors into payloads and back.

A value payload is ``[u8 kind][u32 nbuf][nbuf x u64 size][u64 pickle size]
[pickle][buffers...]``: pickle protocol 5 with out-of-band buffers, so the
bytes of a numpy array are laid down once and read back as a view, never
copied through the pickle stream.  Pickling records every ObjectRef it meets,
so the store can keep the objects they name alive as long as the value.
"""
from __future__ import annotations

import os
import pickle
import struct
import threading
import traceback
from typing import Any

import cloudpickle

from . import _scheduler as wire
from .exceptions import ObjectLostError, TaskCancelledError, TaskError, WorkerCrashedError

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")

_collector = threading.local()


def note_contained_ref(object_id: int) -> None:
    """Called by ObjectRef while it is being pickled."""
    ids = getattr(_collector, "ids", None)
    if ids is not None:
        ids.append(object_id)


def _dumps(value: Any, kind: int) -> tuple[bytes, list[int]]:
    buffers: list[pickle.PickleBuffer] = []
    outer = getattr(_collector, "ids", None)
    _collector.ids = contained = []
    try:
        data = cloudpickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    finally:
        _collector.ids = outer
    raws = [b.raw() for b in buffers]
    header = bytearray([kind])
    header += _U32.pack(len(raws))
    for raw in raws:
        header += _U64.pack(raw.nbytes)
    header += _U64.pack(len(data))
    return b"".join([bytes(header), data, *raws]), contained


def serialize(value: Any) -> tuple[bytes, list[int]]:
    """Returns the payload of a value and the ids of the refs inside it.

    Raises TypeError naming the value when it cannot be pickled."""
    try:
        return _dumps(value, wire.PAYLOAD_VALUE)
    except Exception as exc:
        raise TypeError(f"could not serialize {_describe(value)}: {exc}") from exc


def _describe(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:
        text = object.__repr__(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return f"{type(value).__name__} {text}"


def _loads(payload: bytes | memoryview) -> Any:
    view = memoryview(payload)
    (nbuf,) = _U32.unpack_from(view, 1)
    offset = 5
    sizes = []
    for _ in range(nbuf):
        sizes.append(_U64.unpack_from(view, offset)[0])
        offset += 8
    (size,) = _U64.unpack_from(view, offset)
    offset += 8
    data = view[offset:offset + size]
    offset += size
    buffers = []
    for n in sizes:
        buffers.append(view[offset:offset + n])
        offset += n
    return pickle.loads(data, buffers=buffers)


def deserialize(payload: bytes | memoryview) -> Any:
    """Returns the value of a payload, or raises the error it holds."""
    kind = payload[0]
    if kind == wire.PAYLOAD_VALUE:
        return _loads(payload)
    raise error_of(payload)


def error_of(payload: bytes | memoryview) -> BaseException:
    """The exception a failed object's payload stands for."""
    kind = payload[0]
    if kind == wire.PAYLOAD_ERROR:
        error = _loads(payload)
        return error.as_instanceof_cause() if isinstance(error, TaskError) else error
    text = bytes(payload[1:]).decode("utf-8", "replace")
    if kind == wire.PAYLOAD_CANCELLED:
        return TaskCancelledError(text)
    if kind == wire.PAYLOAD_LOST:
        return ObjectLostError(text)
    return WorkerCrashedError(text)


def serialize_error(exc: BaseException, function_name: str) -> bytes:
    """The payload of an exception raised by a task, with its traceback."""
    if isinstance(exc, TaskError):
        cause, remote_tb = exc.cause, exc.traceback_str
    else:
        cause, remote_tb = exc, ""
    local_tb = "".join(traceback.format_exception(exc))
    text = local_tb if not remote_tb else f"{local_tb}\n{remote_tb}"
    error = TaskError(function_name, text, cause, os.getpid())
    try:
        return _dumps(error, wire.PAYLOAD_ERROR)[0]
    except Exception:
        # The cause itself cannot be pickled: keep its text.
        error = TaskError(function_name, text, None, os.getpid())
        return _dumps(error, wire.PAYLOAD_ERROR)[0]

