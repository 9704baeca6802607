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
