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


class ActorReference:
    """What an actor's handle and the methods taken from it share: which
    actor, its description, and one count of it, given back when the last
    of them goes.  Methods hold this, not the handle, so that the handle
    can keep its methods (``handle.method`` is then a plain attribute)
    without a reference cycle that only the garbage collector would end."""

    __slots__ = ("actor_id", "meta", "generation", "counted", "pending")

    def __init__(self, actor_id: int, meta: ActorMeta, counted: bool) -> None:
        self.actor_id = actor_id
        self.meta = meta
        self.generation = state.generation
        self.counted = counted
        # Refs of calls that may still be pending (only with max_pending_calls).
        self.pending: list[ObjectRef] = []

    def __del__(self) -> None:
        backend = state.backend
        if self.counted and backend is not None and self.generation == state.generation:
            backend.decref(self.actor_id)

    def __repr__(self) -> str:
        return f"Actor({self.meta.class_name}, {self.actor_id:016x})"

    def check_pending(self) -> None:
        """max_pending_calls: calls still running count against the limit."""
        limit = self.meta.max_pending_calls
        if len(self.pending) >= limit:
            backend = state.require_backend()
            ready, _ = backend.wait(self.pending, len(self.pending), 0)
            done = set(ready)
            self.pending = [r for r in self.pending if r not in done]
        if len(self.pending) >= limit:
            raise PendingCallsLimitExceeded(
                f"actor {self.meta.class_name} already has {limit} calls pending from this "
                "handle (max_pending_calls); wait for some to finish before calling again")


class ActorHandle:
    """Calls an actor's methods: ``handle.method.remote(...)``.  Handles can
    be passed to tasks and other actors, and stored; the actor lives while
    any handle to it does (unless named or detached), or a method taken
    from one."""

    def __init__(self, actor_id: int, meta: ActorMeta, *, adopt: bool = False,
                 counted: bool = True) -> None:
        """adopt: the runtime already counted this handle (the creator's);
        counted=False: a handle that does not keep the actor alive (an
        actor's handle to itself)."""
        self._actor = ActorReference(actor_id, meta, counted)
        if counted and not adopt and state.backend is not None:
            state.backend.incref(actor_id)

    @classmethod
    def _of(cls, actor: ActorReference) -> ActorHandle:
        """Another handle sharing actor's count (a method's, for a graph)."""
        handle = cls.__new__(cls)
        handle._actor = actor
        return handle

    @property
    def actor_id(self) -> int:
        return self._actor.actor_id

    @property
    def meta(self) -> ActorMeta:
        return self._actor.meta

    def __getattr__(self, name: str) -> ActorMethod:
        """A method, made on first use and kept as an attribute."""
        if name == "_actor":   # not set yet: unpickling, copying
            raise AttributeError(name)
        methods = self._actor.meta.methods
        if name.startswith("_") and name not in methods:
            raise AttributeError(name)
        spec = methods.get(name)
        if spec is None:
            raise AttributeError(f"actor {self._actor.meta.class_name} has no method {name!r}")
        method = self.__dict__[name] = ActorMethod(self._actor, name, spec, {})
        return method

    def __repr__(self) -> str:
        return repr(self._actor)

    def __hash__(self) -> int:
        return hash(self._actor.actor_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorHandle) and other._actor.actor_id == self._actor.actor_id

    def __reduce__(self):
        note_contained(self._actor.actor_id)
        return (ActorHandle, (self._actor.actor_id, self._actor.meta))


class ActorMethod:
    """``handle.method``: call it with ``.remote(...)``."""

    __slots__ = ("_actor", "_name", "_spec", "_options", "_planned")

    def __init__(self, actor: ActorReference, name: str, spec: MethodSpec,
                 options: dict[str, Any]) -> None:
        self._actor = actor
        self._name = name
        self._spec = spec
        self._options = options
        self._planned: tuple[TaskOptions, Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"actor method {self._actor.meta.class_name}.{self._name} cannot be "
                        f"called directly; use .{self._name}.remote(...) instead")

    def __reduce__(self):
        return (_method_of, (ActorHandle._of(self._actor), self._name, self._options))

    def options(self, **options: Any) -> ActorMethod:
        check_method_options(f"actor method {self._name}", options)
        return ActorMethod(self._actor, self._name, self._spec, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> ClassMethodNode:
        """A node of a lazy graph (fastray.dag) calling this live actor."""
        return ClassMethodNode(ActorHandle._of(self._actor), self._name, self._options, args,
                               kwargs, None)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        actor = self._actor
        if actor.generation != state.generation:
            raise FastrayError(f"{actor!r} belongs to a fastray runtime that was shut down")
        plan = self._planned or self._plan()
        options, retry_exceptions = plan
        limited = actor.meta.max_pending_calls > 0
        if limited:
            # Checked before submitting, so the call over the limit never runs.
            actor.check_pending()
        backend = state.require_backend()
        if options.generator:
            return backend.submit_generator(
                lambda given: backend.call_actor(actor, self._name, self._spec.fn_id, args,
                                                 given, options, retry_exceptions),
                kwargs, options)
        refs = backend.call_actor(actor, self._name, self._spec.fn_id, args, kwargs, options,
                                  retry_exceptions)
        if limited and refs:
            actor.pending.append(refs[0])
        if options.num_returns == 1:
            return refs[0]
        if options.num_returns == 0:
            return None
        return refs

    def _plan(self) -> tuple[TaskOptions, Any]:
        """The call's options as a task's (holding no CPU) and its
        retry_exceptions, worked out once per method object."""
        spec, given, meta = self._spec, self._options, self._actor.meta
        retries = given.get("max_task_retries", spec.max_task_retries)
        if retries is None:
            retries = meta.max_task_retries
        num_returns, generator = returns_fields(given.get("num_returns", spec.num_returns))
        plan = self._planned = (
            TaskOptions(num_returns, 0.0, retries, generator=generator,
                        backpressure=meta.generator_backpressure),
            given.get("retry_exceptions", spec.retry_exceptions))
        return plan


def _method_of(handle: ActorHandle, name: str, options: dict[str, Any]) -> ActorMethod:
    """An unpickled method: the handle's, with the options it had."""
    method = getattr(handle, name)
    return method.options(**options) if options else method


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
