"""fastray: Ray's task API, many times faster on one machine.

``import fastray as ray`` runs code written for Ray's tasks and actors unchanged.

The public names are loaded on first use (PEP 562), so the worker
processes, which need only the task machinery, start without the driver's
API modules.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import exceptions
from .version import __version__

_PUBLIC = {
    "ObjectRef": "object_ref",
    "ObjectRefGenerator": "generators",
    "DynamicObjectRefGenerator": "generators",
    "method": "actor",
    **{name: "api" for name in (
        "available_resources", "cancel", "cluster_resources", "get", "get_actor",
        "get_gpu_ids", "get_runtime_context", "init", "is_initialized", "kill", "nodes", "object_store_stats", "progress", "put", "remote", "shutdown", "timeline", "wait")},
}

__all__ = ["exceptions", "__version__", *sorted(_PUBLIC)]

if TYPE_CHECKING:
    from .api import (available_resources, cancel, cluster_resources, get, get_actor,
                      get_gpu_ids, get_runtime_context, init, is_initialized, kill, nodes, object_store_stats,
                      progress, put, remote, shutdown, timeline, wait)
    from .actor import method
    from .generators import DynamicObjectRefGenerator, ObjectRefGenerator
    from .object_ref import ObjectRef


# Submodules Ray programs reach as attributes (ray.util.ActorPool, ray.actor.exit_actor,
# ray.cloudpickle.dumps).
_SUBMODULES = frozenset({"_private", "actor", "cloudpickle", "dag", "experimental", "util"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'fastray' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC) | _SUBMODULES)
