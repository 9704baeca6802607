"""The options an actor takes: Ray 2.60's names and defaults, checked once
when set, so a bad one fails at ``.options()`` or ``.remote()``, in the caller."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .options import (DEFAULT_BACKPRESSURE, PLACEMENT_OPTIONS, backpressure_bound,
                      placement_options, returns_fields)
from .resources import ASKED_OPTIONS, Asked
from .runtime_env import checked

# Accepted and acted on.
_OWN = frozenset({
    "name", "namespace", "get_if_exists", "lifetime", "num_cpus", "max_concurrency",
    "max_restarts", "max_task_retries", "max_pending_calls", "concurrency_groups",
    "allow_out_of_order_execution", "enable_task_events", "object_store_memory",
    "_labels", "runtime_env", "_actor_generator_backpressure_num_objects", *ASKED_OPTIONS,
    *PLACEMENT_OPTIONS,
})
# Ray options whose meaning other parts of the runtime will carry: accepted by
# name, and an error when set to anything but their default, never ignored.
_NOT_YET: dict[str, tuple] = {
    "label_selector": (None, {}), "fallback_strategy": (None, []),
    "enable_tensor_transport": (None, False),
}
ACTOR_OPTIONS = _OWN | frozenset(_NOT_YET)
METHOD_OPTIONS = frozenset({"num_returns", "concurrency_group", "max_task_retries",
                            "retry_exceptions", "enable_task_events"})
DEFAULT_ASYNC_CONCURRENCY = 1000  # Ray's default for async actors


@dataclass(frozen=True)
class ActorOptions:
    """Validated actor options.  ``given`` keeps the names the user set, so
    the Ray backend passes exactly those on."""

    name: str | None = None
    namespace: str | None = None
    get_if_exists: bool = False
    detached: bool = False
    num_cpus: float = 0.0
    max_concurrency: int | None = None
    max_restarts: int = 0
    max_task_retries: int = 0
    max_pending_calls: int = -1
    concurrency_groups: tuple[tuple[str, int], ...] = ()
    # scheduling_strategy and the placement_group options, as given.
    placement: tuple | None = None
    runtime_env: dict | None = None
    generator_backpressure: int = DEFAULT_BACKPRESSURE
    # GPUs and custom resources, checked against the machine at .remote()
    # (not at @remote), held for the actor's life.
    asked: Asked = Asked()
    given: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def cpu_milli(self) -> int:
        return round(self.num_cpus * 1000)

    def updated(self, **options: Any) -> ActorOptions:
        """A copy with options applied; raises ValueError/TypeError for a bad
        one, NotImplementedError for one the local runtime cannot honour yet."""
        unknown = set(options) - ACTOR_OPTIONS
        if unknown:
            raise ValueError(f"invalid option(s) {sorted(unknown)} for actors; valid ones "
                             f"are {sorted(ACTOR_OPTIONS)}")
        for key, value in options.items():
            if key in _NOT_YET and not _is_default(value, _NOT_YET[key]):
                raise NotImplementedError(
                    f"the actor option {key}={value!r} is not supported by fastray's local "
                    "runtime yet; leave it out, or run on a Ray cluster "
                    "(fastray.init(address=...))")
        changes: dict[str, Any] = {}
        for key in ("name", "namespace"):
            if key in options:
                changes[key] = _optional_str(key, options[key])
        if "get_if_exists" in options:
            changes["get_if_exists"] = _bool("get_if_exists", options["get_if_exists"])
        if "lifetime" in options:
            lifetime = options["lifetime"]
            if lifetime not in (None, "detached", "non_detached"):
                raise ValueError("lifetime must be None, 'detached' or 'non_detached', "
                                 f"got {lifetime!r}")
            changes["detached"] = lifetime == "detached"
        if options.get("num_cpus") is not None:
            cpus = options["num_cpus"]
            if not isinstance(cpus, (int, float)) or isinstance(cpus, bool) or cpus < 0:
                raise ValueError(f"num_cpus must be a number >= 0, got {cpus!r}")
            changes["num_cpus"] = float(cpus)
        if options.get("max_concurrency") is not None:
            changes["max_concurrency"] = _int("max_concurrency", options["max_concurrency"], 1)
        for key in ("max_restarts", "max_task_retries"):
            if options.get(key) is not None:
                changes[key] = _int(key, options[key], -1)
        if options.get("max_pending_calls") is not None:
            pending = _int("max_pending_calls", options["max_pending_calls"], -1)
            if pending == 0:
                raise ValueError("max_pending_calls must be -1 (no limit) or >= 1, got 0")
            changes["max_pending_calls"] = pending
        if options.get("concurrency_groups") is not None:
            changes["concurrency_groups"] = _groups(options["concurrency_groups"])
        if any(key in options for key in PLACEMENT_OPTIONS):
            changes["placement"] = placement_options(self.placement, options)
        if "runtime_env" in options:
            changes["runtime_env"] = checked(options["runtime_env"]) or None
        if any(key in options for key in ASKED_OPTIONS):
            changes["asked"] = self.asked.updated(options)
        bound = options.get("_actor_generator_backpressure_num_objects")
        if bound is not None:
            changes["generator_backpressure"] = backpressure_bound(
                "_actor_generator_backpressure_num_objects", bound)
        given = dict(self.given)
        given.update(options)
        return replace(self, given=given, **changes)

    def concurrency(self, is_async: bool) -> int:
        if self.max_concurrency is not None:
            return self.max_concurrency
        return DEFAULT_ASYNC_CONCURRENCY if is_async else 1


def check_method_options(where: str, options: dict[str, Any]) -> None:
    unknown = set(options) - METHOD_OPTIONS
    if unknown:
        raise ValueError(f"invalid option(s) {sorted(unknown)} for {where}; valid ones are "
                         f"{sorted(METHOD_OPTIONS)}")
    if "num_returns" in options:
        returns_fields(options["num_returns"])
    if "max_task_retries" in options:
        _int("max_task_retries", options["max_task_retries"], -1)
    if "concurrency_group" in options:
        _optional_str("concurrency_group", options["concurrency_group"])


def _is_default(value: Any, defaults: tuple) -> bool:
    return any(value is d or (type(value) is type(d) and value == d) for d in defaults)


def _optional_str(key: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key} must be a string, got {type(value).__name__}")
    if value == "":
        raise ValueError(f"{key} must not be empty")
    return value


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{key} must be a bool, got {value!r}")
    return value


def _int(key: str, value: Any, lowest: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
        raise ValueError(f"{key} must be an int >= {lowest}, got {value!r}")
    return value


def _groups(value: Any) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, dict):
        raise TypeError("concurrency_groups must be a dict of group name -> max concurrency, "
                        f"got {type(value).__name__}")
    groups = []
    for name, limit in value.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"concurrency group names must be non-empty strings, got {name!r}")
        groups.append((name, _int(f"concurrency_groups[{name!r}]", limit, 1)))
    return tuple(groups)
