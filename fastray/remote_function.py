"""@remote: turning a function into a task."""
from __future__ import annotations

import functools
import inspect
import random
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

from . import state
from .dag_nodes import FunctionNode
from .options import TaskOptions
from .pickler import dumps_code

if TYPE_CHECKING:
    from .actor import ActorClass

R = TypeVar("R")


class RemoteFunction(Generic[R]):
    """A function that runs as a task: call ``.remote(...)``, not the function."""

    def __init__(self, function: Callable[..., R], options: TaskOptions,
                 fn_id: int | None = None) -> None:
        self._function = function
        self._options = options
        # Random 63-bit ids: unique without coordination, in any process.
        self.fn_id = fn_id if fn_id is not None else random.getrandbits(63)
        self._pickled: bytes | None = None
        self._signature: inspect.Signature | None = None
        self._positional_range: tuple[int, int] | None = None
        functools.update_wrapper(self, function)

    @property
    def name(self) -> str:
        return getattr(self._function, "__qualname__", None) or repr(self._function)

    @property
    def function(self) -> Callable[..., Any]:
        """The plain function this task runs."""
        return self._function

    def pickled(self) -> bytes:
        """The function as sent to workers, pickled once."""
        if self._pickled is None:
            self._pickled = dumps_code(self._function, f"remote function {self.name}",
                                       "a global or a closure variable")
        return self._pickled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"remote function {self.name} cannot be called directly; "
                        f"use {self.name}.remote(...) instead")

    def __reduce__(self):
        return (RemoteFunction, (self._function, self._options, self.fn_id))

    def options(self, **options: Any) -> _BoundOptions[R]:
        """This function with some options changed for the calls made through it."""
        if "max_calls" in options:
            raise ValueError("max_calls can be set in @remote(max_calls=...) only, not in "
                             ".options() (as in Ray): it belongs to the function's workers")
        return _BoundOptions(self, self._options.updated(**options))

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote(args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> FunctionNode:
        """A node of a lazy graph (fastray.dag) that calls this task."""
        return FunctionNode(self.remote, args, kwargs)

    def _remote(self, args: tuple, kwargs: dict, options: TaskOptions) -> Any:
        accepted = self._positional_range
        if kwargs or accepted is None or not accepted[0] <= len(args) <= accepted[1]:
            self._bind(args, kwargs)
        backend = state.backend or state.require_backend()
        if options.generator:
            return backend.submit_generator(
                lambda given: backend.submit(self, args, given, options), kwargs, options)
        refs = backend.submit(self, args, kwargs, options)
        if options.num_returns == 1:
            return refs[0]
        if options.num_returns == 0:
            return None
        return refs

    def _bind(self, args: tuple, kwargs: dict) -> None:
        """Wrong arguments fail here, in the caller, before anything runs."""
        if self._signature is None:
            try:
                self._signature = inspect.signature(self._function)
            except (TypeError, ValueError):
                return
            self._positional_range = _positional_range(self._signature)
        try:
            self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.name}.remote(): {exc}") from None


def _positional_range(signature: inspect.Signature) -> tuple[int, int] | None:
    """(required, total) for a function of plain positional-or-keyword
    parameters, whose positional calls can be checked by counting."""
    parameters = signature.parameters.values()
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in parameters):
        return None
    required = sum(1 for p in parameters if p.default is p.empty)
    return required, len(parameters)


class _BoundOptions(Generic[R]):
    """What ``f.options(...)`` returns: ``.remote`` with those options."""

    def __init__(self, function: RemoteFunction[R], options: TaskOptions) -> None:
        self._function = function
        self._options = options

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._function._remote(args, kwargs, self._options)

    def bind(self, *args: Any, **kwargs: Any) -> FunctionNode:
        return FunctionNode(self.remote, args, kwargs)


def remote(*args: Any, **options: Any) -> Any:
    """``@remote`` or ``@remote(num_returns=2, ...)``: make a function a
    task, or a class an actor (options then are actor options)."""
    if len(args) == 1 and not options and callable(args[0]):
        return _make_remote(args[0], options)
    if args:
        raise TypeError("remote() takes a function or a class, or keyword options only "
                        f"(@remote(num_cpus=2)); got {args!r}")
    return lambda target: _make_remote(target, options)


def _make_remote(target: Any, options: dict[str, Any]) -> RemoteFunction | ActorClass:
    if inspect.isclass(target):
        # Loaded only by programs that make actors.
        from .actor import ActorClass
        from .actor_options import ActorOptions
        return ActorClass(target, ActorOptions().updated(**options))
    if not callable(target):
        raise TypeError(f"@remote must decorate a function or a class, got "
                        f"{type(target).__name__}")
    if "num_returns" not in options and (inspect.isgeneratorfunction(target)
                                         or inspect.isasyncgenfunction(target)):
        options = {**options, "num_returns": "streaming"}  # Ray's default for generators
    return RemoteFunction(target, TaskOptions().updated(**options))

