"""The options a task takes: Ray's names and defaults, checked once when set."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .runtime_env import checked

# Options Ray accepts for remote functions that change nothing on one
# machine (README's differences table says why for each): accepted so Ray
# code runs unchanged.
IGNORED_OPTIONS = frozenset({
    "memory", "name", "object_store_memory", "enable_task_events", "_metadata", "_labels",
})
# Ray options that need what the local runtime does not have: an error
# when set to anything but their default, never ignored.
_UNSUPPORTED = {
    "accelerator_type": "accelerator types",
    "label_selector": "node labels",
    "fallback_strategy": "node labels",
}
PLACEMENT_OPTIONS = ("scheduling_strategy", "placement_group", "placement_group_bundle_index",
                     "placement_group_capture_child_tasks")
OPTIONS = frozenset({"num_returns", "num_cpus", "num_gpus", "resources", "max_retries",
                     "retry_exceptions", "_generator_backpressure_num_objects", "max_calls",
                     "runtime_env", *PLACEMENT_OPTIONS, *_UNSUPPORTED}) | IGNORED_OPTIONS
# Resources the local node lists (cluster_resources()) that a task may ask
# for without their being counted: every task runs on this node.
NODE_RESOURCES = ("node:127.0.0.1", "node:__internal_head__")

# num_returns values that make a generator task: its values as they are
# yielded (an ObjectRefGenerator), or all of them in one ref (Ray's older
# DynamicObjectRefGenerator).
GENERATOR_MODES = ("streaming", "dynamic")
# How many yielded values a generator task may have ahead of its consumer
# before it pauses (Ray's _generator_backpressure_num_objects, which Ray
# leaves unbounded by default); -1: no bound.
DEFAULT_BACKPRESSURE = 1000


@dataclass(frozen=True)
class TaskOptions:
    """Validated task options (Ray's defaults)."""

    num_returns: int = 1
    num_cpus: float = 1.0
    max_retries: int = 3
    retry_exceptions: bool | tuple[type[BaseException], ...] = False
    # "streaming" or "dynamic" for a generator task (num_returns is 1 then).
    generator: str = ""
    backpressure: int = DEFAULT_BACKPRESSURE
    # scheduling_strategy and the older placement_group options, as given
    # (resolved per submit by fastray/scheduling.py); None: the default.
    placement: tuple | None = None
    max_calls: int = 0
    runtime_env: dict | None = None
    # Asked for, checked against the machine at .remote() (not at @remote).
    num_gpus: float = 0.0
    custom_resources: dict | None = None
    # num_cpus in thousandths, as the scheduler counts them (read per submit).
    cpu_milli: int = field(init=False, repr=False, compare=False)
    # Whether a submit needs more than the plain path (read per submit).
    special: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpu_milli", round(self.num_cpus * 1000))
        object.__setattr__(self, "special", bool(
            self.placement is not None or self.max_calls or self.runtime_env or self.num_gpus
            or self.custom_resources))

    def updated(self, **options: Any) -> TaskOptions:
        """A copy with options applied; raises ValueError/TypeError for bad ones."""
        unknown = set(options) - OPTIONS
        if unknown:
            raise ValueError(f"invalid option(s) {sorted(unknown)} for remote functions; "
                             f"valid ones are {sorted(OPTIONS)}")
        changes: dict[str, Any] = {}
        if "num_returns" in options:
            changes["num_returns"], changes["generator"] = returns_fields(options["num_returns"])
        if "_generator_backpressure_num_objects" in options:
            changes["backpressure"] = backpressure_bound(
                "_generator_backpressure_num_objects", options["_generator_backpressure_num_objects"])
        if "num_cpus" in options and options["num_cpus"] is not None:
            cpus = options["num_cpus"]
            if not isinstance(cpus, (int, float)) or isinstance(cpus, bool) or cpus < 0:
                raise ValueError(f"num_cpus must be a number >= 0, got {cpus!r}")
            changes["num_cpus"] = float(cpus)
        if "num_gpus" in options or "resources" in options:
            changes["custom_resources"] = check_gpus_and_resources(
                options.get("num_gpus"), options.get("resources"))
            changes["num_gpus"] = float(options.get("num_gpus") or 0)
        for key, what in _UNSUPPORTED.items():
            if options.get(key):
                raise NotImplementedError(f"{key}={options[key]!r}: the local runtime has no "
                                          f"{what}; use the Ray backend (init(address=...))")
        memory = options.get("memory")
        if memory is not None and (not isinstance(memory, (int, float))
                                   or isinstance(memory, bool) or memory < 0):
            raise ValueError(f"memory must be a number of bytes >= 0, got {memory!r}")
        if "max_calls" in options:
            changes["max_calls"] = _check_count("max_calls", options["max_calls"] or 0, 0)
        if "runtime_env" in options:
            changes["runtime_env"] = checked(options["runtime_env"]) or None
        if any(key in options for key in PLACEMENT_OPTIONS):
            changes["placement"] = placement_options(self.placement, options)
        if "max_retries" in options:
            retries = options["max_retries"]
            if not isinstance(retries, int) or isinstance(retries, bool) or retries < -1:
                raise ValueError(f"max_retries must be an int >= -1, got {retries!r}")
            changes["max_retries"] = retries
        if "retry_exceptions" in options:
            changes["retry_exceptions"] = _retry_spec(options["retry_exceptions"])
        return replace(self, **changes)


def returns_fields(num_returns: Any) -> tuple[int, str]:
    """num_returns as (count of refs, generator mode): an int >= 0, or
    "streaming" / "dynamic", which return one object."""
    if num_returns in GENERATOR_MODES:
        return 1, num_returns
    if not isinstance(num_returns, int) or isinstance(num_returns, bool) or num_returns < 0:
        raise ValueError(f"num_returns must be an int >= 0, \"streaming\" or \"dynamic\"; "
                         f"got {num_returns!r}")
    return num_returns, ""


def backpressure_bound(key: str, bound: Any) -> int:
    if not isinstance(bound, int) or isinstance(bound, bool) or bound == 0 or bound < -1:
        raise ValueError(f"{key} must be an int >= 1, or -1 for no bound; got {bound!r}")
    return bound


def placement_options(current: tuple | None, options: dict[str, Any]) -> tuple | None:
    """The scheduling options as given (PLACEMENT_OPTIONS' order), the new
    over the current; None if all are defaults."""
    old = current or (None, None, None, None)
    given = tuple(options[key] if key in options else old[i]
                  for i, key in enumerate(PLACEMENT_OPTIONS))
    return None if all(_unset(value) for value in given) else given


def _unset(value: Any) -> bool:
    """Whether a scheduling option holds its default (None, "DEFAULT", -1, False)."""
    return (value is None or value is False or (type(value) is int and value == -1)
            or (isinstance(value, str) and value in ("DEFAULT", "default")))


def _check_count(key: str, value: Any, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"{key} must be an int >= {least}, got {value!r}")
    return value


def check_gpus_and_resources(num_gpus: Any, resources: Any) -> dict[str, float]:
    """Checks what num_gpus and resources may hold; returns the custom
    resources asked for (the node's own, which every task may have, left
    out).  Whether the machine has them is checked when the task or actor
    is made: declaring is not asking."""
    if num_gpus is not None and (not isinstance(num_gpus, (int, float))
                                 or isinstance(num_gpus, bool) or num_gpus < 0):
        raise ValueError(f"num_gpus must be a number >= 0, got {num_gpus!r}")
    if not resources:
        return {}
    if not isinstance(resources, dict):
        raise TypeError(f"resources must be a dict, got {type(resources).__name__}")
    custom = {}
    for key, amount in resources.items():
        if not isinstance(key, str):
            raise TypeError(f"resource names must be str, got {key!r}")
        if key in ("CPU", "GPU"):
            raise ValueError(f'use num_cpus/num_gpus, not resources={{"{key}": ...}}')
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
            raise ValueError(f"resource {key!r} takes an amount >= 0, got {amount!r}")
        if key.startswith("node:") and key not in NODE_RESOURCES:
            custom[key] = float(amount)  # another node's: see unavailable()
        elif key in NODE_RESOURCES:
            if amount > 1:
                raise ValueError(f"resource {key!r} takes an amount from 0 to 1, got {amount!r}")
        elif amount:
            custom[key] = float(amount)
    return custom


def unavailable(num_gpus: float, custom: dict[str, float], what: str) -> str:
    """Why a task or actor asking for GPUs or custom resources can never run
    on the local runtime (which schedules CPUs only), or ""."""
    custom = {k: v for k, v in custom.items() if not k.startswith("node:")}
    if num_gpus:
        return (f"{what} asks for num_gpus={num_gpus:g}, and the runtime has no GPUs: it "
                "could never run")
    if custom:
        return (f"{what} asks for custom resources {custom!r}, which the runtime does not "
                "have: it could never run")
    return ""


def elsewhere(custom: dict[str, float] | None) -> str:
    """The resource of another node a task or actor asks for, if any: like a
    hard affinity to that node, it can never run here (TaskUnschedulableError)."""
    return next((key for key in custom or {} if key.startswith("node:")), "")


def _retry_spec(value: Any) -> bool | tuple[type[BaseException], ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(
            isinstance(t, type) and issubclass(t, BaseException) for t in value):
        return tuple(value)
    raise TypeError("retry_exceptions must be a bool or a list of exception classes, "
                    f"got {value!r}")
