"""The worker process: receives tasks from the scheduler, runs them, sends
the results back; and, for code inside a task, the backend that submits,
puts and gets through the same socket.

A worker runs one task at a time, in the order they arrive: when every CPU
is busy the scheduler may queue a quick task behind the running one.  While
a task waits in ``get`` the scheduler takes such queued tasks back (REVOKE),
counts the worker as blocked and lends its CPU to another worker, so nested
tasks never deadlock the pool.  Once the pool is at its largest, the
scheduler may instead send the blocked worker a task that its ``get`` waits
for (TASK_INLINE): the worker runs it right there, on top of the waiting
task, and then goes back to waiting.  ``cancel`` arrives as a signal naming the
task (csrc/_cancel_signal.pyx), which raises KeyboardInterrupt in that task
only: at once if it is running, as it starts if it is still on its way.
"""
from __future__ import annotations

import collections
import os
import pickle
import signal
import struct
import sys
import time
import types
from typing import TYPE_CHECKING, Any, Callable

from . import _cancel_signal, state, wire
from ._scheduler import new_refs
from ._store import Mapping
from .backend import ORIGIN_SHIFT, SchedulerBackend
from .task_args import NO_ARGS, EncodedArgs, decode_args
from .task_returns import retryable_by, split_returns, yielded_returns
from .exceptions import ObjectStoreFullError
from .object_ref import ObjectRef
from .connection import Connection
from .generator_task import ValueStream
from .call_extras import EXTRAS_KWARG, CallExtras
from .generators import DynamicObjectRefGenerator
from .gpus import VISIBLE_DEVICES
from .prefixed_output import PrefixedOutput
from .serialization import Fetched, deserialize, serialize, serialize_error
from .wire import HEADER, LOCATION, SUBMIT_FIELDS, TASK_FIELDS, pack_ids, refs_frame

if TYPE_CHECKING:
    import concurrent.futures

    from .options import TaskOptions
    from .runtime_env import TaskEnv

U32 = struct.Struct("<I")
U64 = struct.Struct("<Q")
# Ray's switch: set to 1, tasks that asked for no GPU see none.
OVERRIDE_ON_ZERO = "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO"


_ONE_RESULT = struct.Struct("<IQ")
# What follows a SUBMIT's fields for a call without arguments.
_NO_ARGS_TAIL = pack_ids([]) * 2 + NO_ARGS.payload
# A TASK body's fields, then the size of the function's pickle it carries.
_TASK_HEAD = struct.Struct("<" + TASK_FIELDS.format.lstrip("<") + "Q")


class RunningCall:
    """The task or call a worker's thread (or coroutine) runs: its id once
    it started (cancel acts on it then), its name, and whether cancel
    interrupted it."""

    __slots__ = ("task_id", "name", "interrupted")

    def __init__(self, task_id: int | None, name: str) -> None:
        self.task_id = task_id
        self.name = name
        self.interrupted = False


NO_CALL = RunningCall(None, "")


class CurrentCall:
    """Holds the call running now: the process's one (a backend whose
    calls run on several threads or coroutines holds one of each)."""

    __slots__ = ("call",)

    def __init__(self) -> None:
        self.call = NO_CALL


class WorkerBackend(SchedulerBackend):
    """The backend seen by code running inside a task."""

    def __init__(self, connection: Connection, origin: int, slot: int, mapping: Mapping) -> None:
        super().__init__(origin, int(os.environ.get("FASTRAY_NUM_CPUS", "1")), mapping)
        self.slot = slot
        self.connection = self._conn = connection
        self._local_refs: dict[int, int] = {}
        self._increfs: list[int] = []
        self._decrefs: list[int] = []
        self._unpins: list[int] = []
        self._functions: dict[int, tuple[Callable[..., Any], str]] = {}
        self._request_counter = 0
        self._early_replies: dict[tuple[int, int], tuple[int, memoryview]] = {}
        self._outbox = connection.outbox
        # Tasks queued behind the running one: (task id, function id, body).
        self.pending: collections.deque[tuple[int, int, memoryview]] = collections.deque()
        self._current = CurrentCall()
        # Calls of functions with max_calls run here, by function name.
        self._calls_counted: collections.Counter[str] = collections.Counter()
        self._retiring = False

    # -- messages

    def _send(self, kind: int, a: int, b: int, body: bytes = b"", later: bool = False) -> None:
        """Sends a frame between the reference changes queued so far: new
        references first (the frame may rely on them), released ones after
        (the frame may pin an object whose last local ref just went).
        later: it may wait in the outbox for the next send (see Outbox)."""
        frames = [HEADER.pack(len(body), kind, a, b), body]
        if self._increfs:
            frames.insert(0, refs_frame(self._increfs, [], []))
            self._increfs = []
        if self._decrefs or self._unpins:
            frames.append(refs_frame([], self._decrefs, self._unpins))
            self._decrefs, self._unpins = [], []
        self._outbox.add(frames, later)

    def send_outbox(self, later: bool = False) -> None:
        """Sends the frames held back, and the reference changes queued;
        later: only queues those changes (a frame built elsewhere, to go
        after them, may name the references they take)."""
        if self._increfs or self._decrefs or self._unpins:
            frame = refs_frame(self._increfs, self._decrefs, self._unpins)
            self._increfs, self._decrefs, self._unpins = [], [], []
            self._outbox.add([frame], later)
        elif not later:
            self._outbox.send()

    def more_work(self) -> bool:
        """Whether another task or call is here already, so a result may
        wait in the outbox for the next one's."""
        return bool(self.pending) or self._conn.frame_ready()

    def outbox_due(self) -> bool:
        return self._outbox.due()

    # -- primitives

    def _define(self, fn_id: int, name: bytes, blob: bytes) -> None:
        self._send(wire.DEFINE, fn_id, 0, U32.pack(len(name)) + name + blob)

    def _submit(self, task_id: int, fn_id: int, options: TaskOptions, args: EncodedArgs,
                actor: int = 0, pool: int = 0, env: int = 0, demand: int = 0
                ) -> list[ObjectRef]:
        fields = SUBMIT_FIELDS.pack(options.num_returns, options.cpu_milli, options.max_retries,
                                    actor, pool, env, demand)
        if args is NO_ARGS:
            body = fields + _NO_ARGS_TAIL
        else:
            body = b"".join([fields, pack_ids(args.deps), pack_ids(args.contained), args.payload])
        self._local_refs_adopt(task_id, options.num_returns)
        self._send(wire.SUBMIT, task_id, fn_id, body, later=True)
        return new_refs(ObjectRef, task_id, options.num_returns, state.generation)

    def _actor_op(self, op: int, body: bytes) -> tuple[int, bytes]:
        request = self._next_request()
        self._send(wire.ACTOR_OP, request, op, body)
        reply = self._reply(wire.REPLY, request, None)
        assert reply is not None  # without a deadline the reply always comes
        return reply[0], bytes(reply[1])

    def _put(self, object_id: int, payload: bytes, contained: list[int]) -> None:
        self._local_refs_adopt(object_id, 1)
        self._send(wire.PUT, object_id, 0, pack_ids(contained) + payload)

    def _promise(self, first_id: int, count: int) -> None:
        self._local_refs_adopt(first_id, count)
        self._send(wire.PROMISE, first_id, count, later=True)

    def _fulfil(self, object_id: int, payload: bytes, contained: list[int]) -> None:
        self._send(wire.PUT, object_id, 0, pack_ids(contained) + payload, later=True)

    def _local_refs_adopt(self, first_id: int, count: int) -> None:
        for object_id in range(first_id, first_id + count):
            self._local_refs[object_id] = self._local_refs.get(object_id, 0) + 1

    def _next_request(self) -> int:
        self._request_counter += 1
        return self._request_counter

    def _wait(self, ids: list[int], needed: int, timeout: float | None, fail_fast: bool,
              fetch: bool) -> tuple[bytes, list[Fetched | None] | None]:
        request = self._next_request()
        flags = (wire.WAIT_FETCH if fetch else 0) | (wire.WAIT_FAIL_FAST if fail_fast else 0)
        self._send(wire.WAIT, request, needed, U32.pack(flags) + pack_ids(ids))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            body = self._reply(wire.REPLY, request, deadline)
        except BaseException:
            self._send(wire.WAIT_CANCEL, request, 0)
            self._reply(wire.REPLY, request, None)
            raise
        if body is None:
            self._send(wire.WAIT_CANCEL, request, 0)
            body = self._reply(wire.REPLY, request, None)
        assert body is not None  # without a deadline the reply always comes
        return self._parse_reply(body[1], len(ids), fetch)

    def _reply(self, kind: int, request: int, deadline: float | None
               ) -> tuple[int, memoryview] | None:
        """The answer (b, body) to a request, or None at the deadline.  A task
        sent meanwhile is one this wait needs: it runs here and now.  Answers
        to the waits of tasks below it on the stack are kept for them."""
        early = self._early_replies.pop((kind, request), None)
        if early is not None:
            return early
        while True:
            frame = self._conn.receive(deadline)
            if frame is None:
                return None
            got, a, b, body = frame
            del frame
            if got == kind and a == request:
                return b, body
            self.file_frame(got, a, b, body)
            del body

    def file_frame(self, kind: int, a: int, b: int, body: memoryview) -> None:
        """What a wait does with a frame that is not its answer."""
        if kind == wire.TASK and U32.unpack_from(body)[0] & wire.TASK_INLINE:
            self.run_task(a, b, body)
            del body
            self.send_outbox()
            # The waiting task may have been cancelled while that one ran.
            self.interrupt_if_cancelled()
        elif kind == wire.TASK:
            self.pending.append((a, b, body))
        elif kind == wire.REVOKE:
            self.revoke(body)
        elif kind == wire.DEVICES:
            self.bind_devices(a, body)
        else:
            self._early_replies[(kind, a)] = (b, body)

    def bind_devices(self, count: int, body: memoryview) -> None:
        """The GPUs this process's tasks see, for its whole life (sent
        before its first task, so before anything can start CUDA).  A CPU
        worker leaves CUDA_VISIBLE_DEVICES as the driver had it, as Ray
        2.60 does, unless RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO=1 asks to hide
        every device from it."""
        self.gpu_ids = bytes(body).decode().split(",") if count else []
        if self.gpu_ids:
            os.environ[VISIBLE_DEVICES] = ",".join(self.gpu_ids)
        elif os.environ.get(OVERRIDE_ON_ZERO, "").lower() in ("1", "true"):
            os.environ[VISIBLE_DEVICES] = ""

    def revoke(self, body: memoryview) -> None:
        """Drops queued tasks the scheduler took back (a task already started
        is not among them, or has been cancelled and its result is ignored)."""
        (count,) = U32.unpack_from(body)
        revoked = set(struct.unpack_from(f"<{count}Q", body, 4))
        kept: collections.deque[tuple[int, int, memoryview]] = collections.deque()
        for task in self.pending:
            if task[0] in revoked:
                # Load its function and release its views: the scheduler
                # counts both as done once it sent the frame.
                self._unpack_task(task[1], task[2])
            else:
                kept.append(task)
        self.pending = kept

    def _parse_reply(self, body: memoryview, count: int, fetch: bool
                     ) -> tuple[bytes, list[Fetched | None] | None]:
        states = bytearray(count)
        payloads: list[Fetched | None] = [None] * count
        offset = 0
        for i in range(count):
            states[i] = state = body[offset]
            offset += 1
            if fetch and state != wire.OBJ_PENDING and state != wire.OBJ_UNKNOWN:
                # _read_payload inlined for a payload with no blob (most are):
                # this runs for every object of a get.
                end = offset + 8 + U64.unpack_from(body, offset)[0]
                if U32.unpack_from(body, end)[0]:
                    payloads[i], offset = self._read_payload(body, offset)
                else:
                    payloads[i] = (body[offset + 8:end], [])
                    offset = end + 4
        return bytes(states), payloads if fetch else None

    def _read_payload(self, body: memoryview, offset: int) -> tuple[Fetched, int]:
        """A payload and views of its blobs, as put_payload in the scheduler
        wrote them."""
        (size,) = U64.unpack_from(body, offset)
        payload = body[offset + 8:offset + 8 + size]
        views, offset = self._read_locations(body, offset + 8 + size)
        return (payload, views), offset

    def _read_locations(self, body: memoryview, offset: int) -> tuple[list, int]:
        """Views of the blobs listed at offset: each pins its blob until the
        last array made from it goes."""
        (count,) = U32.unpack_from(body, offset)
        offset += 4
        views = []
        for _ in range(count):
            blob_id, blob_offset, size = LOCATION.unpack_from(body, offset)
            views.append(self.mapping.view(blob_id, blob_offset, size, self.release_view))
            offset += LOCATION.size
        return views, offset

    def allocate_blob(self, size: int) -> tuple[int, int]:
        """Asks the scheduler, which owns the allocator, for store memory."""
        blob_id = self._next_ids(1)
        request = self._next_request()
        self._send(wire.ALLOC, request, 0, U32.pack(1) + struct.pack("<QQ", blob_id, size))
        reply = self._reply(wire.ALLOCATED, request, None)
        assert reply is not None  # without a deadline the reply always comes
        ok, body = reply
        if not ok:
            raise ObjectStoreFullError(bytes(body).decode("utf-8", "replace"))
        self._local_refs_adopt(blob_id, 1)
        return blob_id, U64.unpack_from(body)[0]

    def drop_created(self, blob_ids: list[int]) -> None:
        for blob_id in blob_ids:
            self.decref(blob_id)

    def release_view(self, blob_id: int) -> None:
        self._unpins.append(blob_id)

    def _cancel(self, object_id: int, force: bool, recursive: bool) -> None:
        flags = (wire.CANCEL_FORCE if force else 0) | (wire.CANCEL_RECURSIVE if recursive else 0)
        self._send(wire.CANCEL, object_id, flags)

    def incref(self, object_id: int) -> None:
        count = self._local_refs.get(object_id, 0)
        if count == 0:
            self._increfs.append(object_id)
        self._local_refs[object_id] = count + 1

    def decref(self, object_id: int) -> None:
        count = self._local_refs.get(object_id, 0) - 1
        if count <= 0:
            self._local_refs.pop(object_id, None)
            self._decrefs.append(object_id)
        else:
            self._local_refs[object_id] = count

    def future(self, ref) -> concurrent.futures.Future[Any]:
        """Inside a task the socket serves one waiter at a time, so the
        future is settled at once by a blocking get."""
        import concurrent.futures
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        try:
            future.set_result(self.get([ref], None)[0])
        except Exception as exc:
            future.set_exception(exc)
        return future

    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        raise NotImplementedError("cluster resources are known to the driver only")

    def nodes(self) -> list[dict[str, Any]]:
        raise NotImplementedError("the list of nodes is known to the driver only")

    def current_task_id(self) -> int | None:
        return self._current.call.task_id


    def store_stats(self) -> dict[str, int]:
        raise NotImplementedError("object store figures are known to the driver only")

    def task_events(self) -> list[tuple]:
        raise NotImplementedError("the timeline is known to the driver only")

    def shutdown(self) -> None:
        raise RuntimeError("shutdown() cannot be called from inside a task")

    # -- running tasks

    def on_sigint(self, signum: int, frame: Any) -> None:
        """cancel() of the running task; a cancel of a task not started yet
        is acted on when it starts, one of a task already done is ignored."""
        _cancel_signal.handled()
        self.interrupt_if_cancelled()

    def is_canceled(self) -> bool:
        """Whether cancel() was called for the running task (Ray's flag)."""
        task_id = self._current.call.task_id
        return task_id is not None and _cancel_signal.requested(task_id)

    def interrupt_if_cancelled(self) -> None:
        """Raises KeyboardInterrupt in the running task if it was cancelled."""
        call = self._current.call
        if call.task_id is not None and _cancel_signal.requested(call.task_id):
            call.interrupted = True
            raise KeyboardInterrupt

    @property
    def origin_base(self) -> int:
        """The origin this backend was made with (ids it makes carry it)."""
        return self._origin >> ORIGIN_SHIFT

    def learn_function(self, fn_id: int, body: memoryview) -> int:
        """Loads the function a TASK body carries, if it carries one and it
        is new; returns where the body goes on after it."""
        (blob_size,) = U64.unpack_from(body, TASK_FIELDS.size)
        start = TASK_FIELDS.size + 8
        if blob_size and fn_id not in self._functions:
            # pickle's loads is cloudpickle's: it imports cloudpickle only if
            # the function was pickled by value.
            function = pickle.loads(body[start:start + blob_size])
            self._functions[fn_id] = (function, getattr(function, "__qualname__", "task"))
        return start + blob_size

    def _unpack_task(self, fn_id: int, body: memoryview
                      ) -> tuple[int, list[Fetched], Fetched]:
        """A TASK body's return count, dependencies and arguments; the first
        frame for a function also carries the function, kept from now on."""
        _, num_returns, num_deps, blob_size = _TASK_HEAD.unpack_from(body)
        offset = self.learn_function(fn_id, body) if blob_size else _TASK_HEAD.size
        dep_payloads = []
        for _ in range(num_deps):
            fetched, offset = self._read_payload(body, offset)
            dep_payloads.append(fetched)
        if U32.unpack_from(body, offset)[0]:
            args_views, offset = self._read_locations(body, offset)
        else:   # most tasks' arguments use no blob
            args_views, offset = [], offset + U32.size
        return num_returns, dep_payloads, (body[offset:], args_views)

    def callable_of(self, fn_id: int) -> tuple[Callable[..., Any], str]:
        """What a task of function fn_id calls, and its name."""
        return self._functions[fn_id]

    def run_task(self, task_id: int, fn_id: int, body: memoryview) -> None:
        num_returns, dep_payloads, args = self._unpack_task(fn_id, body)
        del body
        function, name = self.callable_of(fn_id)
        current = self._current
        below = current.call
        call = current.call = RunningCall(None, name)
        created: list[int] = []
        try:
            status, results = self._execute(call, task_id, function, num_returns, dep_payloads,
                                            args, created)
            del dep_payloads, args
            self.send_result(task_id, status, results)
            del results
        finally:
            if created:
                self.drop_created(created)
            current.call = below
        sys.stdout.flush()
        sys.stderr.flush()
        if self._retiring and below is NO_CALL:
            self.retire()

    def retire(self) -> None:
        """Ends the process after a function's max_calls-th call here (Ray's
        way to hand back what a library keeps, such as GPU memory): the
        scheduler starts another worker, and gives tasks sent here behind
        this one to others, unstarted.  An actor that exit_actor() ends
        leaves this way too, once that call's result is sent."""
        self.send_outbox()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    def send_result(self, task_id: int, status: int,
                    results: list[tuple[bytes, list[int]]]) -> None:
        if len(results) == 1:
            payload, contained = results[0]
            body = _ONE_RESULT.pack(1, len(payload)) + payload + pack_ids(contained)
        else:
            parts = [U32.pack(len(results))]
            for payload, contained in results:
                parts += [U64.pack(len(payload)), payload, pack_ids(contained)]
            body = b"".join(parts)
        self._send(wire.RESULT, task_id, status, body, later=self.more_work())
        if status == wire.STATUS_ACTOR_EXIT:   # exit_actor() in an actor's call
            self.retire()

    def _execute(self, call: RunningCall, task_id: int, function: Callable[..., Any],
                 num_returns: int, dep_payloads: list[Fetched], args_payload: Fetched,
                 created: list[int]) -> tuple[int, list[tuple[bytes, list[int]]]]:
        """Runs the task; blobs made for its results are added to created."""
        name = call.name
        retry_exceptions: Any = False
        error: BaseException
        try:
            try:
                # From here a cancel raises: one that came before is acted on now.
                call.task_id = task_id
                if _cancel_signal.requested(task_id):   # interrupt_if_cancelled, inlined
                    call.interrupted = True
                    raise KeyboardInterrupt
                # arguments(), inlined: this runs for every task.
                args, kwargs, retry_exceptions = decode_args(
                    args_payload, [deserialize(p) for p in dep_payloads] if dep_payloads else [])
                del dep_payloads, args_payload
                if kwargs and EXTRAS_KWARG in kwargs:
                    value = self.run_with_extras(function, args, kwargs, name)
                else:
                    value = function(*args, **kwargs)
                del args, kwargs
                return wire.STATUS_OK, self.results_of(value, num_returns, name, created)
            finally:
                call.task_id = None
        except KeyboardInterrupt as exc:
            if call.interrupted:
                return wire.STATUS_INTERRUPTED, []
            error = exc
        except BaseException as exc:
            error = exc
        return self.failure_of(error, retry_exceptions, name, num_returns)

    def run_with_extras(self, function: Callable[..., Any], args: list, kwargs: dict,
                        name: str) -> Any:
        """Runs a call that carries CallExtras: a generator task streams
        its values (returning None), or puts them and returns a
        DynamicObjectRefGenerator of them; a task in a placement group is
        known to be (and its children join it if it captures them);
        max_calls ends the worker after."""
        extras: CallExtras = kwargs.pop(EXTRAS_KWARG)
        if extras.runtime_env is not None:
            self.enter_runtime_env(extras.runtime_env)
        below = self.placement_group, self.capture_children
        if extras.placement_group is not None:
            self.placement_group = extras.placement_group
            self.capture_children = extras.capture_children
        try:
            if extras.stream is not None:
                ValueStream(self, *extras.stream).run(_values(function, args, kwargs), name)
                return None
            if extras.dynamic:
                return DynamicObjectRefGenerator(self.put_each(function(*args, **kwargs), name))
            return function(*args, **kwargs)
        finally:
            self.placement_group, self.capture_children = below
            if extras.max_calls:
                self._calls_counted[name] += 1
                self._retiring = self._calls_counted[name] >= extras.max_calls

    def put_each(self, values: Any, name: str) -> list[ObjectRef]:
        """Refs to what values yields, put one by one; an exception it raises
        is put last, as an error (num_returns="dynamic", as Ray)."""
        refs = []
        try:
            for value in values:
                refs.append(self.put(value))
        except Exception as exc:
            object_id = self._next_ids(1)
            self._put(object_id, serialize_error(exc, name), [])
            refs.append(ObjectRef(object_id, adopt=True))
        return refs

    def enter_runtime_env(self, env: TaskEnv) -> None:
        """Sets up env in this process before its first task of it (the
        scheduler sends a worker tasks of one runtime_env only).  If that
        fails, the task fails and the process ends after it, so that the
        next task of env gets a fresh one."""
        if self.runtime_env is not None and self.runtime_env.env_id == env.env_id:
            return
        from .runtime_env import set_up   # here: most workers never see a runtime_env
        self.runtime_env = env
        try:
            set_up(env)
        except BaseException:
            self._retiring = True
            raise

    def results_of(self, value: Any, num_returns: int, name: str, created: list[int]
                   ) -> list[tuple[bytes, list[int]]]:
        """A returned value as result payloads; blobs made are added to created.
        A generator's values are its returns, as it yields them; if it
        raises first, the returns it did not reach hold the error (Ray's rule)."""
        if num_returns == 1 and type(value) is not types.GeneratorType:
            payload, contained, blobs = serialize(value, self)
            created += blobs
            return [(payload, contained)]
        error = None
        if type(value) is types.GeneratorType:
            outputs, error = yielded_returns(value, num_returns, name)
        else:
            outputs = split_returns(value, num_returns, name)
        del value
        results = []
        for output in outputs:
            payload, contained, blobs = serialize(output, self)
            created += blobs
            results.append((payload, contained))
        if error is not None:
            results += [(serialize_error(error, name), [])] * (num_returns - len(outputs))
        return results

    def failure_of(self, error: BaseException, retry_exceptions: Any, name: str,
                   num_returns: int) -> tuple[int, list[tuple[bytes, list[int]]]]:
        """The status and result payloads of a task that raised error."""
        retryable = retryable_by(error, retry_exceptions)
        status = wire.STATUS_RETRYABLE_ERROR if retryable else wire.STATUS_ERROR
        payload = serialize_error(error, name)
        del error
        return status, [(payload, [])] * num_returns

    def output_name(self) -> str:
        """What the lines this process prints are marked with."""
        return self._current.call.name or "worker"


def _values(function: Callable[..., Any], args: list, kwargs: dict) -> Any:
    """What a streaming generator task yields: an exception from the call
    itself comes where the first value would."""
    yield from function(*args, **kwargs)


def arguments(dep_payloads: list[Fetched], args_payload: Fetched) -> tuple[list, dict, Any]:
    """A task's arguments, with its dependencies' values filled in."""
    deps = [deserialize(p) for p in dep_payloads] if dep_payloads else []
    return decode_args(args_payload, deps)


def _output_name() -> str:
    """What this process's printed lines are marked with, now."""
    backend = state.backend
    return backend.output_name() if isinstance(backend, WorkerBackend) else "worker"


HostActor = Callable[[WorkerBackend, int, int, memoryview], None]


def run_worker(fd: int, slot: int, origin: int, store: tuple[int, int],
               host_actor: HostActor) -> None:
    """The worker's main loop; exits the process when the driver goes away.
    A task that creates an actor hands the process over to host_actor."""
    _cancel_signal.die_with_parent()
    connection = Connection(fd)
    store_fd, store_size = store
    mapping = Mapping(store_fd, store_size)
    os.close(store_fd)
    backend = WorkerBackend(connection, origin, slot, mapping)
    state.install(backend)
    sys.stdout = PrefixedOutput(sys.stdout, _output_name)
    sys.stderr = PrefixedOutput(sys.stderr, _output_name)
    signal.signal(signal.SIGINT, backend.on_sigint)
    _cancel_signal.install()
    code = 0
    try:
        serve(backend, host_actor)
    except (EOFError, ConnectionError):
        pass
    except BaseException:
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(backend: WorkerBackend, host_actor: HostActor | None) -> None:
    """Runs the tasks the scheduler sends, in order, until the connection
    ends (EOFError)."""
    connection = backend.connection
    # Looked up once: this loop runs for every task.
    buffered, outbox_due, task = connection.buffered, connection.outbox.due, wire.TASK
    while True:
        if backend.pending:
            if outbox_due():
                backend.send_outbox()
            kind, (a, b, body) = task, backend.pending.popleft()
        else:
            frame = buffered()
            if frame is None:
                # About to wait: what is held goes first.
                backend.send_outbox()
                frame = connection.receive()
                assert frame is not None  # without a deadline a frame always comes
            elif outbox_due():
                backend.send_outbox()
            kind, a, b, body = frame
        if kind == task and host_actor is not None and (
                U32.unpack_from(body)[0] & wire.TASK_ACTOR_CREATE):
            host_actor(backend, a, b, body)
        elif kind == task:
            backend.run_task(a, b, body)
            del body
        elif kind == wire.REVOKE:
            backend.revoke(body)
        elif kind == wire.DEVICES:
            backend.bind_devices(a, body)
