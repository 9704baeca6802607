"""Actors: ``@remote`` on a class, the handles that call them, and
``exit_actor``, under Ray's names (``ray.actor``)."""
from __future__ import annotations

import random
from typing import Any, Callable, TypeVar

from . import state
from .actor_options import ActorOptions, check_method_options
from .actor_spec import ActorBlueprint, ActorMeta, MethodSpec, is_async_class, method_specs
from .dag_nodes import ClassMethodNode, ClassNode
from .exceptions import FastrayError, PendingCallsLimitExceeded
from .object_ref import ObjectRef, note_contained
from .options import TaskOptions, returns_fields
from .pickler import dumps_code

__all__ = ["ActorClass", "ActorHandle", "ActorMethod", "exit_actor", "method"]

F = TypeVar("F", bound=Callable[..., Any])


class ActorClass:
    """What ``@remote`` makes of a class: ``.remote(...)`` starts an actor."""

    def __init__(self, cls: type, options: ActorOptions, class_id: int | None = None) -> None:
        self._cls = cls
        self._options = options
        self.class_id = class_id if class_id is not None else random.getrandbits(63)
        self.is_async = is_async_class(cls)
        self.methods = method_specs(cls, self.class_id)
        self._pickled: bytes | None = None
        self.__name__ = cls.__name__
        self.__qualname__ = cls.__qualname__
        self.__module__ = cls.__module__
        self.__doc__ = cls.__doc__

    @property
    def cls(self) -> type:
        """The plain class the actor runs."""
        return self._cls

    @property
    def name(self) -> str:
        return self._cls.__qualname__

    def pickled(self) -> bytes:
        """The blueprint sent to the actor's process, pickled once."""
        if self._pickled is None:
            self._pickled = dumps_code(ActorBlueprint(self._cls, self.is_async),
                                       f"actor class {self.name}",
                                       "a global or a class attribute")
        return self._pickled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor class {self.name} cannot be instantiated directly; use "
                        f"{self.name}.remote(...) instead")

    def __reduce__(self):
        return (ActorClass, (self._cls, self._options, self.class_id))

    def options(self, **options: Any) -> _BoundActorClass:
        """This class with some actor options changed for the actors made
        through it."""
        return _BoundActorClass(self, self._options.updated(**options))

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        return state.require_backend().create_actor(self, args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> ClassNode:
        """A node of a lazy graph (fastray.dag): an actor each execution makes."""
        return ClassNode(self.remote, args, kwargs)

    def meta(self, options: ActorOptions, namespace: str) -> ActorMeta:
        return ActorMeta(self.__name__, self.methods, options.max_task_retries,
                         options.max_pending_calls, options.name or "", namespace,
                         generator_backpressure=options.generator_backpressure)


class _BoundActorClass:
    """What ``Cls.options(...)`` returns: ``.remote`` with those options."""

    def __init__(self, actor_class: ActorClass, options: ActorOptions) -> None:
        self._actor_class = actor_class
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> ActorHandle:
        return state.require_backend().create_actor(self._actor_class, args, kwargs,
                                                    self._options)

    def bind(self, *args: Any, **kwargs: Any) -> ClassNode:
        return ClassNode(self.remote, args, kwargs)


class ActorHandle:
    """Calls an actor's methods: ``handle.method.remote(...)``.  Handles can
    be passed to tasks and other actors, and stored; the actor lives while
    any handle to it does (unless named or detached)."""

    def __init__(self, actor_id: int, meta: ActorMeta, *, adopt: bool = False,
                 counted: bool = True) -> None:
        """adopt: the runtime already counted this handle (the creator's);
        counted=False: a handle that does not keep the actor alive (an
        actor's handle to itself)."""
        self._actor_id = actor_id
        self._meta = meta
        self._generation = state.generation
        self._counted = counted
        self._pending: list[ObjectRef] = []
        # Per method: its calls' options, worked out on the first call.
        self._plans: dict[str, tuple[TaskOptions, Any]] = {}
        if counted and not adopt and state.backend is not None:
            state.backend.incref(actor_id)

    def __del__(self) -> None:
        backend = state.backend
        if self._counted and backend is not None and self._generation == state.generation:
            backend.decref(self._actor_id)

    @property
    def actor_id(self) -> int:
        return self._actor_id

    @property
    def meta(self) -> ActorMeta:
        return self._meta

    def __getattr__(self, name: str) -> ActorMethod:
        if name.startswith("_") and name not in self._meta.methods:
            raise AttributeError(name)
        spec = self._meta.methods.get(name)
        if spec is None:
            raise AttributeError(f"actor {self._meta.class_name} has no method {name!r}")
        return ActorMethod(self, name, spec, {})

    def __repr__(self) -> str:
        return f"Actor({self._meta.class_name}, {self._actor_id:016x})"

    def __hash__(self) -> int:
        return hash(self._actor_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor_id == self._actor_id

    def __reduce__(self):
        note_contained(self._actor_id)
        return (ActorHandle, (self._actor_id, self._meta))

    def _check_pending(self) -> None:
        """max_pending_calls: calls still running count against the limit."""
        limit = self._meta.max_pending_calls
        if len(self._pending) >= limit:
            backend = state.require_backend()
            ready, _ = backend.wait(self._pending, len(self._pending), 0)
            done = set(ready)
            self._pending = [r for r in self._pending if r not in done]
        if len(self._pending) >= limit:
            raise PendingCallsLimitExceeded(
                f"actor {self._meta.class_name} already has {limit} calls pending from this "
                "handle (max_pending_calls); wait for some to finish before calling again")


class ActorMethod:
    """``handle.method``: call it with ``.remote(...)``."""

    __slots__ = ("_handle", "_name", "_spec", "_options")

    def __init__(self, handle: ActorHandle, name: str, spec: MethodSpec,
                 options: dict[str, Any]) -> None:
        self._handle = handle
        self._name = name
        self._spec = spec
        self._options = options

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor method {self._handle.meta.class_name}.{self._name} cannot be "
                        f"called directly; use .{self._name}.remote(...) instead")

    def options(self, **options: Any) -> ActorMethod:
        check_method_options(f"actor method {self._name}", options)
        return ActorMethod(self._handle, self._name, self._spec, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> ClassMethodNode:
        """A node of a lazy graph (fastray.dag) calling this live actor."""
        return ClassMethodNode(self._handle, self._name, self._options, args, kwargs, None)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        handle = self._handle
        if handle._generation != state.generation:
            raise FastrayError(f"{handle!r} belongs to a fastray runtime that was shut down")
        plan = None if self._options else handle._plans.get(self._name)
        if plan is None:
            plan = self._plan()
        options, retry_exceptions = plan
        limited = handle._meta.max_pending_calls > 0
        if limited:
            # Checked before submitting, so the call over the limit never runs.
            handle._check_pending()
        backend = state.require_backend()
        if options.generator:
            return backend.submit_generator(
                lambda given: backend.call_actor(handle, self._name, self._spec.fn_id, args,
                                                 given, options, retry_exceptions),
                kwargs, options)
        refs = backend.call_actor(handle, self._name, self._spec.fn_id, args, kwargs, options,
                                  retry_exceptions)
        if limited and refs:
            handle._pending.append(refs[0])
        if options.num_returns == 1:
            return refs[0]
        if options.num_returns == 0:
            return None
        return refs

    def _plan(self) -> tuple[TaskOptions, Any]:
        """The call's options as a task's (holding no CPU) and its
        retry_exceptions; the handle keeps those of a call without options."""
        spec, given = self._spec, self._options
        retries = given.get("max_task_retries", spec.max_task_retries)
        if retries is None:
            retries = self._handle.meta.max_task_retries
        num_returns, generator = returns_fields(given.get("num_returns", spec.num_returns))
        plan = (TaskOptions(num_returns, 0.0, retries, generator=generator,
                            backpressure=self._handle.meta.generator_backpressure),
                given.get("retry_exceptions", spec.retry_exceptions))
        if not given:
            self._handle._plans[self._name] = plan
        return plan


def method(*args: Any, **options: Any) -> Any:
    """``@fastray.method(num_returns=2, concurrency_group="io")`` on an actor
    method: its default call options (Ray's attribute names, so the Ray
    backend reads them too)."""
    if len(args) == 1 and not options and callable(args[0]):
        return args[0]
    if args:
        raise TypeError("method() takes keyword options only: @method(num_returns=2)")
    check_method_options("@method", options)

    def annotate(function: F) -> F:
        for key, value in options.items():
            setattr(function, f"__ray_{key}__", value)
        return function
    return annotate


NOT_IN_AN_ACTOR = "exit_actor() called outside an actor; it ends the actor whose method calls it"


def exit_actor() -> None:
    """Ends the actor this runs in, once the current call returns: the
    call's ref raises ActorDiedError, and the actor is not restarted."""
    backend = state.existing_backend()
    if backend is None:
        raise TypeError(NOT_IN_AN_ACTOR)
    backend.exit_actor()
