"""``ray.experimental.tqdm_ray``: progress bars that tasks and actors draw
in the driver's terminal, one line per bar (fastray/progress_board.py).
On the Ray backend these are Ray's own."""
from __future__ import annotations

import os
import sys
import time
import uuid
from typing import Any, Iterable, Iterator

from .. import state
from ..progress_board import PIPE_VARIABLE, send_to_pipe

__all__ = ["safe_print", "tqdm"]

# Least time between two states a bar sends (a finished bar's always goes).
SEND_EVERY_S = 0.1


class tqdm:  # noqa: N801 (Ray's name)
    """A progress bar over iterable, or updated by hand (update, close)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        backend = state.existing_backend()
        if backend is not None and type(backend).__name__ == "RayBackend":
            from ray.experimental import tqdm_ray
            return tqdm_ray.tqdm(*args, **kwargs)
        return super().__new__(cls)

    def __init__(self, iterable: Iterable[Any] | None = None, desc: str | None = None,
                 total: int | None = None, unit: str | None = None,
                 position: int | None = None, flush_interval_s: float | None = None) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self._iterable = iterable
        self._every = SEND_EVERY_S if flush_interval_s is None else flush_interval_s
        self._state: dict[str, Any] = {
            "uuid": uuid.uuid4().hex, "pid": os.getpid(), "desc": desc or "",
            "total": total, "x": 0, "unit": unit or "it", "pos": position,
            "started": time.time(), "closed": False}
        self._sent = 0.0
        self._send(force=True)

    @property
    def n(self) -> int:
        return self._state["x"]

    @property
    def total(self) -> int | None:
        return self._state["total"]

    def __iter__(self) -> Iterator[Any]:
        if self._iterable is None:
            raise TypeError("this tqdm has no iterable; call update() instead")
        for item in self._iterable:
            yield item
            self.update(1)
        self.close()

    def __enter__(self) -> tqdm:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        self._state["x"] += n
        self._send()

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self._state["desc"] = desc or ""
        self._send(force=refresh)

    def refresh(self) -> None:
        self._send(force=True)

    def close(self) -> None:
        if not self._state["closed"]:
            self._state["closed"] = True
            self._send(force=True)

    def _send(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._sent < self._every:
            return
        self._sent = now
        _deliver(dict(self._state))


def safe_print(*args: Any, **kwargs: Any) -> None:
    """print() that does not break the bars drawn on the driver's terminal."""
    board = _board()
    if board is None or kwargs.get("file") not in (None, sys.stdout, sys.stderr):
        print(*args, **kwargs)
        return
    board.write_line(kwargs.get("sep", " ").join(map(str, args)))


def _board() -> Any:
    backend = state.existing_backend()
    return getattr(backend, "bar_board", None)


def _deliver(bar_state: dict[str, Any]) -> None:
    """To the board, in the driver; down the pipe from a worker."""
    board = _board()
    if board is not None:
        board.update(bar_state)
        return
    fd = os.environ.get(PIPE_VARIABLE)
    if fd is not None:
        send_to_pipe(int(fd), bar_state)
    elif bar_state["closed"]:  # no runtime: this process's own stderr
        from ..progress_board import render
        print(render(bar_state), file=sys.stderr)
