"""The options a task takes: Ray's names and defaults, checked once when set."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .resources import ASKED_OPTIONS, Asked
from .runtime_env import checked

# Options Ray accepts for remote functions that change nothing on one
# machine (README's differences table says why for each): accepted so Ray
# code runs unchanged.
IGNORED_OPTIONS = frozenset({
    "name", "object_store_memory", "enable_task_events", "_metadata", "_labels",
})
# Ray options that need what the local runtime does not have: an error
# when set to anything but their default, never ignored.
_UNSUPPORTED = {
    "label_selector": "node labels",
    "fallback_strategy": "node labels",
}
PLACEMENT_OPTIONS = ("scheduling_strategy", "placement_group", "placement_group_bundle_index",
                     "placement_group_capture_child_tasks")
OPTIONS = frozenset({"num_returns", "num_cpus", "num_gpus", "resources", "max_retries",
                     "retry_exceptions", "_generator_backpressure_num_objects", "max_calls",
                     "runtime_env", *PLACEMENT_OPTIONS, *_UNSUPPORTED,
                     *ASKED_OPTIONS}) | IGNORED_OPTIONS

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
    # GPUs and custom resources, checked against the machine at .remote()
    # (not at @remote).
    asked: Asked = Asked()
    # num_cpus in thousandths, as the scheduler counts them (read per submit).
    cpu_milli: int = field(init=False, repr=False, compare=False)
    # Whether a submit needs more than the plain path (read per submit).
    special: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpu_milli", round(self.num_cpus * 1000))
        object.__setattr__(self, "special", bool(
            self.placement is not None or self.max_calls or self.runtime_env or self.asked))

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
        if any(key in options for key in ASKED_OPTIONS):
            changes["asked"] = self.asked.updated(options)
        for key, what in _UNSUPPORTED.items():
            if options.get(key):
                raise NotImplementedError(f"{key}={options[key]!r}: the local runtime has no "
                                          f"{what}; use the Ray backend (init(address=...))")
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


def _retry_spec(value: Any) -> bool | tuple[type[BaseException], ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(
            isinstance(t, type) and issubclass(t, BaseException) for t in value):
        return tuple(value)
    raise TypeError("retry_exceptions must be a bool or a list of exception classes, "
                    f"got {value!r}")
