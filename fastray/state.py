"""Which backend this process talks to: the driver's runtime, the worker's
connection to its driver, or none yet; and how to start one on first use.

Kept in a module of its own, low in the package, so that ObjectRef and
RemoteFunction reach the backend (and start a runtime when there is none)
without importing the API or the runtime.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .exceptions import FastrayError

if TYPE_CHECKING:
    from .backend import Backend

backend: Backend | None = None
# Bumped whenever a backend starts or stops, so refs from an earlier runtime
# are recognised and never touch the current one's counts.
generation = 0
# Set by the API when it is imported: starts (or binds to) a backend for
# code that submits a task or asks for a future before calling init.
_start_on_first_use: Callable[[], Backend] | None = None


def install(new_backend: Backend | None) -> None:
    global backend, generation
    backend = new_backend
    generation += 1


def start_on_first_use(start: Callable[[], Backend]) -> None:
    """Registers how require_backend starts a backend (the API's auto-init)."""
    global _start_on_first_use
    _start_on_first_use = start


def require_backend() -> Backend:
    """This process's backend, started on first use as Ray does."""
    current = backend
    if current is not None:
        return current
    if _start_on_first_use is None:
        raise FastrayError("fastray is not running in this process; call fastray.init()")
    return _start_on_first_use()
