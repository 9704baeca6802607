"""What travels between processes to make and call an actor: the class's
blueprint (sent once to the actor's process), the marker of one method
(sent once per method), and the description every handle carries.

Plain data, low in the package, so the driver's API, the worker and the
scheduler backends all read the same definitions without importing each
other.
"""
from __future__ import annotations

import inspect
import zlib
from dataclasses import dataclass
from typing import Any

from .options import DEFAULT_BACKPRESSURE

# Methods every actor has, run by the runtime itself.
READY_METHOD = "__ray_ready__"
TERMINATE_METHOD = "__ray_terminate__"
BUILTIN_METHODS = (READY_METHOD, TERMINATE_METHOD)


class ActorExit(BaseException):
    """Raised by exit_actor(): ends the actor once the call returns.  A
    BaseException, so the user's ``except Exception`` does not swallow it."""


@dataclass(frozen=True)
class MethodSpec:
    """A method's options (from ``@fastray.method``), and its call id."""

    fn_id: int
    num_returns: int | str = 1
    concurrency_group: str | None = None
    max_task_retries: int | None = None
    retry_exceptions: Any = False


@dataclass(frozen=True)
class ActorMeta:
    """What a handle needs to call the actor, the same in every process."""

    class_name: str
    methods: dict[str, MethodSpec]
    max_task_retries: int
    max_pending_calls: int
    name: str
    namespace: str
    # Why the actor can never start (a hard affinity to another node); its
    # calls fail with ActorUnschedulableError.  "": it runs.
    unschedulable: str = ""
    # Values a generator method may have ahead of its caller (-1: no bound).
    generator_backpressure: int = DEFAULT_BACKPRESSURE


@dataclass(frozen=True)
class ActorSettings:
    """The per-actor part of the constructor call: how the process runs it."""

    meta: ActorMeta
    max_concurrency: int
    concurrency_groups: tuple[tuple[str, int], ...]
    # The placement group it runs in, and whether its calls' children go in it.
    placement_group: Any = None
    capture_children: bool = False
    # The runtime_env it runs in (a runtime_env.TaskEnv), or None.
    runtime_env: Any = None


@dataclass(frozen=True)
class ActorBlueprint:
    """The creation task's function: the user's class."""

    cls: type
    is_async: bool


@dataclass(frozen=True)
class MethodCall:
    """A method call task's function: which method to run on the instance."""

    name: str


def method_fn_id(class_id: int, name: str) -> int:
    """A method's function id: the same in every process for one class, and
    distinct for its methods (zlib's CRC, not hashlib, whose OpenSSL would
    cost every process megabytes)."""
    return (class_id ^ (zlib.crc32(name.encode()) * 0x9E3779B97F4A7C15)) & (2**63 - 1)


def is_async_class(cls: type) -> bool:
    """Ray's rule: any ``async def`` method makes an async actor."""
    return any(inspect.iscoroutinefunction(member) or inspect.isasyncgenfunction(member)
               for _, member in inspect.getmembers(cls, inspect.isfunction))


def method_specs(cls: type, class_id: int) -> dict[str, MethodSpec]:
    """The public methods of cls (and the built-in ones), with their options."""
    specs = {name: MethodSpec(method_fn_id(class_id, name)) for name in BUILTIN_METHODS}
    for name, member in inspect.getmembers(cls, callable):
        if name.startswith("__") and name.endswith("__"):
            continue
        specs[name] = MethodSpec(
            fn_id=method_fn_id(class_id, name),
            num_returns=getattr(member, "__ray_num_returns__", _default_returns(member)),
            concurrency_group=getattr(member, "__ray_concurrency_group__", None),
            max_task_retries=getattr(member, "__ray_max_task_retries__", None),
            retry_exceptions=getattr(member, "__ray_retry_exceptions__", False))
    return specs


def _default_returns(method: Any) -> int | str:
    """Ray's default: a generator method streams its values."""
    generator = inspect.isgeneratorfunction(method) or inspect.isasyncgenfunction(method)
    return "streaming" if generator else 1
