"""The public task API, with Ray's names and semantics."""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from . import state
from .exceptions import FastrayError
from .generators import ObjectRefGenerator
from .object_ref import ObjectRef
from .config import RuntimeConfig, machine_memory, runtime_config
from .resources import NodeResources, declared
from .progress_bar import should_show, wait_with_bar
from .runtime_env import checked, merged
from .session import make_session_dir
from .spawner import launch
from .trace import chrome_trace
from .version import __version__
# Re-exported: fastray.remote loads this module, so a task submitted before
# init starts a runtime (the hook below).
from .remote_function import remote as remote

if TYPE_CHECKING:
    from .backend import Backend
    from .context import FastrayContext
    from .runtime import LocalRuntime

logger = logging.getLogger("fastray")

# Keywords Ray's init documents that mean nothing on one local machine:
# accepted so Ray programs run unchanged, and said once in the log.
RAY_INIT_KEYWORDS = frozenset({
    "address", "num_gpus", "resources", "labels", "local_mode",
    "dashboard_host", "job_config", "configure_logging", "logging_format",
    "logging_config", "log_to_driver", "namespace", "runtime_env", "storage",
    "enable_resource_isolation", "system_reserved_cpu", "system_reserved_memory",
    "cgroup_path", "proxy_server_url", "_cgroup_path", "_enable_object_reconstruction",
    "_plasma_directory", "object_spilling_directory", "_node_ip_address",
    "_driver_object_store_memory", "_memory", "_redis_username", "_redis_password",
    "_temp_dir", "_metrics_export_port", "_system_config", "_tracing_startup_hook",
    "_node_name", "_skip_env_hook", "allow_multiple",
})

_lock = threading.RLock()
_context: FastrayContext | None = None
_session_dir: str | None = None
_node_id = os.urandom(28).hex()
_hooks_installed = False


def init(address: str | None = None, *, num_cpus: int | None = None,
         object_store_memory: int | None = None, ignore_reinit_error: bool = False,
         logging_level: int | str = logging.INFO, include_dashboard: bool | None = None,
         dashboard_port: int | None = None, **kwargs: Any) -> FastrayContext:
    """Starts the local runtime: a scheduler thread and num_cpus workers.

    With a Ray cluster address ("auto", "ray://host:port", "host:port"),
    given here or in FASTRAY_ADDRESS, connects to that cluster instead and
    runs everything on Ray.  Every keyword Ray's ``init`` documents is
    accepted; an unknown one is a TypeError naming it.

    ``include_dashboard=True`` serves the live dashboard on 127.0.0.1
    (``dashboard_port``, by default 8265 or a free port if that is taken).
    Unlike Ray, it is off unless asked, here or by FASTRAY_INCLUDE_DASHBOARD=1.

    Session folders (spill files) go in ``<temp folder>/fastray-<uid>``, a
    folder only this user can enter; ``_temp_dir`` replaces the temp folder.
    """
    global _context, _session_dir
    unknown = sorted(set(kwargs) - RAY_INIT_KEYWORDS)
    if unknown:
        raise TypeError(f"init() got unexpected keyword argument(s) {', '.join(unknown)}; "
                        "fastray accepts Ray's init() keywords only")
    address = address or os.environ.get("FASTRAY_ADDRESS") or None
    if address not in (None, "local"):
        if not isinstance(address, str):
            raise TypeError(f"address must be a string, got {type(address).__name__}")
        ray_kwargs = dict(kwargs, logging_level=logging_level)
        if include_dashboard is not None:
            ray_kwargs["include_dashboard"] = include_dashboard
        if dashboard_port is not None:
            ray_kwargs["dashboard_port"] = dashboard_port
        if num_cpus is not None:
            ray_kwargs["num_cpus"] = num_cpus
        if object_store_memory is not None:
            ray_kwargs["object_store_memory"] = object_store_memory
        return _connect_to_ray(address, ignore_reinit_error, ray_kwargs)
    cpus = _validate_cpus(num_cpus)
    if include_dashboard is None:
        include_dashboard = os.environ.get("FASTRAY_INCLUDE_DASHBOARD") == "1"
    port = _dashboard_port(dashboard_port)
    config = runtime_config(object_store_memory, kwargs.get("_system_config"))
    node = declared(kwargs.get("num_gpus"), kwargs.get("resources"), config.store.capacity,
                    machine_memory())
    logger.setLevel(logging_level)
    with _lock:
        if _context is not None:
            return _already_initialized(ignore_reinit_error)
        if state.backend is not None:
            raise RuntimeError("fastray.init() cannot be called from inside a task")
        job_env = merged(None, checked(kwargs.get("runtime_env")))
        for name in sorted(set(kwargs) - {"_system_config", "_temp_dir", "namespace",
                                          "runtime_env", "num_gpus", "resources"}):
            logger.info("init(%s=...) has no meaning for the local runtime; ignored", name)
        _install_process_hooks()
        namespace = _namespace(kwargs.get("namespace"))
        runtime = _start_local(cpus, config, node, kwargs.get("_temp_dir"), include_dashboard,
                               port, namespace)
        from .context import make_context
        runtime.node_id = _node_id
        runtime.runtime_env = job_env
        state.install(runtime)
        _session_dir = runtime.session_dir
        _context = make_context(runtime, __version__, _session_dir, _node_id, shutdown)
        return _context


def _start_local(cpus: int, config: RuntimeConfig, node: NodeResources, temp_dir: Any,
                 include_dashboard: bool, dashboard_port: int | None, namespace: str
                 ) -> LocalRuntime:
    """The session directory, the spawner, the runtime and its dashboard.
    If a step fails, the steps before it are undone: a failed init leaves no
    folder, no process and no descriptor behind."""
    # Imported before the spawner starts, not while it boots: with numpy's
    # threads still spinning from its import, the driver's imports would
    # take a core from the spawner, which the first task waits for.
    from .runtime import LocalRuntime
    session_dir = make_session_dir(temp_dir)
    try:
        spawner = launch(cpus, _node_id, session_dir, config.store.capacity, namespace,
                         node.to_environment())
        try:
            runtime = LocalRuntime(cpus, max(4 * cpus, 8), session_dir, config, spawner,
                                   namespace, node)
        except BaseException:
            spawner.stop()
            os.close(spawner.progress_fd)
            raise
        if include_dashboard:
            try:
                runtime.start_dashboard(dashboard_port)
            except BaseException:
                runtime.shutdown()
                raise
    except BaseException:
        shutil.rmtree(session_dir, ignore_errors=True)
        raise
    return runtime


def _namespace(namespace: Any) -> str:
    """init's namespace, or (as Ray) an anonymous one of this runtime's own."""
    if namespace is None:
        return f"anonymous-{os.urandom(8).hex()}"
    if not isinstance(namespace, str) or not namespace:
        raise TypeError(f"namespace must be a non-empty string, got {namespace!r}")
    return namespace


def _dashboard_port(port: Any) -> int | None:
    if port is None:
        return None
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise ValueError(f"dashboard_port must be a port number (1-65535), got {port!r}")
    return port


def _already_initialized(ignore_reinit_error: bool) -> FastrayContext:
    if not ignore_reinit_error:
        raise RuntimeError("fastray.init() was already called; call fastray.shutdown() "
                           "first, or pass ignore_reinit_error=True")
    assert _context is not None
    return _context


def _connect_to_ray(address: str, ignore_reinit_error: bool,
                    ray_kwargs: dict[str, Any]) -> FastrayContext:
    global _context
    with _lock:
        if _context is not None:
            return _already_initialized(ignore_reinit_error)
        _install_process_hooks()
        from .context import make_ray_context
        from .ray_backend import RayBackend
        backend = RayBackend.connect(address, ray_kwargs)
        state.install(backend)
        _context = make_ray_context(backend, __version__, shutdown)
        return _context


def _validate_cpus(num_cpus: Any) -> int:
    if num_cpus is None:
        return os.cpu_count() or 1
    if not isinstance(num_cpus, int) or isinstance(num_cpus, bool):
        raise TypeError(f"num_cpus must be an int, got {type(num_cpus).__name__}")
    if num_cpus < 1:
        raise ValueError(f"num_cpus must be at least 1, got {num_cpus}")
    if num_cpus > 1024:
        raise ValueError(f"num_cpus={num_cpus} is more than one machine can have; "
                         "fastray starts a process per CPU")
    return num_cpus


def _install_process_hooks() -> None:
    """Shut down at interpreter exit; a forked child starts afresh."""
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_shutdown_at_exit)
    os.register_at_fork(after_in_child=_forget_runtime_after_fork)


# How long, at interpreter exit, tasks still pending or running may take to
# finish before the runtime shuts down and cancels them (README: "At exit").
EXIT_WAIT_S = 5.0


def _shutdown_at_exit() -> None:
    """At interpreter exit: tasks the program submitted and never waited
    for get up to EXIT_WAIT_S (FASTRAY_EXIT_WAIT_S) to finish, then the
    runtime shuts down, cancelling the rest and saying how many.  Not after
    Ctrl-C: that exit is at once."""
    finish = getattr(state.backend, "finish_tasks", None)  # the local runtime's
    interrupted = getattr(sys, "last_type", None) is KeyboardInterrupt
    if finish is not None and not interrupted:
        try:
            seconds = float(os.environ.get("FASTRAY_EXIT_WAIT_S", EXIT_WAIT_S))
        except ValueError:
            seconds = EXIT_WAIT_S
        finish(seconds)
    shutdown()


def _forget_runtime_after_fork() -> None:
    global _context, _lock
    _lock = threading.RLock()
    _context = None
    state.install(None)


def is_initialized() -> bool:
    return _context is not None


def shutdown() -> None:
    """Stops every worker and frees the runtime; safe to call more than once."""
    global _context, _session_dir
    with _lock:
        backend = state.backend
        if _context is None or backend is None:
            return
        state.install(None)
        _context = None
        try:
            backend.shutdown()
        finally:
            if _session_dir is not None:
                shutil.rmtree(_session_dir, ignore_errors=True)
                _session_dir = None


def _start_on_first_use() -> Backend:
    """The backend of this process, starting a local runtime on first use."""
    backend = _current_backend()
    if backend is None:
        with _lock:
            if state.backend is None:
                init()
            backend = state.backend
    assert backend is not None
    return backend


def _current_backend() -> Backend | None:
    """This process's backend.  In a process where Ray is running (a task
    that Ray runs, or a driver that called ray.init) fastray binds to Ray."""
    backend = state.backend
    if backend is None:
        ray = sys.modules.get("ray")
        if ray is not None and getattr(ray, "is_initialized", lambda: False)():
            from .ray_backend import RayBackend
            with _lock:
                if state.backend is None:
                    state.install(RayBackend.attach(ray))
                backend = state.backend
    return backend


state.register_api(_current_backend, _start_on_first_use)


def _check_ref_list(refs: list, what: str) -> bool:
    """Checks that refs are all ObjectRefs, or (wait) generators; returns
    whether there are generators."""
    if set(map(type, refs)) <= {ObjectRef}:
        return False
    generators = False
    for ref in refs:
        if what == "wait" and isinstance(ref, ObjectRefGenerator):
            generators = True
        elif isinstance(ref, ObjectRefGenerator):
            raise TypeError(f"{what}() cannot take an ObjectRefGenerator; iterate it for the "
                            "refs to its values, or use its completed() ref")
        elif not isinstance(ref, ObjectRef):
            raise TypeError(f"{what}() got a list holding {ref!r} ({type(ref).__name__}), "
                            "which is not an ObjectRef")
    return generators


def _timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
        raise TypeError(f"timeout must be a number of seconds or None, got {timeout!r}")
    if timeout < 0:
        raise ValueError(f"timeout must be >= 0, got {timeout}")
    return float(timeout)


def get(object_refs: ObjectRef | list[ObjectRef], *, timeout: float | None = None,
        progress: bool | str = False) -> Any:
    """The value(s) of one ref or a list of refs, in order.

    Raises the task's error as soon as any of them failed, and
    GetTimeoutError if they are not all ready within timeout seconds.
    progress=True draws a progress bar while waiting, on a terminal
    ("always": anywhere); fastray's own keyword, not Ray's.
    """
    if isinstance(object_refs, ObjectRef):
        # A sync call's path: with a runtime running and no timeout it
        # calls neither helper.
        backend = state.backend or _get_backend_for_refs()
        return backend.get([object_refs], None if timeout is None else _timeout(timeout))[0]
    if isinstance(object_refs, ObjectRefGenerator):
        _check_ref_list([object_refs], "get")
    if not isinstance(object_refs, list):
        raise ValueError(f"get() takes an ObjectRef or a list of ObjectRefs, got "
                         f"{type(object_refs).__name__}")
    _check_ref_list(object_refs, "get")
    if not object_refs:
        return []
    seconds = _timeout(timeout)
    backend = _get_backend_for_refs()
    if should_show(progress):
        started = time.monotonic()
        wait_with_bar(backend, object_refs, "fastray.get", seconds)
        if seconds is not None:
            seconds = max(0.0, seconds - (time.monotonic() - started))
    return backend.get(object_refs, seconds)


def progress(object_refs: list[ObjectRef], *, timeout: float | None = None) -> list[Any]:
    """get() of a list of refs with a progress bar, terminal or not."""
    return get(object_refs, timeout=timeout, progress="always")


def _get_backend_for_refs() -> Backend:
    backend = _current_backend()
    if backend is None:
        raise FastrayError("fastray is not running (these refs belong to a runtime that was "
                           "shut down); call fastray.init()")
    return backend


def put(value: Any) -> ObjectRef:
    """Stores a value and returns a ref to it."""
    if isinstance(value, ObjectRef):
        raise TypeError("put() of an ObjectRef is not allowed; to store the ref itself, wrap "
                        "it in a list: put([ref])")
    return state.require_backend().put(value)


def wait(object_refs: list[ObjectRef], *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Splits refs into (ready, not_ready), both in input order, returning
    once num_returns are ready or timeout seconds have passed."""
    if isinstance(object_refs, ObjectRef) or not isinstance(object_refs, list):
        raise TypeError(f"wait() takes a list of ObjectRefs, got {type(object_refs).__name__}")
    backend = state.backend
    if (backend is not None and type(object_refs) is list and type(num_returns) is int
            and 0 < num_returns <= len(object_refs)):
        # The usual case in a wait loop: enough refs are done already; the
        # backend checks the refs and splits the list in one pass in C.
        split = backend.wait_ready(object_refs, num_returns)
        if split is not None:
            _timeout(timeout)
            return split
    generators = _check_ref_list(object_refs, "wait")
    seconds = _timeout(timeout)
    if not object_refs:
        return [], []
    if not isinstance(num_returns, int) or isinstance(num_returns, bool) or num_returns < 1:
        raise ValueError(f"num_returns must be an int >= 1, got {num_returns!r}")
    if num_returns > len(object_refs):
        raise ValueError(f"num_returns={num_returns} is greater than the number of refs "
                         f"({len(object_refs)})")
    if generators:
        if len(set(map(id, object_refs))) != len(object_refs):
            raise ValueError("wait() requires a list of unique ObjectRefs and generators")
        return _get_backend_for_refs().wait_generators(object_refs, num_returns, seconds)
    # The backend checks that the refs are unique, on the ids it needs anyway.
    return _get_backend_for_refs().wait(object_refs, num_returns, seconds)


def cancel(object_ref: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancels the task behind a ref: a pending task never runs, a running one
    gets KeyboardInterrupt (force=True: its worker is killed), a finished one
    is left alone."""
    if isinstance(object_ref, ObjectRefGenerator):
        object_ref = object_ref.completed()
    if not isinstance(object_ref, ObjectRef):
        raise TypeError(f"cancel() takes an ObjectRef or an ObjectRefGenerator, got "
                        f"{type(object_ref).__name__}")
    _get_backend_for_refs().cancel(object_ref, force, recursive)


def nodes() -> list[dict[str, Any]]:
    """Ray's list of the cluster's nodes, with Ray's keys: on the local
    runtime one, this machine, whose NodeID is get_runtime_context()'s."""
    return _start_on_first_use().nodes()


def available_resources() -> dict[str, float]:
    return state.require_backend().resources()[1]


def cluster_resources() -> dict[str, float]:
    return state.require_backend().resources()[0]


def get_gpu_ids() -> list[int] | list[str]:
    """The GPUs given to the running task or actor, as Ray returns them:
    ints, or strings when CUDA_VISIBLE_DEVICES names devices by UUID or MIG
    id; none in the driver."""
    backend = _current_backend()
    ray = getattr(backend, "ray", None)
    if ray is not None:
        return ray.get_gpu_ids()
    ids = list(getattr(backend, "gpu_ids", []))
    return [int(i) for i in ids] if all(i.isdigit() for i in ids) else ids


def get_runtime_context() -> Any:
    """Who is running this code (on the Ray backend, Ray's own context)."""
    backend = _current_backend()
    from .context import RuntimeContext
    own = RuntimeContext(os.environ.get("FASTRAY_NODE_ID", _node_id))
    return own if backend is None else backend.runtime_context(own)


def object_store_stats() -> dict[str, int]:
    """The object store's figures (fastray's own; Ray has no such call):
    capacity, bytes and objects in memory, spilled bytes and objects,
    spills and restores so far, the warm limit, and resident_bytes, the
    memory its shared file holds now (touched pages, free or not)."""
    return _get_backend_for_refs().store_stats()


def timeline(filename: str | None = None) -> list[dict[str, Any]] | None:
    """The recent tasks as Chrome trace events (load the file in Perfetto or
    chrome://tracing): one bar per task on its worker's row, and per actor
    call on its actor's row ("actor CLASS PID").  Returns the events, or
    writes them to filename as JSON and returns None, as Ray does."""
    trace = chrome_trace(_get_backend_for_refs().task_events())
    if filename is None:
        return trace
    import json
    with open(filename, "w") as out:
        json.dump(trace, out)
    return None


def kill(actor: Any, *, no_restart: bool = True) -> None:
    """Ends an actor at once: its pending and later calls raise
    ActorDiedError.  With no_restart=False it restarts if max_restarts allows."""
    _get_backend_for_refs().kill_actor(actor, no_restart)


def get_actor(name: str, namespace: str | None = None) -> Any:
    """The handle of the live actor with this name (in this runtime's
    namespace, or the one given); ValueError if there is none."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"get_actor() needs an actor name (a non-empty string), got {name!r}")
    return state.require_backend().get_actor(name, namespace)
