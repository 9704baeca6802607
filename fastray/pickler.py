"""Pickling values with their large bytes, bytearrays and memoryviews out of band.

Protocol 5 hands an array's memory to the caller as a PickleBuffer instead
of copying it into the stream, and so the store copies it only once.  The C
pickler never consults ``reducer_override`` for exact bytes and bytearray,
and ``persistent_id``, which it does consult, costs a Python call for every
object pickled (a list of ints pickles 5x slower).  But it writes the
payload of a large bytes or bytearray (64 KiB and up) to the file as the
object itself, right after the opcode that announces it.  This module's file
turns that opcode into a call of ``fastray._store.bytes_of`` (or
``bytearray_of``) on the next out-of-band buffer, and hands the object out
as that buffer.  The reader gets the value's own type back, as a copy made
with several threads.  A contiguous memoryview travels the same way and
comes back as bytes, as it does with cloudpickle and Ray.

A torch CPU tensor travels as the numpy array that shares its memory, so it
too goes out of band and arrives without a copy (Ray copies it unless asked).
fastray never imports torch: the reducer is added once the program has.
"""
from __future__ import annotations

import importlib
import pickle
import struct
import sys
import warnings
from collections import ChainMap
from typing import Any, Callable

import cloudpickle

from ._store import bytearray_of, bytes_of


def _call_on_next_buffer(function: Callable[[Any], Any]) -> bytes:
    """The opcodes that push function(next out-of-band buffer)."""
    stream = b""
    for name in (function.__module__, function.__qualname__):
        stream += pickle.SHORT_BINUNICODE + bytes([len(name)]) + name.encode()
    return stream + pickle.STACK_GLOBAL + pickle.NEXT_BUFFER + pickle.TUPLE1 + pickle.REDUCE


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_CALL_BYTES_OF = _call_on_next_buffer(bytes_of)
_CALL_BYTEARRAY_OF = _call_on_next_buffer(bytearray_of)


def _opcode_of(data: bytes | bytearray) -> bytes:
    """The opcode and length that protocol 5 writes before data."""
    if type(data) is bytearray:
        return pickle.BYTEARRAY8 + _U64.pack(len(data))
    if len(data) <= 0xFFFFFFFF:
        return pickle.BINBYTES + _U32.pack(len(data))
    return pickle.BINBYTES8 + _U64.pack(len(data))


# The C pickler writes a payload to the file as the object itself only from
# this size on (its frame size target); smaller ones sit inside frames.
_DIRECT_WRITE_MIN = 64 * 1024
_FRAME_HEADER = struct.Struct("<BQ")


def _is_frame(data: bytes | bytearray) -> bool:
    """Whether data is a frame the pickler made rather than a value's payload.
    Every frame it writes from this size on starts with a FRAME header giving
    its length; the tail of such a frame may then end with the opcode of the
    next payload, but a frame is never that payload.  A value that merely
    looks like a frame stays in the stream: slower, never wrong."""
    if type(data) is not bytes or len(data) < _FRAME_HEADER.size:
        return False
    opcode, length = _FRAME_HEADER.unpack_from(data)
    return opcode == pickle.FRAME[0] and _FRAME_HEADER.size + length <= len(data)


class _Stream:
    """The file the pickler writes to: keeps what it is given, by reference,
    and sends large bytes and bytearrays out of band."""

    def __init__(self, buffer_callback: Callable[[pickle.PickleBuffer], Any]) -> None:
        self.chunks: list[bytes | bytearray] = []
        self.buffer_callback = buffer_callback

    def write(self, data: Any) -> int:
        kind = type(data)
        if ((kind is bytes or kind is bytearray) and self.chunks
                and len(data) >= _DIRECT_WRITE_MIN and not _is_frame(data)):
            opcode = _opcode_of(data)
            last = self.chunks[-1]
            if last[-len(opcode):] == opcode:
                self.chunks[-1] = last[:-len(opcode)]
                self.chunks.append(_CALL_BYTES_OF if kind is bytes else _CALL_BYTEARRAY_OF)
                self.buffer_callback(pickle.PickleBuffer(data))
                return len(data)
        self.chunks.append(data)
        return len(data)


def _reduce_memoryview(view: memoryview) -> tuple[Any, tuple[Any, ...]]:
    if not view.c_contiguous:
        return bytes, (view.tobytes(),)   # a large one goes out of band as bytes
    return bytes_of, (pickle.PickleBuffer(view),)


def _reduce_tensor(tensor: Any) -> tuple[Any, tuple[Any, ...]]:
    """A plain CPU tensor as the array sharing its memory; any other as torch
    pickles it."""
    if (tensor.device.type == "cpu" and tensor.layout is _torch().strided
            and not tensor.requires_grad and tensor.dtype not in _dtypes_without_numpy()):
        return tensor_from_array, (tensor.detach().numpy(),)
    return tensor.__reduce_ex__(5)


def tensor_from_array(array: Any) -> Any:
    """The tensor on an array from the store, sharing its memory: read-only
    by contract, as torch has no read-only tensors (it warns, and is told
    not to: the array is never written here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        return importlib.import_module("torch").from_numpy(array)


def _torch() -> Any:
    return sys.modules["torch"]


def _dtypes_without_numpy() -> tuple[Any, ...]:
    """Tensor dtypes numpy has no type for."""
    torch = _torch()
    return tuple(getattr(torch, name) for name in ("bfloat16", "complex32", "float8_e4m3fn",
                                                   "float8_e5m2") if hasattr(torch, name))


_OWN_REDUCERS: dict[type, Callable[[Any], Any]] = {memoryview: _reduce_memoryview}


class _Pickler(cloudpickle.Pickler):
    # One flat chain: the C pickler looks every object's type up here.
    dispatch_table = ChainMap(_OWN_REDUCERS, *cloudpickle.Pickler.dispatch_table.maps)


def _add_tensor_reducer() -> None:
    """Once the program has imported torch, its plain tensors go out of band."""
    torch = sys.modules.get("torch")
    tensor = getattr(torch, "Tensor", None)
    if isinstance(tensor, type) and tensor not in _OWN_REDUCERS:
        _OWN_REDUCERS[tensor] = _reduce_tensor


def dumps(value: Any, buffer_callback: Callable[[pickle.PickleBuffer], Any]) -> bytes:
    """cloudpickle.dumps(value, protocol=5, buffer_callback=buffer_callback),
    with large bytes, bytearrays and contiguous memoryviews out of band too."""
    if "torch" in sys.modules:
        _add_tensor_reducer()
    stream = _Stream(buffer_callback)
    _Pickler(stream, protocol=5, buffer_callback=buffer_callback).dump(value)
    return b"".join(stream.chunks)   # a single chunk is returned as it is


def dumps_code(value: Any, what: str, where: str) -> bytes:
    """A function or class as sent to the processes that run it; a
    TypeError that says what to change when it cannot be pickled."""
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:
        raise TypeError(
            f"{what} cannot be pickled to send it to a worker: {exc}. It must not use (as "
            f"{where}) a lock, socket, open file or other process-bound object; create that "
            "inside it instead") from exc

