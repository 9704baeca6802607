"""A task's arguments as sent: top-level ObjectRefs become dependencies,
resolved before it runs; everything else is one payload."""
from __future__ import annotations

from typing import Any, NamedTuple

from .object_ref import ObjectRef
from .serialization import BlobStore, Fetched, deserialize, serialize


class EncodedArgs(NamedTuple):
    deps: list[int]
    contained: list[int]
    payload: bytes
    created: list[int]


def encode_args(args: tuple, kwargs: dict, retry_exceptions: Any,
                store: BlobStore) -> EncodedArgs:
    """Top-level ObjectRefs become dependencies (resolved before the task
    runs); refs nested in containers travel as refs.  Large arguments are
    copied into the store here, once, like Ray's automatic put."""
    if not args and not kwargs and retry_exceptions is False:
        return NO_ARGS
    deps: list[int] = []
    slots: list[tuple[int | str, int]] = []
    plain_args = list(args)
    for i, arg in enumerate(args):
        if type(arg) is ObjectRef:
            slots.append((i, len(deps)))
            deps.append(arg.id)
            plain_args[i] = None
    plain_kwargs = dict(kwargs)
    for key, arg in kwargs.items():
        if type(arg) is ObjectRef:
            slots.append((key, len(deps)))
            deps.append(arg.id)
            plain_kwargs[key] = None
    payload, contained, created = serialize(
        (plain_args, plain_kwargs, slots, retry_exceptions), store)
    return EncodedArgs(deps, contained, payload, created)


# The arguments of a call without any, encoded once: a common case (a
# method that reads the actor's state) that is then free.
NO_ARGS = EncodedArgs([], [], serialize(([], {}, [], False), None)[0], [])
_NO_ARGS_PAYLOAD = NO_ARGS.payload


def decode_args(fetched: Fetched, dep_values: list[Any]) -> tuple[list, dict, Any]:
    """The inverse of encode_args, with the dependencies' values filled in."""
    # A task's arguments arrive as a memoryview: tobytes() first, as
    # comparing a memoryview with bytes goes item by item.
    if fetched[0].tobytes() == _NO_ARGS_PAYLOAD:   # type: ignore[union-attr]
        return [], {}, False
    args, kwargs, slots, retry_exceptions = deserialize(fetched)
    for where, index in slots:
        if isinstance(where, int):
            args[where] = dep_values[index]
        else:
            kwargs[where] = dep_values[index]
    return args, kwargs, retry_exceptions
