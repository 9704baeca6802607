"""The process side of an actor: its process is a worker that got the
actor's creation task.  It builds the instance and from then on runs only
that actor's method calls, in one of three ways:

- a default actor runs one call at a time, in order, in the main thread
  (the task worker's own loop, so a call costs what a task costs);
- a threaded actor (``max_concurrency`` > 1, or concurrency groups) runs
  calls on threads, up to each group's limit: the thread reading the
  socket runs each call it reads, and hands the reading to another thread
  when a call runs long or waits for a reply;
- an async actor (any ``async def`` method) runs every call as a coroutine
  on one event loop in the main thread, which reads the socket too; a
  semaphore per group bounds how many run at once.

Cancel of a running call does not interrupt a sync method (Ray's rule):
``get_runtime_context().is_canceled()`` turns True in it, and its result is
dropped as cancelled.  A coroutine gets ``asyncio.CancelledError``.
"""
from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextvars
import inspect
import os
import signal
import struct
import sys
import threading
import time
import traceback
from threading import get_ident
from types import CoroutineType
from typing import Any, Callable, cast

from . import _cancel_signal, state, wire
from ._deadline import Deadline
from .actor import ActorHandle
from .actor_spec import (READY_METHOD, TERMINATE_METHOD, ActorBlueprint, ActorExit,
                         ActorSettings, MethodCall)
from .generator_task import ValueStream
from .call_extras import EXTRAS_KWARG, CallExtras
from .generators import DynamicObjectRefGenerator
from .serialization import deserialize, error_of, text_payload
from .calls_loop import CallLimit, CallsLoop
from .connection import Connection
from .worker import NO_CALL, RunningCall, WorkerBackend, arguments, serve

def host_actor(worker: WorkerBackend, task_id: int, fn_id: int, body: memoryview) -> None:
    """Turns this worker into the host of the actor that task_id creates;
    returns only by raising EOFError when the runtime closes the socket."""
    num_returns, deps, args_payload = worker._unpack_task(fn_id, body)
    del body
    blueprint = cast(ActorBlueprint, worker.callable_of(fn_id)[0])
    host = ActorBackend(worker.connection, worker.origin_base, worker.slot, worker.mapping)
    state.install(host)
    host.gpu_ids = worker.gpu_ids
    host.actor_id = task_id
    host.class_name = blueprint.cls.__name__
    try:
        args, kwargs, _ = arguments(deps, args_payload)
        settings: ActorSettings = args.pop(0)
        if settings.runtime_env is not None:
            host.enter_runtime_env(settings.runtime_env)
    except BaseException as exc:
        host.send_result(task_id, wire.STATUS_ERROR, [(_constructor_failed(exc), [])])
        serve(host, None)
        return
    del deps, args_payload
    if blueprint.is_async:
        host = AsyncActorBackend.taking_over(host)
    elif settings.max_concurrency > 1 or settings.concurrency_groups:
        host = ThreadedActorBackend.taking_over(host)
    host.settings = settings
    host.placement_group = settings.placement_group
    host.capture_children = settings.capture_children
    host.runtime_env = settings.runtime_env
    signal.signal(signal.SIGINT, host.on_sigint)
    host.construct(task_id, blueprint.cls, args, kwargs)
    host.serve()


def _constructor_failed(error: BaseException) -> bytes:
    text = "".join(traceback.format_exception(error)).rstrip()
    return text_payload(wire.PAYLOAD_ACTOR_DIED,
                        f"The actor died because its constructor raised:\n{text}")


class ActorBackend(WorkerBackend):
    """A worker hosting an actor that runs one call at a time, in order."""

    actor_id: int | None = None
    class_name = ""
    settings: ActorSettings | None = None

    def __init__(self, connection: Connection, origin: int, slot: int, mapping: Any) -> None:
        super().__init__(connection, origin, slot, mapping)
        self.instance: Any = None
        self._bound: dict[int, tuple[Callable[..., Any], str]] = {}
        self._groups: dict[int, str | None] = {}

    @classmethod
    def taking_over(cls, host: ActorBackend) -> ActorBackend:
        """The same actor hosted another way: a fresh backend of this kind."""
        other = cls(host.connection, host.origin_base, host.slot, host.mapping)
        other.actor_id, other.class_name = host.actor_id, host.class_name
        other.gpu_ids = host.gpu_ids
        state.install(other)
        return other

    def construct(self, task_id: int, cls: type, args: list, kwargs: dict) -> None:
        """Runs __init__; a constructor that raises kills the actor for good."""
        self._current.call = RunningCall(task_id, f"{cls.__qualname__}.__init__")
        try:
            self.instance = cls(*args, **kwargs)
        except BaseException as exc:
            self.send_result(task_id, wire.STATUS_ERROR, [(_constructor_failed(exc), [])])
            return
        finally:
            self._current.call = NO_CALL
        self.send_result(task_id, wire.STATUS_OK, [])
        # Sent at once, not with the first calls' results: if one of them
        # kills the process, the constructor must count as done.
        self.send_outbox()

    def serve(self) -> None:
        serve(self, None)

    def callable_of(self, fn_id: int) -> tuple[Callable[..., Any], str]:
        """A call's bound method (the function the scheduler sent names it)."""
        bound = self._bound.get(fn_id)
        if bound is None:
            call = cast(MethodCall, self._functions[fn_id][0])
            name = f"{self.class_name}.{call.name}"
            if call.name == READY_METHOD:
                bound = (_ready, name)
            elif call.name == TERMINATE_METHOD:
                bound = (_terminate, name)
            elif self.instance is None:
                bound = (_not_constructed, name)
            else:
                bound = (getattr(self.instance, call.name), name)
            self._bound[fn_id] = bound
        return bound

    def failure_of(self, error: BaseException, retry_exceptions: Any, name: str,
                   num_returns: int) -> tuple[int, list[tuple[bytes, list[int]]]]:
        if isinstance(error, ActorExit):
            return wire.STATUS_ACTOR_EXIT, []
        return super().failure_of(error, retry_exceptions, name, num_returns)

    def on_sigint(self, signum: int, frame: Any) -> None:
        """cancel() of a call: one not started yet is skipped when it comes
        up; one running is only flagged (is_canceled), as Ray does."""
        _cancel_signal.handled()

    def exit_actor(self) -> None:
        """Raised out of the running call, which then ends the actor."""
        raise ActorExit()

    def group_of(self, fn_id: int) -> str | None:
        """The concurrency group of the method fn_id calls (looked up once
        per method: this runs on every call)."""
        try:
            return self._groups[fn_id]
        except KeyError:
            pass
        call = cast(MethodCall, self._functions[fn_id][0])
        method = self.settings.meta.methods.get(call.name) if self.settings else None
        group = self._groups[fn_id] = method.concurrency_group if method is not None else None
        return group

    def output_name(self) -> str:
        return self.class_name

    def current_actor(self) -> ActorHandle:
        assert self.actor_id is not None and self.settings is not None
        return ActorHandle(self.actor_id, self.settings.meta, counted=False)


def _ready() -> bool:
    return True


def _terminate() -> None:
    raise ActorExit()


def _not_constructed() -> None:
    raise RuntimeError("the actor's constructor did not finish")


class _ThreadsCall(threading.local):
    """The call each thread of a threaded actor runs (NO_CALL until its first)."""

    call = NO_CALL


class _CoroutinesCall:
    """The call each coroutine of an async actor runs."""

    _running: contextvars.ContextVar[RunningCall] = contextvars.ContextVar("call",
                                                                         default=NO_CALL)

    @property
    def call(self) -> RunningCall:
        return self._running.get()

    @call.setter
    def call(self, call: RunningCall) -> None:
        self._running.set(call)


class ThreadedActorBackend(ActorBackend):
    """Runs up to max_concurrency calls at once (and each concurrency
    group's limit), on threads.  The thread reading the socket runs each
    call it reads itself, so a quick call costs what it costs a default
    actor; when a call has run for HANDOFF_SECONDS, or waits for a reply,
    another thread takes over reading, and runs what comes next."""

    def __init__(self, connection: Connection, origin: int, slot: int, mapping: Any) -> None:
        super().__init__(connection, origin, slot, mapping)
        self._current = _ThreadsCall()   # type: ignore[assignment]
        self._lock = threading.RLock()
        self._replied = threading.Condition(self._lock)
        self._wanted = threading.Condition(self._lock)  # a queued call or the reading
        self._replies: dict[tuple[int, int], tuple[int, memoryview]] = {}
        self._limits: dict[str | None, int] = {}
        self._running: dict[str | None, int] = {}
        self._queued: dict[str | None, collections.deque[_QueuedCall]] = {}
        self._reader: int | None = None         # the thread reading the socket
        self._reader_call = 0                   # the deadline of the call it runs, or 0
        self._deadline = Deadline(HANDOFF_SECONDS)
        self._threads = 1
        self._idle = 0
        self._waiting = 0                       # calls in _queued
        self._limited_groups: dict[int, str | None] = {}   # by method: see _limited_group

    def serve(self) -> None:
        settings = self.settings
        assert settings is not None
        self._limits = {None: settings.max_concurrency, **dict(settings.concurrency_groups)}
        self._running = dict.fromkeys(self._limits, 0)
        self._queued = {group: collections.deque() for group in self._limits}
        threading.Thread(target=self._watch, name="actor-handoff", daemon=True).start()
        self._work()

    def _work(self) -> None:
        """A thread's life: run a queued call that has room, else read the
        socket if nobody does, else wait for one of those."""
        me = get_ident()
        with self._lock:
            while True:
                call = self._next_queued()
                if call is not None:
                    self._run(*call, me, False)
                elif self._reader is None:
                    self._reader = me
                    self._read(me)
                else:
                    self._idle += 1
                    self._wanted.wait()
                    self._idle -= 1

    def _read(self, me: int) -> None:
        """Reads frames for as long as this thread is the reader, running
        the calls it reads (or queueing those whose group is full).  Called
        and returns with the lock held; frames already read are taken
        without letting go of it."""
        # Looked up once: this loop runs for every call.
        buffered, outbox_due = self.connection.buffered, self.connection.outbox.due
        limits, running, queued = self._limits, self._running, self._queued
        limited_groups, run, task = self._limited_groups, self._run, wire.TASK
        while self._reader == me:
            if self._waiting:
                call = self._next_queued()
                if call is not None:
                    run(*call, me, True)
                    continue
            frame = buffered()
            if frame is None:
                frame = self._receive()
            elif outbox_due():
                self.send_outbox()
            kind, a, b, body = frame
            del frame
            if kind == task:
                try:
                    group = limited_groups[b]
                except KeyError:   # a method's first call
                    group = self._limited_group(b, body)
                if running[group] < limits[group] and not queued[group]:
                    run(a, b, body, group, me, True)
                else:
                    queued[group].append((a, b, body, group))
                    self._waiting += 1
            elif kind != wire.REVOKE:
                self._replies[(kind, a)] = (b, body)
                self._replied.notify_all()

    def _receive(self) -> tuple[int, int, int, memoryview]:
        """Waits for the next frame with the lock let go; what is held
        goes first.  The actor ends with the connection."""
        self._lock.release()
        try:
            self.send_outbox()
            return cast(tuple, self.connection.receive())
        except (EOFError, ConnectionError):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
        finally:
            self._lock.acquire()

    def _limited_group(self, fn_id: int, body: memoryview) -> str | None:
        """The group whose limit a method's calls count against (None: the
        actor's max_concurrency), learnt from its first call."""
        self.learn_function(fn_id, body)
        group = self.group_of(fn_id)
        limited = self._limited_groups[fn_id] = group if group in self._limits else None
        return limited

    def _next_queued(self) -> _QueuedCall | None:
        for group, queued in self._queued.items():
            if queued and self._running[group] < self._limits[group]:
                self._waiting -= 1
                return queued.popleft()
        return None

    def _run(self, task_id: int, fn_id: int, body: memoryview, group: str | None, me: int,
             reading: bool) -> None:
        """Runs a call with the lock released; the reader's call is watched."""
        running, lock = self._running, self._lock
        running[group] += 1
        if reading:
            self._reader_call = self._deadline.arm()
        lock.release()
        try:
            self.run_task(task_id, fn_id, body)
        finally:
            del body
            lock.acquire()
            running[group] -= 1
            if self._reader == me:
                self._reader_call = 0
                self._deadline.disarm()
            if self._queued[group] and self._idle:
                self._wanted.notify()

    def _watch(self) -> None:
        """Hands the reading to another thread when the reader's call has
        run for HANDOFF_SECONDS: calls behind it must not wait for it."""
        while overdue := self._deadline.wait():
            with self._lock:
                if overdue == self._reader_call:
                    self._hand_off()

    def _hand_off(self) -> None:
        """Another thread becomes the reader (lock held).  There is always
        one to wake or room for one more: running calls are at most the
        limits' sum, and the threads at most that plus one."""
        self._reader, self._reader_call = None, 0
        self._deadline.disarm()
        if self._idle:
            self._wanted.notify()
        else:
            self._threads += 1
            threading.Thread(target=self._work, name=f"actor-{self._threads}",
                             daemon=True).start()

    def more_work(self) -> bool:
        # Only the reader knows what it has read; it sends what waits
        # before it blocks.
        return self._reader == get_ident() and self.connection.frame_ready()

    def _send(self, kind: int, a: int, b: int, body: bytes = b"", later: bool = False) -> None:
        # On every call: the lock taken without ``with``, and the worker's
        # method a global (a class's attribute is looked up in full each
        # time on 3.11), each a measurable part of a quick call.
        lock = self._lock
        lock.acquire()
        try:
            _worker_send(self, kind, a, b, body, later)
        finally:
            lock.release()

    def send_outbox(self, later: bool = False) -> None:
        lock = self._lock
        lock.acquire()
        try:
            WorkerBackend.send_outbox(self, later)
        finally:
            lock.release()

    def incref(self, object_id: int) -> None:
        with self._lock:
            super().incref(object_id)

    def decref(self, object_id: int) -> None:
        with self._lock:
            super().decref(object_id)

    def release_view(self, blob_id: int) -> None:
        with self._lock:
            super().release_view(blob_id)

    def _local_refs_adopt(self, first_id: int, count: int) -> None:
        with self._lock:
            super()._local_refs_adopt(first_id, count)

    def _next_request(self) -> int:
        with self._lock:
            return super()._next_request()

    def _reply(self, kind: int, request: int, deadline: float | None
               ) -> tuple[int, memoryview] | None:
        """Waits for the reader to hand over the reply; a reader that waits
        hands the reading over first."""
        key = (kind, request)
        with self._lock:
            if self._reader == get_ident():
                self._hand_off()
            while key not in self._replies:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._replied.wait(remaining)
            return self._replies.pop(key)


_worker_send = WorkerBackend._send
# A call waiting for room in its group: (task id, function id, body, group).
_QueuedCall = tuple[int, int, memoryview, "str | None"]
# How long the reader runs one call before another thread takes over reading.
HANDOFF_SECONDS = 0.001


class AsyncActorBackend(ActorBackend):
    """Every call is a coroutine on one event loop in the main thread, which
    also reads the socket; a sync method runs on the loop."""

    def __init__(self, connection: Connection, origin: int, slot: int, mapping: Any) -> None:
        super().__init__(connection, origin, slot, mapping)
        self._current = _CoroutinesCall()   # type: ignore[assignment]
        # The results of calls that end in one pass of the loop wait for
        # its end, to go in one send; a lone call's goes as it ends.
        self._loop = CallsLoop(self.send_outbox)
        self._running: dict[int, asyncio.Task] = {}
        self._awaited: dict[int, tuple[concurrent.futures.Future, int]] = {}
        self._limits: dict[str | None, CallLimit] = {}
        self._plans: dict[int, tuple[Callable[..., Any], str, CallLimit]] = {}

    def construct(self, task_id: int, cls: type, args: list, kwargs: dict) -> None:
        asyncio.set_event_loop(self._loop)
        super().construct(task_id, cls, args, kwargs)

    def serve(self) -> None:
        settings = self.settings
        assert settings is not None
        groups: dict[str | None, int] = {None: settings.max_concurrency,
                                         **dict(settings.concurrency_groups)}
        self._limits = {name: CallLimit(limit) for name, limit in groups.items()}
        # Frames read before the loop started are in the connection's buffer.
        self._loop.serve(self.connection.sock.fileno(), self._readable)
        raise EOFError("the driver closed the connection")

    def _readable(self) -> None:
        connection = self.connection
        try:
            connection.read_available()
        except (EOFError, ConnectionError):
            self._loop.stop()
        frame = connection.buffered()
        while frame is not None:
            self._dispatch(*frame)
            frame = connection.buffered()

    def _dispatch(self, kind: int, a: int, b: int, body: memoryview) -> None:
        if kind == wire.TASK:
            self._start_call(a, b, body)
        elif kind == wire.REPLY and a in self._awaited:
            future, _ = self._awaited.pop(a)
            self._settle(future, body)
        elif kind != wire.REVOKE:
            self._early_replies[(kind, a)] = (b, body)

    def _start_call(self, task_id: int, fn_id: int, body: memoryview) -> None:
        call = self._loop.start_call(self._run_call(task_id, fn_id, body),
                                     self.connection.frame_ready())
        if not call.done():  # a call started at once may be over already
            self._running[task_id] = call

    async def _run_call(self, task_id: int, fn_id: int, body: memoryview) -> None:
        num_returns, deps, args_payload = self._unpack_task(fn_id, body)
        del body
        function, name, limit = self._plans.get(fn_id) or self._plan(fn_id)
        created: list[int] = []
        retry_exceptions: Any = False
        if limit.free and not limit.waiting:
            limit.free -= 1
        elif not await limit.room(self._loop):
            self._running.pop(task_id, None)
            self.send_result(task_id, wire.STATUS_INTERRUPTED, [])
            return
        try:
            self._current.call = RunningCall(task_id, name)
            try:
                if _cancel_signal.requested(task_id):
                    raise asyncio.CancelledError
                args, kwargs, retry_exceptions = arguments(deps, args_payload)
                del deps, args_payload
                if kwargs and EXTRAS_KWARG in kwargs:
                    value = await self._run_with_extras(function, args, kwargs, name)
                else:
                    value = function(*args, **kwargs)
                    if type(value) is CoroutineType or inspect.isawaitable(value):
                        value = await value
                status, results = wire.STATUS_OK, self.results_of(value, num_returns, name,
                                                                  created)
                if _cancel_signal.requested(task_id):
                    # Cancelled while it ran, though the coroutine caught the
                    # CancelledError: as Ray, the call counts as interrupted.
                    status, results = wire.STATUS_INTERRUPTED, []
            except asyncio.CancelledError:
                status, results = wire.STATUS_INTERRUPTED, []
            except BaseException as exc:
                status, results = self.failure_of(exc, retry_exceptions, name, num_returns)
            finally:
                self._running.pop(task_id, None)
            try:
                self.send_result(task_id, status, results)
            finally:
                self.drop_created(created)
        finally:
            limit.release()

    def _plan(self, fn_id: int) -> tuple[Callable[..., Any], str, CallLimit]:
        """What a method's calls run, their name, and the limit they count
        against (worked out on its first call: this runs on every call)."""
        function, name = self.callable_of(fn_id)
        limit = self._limits.get(self.group_of(fn_id)) or self._limits[None]
        plan = self._plans[fn_id] = (function, name, limit)
        return plan

    async def _run_with_extras(self, function: Callable[..., Any], args: list, kwargs: dict,
                               name: str) -> Any:
        """run_with_extras, and an async generator method's values awaited
        on the loop."""
        if not inspect.isasyncgenfunction(function):
            return self.run_with_extras(function, args, kwargs, name)
        extras: CallExtras = kwargs.pop(EXTRAS_KWARG)
        values = function(*args, **kwargs)
        if extras.stream is not None:
            await ValueStream(self, *extras.stream).run_async(values, name)
            return None
        return DynamicObjectRefGenerator([self.put(value) async for value in values])

    def more_work(self) -> bool:
        # What is held goes before the loop next looks for I/O; a result
        # goes at once if nothing else is to run first (a lone call's).
        return self._loop.more_to_run() or self.connection.frame_ready()

    def on_sigint(self, signum: int, frame: Any) -> None:
        _cancel_signal.handled()
        for task_id, running in list(self._running.items()):
            if _cancel_signal.requested(task_id):
                self._loop.call_soon_threadsafe(running.cancel)

    def future(self, ref: Any) -> concurrent.futures.Future[Any]:
        """``await ref`` in a coroutine: settled when the reply comes, while
        the loop runs other calls."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        request = self._next_request()
        self._awaited[request] = (future, ref.id)
        self._send(wire.WAIT, request, 1, struct.pack("<IIQ", wire.WAIT_FETCH, 1, ref.id))
        return future

    def _settle(self, future: concurrent.futures.Future, body: memoryview) -> None:
        states, payloads = self._parse_reply(body, 1, True)
        try:
            if states[0] == wire.OBJ_FAILED and payloads is not None and payloads[0]:
                future.set_exception(error_of(payloads[0][0]))
            elif payloads is not None and payloads[0] is not None:
                future.set_result(deserialize(payloads[0]))
            else:
                future.set_exception(RuntimeError("the object no longer exists"))
        except Exception as exc:
            future.set_exception(exc)

    def file_frame(self, kind: int, a: int, b: int, body: memoryview) -> None:
        """A blocking get on the loop's thread reads the socket itself:
        calls that arrive meanwhile start once the loop runs again."""
        self._loop.call_soon(self._dispatch, kind, a, b, body)
