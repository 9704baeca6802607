"""What ``init`` returns, and what ``get_runtime_context`` tells a task."""
from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from . import state
from .hex_id import HexId


@dataclass
class FastrayContext:
    """Describes the running runtime (Ray's ``RayContext``, same fields).

    ``with fastray.init(...):`` shuts the runtime down when the block ends.
    """

    dashboard_url: str | None
    python_version: str
    fastray_version: str
    address_info: dict[str, Any]
    num_cpus: int
    max_workers: int | None
    object_store: str
    _runtime: Any = field(repr=False, compare=False)
    _shutdown: Callable[[], None] = field(repr=False, compare=False)
    # "local", or "ray": every call runs on the Ray cluster at address_info["address"]
    backend: str = "local"
    # What the runtime schedules: CPUs, GPUs and custom resources (cluster_resources()).
    resources: dict[str, float] = field(default_factory=dict)

    @property
    def worker_pids(self) -> list[int]:
        """Pids of the live workers, read now (workers come and go).  Right
        after init the first workers may still be starting: wait for them
        briefly, so the context printed by init shows them."""
        if self.backend != "local":
            return []
        deadline = time.monotonic() + 2.0
        pids = self._runtime.worker_pids()
        while len(pids) < self.num_cpus and time.monotonic() < deadline:
            time.sleep(0.005)
            pids = self._runtime.worker_pids()
        return pids

    @property
    def spawner_pid(self) -> int:
        return self._runtime.spawner_pid

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in (
            "backend", "dashboard_url", "python_version", "fastray_version", "num_cpus",
            "max_workers", "worker_pids", "spawner_pid", "resources", "object_store",
            "address_info"))
        return f"FastrayContext({fields})"

    def __enter__(self) -> FastrayContext:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._shutdown()

    def disconnect(self) -> None:
        self._shutdown()

    def __getitem__(self, key: str) -> Any:
        return self.address_info[key]


def _python_version() -> str:
    return "%d.%d.%d" % sys.version_info[:3]


def make_context(runtime: Any, version: str, session_dir: str, node_id: str,
                 shutdown: Callable[[], None]) -> FastrayContext:
    address_info: dict[str, Any] = {
        "node_ip_address": "127.0.0.1",
        "raylet_ip_address": "127.0.0.1",
        "redis_address": None,
        "object_store_address": (
            f"memfd shared memory, {runtime.store_config.capacity / 2**30:.1f} GiB, "
            f"spilling to {session_dir}/spill"),
        "raylet_socket_name": None,
        "webui_url": None if runtime.dashboard is None else runtime.dashboard.address,
        "session_dir": session_dir,
        "metrics_export_port": None,
        "gcs_address": None,
        "address": "local",
        "node_id": node_id,
    }
    return FastrayContext(
        dashboard_url=address_info["webui_url"], python_version=_python_version(),
        fastray_version=version,
        address_info=address_info, num_cpus=runtime.num_cpus, max_workers=runtime.max_workers,
        object_store=address_info["object_store_address"], _runtime=runtime,
        _shutdown=shutdown, resources=runtime.resources()[0])


def make_ray_context(backend: Any, version: str,
                     shutdown: Callable[[], None]) -> FastrayContext:
    """The context of a connection to a Ray cluster: Ray's own figures."""
    info = dict(backend.ray_context.address_info)
    return FastrayContext(
        dashboard_url=getattr(backend.ray_context, "dashboard_url", None),
        python_version=_python_version(), fastray_version=version,
        address_info=info, num_cpus=int(backend.ray.cluster_resources().get("CPU", 0)),
        max_workers=None, object_store=f"Ray's object store at {info.get('address')}",
        _runtime=backend, _shutdown=shutdown, backend="ray",
        resources=backend.ray.cluster_resources())


def _deprecated(instead: str) -> None:
    warnings.warn(f"this property is deprecated, as in Ray; use {instead} instead",
                  DeprecationWarning, stacklevel=3)


class RuntimeContext:
    """Ray's runtime context: who is running this code."""

    def __init__(self, node_id: str) -> None:
        self._node_id = node_id

    def get_task_id(self) -> str | None:
        """The running task's id in hex; None in the driver."""
        backend = state.backend
        task_id = backend.current_task_id() if backend is not None else None
        return None if task_id is None else f"{task_id:016x}"

    def get_worker_id(self) -> str:
        return f"{os.getpid():016x}"

    def get_node_id(self) -> str:
        return self._node_id

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        """The accelerators given to the running task or actor, by kind, as
        CUDA_VISIBLE_DEVICES names them (none in the driver, as in Ray)."""
        return {"GPU": list(getattr(state.backend, "gpu_ids", []))}

    def get_job_id(self) -> str:
        return "01000000"

    def get_actor_id(self) -> str | None:
        """The actor this runs in, in hex; None outside an actor."""
        actor_id = getattr(state.backend, "actor_id", None)
        return None if actor_id is None else f"{actor_id:016x}"

    def get_actor_name(self) -> str | None:
        """The actor's name ("" for an unnamed one); None outside an actor."""
        settings = getattr(state.backend, "settings", None)
        return None if settings is None else settings.meta.name

    @property
    def current_actor(self) -> Any:
        """A handle to the actor this runs in."""
        backend = state.backend
        if getattr(backend, "actor_id", None) is None:
            raise RuntimeError("current_actor is only available inside an actor's methods")
        return backend.current_actor()  # type: ignore[union-attr]

    def is_canceled(self) -> bool:
        """Whether cancel() was called for the running task or actor call."""
        is_canceled = getattr(state.backend, "is_canceled", None)
        return bool(is_canceled()) if is_canceled is not None else False

    @property
    def namespace(self) -> str:
        return getattr(state.backend, "namespace", "") or "default"

    def get_namespace(self) -> str:
        return self.namespace

    @property
    def pid(self) -> int:
        return os.getpid()

    # Ray's older properties, deprecated as in Ray: ids with hex(), as Ray's
    # ID objects.

    @property
    def node_id(self) -> HexId:
        _deprecated("get_node_id()")
        return HexId(self._node_id)

    @property
    def job_id(self) -> HexId:
        _deprecated("get_job_id()")
        return HexId(self.get_job_id())

    @property
    def task_id(self) -> HexId | None:
        _deprecated("get_task_id()")
        task_id = self.get_task_id()
        return None if task_id is None else HexId(task_id)

    @property
    def actor_id(self) -> HexId | None:
        _deprecated("get_actor_id()")
        actor_id = self.get_actor_id()
        return None if actor_id is None else HexId(actor_id)

    def get(self) -> dict[str, Any]:
        info: dict[str, Any] = {"job_id": self.get_job_id(), "node_id": self._node_id,
                                "namespace": self.namespace}
        task_id = self.get_task_id()
        if task_id is not None:
            info["task_id"] = task_id
        return info
