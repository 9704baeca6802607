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
import itertools
import os
import pickle
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

from . import state, wire
from .exceptions import FastrayError, GetTimeoutError, ObjectLostError
from ._scheduler import new_refs
from .call_extras import with_extras
from .generators import start_stream, wait_with_generators
from .object_ref import ObjectRef
from .resources import NODE_RESOURCES, Asked, NodeResources, demand_key
from ._store import Mapping
from .serialization import Fetched, deserialize, error_of, serialize, text_payload
from .task_args import NO_ARGS, EncodedArgs, encode_args

if TYPE_CHECKING:
    from .actor import ActorClass, ActorHandle, ActorReference
    from .options import TaskOptions
    from .runtime_env import TaskEnv
    from .actor_options import ActorOptions
    import concurrent.futures

    from .remote_function import RemoteFunction

ORIGIN_SHIFT = 40
SHUT_DOWN = "the fastray runtime was shut down"

# Object state bytes -> 1 if done (ready, failed or gone), 0 if pending; and 0 <-> 1.
_READY_FLAGS = bytes(0 if state == wire.OBJ_PENDING else 1 for state in range(256))
_NOT = bytes([1, 0]) + bytes(254)
# A get of more objects than this, where the wait brings their payloads (a
# worker's), takes them in rounds of at least this many: the values that
# came are deserialized while the rest are still being made, so a caller
# reading many results of a busy actor does not read them all at the end.
# Each round sends and scans the ids still pending, so rounds are few.
GET_ROUND = 2048


class Backend(abc.ABC):
    """What the public API needs from a runtime."""

    @abc.abstractmethod
    def submit(self, function: RemoteFunction, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[ObjectRef]: ...

    def submit_generator(self, submit: Callable[[dict], list], kwargs: dict,
                         options: TaskOptions) -> Any:
        """What a generator task's call returns; submit(kwargs) submits it
        with those keyword arguments.  Here (Ray's backend): Ray's own."""
        return submit(kwargs)[0]

    @abc.abstractmethod
    def get(self, refs: Sequence[ObjectRef], timeout: float | None) -> list[Any]: ...

    @abc.abstractmethod
    def put(self, value: Any) -> ObjectRef: ...

    @abc.abstractmethod
    def wait(self, refs: Sequence[ObjectRef], num_returns: int,
             timeout: float | None) -> tuple[list[ObjectRef], list[ObjectRef]]: ...

    def wait_generators(self, waitables: list, num_returns: int, timeout: float | None
                        ) -> tuple[list, list]:
        """wait() over refs and generators (here: Ray's own)."""
        return self.wait(waitables, num_returns, timeout)

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
    def nodes(self) -> list[dict[str, Any]]:
        """Ray's nodes() list."""

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
    def call_actor(self, actor: ActorReference, method: str, fn_id: int, args: tuple,
                   kwargs: dict, options: TaskOptions, retry_exceptions: Any
                   ) -> list[ObjectRef]:
        """Calls the actor's method (an actor call's options are a task's
        that holds no CPU); returns the refs to its results."""

    @abc.abstractmethod
    def kill_actor(self, handle: Any, no_restart: bool) -> None: ...

    @abc.abstractmethod
    def get_actor(self, name: str, namespace: str | None) -> Any: ...

    @abc.abstractmethod
    def list_named_actors(self, all_namespaces: bool) -> list: ...

    @abc.abstractmethod
    def create_placement_group(self, bundles: list[dict[str, float]], strategy: str,
                               name: str, lifetime: str | None) -> Any: ...

    @abc.abstractmethod
    def remove_placement_group(self, group: Any) -> None: ...

    @abc.abstractmethod
    def get_placement_group(self, name: str) -> Any: ...

    @abc.abstractmethod
    def placement_group_table(self, group: Any) -> dict[str, Any]: ...

    @abc.abstractmethod
    def current_placement_group(self) -> Any: ...

    def runtime_context(self, own: Any) -> Any:
        """What get_runtime_context() returns: fastray's own context here."""
        return own

    def exit_actor(self) -> None:
        """exit_actor() in this process: only an actor's backend ends it."""
        from .actor import NOT_IN_AN_ACTOR
        raise TypeError(NOT_IN_AN_ACTOR)

class SchedulerBackend(Backend):
    """Backend logic over the scheduler's primitives.  It is also the
    process's handle on the object store (serialization.BlobStore)."""

    # The placement group the running task is in (a worker's), and whether
    # the tasks it submits go in it too.
    placement_group: Any = None
    capture_children = False
    # The runtime_env the tasks submitted here start from: the job's (from
    # init) in the driver, the running task's in a worker.
    runtime_env: TaskEnv | None = None
    # Whether a wait brings the payloads of what it waited for (a worker's
    # does, in the same round trip); the driver reads them after, by
    # whichever path is quickest.
    fetch_while_waiting = True
    # The GPUs this process's tasks run on, as CUDA names them (a worker's,
    # fixed by the scheduler; none in the driver, as in Ray).
    gpu_ids: list[str] = []

    def __init__(self, origin: int, num_cpus: int, mapping: Mapping) -> None:
        self.num_cpus = num_cpus
        self.node_id = os.environ.get("FASTRAY_NODE_ID", "")
        self.mapping = mapping
        self.namespace = os.environ.get("FASTRAY_NAMESPACE", "")
        self._origin = origin << ORIGIN_SHIFT
        self._counter = 0
        self._id_lock = threading.Lock()
        self._defined: set[int] = set()
        self._stopped = False
        # The GPUs and custom resources the driver declared, and the
        # scheduler's ids of the requests made of them.
        self.node_resources = NodeResources.from_environment()
        self._demand_ids: dict[bytes, int] = {}

    # -- primitives carried out by subclasses

    @abc.abstractmethod
    def _define(self, fn_id: int, name: bytes, blob: bytes) -> None: ...

    @abc.abstractmethod
    def _submit(self, task_id: int, fn_id: int, options: TaskOptions,
                args: EncodedArgs, actor: int = 0, pool: int = 0, env: int = 0,
                demand: int = 0) -> list[ObjectRef]:
        """Submits a task (a call of actor's method if actor is not 0; pool:
        the placement group whose CPUs it uses; env: its runtime_env's id;
        demand: the id of the GPUs and custom resources it asks for);
        returns the refs to its num_returns results."""

    @abc.abstractmethod
    def _actor_op(self, op: int, body: bytes) -> tuple[int, bytes]:
        """One actor operation (protocol.h, FR_ACTOR_OP): (status, answer)."""

    @abc.abstractmethod
    def _put(self, object_id: int, payload: bytes, contained: list[int]) -> None: ...

    @abc.abstractmethod
    def _promise(self, first_id: int, count: int) -> None:
        """Pending objects first_id .. first_id+count-1, one reference each
        held here, for _fulfil to set (protocol.h, FR_PROMISE)."""

    @abc.abstractmethod
    def _fulfil(self, object_id: int, payload: bytes, contained: list[int]) -> None:
        """Sets an unset promise, adding no reference to it."""

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
        lock = self._id_lock
        lock.acquire()   # not ``with``: once per call, and cheaper so
        try:
            first = self._counter + 1
            self._counter += count
        finally:
            lock.release()
        return self._origin | first

    def submit(self, function: RemoteFunction, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[ObjectRef]:
        if self._stopped:
            raise FastrayError(SHUT_DOWN)
        if options.num_cpus > self.num_cpus:
            raise ValueError(f"{function.name} asks for num_cpus={options.num_cpus:g} but the "
                             f"pool has {self.num_cpus} CPUs; it could never run")
        if function.fn_id not in self._defined:
            self._define(function.fn_id, function.name.encode(), function.pickled())
            self._defined.add(function.fn_id)
        if options.special or self.capture_children or self.runtime_env is not None:
            return self._submit_special(function, args, kwargs, options)
        if not args and not kwargs and options.retry_exceptions is False:
            return self._submit(self._next_ids(options.num_returns or 1), function.fn_id,
                                options, NO_ARGS)
        return self._submit_with_args(function.fn_id, options, args, kwargs,
                                      options.retry_exceptions, 0)

    def _submit_special(self, function: RemoteFunction, args: tuple, kwargs: dict,
                        options: TaskOptions) -> list[ObjectRef]:
        """submit() of a task with scheduling options, max_calls, a
        runtime_env, GPUs or custom resources, or that inherits a placement
        group or runtime_env."""
        # Imported here, like TaskOptions: a worker loads them (and with them
        # dataclasses) only if its code submits such a task.
        from .runtime_env import merged
        from .scheduling import Placement, placement_of
        demand = self.demand_id(options.asked, function.name)
        if options.placement is None:
            placement = Placement(self.placement_group, self.capture_children)
        else:
            placement = placement_of(options.placement, options.num_cpus, function.name)
        if placement.node_id and placement.node_id != self.node_id:
            return self.failed_refs(options.num_returns or 1, wire.PAYLOAD_UNSCHEDULABLE, (
                f"{function.name} has a hard affinity to node {placement.node_id}, which is "
                f"not this runtime's node ({self.node_id}): it can never run"))
        other_node = options.asked.other_node()
        if other_node:
            return self.failed_refs(options.num_returns or 1, wire.PAYLOAD_UNSCHEDULABLE, (
                f"{function.name} asks for the resource {other_node!r} of another node; this "
                f"runtime's one node is {NODE_RESOURCES[0]!r}: it can never run"))
        if placement.group is not None:
            kwargs = with_extras(kwargs, placement_group=placement.group,
                                 capture_children=placement.capture)
        if options.max_calls:
            kwargs = with_extras(kwargs, max_calls=options.max_calls)
        env = merged(self.runtime_env, options.runtime_env)
        if env is not None:
            kwargs = with_extras(kwargs, runtime_env=env)
        return self._submit_with_args(function.fn_id, options, args, kwargs,
                                      options.retry_exceptions, 0, placement.pool,
                                      env.env_id if env else 0, demand)

    def demand_id(self, asked: Asked, what: str) -> int:
        """The scheduler's id of the GPUs and custom resources asked for (0:
        none); ValueError if this machine could never give them."""
        key = demand_key(self.node_resources, asked, what)
        if not key:
            return 0
        found = self._demand_ids.get(key)
        if found is None:
            status, answer = self._actor_op(wire.DEMAND_ADD, key)
            if status != wire.ACTOR_STATUS_OK:
                raise FastrayError(f"the scheduler refused the resource request of {what}")
            found = self._demand_ids[key] = int.from_bytes(answer[:4], "little")
        return found

    def failed_refs(self, count: int, kind: int, text: str) -> list[ObjectRef]:
        """Refs to count new objects holding an error of a text kind."""
        payload = text_payload(kind, text)
        refs = []
        for _ in range(count):
            object_id = self._next_ids(1)
            self._put(object_id, payload, [])
            refs.append(ObjectRef(object_id, adopt=True))
        return refs

    def _submit_with_args(self, fn_id: int, options: TaskOptions, args: tuple, kwargs: dict,
                          retry_exceptions: Any, actor: int, pool: int = 0, env: int = 0,
                          demand: int = 0) -> list[ObjectRef]:
        if not args and not kwargs and retry_exceptions is False:
            # No arguments to encode, nothing created in the store: the
            # common call of a method that reads the actor's state.
            return self._submit(self._next_ids(options.num_returns or 1), fn_id, options,
                                NO_ARGS, actor, pool, env, demand)
        encoded = encode_args(args, kwargs, retry_exceptions, self)
        try:
            return self._submit(self._next_ids(options.num_returns or 1), fn_id, options,
                                encoded, actor, pool, env, demand)
        finally:
            self.drop_created(encoded.created)

    def submit_generator(self, submit: Callable[[dict], list], kwargs: dict,
                         options: TaskOptions) -> Any:
        if options.generator == "dynamic":
            warnings.warn('num_returns="dynamic" is deprecated, as in Ray; use a streaming '
                          "generator (the default for a generator function)",
                          DeprecationWarning, stacklevel=4)
            return submit(with_extras(kwargs, dynamic=True))[0]
        return start_stream(self, submit, kwargs, options.max_retries, options.backpressure)

    def wait_generators(self, waitables: list, num_returns: int, timeout: float | None
                        ) -> tuple[list, list]:
        return wait_with_generators(self, waitables, num_returns, timeout)

    def take_refs(self, ids: list[int]) -> list[ObjectRef]:
        """New refs to existing objects (counted, as ObjectRef(id))."""
        return [ObjectRef(object_id) for object_id in ids]

    def promises(self, count: int) -> list[ObjectRef]:
        """Refs to count new promises, pending until fulfil sets them."""
        self._check_running()
        first = self._next_ids(count)
        self._promise(first, count)
        return new_refs(ObjectRef, first, count, state.generation)

    def fulfil(self, object_id: int, value: Any) -> None:
        """Sets a promise to value (ignored if it is set already)."""
        payload, contained, created = serialize(value, self)
        try:
            self._fulfil(object_id, payload, contained)
        finally:
            self.drop_created(created)

    def put(self, value: Any) -> ObjectRef:
        self._check_running()
        payload, contained, created = serialize(value, self)
        try:
            object_id = self._next_ids(1)
            self._put(object_id, payload, contained)
        finally:
            self.drop_created(created)
        return ObjectRef(object_id, adopt=True)

    def _fetch_now(self, ids: list[int]) -> list[Fetched | None]:
        """The payloads of objects known to be settled (where the wait does
        not bring them: fetch_while_waiting False)."""
        raise NotImplementedError

    def _ready_values(self, ids: list[int]) -> list[Any] | None:
        """The values if every object is ready and a plain inline value (the
        driver's quickest path: no payload copied out, no views); None: take
        the general path."""
        return None

    def _fetch_ready(self, ids: list[int]) -> list[Fetched] | None:
        """The payloads if every object is ready and at hand without waiting
        (the driver's quick path); None: wait as usual."""
        return None

    def get(self, refs: Sequence[ObjectRef], timeout: float | None) -> list[Any]:
        ids = self._ids_of(refs)
        values = self._ready_values(ids)
        if values is not None:
            return values
        ready = self._fetch_ready(ids)
        if ready is not None:
            return _values(ids, ready)
        if len(ids) > GET_ROUND and self.fetch_while_waiting:
            return self._get_in_rounds(refs, ids, timeout)
        states, fetched = self._wait(ids, len(ids), timeout, True, self.fetch_while_waiting)
        self._check_running()
        if fetched is None:
            # The driver reads what it waited for only now, by the quickest path.
            if states.count(wire.OBJ_READY) == len(states):
                values = self._ready_values(ids)
                if values is not None:
                    return values
            fetched = self._fetch_now(ids)
        # Every object that is not pending or unknown comes with its payload.
        payloads = cast("list[Fetched]", fetched)
        if states.count(wire.OBJ_READY) != len(states):
            for i, state in enumerate(states):
                if state == wire.OBJ_FAILED:
                    raise error_of(payloads[i][0])
                if state == wire.OBJ_UNKNOWN:
                    raise ObjectLostError(f"{refs[i]!r} no longer exists (freed, or from a "
                                          "runtime that was shut down)")
            pending = states.count(wire.OBJ_PENDING)
            raise GetTimeoutError(f"get timed out after {timeout} s: {pending} of {len(ids)} "
                                  "object(s) not ready")
        return _values(ids, payloads)

    def _get_in_rounds(self, refs: Sequence[ObjectRef], ids: list[int],
                       timeout: float | None) -> list[Any]:
        """get() of many objects whose payloads the wait brings: each round
        waits for GET_ROUND more (or fewer, if fewer are left), and
        deserializes all that came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        values: dict[int, Any] = {}
        todo = list(dict.fromkeys(ids))
        while todo:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            states, fetched = self._wait(todo, min(len(todo), GET_ROUND), left, True, True)
            self._check_running()
            payloads = cast("list[Fetched]", fetched)
            pending = []
            for object_id, state, payload in zip(todo, states, payloads):
                if state == wire.OBJ_READY:
                    values[object_id] = deserialize(payload)
                elif state == wire.OBJ_PENDING:
                    pending.append(object_id)
                elif state == wire.OBJ_FAILED:
                    raise error_of(payload[0])
                else:
                    lost = refs[ids.index(object_id)]
                    raise ObjectLostError(f"{lost!r} no longer exists (freed, or from a "
                                          "runtime that was shut down)")
            if len(pending) == len(todo):   # none came: the deadline passed
                raise GetTimeoutError(f"get timed out after {timeout} s: {len(pending)} of "
                                      f"{len(ids)} object(s) not ready")
            todo = pending
        return [values[object_id] for object_id in ids]

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

    # -- actors (the rest in fastray/actor_calls.py, loaded on first use)

    def create_actor(self, actor_class: ActorClass, args: tuple, kwargs: dict,
                     options: ActorOptions) -> ActorHandle:
        from . import actor_calls
        return actor_calls.create_actor(self, actor_class, args, kwargs, options)

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        from . import actor_calls
        actor_calls.kill_actor(self, handle, no_restart)

    def get_actor(self, name: str, namespace: str | None) -> ActorHandle:
        from . import actor_calls
        return actor_calls.get_actor(self, name, namespace)

    def list_named_actors(self, all_namespaces: bool) -> list:
        from . import actor_calls
        return actor_calls.list_named_actors(self, all_namespaces)

    # -- placement groups (the rest in fastray/placement_calls.py, loaded on first use)

    def create_placement_group(self, bundles: list[dict[str, float]], strategy: str,
                               name: str, lifetime: str | None) -> Any:
        from . import placement_calls
        return placement_calls.create(self, bundles, strategy, name, lifetime)

    def remove_placement_group(self, group: Any) -> None:
        from . import placement_calls
        placement_calls.remove(self, group)

    def get_placement_group(self, name: str) -> Any:
        from . import placement_calls
        return placement_calls.by_name(self, name)

    def placement_group_table(self, group: Any) -> dict[str, Any]:
        from . import placement_calls
        return placement_calls.table_of(self, group)

    def current_placement_group(self) -> Any:
        return self.placement_group

    def call_actor(self, actor: ActorReference, method: str, fn_id: int, args: tuple,
                   kwargs: dict, options: TaskOptions, retry_exceptions: Any
                   ) -> list[ObjectRef]:
        if self._stopped:
            raise FastrayError(SHUT_DOWN)
        if actor.meta.unschedulable:
            return self.failed_refs(options.num_returns or 1, wire.PAYLOAD_ACTOR_UNSCHEDULABLE,
                                    actor.meta.unschedulable)
        if fn_id not in self._defined:
            self._define(fn_id, f"{actor.meta.class_name}.{method}".encode(),
                         _pickled_call(method))
            self._defined.add(fn_id)
        return self._submit_with_args(fn_id, options, args, kwargs, retry_exceptions,
                                      actor.actor_id)
    def _check_running(self) -> None:
        if self._stopped:
            raise FastrayError(SHUT_DOWN)

    def _check_refs(self, refs: Sequence[ObjectRef]) -> None:
        self._ids_of(refs)

    def _ids_of(self, refs: Sequence[ObjectRef]) -> list[int]:
        """The refs' ids, once sure they all belong to this runtime."""
        self._check_running()
        generation = state.generation
        if len(refs) == 1 and refs[0]._generation == generation:
            return [refs[0]._id]   # a sync call's get, without a comprehension's frame
        # One comprehension, not map(attrgetter): 3.11+ specializes slot loads.
        ids = [ref._id for ref in refs if ref._generation == generation]
        if len(ids) != len(refs):
            stale = next(r for r in refs if r._generation != generation)
            raise ObjectLostError(f"{stale!r} belongs to a fastray runtime that was shut down")
        return ids


def _values(ids: list[int], payloads: list[Fetched]) -> list[Any]:
    """The objects' values, each object deserialized once however often it
    is listed."""
    if len(ids) == 1:
        return [deserialize(payloads[0])]
    values: dict[int, Any] = {}
    return [values[i] if i in values else values.setdefault(i, deserialize(p))
            for i, p in zip(ids, payloads)]


def _pickled_call(method: str) -> bytes:
    from .actor_spec import MethodCall
    return pickle.dumps(MethodCall(method), protocol=5)

