"""Errors raised by fastray, under Ray's names as well as our own.

This module imports nothing from the runtime, so code may catch these errors
without starting or even importing the executor.
"""
from __future__ import annotations

__all__ = [
    "FastrayError", "RayError", "TaskError", "RayTaskError", "GetTimeoutError",
    "TaskCancelledError", "WorkerCrashedError", "ObjectStoreFullError", "ObjectLostError",
    "RayActorError", "ActorDiedError", "ActorUnavailableError", "ActorAlreadyExistsError",
    "PendingCallsLimitExceeded", "OwnerDiedError", "ObjectReconstructionFailedError",
    "OutOfMemoryError", "RaySystemError", "TaskUnschedulableError", "ActorUnschedulableError",
    "TaskPlacementGroupRemoved", "ActorPlacementGroupRemoved", "RuntimeEnvSetupError",
]


class FastrayError(Exception):
    """Root of every error fastray raises on its own account."""


class TaskError(FastrayError):
    """A task raised an exception.

    ``get`` raises an instance of a class derived from both ``TaskError`` and
    the original exception's class (see ``as_instanceof_cause``), so
    ``except ValueError`` catches a remote ``ValueError``.
    """

    def __init__(self, function_name: str, traceback_str: str, cause: BaseException | None,
                 pid: int | None = None) -> None:
        self.function_name = function_name
        self.traceback_str = traceback_str
        self.cause = cause
        self.pid = pid
        # Not super(): in the class made by as_instanceof_cause the next
        # __init__ is the cause's, whose arguments are unknown.
        Exception.__init__(self, self._message())

    def _message(self) -> str:
        return f"{self.function_name}() (pid={self.pid})\n{self.traceback_str.rstrip()}"

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self):
        return (TaskError, (self.function_name, self.traceback_str, self.cause, self.pid))

    def as_instanceof_cause(self) -> TaskError:
        """Returns an equivalent error that is also an instance of the cause's class."""
        cause_cls = type(self.cause)
        if self.cause is None or issubclass(TaskError, cause_cls) or isinstance(self.cause, TaskError):
            return self
        try:
            dual: type[TaskError] = type(f"TaskError({cause_cls.__name__})", (TaskError, cause_cls), {
                "__init__": TaskError.__init__,
                "__str__": TaskError.__str__,
                "__reduce__": TaskError.__reduce__,
                "__module__": cause_cls.__module__,
            })
            error = dual.__new__(dual)
        except TypeError:
            return self
        TaskError.__init__(error, self.function_name, self.traceback_str, self.cause, self.pid)
        error.args = (self._message(),)
        return error


class GetTimeoutError(FastrayError, TimeoutError):
    """``get`` or a future's result did not become ready within the timeout."""


class TaskCancelledError(FastrayError):
    """The task was cancelled with ``cancel`` before it finished."""


class WorkerCrashedError(FastrayError):
    """The worker process running the task died (and retries, if any, ran out)."""


class ObjectStoreFullError(FastrayError):
    """The object store could not make room for a value."""


class ObjectLostError(FastrayError):
    """The object is gone: freed, or from a runtime that was shut down."""


class OwnerDiedError(ObjectLostError):
    """The process that owned the object died (Ray's name; on one machine
    the driver owns every object, so the local runtime does not raise it)."""


class ObjectReconstructionFailedError(ObjectLostError):
    """A lost object could not be made again (Ray's name; the local runtime
    keeps objects until their last ref goes, and does not raise it)."""


class OutOfMemoryError(FastrayError):
    """The machine ran short of memory and a worker was killed for it
    (Ray's name; raised through the Ray backend)."""


class RaySystemError(FastrayError):
    """The runtime itself failed, not the task (Ray's name)."""


class TaskUnschedulableError(FastrayError):
    """The task can never run: no node can meet what it asks for (such as
    a hard affinity to a node that is not this one)."""


class ActorUnschedulableError(FastrayError):
    """The actor can never be started: no node can meet what it asks for."""


class TaskPlacementGroupRemoved(FastrayError):
    """The task's placement group was removed before it could run."""


class ActorPlacementGroupRemoved(FastrayError):
    """The actor's placement group was removed (Ray's name; the local runtime
    kills such an actor, whose calls then raise ActorDiedError)."""


class RuntimeEnvSetupError(FastrayError):
    """The task's runtime_env could not be set up in its worker (its
    worker_process_setup_hook raised, or its working_dir is gone)."""


class RayActorError(FastrayError):
    """An actor could not run a call: it died, or cannot be reached now."""


class ActorDiedError(RayActorError):
    """The actor is dead (its constructor raised, its process ended, it was
    killed or exited, or it went out of scope); the message says which."""


class ActorUnavailableError(RayActorError):
    """The actor cannot be reached for now, but may come back (Ray's name;
    the local runtime queues calls while an actor restarts instead)."""


class ActorAlreadyExistsError(FastrayError, ValueError):
    """A live actor already has the name in that namespace."""


class PendingCallsLimitExceeded(FastrayError):
    """An actor handle has max_pending_calls calls in flight already."""


RayError = FastrayError
RayTaskError = TaskError
