"""ObjectRef: the future-like handle to a task's result or a put value."""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Generator

from . import state
from ._scheduler import untrack

if TYPE_CHECKING:
    import concurrent.futures

_collector = threading.local()


class collecting_refs:
    """While pickling a value in this block, the ids of the ObjectRefs it
    contains are appended to the list the block gives (so the store can keep
    their objects alive as long as the value)."""

    def __enter__(self) -> list[int]:
        self._outer = getattr(_collector, "ids", None)
        ids: list[int] = []
        _collector.ids = ids
        return ids

    def __exit__(self, *exc_info: Any) -> None:
        _collector.ids = self._outer


def note_contained(object_id: int) -> None:
    """Records an id a value being pickled inside collecting_refs holds
    (an actor handle's), as ObjectRef.__reduce__ does for refs."""
    ids = getattr(_collector, "ids", None)
    if ids is not None:
        ids.append(object_id)


# Refs pickled outside fastray's own serialization (pickle.dumps, cloudpickle
# to a file): their objects are pinned, as in Ray, since nobody can know when
# the pickle is read back; free() lets go of them.  (runtime generation, id)
# -> pins taken here.
_pinned_out_of_band: dict[tuple[int, int], int] = {}


def pin_out_of_band(ref: ObjectRef) -> None:
    backend = state.backend
    if backend is not None and ref._generation == state.generation:
        backend.incref(ref._id)
        key = (ref._generation, ref._id)
        _pinned_out_of_band[key] = _pinned_out_of_band.get(key, 0) + 1


def unpin_out_of_band(ref: ObjectRef) -> None:
    """Lets go of the pins out-of-band pickling took on ref's object."""
    backend = state.backend
    pins = _pinned_out_of_band.pop((ref._generation, ref._id), 0)
    if backend is not None and ref._generation == state.generation:
        for _ in range(pins):
            backend.decref(ref._id)


class RaysToo(type):
    """On the Ray backend refs, generators and placement groups are Ray's
    own: isinstance against a class with this metaclass accepts Ray's class
    of the same name too (checked by name, without importing Ray)."""

    def __instancecheck__(cls, instance: Any) -> bool:
        kind = type(instance)
        return issubclass(kind, cls) or (
            kind.__name__ == cls.__name__ and kind.__module__.partition(".")[0] == "ray")


class ObjectRef(metaclass=RaysToo):
    """Refers to an object in the store; the object lives while refs do.

    Refs are hashable, comparable and picklable: pickled inside a value or an
    argument they stay valid in the process that unpickles them.
    """

    # csrc/_scheduler.pyx reads (Scheduler.wait_ready) and writes (new_refs,
    # which makes the refs of submitted tasks) _id and _generation straight
    # in these slots, by their offsets (found by name on each call), and
    # untrack takes refs off the garbage collector since they hold only
    # ints: keep both as __slots__ of this class, holding ints (it checks,
    # and declines subclasses).
    __slots__ = ("_id", "_generation", "__weakref__")

    def __init__(self, object_id: int, *, adopt: bool = False) -> None:
        """adopt: the runtime already counted this handle (a fresh task
        return or put), so creating it must not count it again."""
        self._id = object_id
        self._generation = state.generation
        untrack(self)
        if not adopt and state.backend is not None:
            state.backend.incref(object_id)

    def __del__(self) -> None:
        backend = state.backend
        if backend is not None and self._generation == state.generation:
            backend.decref(self._id)

    @property
    def id(self) -> int:
        return self._id

    def hex(self) -> str:
        return f"{self._id:016x}"

    def binary(self) -> bytes:
        return self._id.to_bytes(8, "big")

    def __repr__(self) -> str:
        return f"ObjectRef({self.hex()})"

    def __hash__(self) -> int:
        return hash(self._id)

    def __eq__(self, other: object) -> bool:
        return type(other) is ObjectRef and other._id == self._id

    def __lt__(self, other: ObjectRef) -> bool:
        return self._id < other._id

    def __reduce__(self):
        ids = getattr(_collector, "ids", None)
        if ids is not None:
            ids.append(self._id)
        else:
            pin_out_of_band(self)
        return (ObjectRef, (self._id,))

    def future(self) -> concurrent.futures.Future[Any]:
        """A concurrent.futures.Future that completes with the value (or error)."""
        return state.require_backend().future(self)

    def __await__(self) -> Generator[Any, None, Any]:
        import asyncio  # only for code that awaits refs: keeps import fastray light
        return asyncio.wrap_future(self.future()).__await__()
