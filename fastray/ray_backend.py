"""The hand-off to a real Ray cluster: the same program, every public call
carried out by Ray.

``init(address=...)`` with a cluster address installs this backend; inside a
task that Ray runs, the first fastray call finds Ray initialized in its
process and binds to it too, so nested ``.remote()`` and ``get`` never start
a local pool.  Refs are Ray's own ObjectRefs (``isinstance`` against
``fastray.ObjectRef`` accepts them), and Ray's errors are turned into
fastray's at this boundary, so ``except fastray.exceptions.X`` keeps working.
"""
from __future__ import annotations

import concurrent.futures
import logging
from typing import TYPE_CHECKING, Any, Sequence

from . import exceptions
from .backend import Backend

if TYPE_CHECKING:
    from .actor import ActorClass, ActorReference
    from .actor_options import ActorOptions
    from .options import TaskOptions
    from .remote_function import RemoteFunction

logger = logging.getLogger("fastray")

RAY_EXTRA_HINT = ("connecting to a Ray cluster needs Ray: pip install 'fastray[ray]' "
                  "(or pip install ray)")


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ImportError(RAY_EXTRA_HINT) from exc
    return ray


class RayBackend(Backend):
    """Backend that runs everything on a Ray cluster."""

    def __init__(self, ray: Any, owns_connection: bool, address: str | None) -> None:
        self.ray = ray
        self.address = address
        self._owns_connection = owns_connection
        self._functions: dict[int, Any] = {}
        self.ray_context: Any = None

    @classmethod
    def connect(cls, address: str, init_kwargs: dict[str, Any]) -> RayBackend:
        ray = import_ray()
        context = ray.init(address=address, **init_kwargs)
        backend = cls(ray, True, context.address_info.get("address", address))
        backend.ray_context = context
        return backend

    @classmethod
    def attach(cls, ray: Any) -> RayBackend:
        """For a process where Ray is already running (a Ray worker)."""
        return cls(ray, False, None)

    # -- tasks and objects

    def submit(self, function: RemoteFunction, args: tuple, kwargs: dict,
               options: TaskOptions) -> list[Any]:
        remote = self._functions.get(function.fn_id)
        if remote is None:
            # max_calls only in Ray's decorator: a function's workers share it.
            decorate = (self.ray.remote(max_calls=options.max_calls) if options.max_calls
                        else self.ray.remote)
            remote = self._functions[function.fn_id] = decorate(function.function)
        extra: dict[str, Any] = self._scheduling(options.placement)
        if options.generator == "streaming":
            extra["_generator_backpressure_num_objects"] = options.backpressure
        if options.runtime_env:
            extra["runtime_env"] = options.runtime_env
        extra.update(options.asked.ray_options())
        refs = remote.options(
            num_returns=options.generator or options.num_returns, num_cpus=options.num_cpus,
            max_retries=options.max_retries,
            retry_exceptions=(list(options.retry_exceptions)
                              if isinstance(options.retry_exceptions, tuple)
                              else options.retry_exceptions),
            **extra,
        ).remote(*args, **kwargs)
        if options.num_returns == 1:
            return [refs]
        return list(refs or [])

    def get(self, refs: Sequence[Any], timeout: float | None) -> list[Any]:
        with translated_errors(self.ray):
            return self.ray.get(list(refs), timeout=timeout)

    def put(self, value: Any) -> Any:
        with translated_errors(self.ray):
            return self.ray.put(value)

    def wait(self, refs: Sequence[Any], num_returns: int,
             timeout: float | None) -> tuple[list[Any], list[Any]]:
        with translated_errors(self.ray):
            return self.ray.wait(list(refs), num_returns=num_returns, timeout=timeout)

    def cancel(self, ref: Any, force: bool, recursive: bool) -> None:
        with translated_errors(self.ray):
            self.ray.cancel(ref, force=force, recursive=recursive)

    def future(self, ref: Any) -> concurrent.futures.Future[Any]:
        return ref.future()

    def incref(self, object_id: int) -> None:
        """Ray counts its own refs."""

    def decref(self, object_id: int) -> None:
        """Ray counts its own refs."""

    # -- the cluster

    def resources(self) -> tuple[dict[str, float], dict[str, float]]:
        return self.ray.cluster_resources(), self.ray.available_resources()

    def nodes(self) -> list[dict[str, Any]]:
        return self.ray.nodes()

    def current_task_id(self) -> int | None:
        task_id = self.ray.get_runtime_context().get_task_id()
        return None if task_id is None else int(task_id, 16)

    def store_stats(self) -> dict[str, int]:
        raise NotImplementedError("object_store_stats() describes the local store; on Ray, "
                                  "use 'ray memory' or Ray's dashboard")

    def task_events(self) -> list[tuple]:
        raise NotImplementedError("on Ray, use ray.timeline()")

    def runtime_context(self, own: Any) -> Any:
        return self.ray.get_runtime_context()

    def worker_pids(self) -> list[int]:
        return []

    @property
    def spawner_pid(self) -> None:
        return None

    def shutdown(self) -> None:
        if self._owns_connection:
            self.ray.shutdown()

    # -- actors: Ray's own classes and handles, so calls go straight to Ray

    def create_actor(self, actor_class: ActorClass, args: tuple, kwargs: dict,
                     options: ActorOptions) -> Any:
        remote = self._functions.get(actor_class.class_id)
        if remote is None:
            remote = self._functions[actor_class.class_id] = self.ray.remote(actor_class.cls)
        given = dict(options.given)
        if "scheduling_strategy" in given:
            given["scheduling_strategy"] = self._their_strategy(given["scheduling_strategy"])
        with translated_errors(self.ray):
            return remote.options(**given).remote(*args, **kwargs)

    def call_actor(self, actor: ActorReference, method: str, fn_id: int, args: tuple,
                   kwargs: dict, options: TaskOptions, retry_exceptions: Any) -> list[Any]:
        raise TypeError(f"{actor!r} belongs to fastray's local runtime, not to the Ray "
                        "cluster this process is connected to")

    def kill_actor(self, handle: Any, no_restart: bool) -> None:
        with translated_errors(self.ray):
            self.ray.kill(handle, no_restart=no_restart)

    def get_actor(self, name: str, namespace: str | None) -> Any:
        with translated_errors(self.ray):
            return self.ray.get_actor(name, namespace=namespace)

    def list_named_actors(self, all_namespaces: bool) -> list:
        return self.ray.util.list_named_actors(all_namespaces=all_namespaces)

    def exit_actor(self) -> None:
        """Ray's own, which raises TypeError outside an actor."""
        self.ray.actor.exit_actor()

    # -- placement groups: Ray's own

    def create_placement_group(self, bundles: list[dict[str, float]], strategy: str,
                               name: str, lifetime: str | None) -> Any:
        with translated_errors(self.ray):
            return self.ray.util.placement_group(bundles, strategy=strategy, name=name,
                                                 lifetime=lifetime)

    def remove_placement_group(self, group: Any) -> None:
        with translated_errors(self.ray):
            self.ray.util.remove_placement_group(group)

    def get_placement_group(self, name: str) -> Any:
        with translated_errors(self.ray):
            return self.ray.util.get_placement_group(name)

    def placement_group_table(self, group: Any) -> dict[str, Any]:
        return self.ray.util.placement_group_table(group)

    def current_placement_group(self) -> Any:
        return self.ray.util.get_current_placement_group()

    def _their_strategy(self, strategy: Any) -> Any:
        """Ray's strategy class for one of fastray's (others as they are)."""
        from . import scheduling
        theirs = self.ray.util.scheduling_strategies
        if isinstance(strategy, scheduling.PlacementGroupSchedulingStrategy):
            return theirs.PlacementGroupSchedulingStrategy(
                strategy.placement_group, strategy.placement_group_bundle_index,
                strategy.placement_group_capture_child_tasks)
        if isinstance(strategy, scheduling.NodeAffinitySchedulingStrategy):
            return theirs.NodeAffinitySchedulingStrategy(strategy.node_id, strategy.soft)
        return strategy

    def _scheduling(self, placement: tuple | None) -> dict[str, Any]:
        """Ray's options for fastray's scheduling options: its own strategy
        classes in place of fastray's."""
        if placement is None:
            return {}
        strategy, group, index, capture = placement
        options = ({"scheduling_strategy": self._their_strategy(strategy)}
                   if strategy is not None else {})
        if group is not None:
            options.update(placement_group=group, placement_group_bundle_index=(
                -1 if index is None else index),
                placement_group_capture_child_tasks=capture)
        return options


class translated_errors:
    """Re-raises Ray's errors as fastray's (with the same text), so code
    written against fastray.exceptions catches them on either backend."""

    def __init__(self, ray: Any) -> None:
        self.ray = ray

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        """Never swallows: re-raises as fastray's error, or lets Ray's go on."""
        if error is None:
            return
        translated = translate(self.ray, error)
        if translated is not error:
            raise translated from error


# Ray's errors that fastray has under the same name, the more specific
# before the classes they derive from.
_SAME_NAMES = (
    "GetTimeoutError", "ActorDiedError", "ActorUnavailableError", "ActorAlreadyExistsError",
    "RayActorError", "PendingCallsLimitExceeded", "TaskCancelledError", "OwnerDiedError",
    "ObjectReconstructionFailedError", "OutOfMemoryError", "TaskUnschedulableError",
    "ActorUnschedulableError", "RaySystemError", "TaskPlacementGroupRemoved",
    "ActorPlacementGroupRemoved", "RuntimeEnvSetupError", "WorkerCrashedError",
    "ObjectStoreFullError", "ObjectLostError")


def translate(ray: Any, error: BaseException) -> BaseException:
    errors = ray.exceptions
    if isinstance(error, errors.RayTaskError):
        cause = getattr(error, "cause", None)
        if isinstance(cause, errors.TaskCancelledError):
            # Cancelled while it ran: fastray's own TaskCancelledError as the
            # cause, so the error is both, as Ray's is.
            cause = exceptions.TaskCancelledError(str(cause))
        return exceptions.TaskError(
            getattr(error, "function_name", "task"), getattr(error, "traceback_str", str(error)),
            cause if isinstance(cause, BaseException) else None,
            getattr(error, "pid", None)).as_instanceof_cause()
    for name in _SAME_NAMES:
        if isinstance(error, getattr(errors, name)):
            return getattr(exceptions, name)(str(error))
    if isinstance(error, errors.RayError):
        return exceptions.FastrayError(str(error))
    return error
