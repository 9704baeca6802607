"""fastray: Ray's task API, many times faster on one machine.

``import fastray as ray`` runs code written for Ray's tasks unchanged.
"""
from . import exceptions
from .api import (
    __version__,
    available_resources,
    cancel,
    cluster_resources,
    get,
    get_runtime_context,
    init,
    is_initialized,
    object_store_stats,
    put,
    shutdown,
    timeline,
    wait,
)
from .object_ref import ObjectRef
from .remote_function import remote

__all__ = [
    "ObjectRef", "available_resources", "cancel", "cluster_resources", "exceptions", "get",
    "get_runtime_context", "init", "is_initialized", "object_store_stats", "put", "remote", "shutdown", "timeline", "wait",
    "__version__",
]
