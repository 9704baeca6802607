"""The scheduler backends' actor operations: creating, killing and
finding actors (FR_ACTOR_OP frames).  Loaded on the first of them, so a
program without actors, and every task worker, never loads the actor
machinery."""
from __future__ import annotations

import struct
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from . import wire
from .actor import ActorClass, ActorHandle
from .actor_options import ActorOptions
from .actor_spec import ActorSettings
from .exceptions import ActorAlreadyExistsError, FastrayError
from .runtime_env import merged
from .scheduling import ANYWHERE, placement_of
from .serialization import deserialize, serialize
from .task_args import encode_args

if TYPE_CHECKING:
    from .backend import SchedulerBackend


def create_actor(backend: SchedulerBackend, actor_class: ActorClass, args: tuple, kwargs: dict,
                 options: ActorOptions) -> ActorHandle:
    backend._check_running()
    demand = backend.demand_id(options.asked, f"actor {actor_class.name}")
    if options.num_cpus > backend.num_cpus:
        raise ValueError(f"actor {actor_class.name} asks for num_cpus="
                         f"{options.num_cpus:g} but the pool has {backend.num_cpus} CPUs; it "
                         "could never start")
    namespace = options.namespace or backend.namespace
    meta = actor_class.meta(options, namespace)
    placement = ANYWHERE if options.placement is None else placement_of(
        options.placement, options.num_cpus, f"actor {actor_class.name}")
    other_node = options.asked.other_node()
    if (placement.node_id and placement.node_id != backend.node_id) or other_node:
        meta = replace(meta, unschedulable=(
            f"actor {actor_class.name} asks for another node "
            f"({other_node or placement.node_id}) than this runtime's one: it can never start"))
        return ActorHandle(backend._next_ids(1), meta, counted=False)
    settings = ActorSettings(meta, options.concurrency(actor_class.is_async),
                             options.concurrency_groups, placement.group, placement.capture,
                             merged(backend.runtime_env, options.runtime_env))
    if actor_class.class_id not in backend._defined:
        backend._define(actor_class.class_id, actor_class.__name__.encode(),
                     actor_class.pickled())
        backend._defined.add(actor_class.class_id)
    handle_payload, _, _ = serialize(meta, None)
    encoded = encode_args((settings, *args), kwargs, False, backend)
    try:
        actor_id = backend._next_ids(1)
        key = _name_key(namespace, options.name) if options.name else b""
        flags = ((wire.ACTOR_NAMED if options.name else 0)
                 | (wire.ACTOR_DETACHED if options.detached else 0)
                 | (wire.ACTOR_SEQUENTIAL if settings.max_concurrency == 1
                    and not actor_class.is_async and not options.concurrency_groups
                    else 0))
        body = b"".join([
            wire.ACTOR_CREATE_FIELDS.pack(actor_id, actor_class.class_id, options.cpu_milli,
                                          options.max_restarts, flags,
                                          _sent_ahead(settings), placement.pool, demand),
            _sized(key), _sized(handle_payload), _id_list(encoded.deps),
            _id_list(encoded.contained), encoded.payload])
        status, answer = backend._actor_op(wire.ACTOR_CREATE, body)
    finally:
        backend.drop_created(encoded.created)
    if status == wire.ACTOR_STATUS_EXISTS:
        if options.get_if_exists:
            return _handle_from(answer)
        raise ActorAlreadyExistsError(
            f"an actor named {options.name!r} already exists in namespace {namespace!r}; "
            "pick another name, or pass get_if_exists=True")
    if status != wire.ACTOR_STATUS_OK:
        raise FastrayError(f"actor {actor_class.name} could not be created")
    return ActorHandle(actor_id, meta, adopt=True)

def kill_actor(backend: SchedulerBackend, handle: Any, no_restart: bool) -> None:
    if not isinstance(handle, ActorHandle):
        raise TypeError(f"kill() takes an actor handle, got {type(handle).__name__}")
    backend._check_running()
    backend._actor_op(wire.ACTOR_KILL, struct.pack("<QI", handle.actor_id, not no_restart))

def get_actor(backend: SchedulerBackend, name: str, namespace: str | None) -> ActorHandle:
    backend._check_running()
    where = namespace if namespace is not None else backend.namespace
    status, answer = backend._actor_op(wire.ACTOR_LOOKUP, _sized(_name_key(where, name)))
    if status != wire.ACTOR_STATUS_OK:
        raise ValueError(f"Failed to look up actor with name {name!r} in namespace "
                         f"{where!r}: no live actor has that name there")
    return _handle_from(answer)

def list_named_actors(backend: SchedulerBackend, all_namespaces: bool) -> list:
    backend._check_running()
    _, answer = backend._actor_op(wire.ACTOR_NAMES, b"")
    (count,) = struct.unpack_from("<I", answer)
    offset, found = 4, cast("list[Any]", [])
    for _ in range(count):
        (size,) = struct.unpack_from("<I", answer, offset)
        namespace, _, name = answer[offset + 4:offset + 4 + size].decode().partition("\0")
        offset += 4 + size
        if all_namespaces:
            found.append({"name": name, "namespace": namespace})
        elif namespace == backend.namespace:
            found.append(name)
    return found

def _handle_from(answer: bytes) -> ActorHandle:
    """A new handle from an answer holding an actor's id and handle payload."""
    (actor_id,) = struct.unpack_from("<Q", answer)
    return ActorHandle(actor_id, deserialize((memoryview(answer)[8:], [])))


def _name_key(namespace: str, name: str) -> bytes:
    return f"{namespace}\0{name}".encode()


def _sized(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def _id_list(ids: list[int]) -> bytes:
    return struct.pack(f"<I{len(ids)}Q", len(ids), *ids)


# Calls sent to an actor's process beyond those it can run at once: enough
# that it never waits for the next, few enough that a burst of calls goes to
# it in a few large sends rather than one per call.
CALLS_SENT_AHEAD = 64


def _sent_ahead(settings: ActorSettings) -> int:
    running = settings.max_concurrency + sum(limit for _, limit in settings.concurrency_groups)
    return running + CALLS_SENT_AHEAD
