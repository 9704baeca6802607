"""Progress bars for long waits on many refs: tqdm when it is installed, a
plain one-line bar otherwise.  Shown on a terminal, or when asked for."""
from __future__ import annotations

import sys
import time
from typing import Any, Iterator, Sequence

# How often the bar is redrawn while refs finish.
REFRESH_SECONDS = 0.1


class _PlainBar:
    """A one-line bar on stderr, for when tqdm is not installed (a count
    alone when the total is unknown)."""

    def __init__(self, total: int | None, desc: str) -> None:
        self.total = total
        self.desc = desc
        self.done = 0
        self._draw()

    def update(self, count: int) -> None:
        self.done += count
        self._draw()

    def _draw(self) -> None:
        if self.total is None:
            sys.stderr.write(f"\r{self.desc}: {self.done}")
        else:
            width = 30
            filled = width * self.done // max(self.total, 1)
            sys.stderr.write(f"\r{self.desc}: {self.done}/{self.total} "
                             f"[{'#' * filled}{'.' * (width - filled)}]")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")
        sys.stderr.flush()


def make_bar(total: int | None, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:
        return _PlainBar(total, desc)
    return tqdm(total=total, desc=desc)


def should_show(progress: bool | str) -> bool:
    """progress=True shows a bar on a terminal; "always" shows it anyway."""
    if progress == "always":
        return True
    return bool(progress) and sys.stderr.isatty()


def counted(results: Iterator[Any], total: int | None, desc: str,
            progress: bool | str) -> Iterator[Any]:
    """results, counted on a bar as they are taken (map, imap)."""
    if not should_show(progress):
        yield from results
        return
    bar = make_bar(total, desc)
    try:
        for result in results:
            bar.update(1)
            yield result
    finally:
        bar.close()


def wait_with_bar(backend: Any, refs: Sequence[Any], desc: str,
                  timeout: float | None) -> None:
    """Returns when every ref is done (or at the timeout), drawing a bar."""
    deadline = None if timeout is None else time.monotonic() + timeout
    pending = list(dict.fromkeys(refs))
    bar = make_bar(len(pending), desc)
    try:
        while pending:
            step = REFRESH_SECONDS if deadline is None else min(
                REFRESH_SECONDS, max(0.0, deadline - time.monotonic()))
            ready, pending = backend.wait(pending, len(pending), step)
            if ready:
                bar.update(len(ready))
            if deadline is not None and time.monotonic() >= deadline:
                return
    finally:
        bar.close()
