"""What the timeline shows of ended tasks: the row each goes on, and the
Chrome trace events of ``fastray.timeline()`` (load them in Perfetto or
chrome://tracing).

A plain task goes on its worker's row, ``worker PID``; an actor's calls, and
its constructor, go on the actor's row, ``actor CLASS PID``, so each actor's
work reads as a lane of its own (a restarted actor gets a new row, as it has
a new process).  The dashboard's live strip uses the same rows.
"""
from __future__ import annotations

from typing import Any


def short_name(function: str) -> str:
    """A function's name without the enclosing functions of a nested one."""
    return function.split("<locals>.")[-1]


def row_of(function: str, pid: int, actor: int) -> str:
    """The row of a task that ran ``function`` in process ``pid``; actor is
    its actor's id, or 0.  Actor methods are named ``Class.method`` and a
    constructor ``Class``, so the class is the name's first part."""
    if actor:
        return f"actor {function.partition('.')[0]} {pid}"
    return f"worker {pid}"


def chrome_trace(events: list[tuple]) -> list[dict[str, Any]]:
    """One complete ("X") event per ended task, from the backend's
    ``task_events()``; times in microseconds since the epoch."""
    trace = []
    for task_id, name, pid, outcome, submitted, started, ended, actor in events:
        start = started or ended
        details: dict[str, Any] = {"task_id": f"{task_id:016x}", "state": outcome,
                                   "queued_us": (start - submitted) / 1000}
        if actor:
            details["actor_id"] = f"{actor:016x}"
        trace.append({"name": short_name(name), "cat": "actor_call" if actor else "task",
                      "ph": "X", "pid": "fastray", "tid": row_of(name, pid, actor),
                      "ts": start / 1000, "dur": (ended - start) / 1000, "args": details})
    return trace
