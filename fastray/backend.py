"""The interface every backend offers the public API, and the logic shared by
the two backends that run on our own scheduler (the driver's runtime and a
worker's connection to it).

The public API in ``api.py`` only ever calls ``Backend`` methods, so a backend
that hands everything to a Ray cluster slots in beside these without a branch
in the API.  ``SchedulerBackend`` turns the API's calls into a handful of
primitives (define, submit, put, wait, cancel) that its subclasses carry out:
in the driver by calling the scheduler directly, in a worker by messages.
"""
from __future__ import annotations

import abc
import functools
import itertools
import os
import pickle
import struct
import threading
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence, cast

from . import state, wire
from .actor import NOT_IN_AN_ACTOR, ActorClass, ActorHandle
from .actor_options import ActorOptions
from .actor_spec import ActorSettings, MethodCall
from .exceptions import (ActorAlreadyExistsError, FastrayError, GetTimeoutError,
                         ObjectLostError)
from .object_ref import ObjectRef
from .options import TaskOptions
from ._store import Mapping
from .serialization import Fetched, deserialize, error_of, serialize

if TYPE_CHECKING:
    import concurrent.futures

    from .remote_function import RemoteFunction

ORIGIN_SHIFT = 40

# Object state bytes -> 1 if done (ready, failed or gone), 0 if pending; and 0 <-> 1.
_READY_FLAGS = bytes(0 if state == wire.OBJ_PENDING else 1 for state in range(256))
_NOT = bytes([1, 0]) + bytes(254)


class Backend(abc.ABC):
    """What the public API needs from a runtime."""

    @abc.abstractmethod
    def submit(self, function: RemoteFunction, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[ObjectRef]: ...

    @abc.abstractmethod
    def get(self, refs: Sequence[ObjectRef], timeout: float | None) -> list[Any]: ...

    @abc.abstractmethod
    def put(self, value: Any) -> ObjectRef: ...

    @abc.abstractmethod
    def wait(self, refs: Sequence[ObjectRef], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef], list[ObjectRef]]: ...

    def wait_ready(self, refs: list[ObjectRef], num_returns: int
                   ) -> tuple[list[ObjectRef], list[ObjectRef]] | None:
        """wait()'s answer if it is there without blocking and the refs need
        no checking beyond what this shortcut does; else None."""
        return None

    @abc.abstractmethod
    def cancel(self, ref: ObjectRef, force: bool, recursive: bool) -> None: ...

    @abc.abstractmethod
    def future(self, ref: ObjectRef) -> concurrent.futures.Future[Any]: ...

    @abc.abstractmethod
    def incref(self, object_id: int) -> None: ...

    @abc.abstractmethod
    def decref(self, object_id: int) -> None: ...

    @abc.abstractmethod
    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        """(total, available) resources, with Ray's keys."""

    @abc.abstractmethod
    def current_task_id(self) -> int | None: ...

    @abc.abstractmethod
    def store_stats(self) -> dict[str, int]: ...

    @abc.abstractmethod
    def task_events(self) -> list[tuple]:
        """Ended tasks, oldest first: (task id, function name, worker pid,
        outcome, submitted, started, ended, actor id or 0), times in ns since
        the epoch."""

    @abc.abstractmethod
    def shutdown(self) -> None: ...

    @abc.abstractmethod
    def create_actor(self, actor_class: ActorClass, args: tuple, kwargs: dict,
                     options: ActorOptions) -> Any:
        """Starts an actor; returns its handle."""

    @abc.abstractmethod
    def call_actor(self, handle: ActorHandle, method: str, fn_id: int, args: tuple,
                   kwargs: dict, num_returns: int, max_task_retries: int,
                   retry_exceptions: Any) -> list[ObjectRef]: ...

    @abc.abstractmethod
    def kill_actor(self, handle: Any, no_restart: bool) -> None: ...

    @abc.abstractmethod
    def get_actor(self, name: str, namespace: str | None) -> Any: ...

    @abc.abstractmethod
    def list_named_actors(self, all_namespaces: bool) -> list: ...

    def runtime_context(self, own: Any) -> Any:
        """What get_runtime_context() returns: fastray's own context here."""
        return own

    def exit_actor(self) -> None:
        """exit_actor() in this process: only an actor's backend ends it."""
        raise TypeError(NOT_IN_AN_ACTOR)


class EncodedArgs(NamedTuple):
    deps: list[int]
    contained: list[int]
    payload: bytes
    created: list[int]


def encode_args(args: tuple, kwargs: dict, retry_exceptions: Any,
                store: SchedulerBackend) -> EncodedArgs:
    """Top-level ObjectRefs become dependencies (resolved before the task
    runs); refs nested in containers travel as refs.  Large arguments are
    copied into the store here, once, like Ray's automatic put."""
    if not args and not kwargs and retry_exceptions is False:
        return _NO_ARGS
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
_NO_ARGS = EncodedArgs([], [], serialize(([], {}, [], False), None)[0], [])


def decode_args(fetched: Fetched, dep_values: list[Any]) -> tuple[list, dict, Any]:
    """The inverse of encode_args, with the dependencies' values filled in."""
    args, kwargs, slots, retry_exceptions = deserialize(fetched)
    for where, index in slots:
        if isinstance(where, int):
            args[where] = dep_values[index]
        else:
            kwargs[where] = dep_values[index]
    return args, kwargs, retry_exceptions


class SchedulerBackend(Backend):
    """Backend logic over the scheduler's primitives.  It is also the
    process's handle on the object store (serialization.BlobStore)."""

    def __init__(self, origin: int, num_cpus: int, mapping: Mapping) -> None:
        self.num_cpus = num_cpus
        self.mapping = mapping
        self.namespace = os.environ.get("FASTRAY_NAMESPACE", "")
        self._origin = origin << ORIGIN_SHIFT
        self._counter = 0
        self._id_lock = threading.Lock()
        self._defined: set[int] = set()
        self._stopped = False

    # -- primitives carried out by subclasses

    @abc.abstractmethod
    def _define(self, fn_id: int, name: bytes, blob: bytes) -> None: ...

    @abc.abstractmethod
    def _submit(self, task_id: int, fn_id: int, options: TaskOptions,
                args: EncodedArgs, actor: int = 0) -> None: ...

    @abc.abstractmethod
    def _actor_op(self, op: int, body: bytes) -> tuple[int, bytes]:
        """One actor operation (protocol.h, FR_ACTOR_OP): (status, answer)."""

    @abc.abstractmethod
    def _put(self, object_id: int, payload: bytes, contained: list[int]) -> None: ...

    @abc.abstractmethod
    def _wait(self, ids: list[int], needed: int, timeout: float | None, fail_fast: bool,
              fetch: bool) -> tuple[bytes, list[Fetched | None] | None]:
        """One state byte per id, and the payloads of ready ones if fetch."""

    @abc.abstractmethod
    def allocate_blob(self, size: int) -> tuple[int, int]:
        """Store memory for a new blob: (blob id, offset in the mapping); the
        caller holds one reference to it until drop_created."""

    @abc.abstractmethod
    def drop_created(self, blob_ids: list[int]) -> None: ...

    @abc.abstractmethod
    def release_view(self, blob_id: int) -> None:
        """The last use of a view of a blob went away."""

    @abc.abstractmethod
    def _cancel(self, object_id: int, force: bool, recursive: bool) -> None: ...

    # -- shared logic

    def _next_ids(self, count: int) -> int:
        with self._id_lock:
            first = self._counter + 1
            self._counter += count
        return self._origin | first

    def submit(self, function: RemoteFunction, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[ObjectRef]:
        self._check_running()
        if options.num_cpus > self.num_cpus:
            raise ValueError(f"{function.name} asks for num_cpus={options.num_cpus:g} but the "
                             f"pool has {self.num_cpus} CPUs; it could never run")
        if function.fn_id not in self._defined:
            self._define(function.fn_id, function.name.encode(), function.pickled())
            self._defined.add(function.fn_id)
        encoded = encode_args(args, kwargs, options.retry_exceptions, self)
        try:
            task_id = self._next_ids(max(options.num_returns, 1))
            self._submit(task_id, function.fn_id, options, encoded)
        finally:
            self.drop_created(encoded.created)
        return [ObjectRef(task_id + i, adopt=True) for i in range(options.num_returns)]

    def put(self, value: Any) -> ObjectRef:
        self._check_running()
        payload, contained, created = serialize(value, self)
        try:
            object_id = self._next_ids(1)
            self._put(object_id, payload, contained)
        finally:
            self.drop_created(created)
        return ObjectRef(object_id, adopt=True)

    def get(self, refs: Sequence[ObjectRef], timeout: float | None) -> list[Any]:
        ids = self._ids_of(refs)
        states, fetched = self._wait(ids, len(ids), timeout, True, True)
        self._check_running()
        # Every object that is not pending or unknown comes with its payload.
        payloads = cast("list[Fetched]", fetched)
        for i, state in enumerate(states):
            if state == wire.OBJ_FAILED:
                raise error_of(payloads[i][0])
            if state == wire.OBJ_UNKNOWN:
                raise ObjectLostError(f"{refs[i]!r} no longer exists (freed, or from a runtime "
                                      "that was shut down)")
        if wire.OBJ_PENDING in states:
            pending = states.count(wire.OBJ_PENDING)
            raise GetTimeoutError(f"get timed out after {timeout} s: {pending} of {len(ids)} "
                                  "object(s) not ready")
        values: dict[int, Any] = {}
        return [values[i] if i in values else values.setdefault(i, deserialize(p))
                for i, p in zip(ids, payloads)]

    def wait(self, refs: Sequence[ObjectRef], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef], list[ObjectRef]]:
        ids = self._ids_of(refs)
        if len(set(ids)) != len(ids):
            raise ValueError("wait() requires a list of unique ObjectRefs")
        states, _ = self._wait(ids, num_returns, timeout, False, False)
        self._check_running()
        # The first num_returns refs that are not pending, in input order; the
        # splitting runs in C (compress, find, slices): wait is called in
        # loops over thousands of refs.
        ready_flags = states.translate(_READY_FLAGS)
        cut = len(states)
        if ready_flags.count(1) > num_returns:
            cut = -1
            for _ in range(num_returns):
                cut = ready_flags.index(1, cut + 1)
            cut += 1
        head = refs[:cut]
        ready = list(itertools.compress(head, ready_flags[:cut]))
        not_ready = list(itertools.compress(head, ready_flags[:cut].translate(_NOT)))
        not_ready += refs[cut:]
        return ready, not_ready

    def cancel(self, ref: ObjectRef, force: bool, recursive: bool) -> None:
        self._check_refs([ref])
        self._cancel(ref.id, force, recursive)

    # -- actors

    def create_actor(self, actor_class: ActorClass, args: tuple, kwargs: dict,
                     options: ActorOptions) -> ActorHandle:
        self._check_running()
        if options.num_cpus > self.num_cpus:
            raise ValueError(f"actor {actor_class.name} asks for num_cpus="
                             f"{options.num_cpus:g} but the pool has {self.num_cpus} CPUs; it "
                             "could never start")
        namespace = options.namespace or self.namespace
        meta = actor_class.meta(options, namespace)
        settings = ActorSettings(meta, options.concurrency(actor_class.is_async),
                                 options.concurrency_groups)
        if actor_class.class_id not in self._defined:
            self._define(actor_class.class_id, actor_class.__name__.encode(),
                         actor_class.pickled())
            self._defined.add(actor_class.class_id)
        handle_payload, _, _ = serialize(meta, None)
        encoded = encode_args((settings, *args), kwargs, False, self)
        try:
            actor_id = self._next_ids(1)
            key = _name_key(namespace, options.name) if options.name else b""
            flags = ((wire.ACTOR_NAMED if options.name else 0)
                     | (wire.ACTOR_DETACHED if options.detached else 0)
                     | (wire.ACTOR_SEQUENTIAL if settings.max_concurrency == 1
                        and not actor_class.is_async and not options.concurrency_groups
                        else 0))
            body = b"".join([
                wire.ACTOR_CREATE_FIELDS.pack(actor_id, actor_class.class_id, options.cpu_milli,
                                              options.max_restarts, flags,
                                              _sent_ahead(settings)),
                _sized(key), _sized(handle_payload), _id_list(encoded.deps),
                _id_list(encoded.contained), encoded.payload])
            status, answer = self._actor_op(wire.ACTOR_CREATE, body)
        finally:
            self.drop_created(encoded.created)
        if status == wire.ACTOR_STATUS_EXISTS:
            if options.get_if_exists:
                return self._handle_from(answer)
            raise ActorAlreadyExistsError(
                f"an actor named {options.name!r} already exists in namespace {namespace!r}; "
                "pick another name, or pass get_if_exists=True")
        if status != wire.ACTOR_STATUS_OK:
            raise FastrayError(f"actor {actor_class.name} could not be created")
        return ActorHandle(actor_id, meta, adopt=True)

    def call_actor(self, handle: ActorHandle, method: str, fn_id: int, args: tuple,
                   kwargs: dict, num_returns: int, max_task_retries: int,
                   retry_exceptions: Any) -> list[ObjectRef]:
        self._check_running()
        if fn_id not in self._defined:
            self._define(fn_id, f"{handle.meta.class_name}.{method}".encode(),
                         _pickled_call(method))
            self._defined.add(fn_id)
        encoded = encode_args(args, kwargs, retry_exceptions, self)
        try:
            task_id = self._next_ids(max(num_returns, 1))
            self._submit(task_id, fn_id, _call_options(num_returns, max_task_retries),
                         encoded, handle.actor_id)
        finally:
            self.drop_created(encoded.created)
        return [ObjectRef(task_id + i, adopt=True) for i in range(num_returns)]

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        if not isinstance(handle, ActorHandle):
            raise TypeError(f"kill() takes an actor handle, got {type(handle).__name__}")
        self._check_running()
        self._actor_op(wire.ACTOR_KILL, struct.pack("<QI", handle.actor_id, not no_restart))

    def get_actor(self, name: str, namespace: str | None) -> ActorHandle:
        self._check_running()
        where = namespace if namespace is not None else self.namespace
        status, answer = self._actor_op(wire.ACTOR_LOOKUP, _sized(_name_key(where, name)))
        if status != wire.ACTOR_STATUS_OK:
            raise ValueError(f"Failed to look up actor with name {name!r} in namespace "
                             f"{where!r}: no live actor has that name there")
        return self._handle_from(answer)

    def list_named_actors(self, all_namespaces: bool) -> list:
        self._check_running()
        _, answer = self._actor_op(wire.ACTOR_NAMES, b"")
        (count,) = struct.unpack_from("<I", answer)
        offset, found = 4, cast("list[Any]", [])
        for _ in range(count):
            (size,) = struct.unpack_from("<I", answer, offset)
            namespace, _, name = answer[offset + 4:offset + 4 + size].decode().partition("\0")
            offset += 4 + size
            if all_namespaces:
                found.append({"name": name, "namespace": namespace})
            elif namespace == self.namespace:
                found.append(name)
        return found

    def _handle_from(self, answer: bytes) -> ActorHandle:
        """A new handle from an answer holding an actor's id and handle payload."""
        (actor_id,) = struct.unpack_from("<Q", answer)
        return ActorHandle(actor_id, deserialize((memoryview(answer)[8:], [])))

    def _check_running(self) -> None:
        if self._stopped:
            raise FastrayError("the fastray runtime was shut down")

    def _check_refs(self, refs: Sequence[ObjectRef]) -> None:
        self._ids_of(refs)

    def _ids_of(self, refs: Sequence[ObjectRef]) -> list[int]:
        """The refs' ids, once sure they all belong to this runtime."""
        self._check_running()
        # One comprehension, not map(attrgetter): 3.11+ specializes slot loads.
        generation = state.generation
        ids = [ref._id for ref in refs if ref._generation == generation]
        if len(ids) != len(refs):
            stale = next(r for r in refs if r._generation != generation)
            raise ObjectLostError(f"{stale!r} belongs to a fastray runtime that was shut down")
        return ids


def _name_key(namespace: str, name: str) -> bytes:
    return f"{namespace}\0{name}".encode()


def _sized(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _id_list(ids: list[int]) -> bytes:
    return struct.pack(f"<I{len(ids)}Q", len(ids), *ids)


def _pickled_call(method: str) -> bytes:
    return pickle.dumps(MethodCall(method), protocol=5)


@functools.lru_cache(maxsize=64)
def _call_options(num_returns: int, max_task_retries: int) -> TaskOptions:
    """An actor call's options as a task's: it holds no CPU of its own."""
    return TaskOptions(num_returns, 0.0, max_task_retries)


# Calls sent to an actor's process beyond those it can run at once: enough
# that it never waits for the next, few enough that a burst of calls goes to
# it in a few large sends rather than one per call.
CALLS_SENT_AHEAD = 8


def _sent_ahead(settings: ActorSettings) -> int:
    running = settings.max_concurrency + sum(limit for _, limit in settings.concurrency_groups)
    return running + CALLS_SENT_AHEAD
