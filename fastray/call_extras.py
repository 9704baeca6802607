"""What a task's call carries to its worker besides the user's arguments:
one reserved keyword argument, taken out before the function runs.  Only
calls that need it carry it (a generator task, a task in a placement group,
one with max_calls or a runtime_env), so a plain call pays one dict check
in the worker."""
from __future__ import annotations

from typing import Any, NamedTuple

EXTRAS_KWARG = "__fastray_call__"


class CallExtras(NamedTuple):
    """A NamedTuple, not a dataclass: every worker imports this module on
    its way to its first task, and dataclasses costs milliseconds there."""

    # A streaming generator's (first links, release, backpressure bound), ids.
    stream: tuple[tuple[int, ...], int, int] | None = None
    # Its values as one DynamicObjectRefGenerator.
    dynamic: bool = False
    # The placement group it runs in, and whether its children go in it too
    # (placement_group_capture_child_tasks).
    placement_group: Any = None
    capture_children: bool = False
    # The worker exits after this many calls of the function (0: never).
    max_calls: int = 0
    # The runtime_env it runs in (a runtime_env.TaskEnv).
    runtime_env: Any = None


def with_extras(kwargs: dict, **extras: Any) -> dict:
    """kwargs carrying extras (added to those it carries already)."""
    current = kwargs.get(EXTRAS_KWARG)
    merged = current._replace(**extras) if current else CallExtras(**extras)
    return {**kwargs, EXTRAS_KWARG: merged}
