"""Which backend this process talks to: the driver's runtime, the worker's
connection to its driver, or none yet; and how to start one on first use.

Kept in a module of its own, low in the package, so that ObjectRef and
RemoteFunction reach the backend (and start a runtime when there is none)
without importing the API or the runtime.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .backend import Backend

backend: Backend | None = None
# Bumped whenever a backend starts or stops, so refs from an earlier runtime
# are recognised and never touch the current one's counts.
generation = 0
# Set by the API when it is imported: how to find a backend this process
# already has (binding to Ray where Ray runs here) without starting one, and
# how to start (or bind to) one for code that needs it before calling init.
_find_existing: Callable[[], Backend | None] | None = None
_start_on_first_use: Callable[[], Backend] | None = None


def install(new_backend: Backend | None) -> None:
    global backend, generation
    backend = new_backend
    generation += 1


def register_api(find_existing: Callable[[], Backend | None],
                 start_on_first_use: Callable[[], Backend]) -> None:
    """The API's ways to find and to start a backend (see above)."""
    global _find_existing, _start_on_first_use
    _find_existing, _start_on_first_use = find_existing, start_on_first_use


def _load_api() -> None:
    """A remote function, actor class or exit_actor() unpickled in a process
    that has not used the API yet (a task or actor that Ray runs) reaches the
    backend first through here; importing the API registers its hooks."""
    if _start_on_first_use is None:
        importlib.import_module(f"{__package__}.api")


def existing_backend() -> Backend | None:
    """This process's backend, or Ray's where Ray runs here; never starts one."""
    if backend is not None:
        return backend
    _load_api()
    assert _find_existing is not None
    return _find_existing()


def require_backend() -> Backend:
    """This process's backend, started on first use as Ray does."""
    current = backend
    if current is not None:
        return current
    _load_api()
    assert _start_on_first_use is not None
    return _start_on_first_use()
