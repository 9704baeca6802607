"""What a task's return becomes: its num_returns values (from a returned
sequence, or as a generator yields them), and whether an exception it
raised may be retried."""
from __future__ import annotations

import sys
from typing import Any


def yielded_returns(values: Any, num_returns: int, name: str) -> tuple[list[Any], Exception | None]:
    """A generator task's num_returns values, and the exception it raised
    before it yielded them all (None if it did not).  One that yields more,
    or raises after its last return, has that reported, not raised, as Ray
    does (its returns exist already)."""
    taken: list[Any] = []
    try:
        for value in values:
            if len(taken) == num_returns:
                print(f"task {name} yielded more than num_returns={num_returns} values; "
                      "the rest are dropped", file=sys.stderr)
                values.close()
                break
            taken.append(value)
    except Exception as exc:
        if len(taken) < num_returns:
            return taken, exc
        print(f"Unhandled error: task {name} raised {exc!r} after its {num_returns} returns "
              "were made", file=sys.stderr)
    if len(taken) < num_returns:
        raise ValueError(f"task {name} has num_returns={num_returns} but yielded "
                         f"{len(taken)} values")
    return taken, None


def split_returns(value: Any, num_returns: int, name: str) -> list[Any]:
    if num_returns == 0:
        return []
    try:
        values = list(value)
    except TypeError:
        values = None
    if values is None or len(values) != num_returns:
        got = "a non-sequence" if values is None else f"{len(values)} values"
        raise ValueError(f"task {name} has num_returns={num_returns} but returned {got}")
    return values


def retryable_by(error: BaseException, retry_exceptions: Any) -> bool:
    if retry_exceptions is True:
        return isinstance(error, Exception)
    if isinstance(retry_exceptions, (list, tuple)):
        return isinstance(error, tuple(retry_exceptions))
    return False
