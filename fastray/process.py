"""Which backend this process talks to: the driver's runtime, the worker's
connection to its driver, or none yet.

Kept in a module of its own so that ObjectRef and the public API can reach
the backend without importing the runtime (and without import cycles).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .backend import Backend

backend: Backend | None = None
# Bumped whenever a backend starts or stops, so refs from an earlier runtime
# are recognised and never touch the current one's counts.
generation = 0


def install(new_backend: Backend | None) -> None:
    global backend, generation
    backend = new_backend
    generation += 1
