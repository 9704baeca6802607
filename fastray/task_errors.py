"""A task's exception on its way from the worker to whoever gets the result.

The exception object may not survive the trip: its class may need arguments
that its pickle does not give (``__init__(self, code, detail)``), may refuse
to be pickled, or may live in a module that only the worker has.  So the
worker sends the traceback as text, which always arrives and names the class
and its message, and the exception pickled twice: as itself, and as its
class, ``args`` and ``__dict__``, which the reader puts together without
calling ``__init__``.  The reader uses the first that loads, and says in the
error's text why when neither does.
"""
from __future__ import annotations

import os
import pickle
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import cloudpickle

from .exceptions import TaskError


@dataclass(frozen=True)
class SentError:
    """What a worker sends for a failed task: plain data, which unpickles anywhere."""

    function_name: str
    traceback_str: str
    pid: int
    class_name: str
    pickled: bytes | None   # the exception itself
    parts: bytes | None     # (its class, args, __dict__)
    problem: str            # why neither could be pickled


def sent_error(exc: BaseException, function_name: str) -> SentError:
    """What to send for exc, raised by the task function_name."""
    if isinstance(exc, TaskError):
        cause, remote_tb = exc.cause, exc.traceback_str
    else:
        cause, remote_tb = exc, ""
    local_tb = "".join(traceback.format_exception(exc))
    text = local_tb if not remote_tb else f"{local_tb}\n{remote_tb}"
    if cause is None:
        return SentError(function_name, text, os.getpid(), "", None, None, "")
    cls = type(cause)
    pickled, problem = _pickled(lambda: cause)
    # Without what does not pickle: its attributes, then its args too.
    shapes: list[Callable[[], Any]] = [lambda: (cls, cause.args, vars(cause)),
                                       lambda: (cls, cause.args, {}), lambda: (cls, (), {})]
    parts = next((data for data, _ in map(_pickled, shapes) if data is not None), None)
    return SentError(function_name, text, os.getpid(), f"{cls.__module__}.{cls.__qualname__}",
                     pickled, parts, problem and f"could not be pickled in the worker: {problem}")


def _pickled(make: Callable[[], Any]) -> tuple[bytes | None, str]:
    """The pickle of what make returns, or None and why not."""
    try:
        return cloudpickle.dumps(make(), protocol=5), ""
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"


def received_error(sent: SentError) -> TaskError:
    """The error to raise for what a worker sent: an instance of the original
    class too wherever that class can be had here."""
    cause, problem = _rebuilt(sent)
    text = sent.traceback_str
    if problem:
        text = f"{text.rstrip()}\n(the {sent.class_name} object {problem})\n"
    return TaskError(sent.function_name, text, cause, sent.pid).as_instanceof_cause()


def _rebuilt(sent: SentError) -> tuple[BaseException | None, str]:
    """The exception, or None and why it could not be had."""
    if sent.pickled is not None:
        try:
            cause = pickle.loads(sent.pickled)
        except Exception as exc:
            problem = f"could not be rebuilt here: {type(exc).__name__}: {exc}"
        else:
            if isinstance(cause, BaseException):
                return cause, ""
            problem = f"was rebuilt here as a {type(cause).__name__}, not an exception"
    else:
        problem = sent.problem
    if sent.parts is None:
        return None, problem
    try:
        cls, args, attributes = pickle.loads(sent.parts)
        cause = cls.__new__(cls)
        cause.args = args
        cause.__dict__.update(attributes)
    except Exception:
        return None, problem
    return cause, ""
