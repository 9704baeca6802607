"""Drop-in replacements for other libraries' parallel APIs and Ray's
utilities, under Ray's module names (``ray.util.multiprocessing``)."""
from __future__ import annotations

from typing import Any

from .. import state


def list_named_actors(all_namespaces: bool = False) -> list[Any]:
    """The names of the live named actors in this runtime's namespace; with
    all_namespaces=True, dicts of name and namespace for every one (as Ray)."""
    return state.require_backend().list_named_actors(all_namespaces)
