"""``ray._private.internal_api``: free() and memory_summary(), as Ray's
documentation uses them."""
from __future__ import annotations

from typing import Any

from .. import state
from ..object_ref import ObjectRef, unpin_out_of_band

__all__ = ["free", "memory_summary"]


def free(object_refs: ObjectRef | list[ObjectRef], local_only: bool = False) -> None:
    """Lets go of what pins these refs' objects beyond their refs (pickling
    them out of band); the objects go once their refs do."""
    refs = [object_refs] if isinstance(object_refs, ObjectRef) else list(object_refs)
    for ref in refs:
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"free() takes ObjectRefs, got {type(ref).__name__}")
        unpin_out_of_band(ref)


def memory_summary(*args: Any, **kwargs: Any) -> str:
    """The object store's figures, one per line (Ray's is a table per object)."""
    figures = state.require_backend().store_stats()
    return "\n".join(f"{key}: {value}" for key, value in figures.items())
