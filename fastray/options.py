"""The options a task takes: Ray's names and defaults, checked once when set."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

# Options Ray accepts for remote functions that have no meaning on one
# machine; accepted so Ray code runs unchanged.
IGNORED_OPTIONS = frozenset({
    "memory", "name", "scheduling_strategy", "runtime_env", "accelerator_type",
    "placement_group", "placement_group_bundle_index", "placement_group_capture_child_tasks",
    "max_calls", "object_store_memory", "enable_task_events", "label_selector", "_metadata",
    "_labels", "concurrency_groups",
})
OPTIONS = frozenset({"num_returns", "num_cpus", "num_gpus", "resources", "max_retries",
                     "retry_exceptions", "_generator_backpressure_num_objects"}) | IGNORED_OPTIONS

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
    # num_cpus in thousandths, as the scheduler counts them (read per submit).
    cpu_milli: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpu_milli", round(self.num_cpus * 1000))

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
            bound = options["_generator_backpressure_num_objects"]
            if not isinstance(bound, int) or isinstance(bound, bool) or bound == 0 or bound < -1:
                raise ValueError("_generator_backpressure_num_objects must be an int >= 1, or "
                                 f"-1 for no bound; got {bound!r}")
            changes["backpressure"] = bound
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


def returns_fields(num_returns: Any) -> tuple[int, str]:
    """num_returns as (count of refs, generator mode): an int >= 0, or
    "streaming" / "dynamic", which return one object."""
    if num_returns in GENERATOR_MODES:
        return 1, num_returns
    if not isinstance(num_returns, int) or isinstance(num_returns, bool) or num_returns < 0:
        raise ValueError(f"num_returns must be an int >= 0, \"streaming\" or \"dynamic\"; "
                         f"got {num_returns!r}")
    return num_returns, ""


def _retry_spec(value: Any) -> bool | tuple[type[BaseException], ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(
            isinstance(t, type) and issubclass(t, BaseException) for t in value):
        return tuple(value)
    raise TypeError("retry_exceptions must be a bool or a list of exception classes, "
                    f"got {value!r}")
