"""Drop-in replacements for other libraries' parallel APIs and Ray's
utilities, under Ray's module names (``ray.util.multiprocessing``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import state
# Bound here, over the submodule of the same name, as in Ray: fastray.util.placement_group
# is the function, and `import fastray.util.placement_group` the module.
from .placement_group import (get_current_placement_group, get_placement_group,
                              placement_group, placement_group_table, remove_placement_group)

if TYPE_CHECKING:
    from .actor_pool import ActorPool

__all__ = ["ActorPool", "get_current_placement_group", "get_placement_group",
           "list_named_actors", "placement_group", "placement_group_table",
           "remove_placement_group"]


def list_named_actors(all_namespaces: bool = False) -> list[Any]:
    """The names of the live named actors in this runtime's namespace; with
    all_namespaces=True, dicts of name and namespace for every one (as Ray)."""
    return state.require_backend().list_named_actors(all_namespaces)


def __getattr__(name: str) -> Any:
    # Loaded on first use: a worker that unpickles a util function needs
    # no pool.
    if name == "ActorPool":
        from .actor_pool import ActorPool
        globals()[name] = ActorPool
        return ActorPool
    raise AttributeError(f"module 'fastray.util' has no attribute {name!r}")
