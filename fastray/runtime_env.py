"""runtime_env on the local runtime: the environment a task's or actor's
worker runs it in.  A worker serves one runtime_env, set up before its
first task (much is read at import time), and the scheduler sends a task
only to a worker of its own runtime_env.

What can be had on one machine is set up: ``env_vars``, a local
``working_dir`` (the worker's current directory, first on sys.path),
local ``py_modules`` (importable) and ``worker_process_setup_hook`` (run
once per worker).  What needs installing or a container (``pip``, ``conda``,
``uv``, ``container``, ``image_uri``, remote URIs, ...) is refused with
NotImplementedError: the Ray backend runs those.

Inheritance is Ray's: a task's or actor's runtime_env starts from its
parent's (the job's, from ``init``, for the driver's); its ``env_vars``
are merged into the parent's, every other key replaces the parent's.
"""
from __future__ import annotations

import importlib
import os
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from .exceptions import RuntimeEnvSetupError

SET_UP = ("env_vars", "working_dir", "py_modules", "worker_process_setup_hook")
# Keys that matter only to how Ray ships an environment to other machines.
ACCEPTED = ("config", "excludes")
_REMOTE = ("://",)


class RuntimeEnv(dict):
    """Ray's typed runtime_env (``ray.runtime_env.RuntimeEnv``): a dict of
    the keys given."""

    def __init__(self, *, py_modules: Any = None, working_dir: Any = None, pip: Any = None,
                 conda: Any = None, container: Any = None, env_vars: Any = None,
                 worker_process_setup_hook: Any = None, config: Any = None,
                 **other: Any) -> None:
        given = dict(py_modules=py_modules, working_dir=working_dir, pip=pip, conda=conda,
                     container=container, env_vars=env_vars,
                     worker_process_setup_hook=worker_process_setup_hook, config=config,
                     **other)
        super().__init__({key: value for key, value in given.items() if value is not None})


@dataclass(frozen=True)
class TaskEnv:
    """A checked runtime_env, merged with its parent's, and its id (the
    same for the same environment, so its tasks share workers)."""

    env_id: int
    spec: dict[str, Any]


def checked(spec: Any) -> dict[str, Any]:
    """spec if the local runtime can set it up; else TypeError, ValueError or
    NotImplementedError saying what to change."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise TypeError(f"runtime_env must be a dict, got {type(spec).__name__}")
    for key, value in spec.items():
        if key not in SET_UP and key not in ACCEPTED:
            raise NotImplementedError(
                f"runtime_env[{key!r}] needs installing or a cluster, which the local runtime "
                "does not do; run on a Ray cluster (fastray.init(address=...)), or use "
                f"{', '.join(SET_UP)}")
    env_vars = spec.get("env_vars", {})
    if not isinstance(env_vars, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env_vars.items()):
        raise TypeError(f"runtime_env['env_vars'] must be a dict of str to str, got {env_vars!r}")
    if "working_dir" in spec:
        _local_path("working_dir", spec["working_dir"], directory=True)
    modules = spec.get("py_modules", [])
    if not isinstance(modules, (list, tuple)):
        raise TypeError(f"runtime_env['py_modules'] must be a list of paths, got {modules!r}")
    for module in modules:
        if not isinstance(module, str) and hasattr(module, "__file__"):
            continue  # a module object: importable where it is
        _local_path("py_modules", module, directory=False)
    hook = spec.get("worker_process_setup_hook")
    if hook is not None and not callable(hook) and not (isinstance(hook, str) and "." in hook):
        raise TypeError("runtime_env['worker_process_setup_hook'] must be a callable or a "
                        f"'module.function' name, got {hook!r}")
    return dict(spec)


def _local_path(key: str, path: Any, directory: bool) -> None:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"runtime_env[{key!r}] takes local paths, got {path!r}")
    text = os.fspath(path)
    if any(mark in text for mark in _REMOTE) or text.endswith((".zip", ".whl")):
        raise NotImplementedError(
            f"runtime_env[{key!r}]={text!r}: remote or packed files need a Ray cluster "
            "(fastray.init(address=...)); the local runtime takes local folders and files")
    if not os.path.exists(text) or (directory and not os.path.isdir(text)):
        raise ValueError(f"runtime_env[{key!r}]: {text!r} is not an existing "
                         f"{'folder' if directory else 'file or folder'}")


def merged(parent: TaskEnv | None, spec: dict[str, Any] | None) -> TaskEnv | None:
    """The runtime_env of a task or actor with spec, under parent's."""
    if not spec:
        return parent
    base = dict(parent.spec) if parent else {}
    env_vars = {**base.get("env_vars", {}), **spec.get("env_vars", {})}
    combined = {**base, **spec}
    if env_vars:
        combined["env_vars"] = env_vars
    return TaskEnv(_env_id(parent, spec), combined)


def _env_id(parent: TaskEnv | None, spec: dict[str, Any]) -> int:
    """A 64-bit id from the parent's id and spec, never 0 (no runtime_env)."""
    import json  # here: a program without a runtime_env never loads it
    text = json.dumps(spec, sort_keys=True, default=_name_of).encode()
    seed = parent.env_id if parent else 0
    low = zlib.crc32(text, seed & 0xFFFFFFFF)
    high = zlib.crc32(text, (seed >> 32) ^ 0x5BD1E995)
    return ((high << 32) | low) or 1


def _name_of(value: Any) -> str:
    """What a hook or module stands for in the id: its qualified name."""
    return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"


def set_up(env: TaskEnv) -> None:
    """Makes this worker process run in env (once, before its first task of
    it); RuntimeEnvSetupError if the setup hook fails."""
    spec = env.spec
    os.environ.update(spec.get("env_vars", {}))
    for module in reversed(spec.get("py_modules", [])):
        path = os.fspath(module.__file__ if hasattr(module, "__file__") else module)
        folder = os.path.dirname(os.path.abspath(path.rstrip(os.sep)))
        if os.path.basename(path) == "__init__.py":
            folder = os.path.dirname(folder)
        sys.path.insert(0, folder)
    if "working_dir" in spec:
        working_dir = os.path.abspath(os.fspath(spec["working_dir"]))
        os.chdir(working_dir)
        sys.path.insert(0, working_dir)
    hook = spec.get("worker_process_setup_hook")
    if hook is not None:
        try:
            _hook(hook)()
        except Exception as exc:
            raise RuntimeEnvSetupError(
                f"runtime_env['worker_process_setup_hook'] raised {type(exc).__name__}: "
                f"{exc}") from exc


def _hook(hook: Any) -> Callable[[], Any]:
    if callable(hook):
        return hook
    module, _, name = hook.rpartition(".")
    return getattr(importlib.import_module(module), name)
