"""@remote: turning a function into a task, and the options a task takes."""
from __future__ import annotations

import functools
import inspect
import random
from dataclasses import dataclass, replace
from typing import Any, Callable, Generic, TypeVar

import cloudpickle

R = TypeVar("R")

# Options Ray accepts for remote functions that have no meaning on one
# machine; accepted so Ray code runs unchanged.
IGNORED_OPTIONS = frozenset({
    "memory", "name", "scheduling_strategy", "runtime_env", "accelerator_type",
    "placement_group", "placement_group_bundle_index", "placement_group_capture_child_tasks",
    "max_calls", "object_store_memory", "enable_task_events", "label_selector", "_metadata",
    "_labels", "_generator_backpressure_num_objects", "concurrency_groups",
})
OPTIONS = frozenset({"num_returns", "num_cpus", "num_gpus", "resources", "max_retries",
                     "retry_exceptions"}) | IGNORED_OPTIONS


@dataclass(frozen=True)
class TaskOptions:
    """Validated task options (Ray's defaults)."""

    num_returns: int = 1
    num_cpus: float = 1.0
    max_retries: int = 3
    retry_exceptions: bool | tuple[type[BaseException], ...] = False

    @property
    def cpu_milli(self) -> int:
        return round(self.num_cpus * 1000)

    def updated(self, **options: Any) -> TaskOptions:
        """A copy with options applied; raises ValueError/TypeError for bad ones."""
        unknown = set(options) - OPTIONS
        if unknown:
            raise ValueError(f"invalid option(s) {sorted(unknown)} for remote functions; "
                             f"valid ones are {sorted(OPTIONS)}")
        changes: dict[str, Any] = {}
        if "num_returns" in options:
            n = options["num_returns"]
            if not isinstance(n, int) or isinstance(n, bool) or n < 0:
                raise ValueError(f"num_returns must be an int >= 0, got {n!r}")
            changes["num_returns"] = n
        if "num_cpus" in options and options["num_cpus"] is not None:
            cpus = options["num_cpus"]
            if not isinstance(cpus, (int, float)) or isinstance(cpus, bool) or cpus < 0:
                raise ValueError(f"num_cpus must be a number >= 0, got {cpus!r}")
            changes["num_cpus"] = float(cpus)
        if options.get("num_gpus"):
            raise ValueError("num_gpus > 0 cannot be satisfied: fastray schedules CPUs only")
        if options.get("resources"):
            raise ValueError(f"custom resources {options['resources']!r} cannot be satisfied: "
                             "fastray schedules CPUs only")
        if "max_retries" in options:
            retries = options["max_retries"]
            if not isinstance(retries, int) or isinstance(retries, bool) or retries < -1:
                raise ValueError(f"max_retries must be an int >= -1, got {retries!r}")
            changes["max_retries"] = retries
        if "retry_exceptions" in options:
            changes["retry_exceptions"] = _retry_spec(options["retry_exceptions"])
        return replace(self, **changes)


def _retry_spec(value: Any) -> bool | tuple[type[BaseException], ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(
            isinstance(t, type) and issubclass(t, BaseException) for t in value):
        return tuple(value)
    raise TypeError("retry_exceptions must be a bool or a list of exception classes, "
                    f"got {value!r}")


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
            try:
                self._pickled = cloudpickle.dumps(self._function)
            except Exception as exc:
                raise TypeError(
                    f"remote function {self.name} cannot be pickled to send it to a worker: "
                    f"{exc}. A task's function must not use (as a global or a closure "
                    "variable) a lock, socket, open file or other process-bound object; "
                    "create it inside the task instead") from exc
        return self._pickled

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"remote function {self.name} cannot be called directly; "
                        f"use {self.name}.remote(...) instead")

    def __reduce__(self):
        return (RemoteFunction, (self._function, self._options, self.fn_id))

    def options(self, **options: Any) -> _BoundOptions[R]:
        """This function with some options changed for the calls made through it."""
        return _BoundOptions(self, self._options.updated(**options))

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        return self._remote(args, kwargs, self._options)

    def _remote(self, args: tuple, kwargs: dict, options: TaskOptions) -> Any:
        self._bind(args, kwargs)
        from .api import _require_backend
        backend = _require_backend()
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
        if not kwargs and self._positional_range is not None and (
                self._positional_range[0] <= len(args) <= self._positional_range[1]):
            return
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


def remote(*args: Any, **options: Any) -> Any:
    """``@remote`` or ``@remote(num_returns=2, ...)``: make a function a task."""
    if len(args) == 1 and not options and callable(args[0]):
        return _make_remote(args[0], TaskOptions())
    if args:
        raise TypeError("remote() takes a function, or keyword options only "
                        f"(@remote(num_cpus=2)); got {args!r}")
    task_options = TaskOptions().updated(**options)
    return lambda function: _make_remote(function, task_options)


def _make_remote(target: Any, options: TaskOptions) -> RemoteFunction:
    if inspect.isclass(target):
        raise NotImplementedError(f"@remote on a class ({target.__name__}) would make an actor; "
                                  "fastray does not support actors yet")
    if not callable(target):
        raise TypeError(f"@remote must decorate a function, got {type(target).__name__}")
    return RemoteFunction(target, options)

