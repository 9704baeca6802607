"""The driver's board of progress bars made with ``tqdm_ray`` anywhere in
the runtime: one line per bar, redrawn in place on a terminal, so bars of
tasks running at once never mix.

A bar in a worker sends its state as one JSON line down a pipe that every
worker inherits from the spawner (a write of one short line is atomic);
the board's thread reads them.  A bar in the driver hands its state to the
board directly.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

# Environment variable naming the pipe's write end in workers.
PIPE_VARIABLE = "FASTRAY_PROGRESS_FD"
# Longest state line sent (pipe writes up to PIPE_BUF bytes are atomic).
MOST_BYTES = 512


def send_to_pipe(fd: int, bar_state: dict[str, Any]) -> None:
    """A worker's bar state, as one line down the pipe."""
    import json  # here: only programs with bars load it
    line = json.dumps(bar_state, separators=(",", ":")).encode()[:MOST_BYTES - 1] + b"\n"
    try:
        os.write(fd, line)
    except OSError:  # the driver is gone
        pass


class BarBoard:
    """Draws bar states as they come, from the pipe (its thread) and from
    this process.  On a terminal the live bars are one block of lines,
    redrawn in place, and a finished bar leaves its last line above it;
    elsewhere each bar writes one line when it finishes."""

    def __init__(self, read_fd: int, out: TextIO | None = None) -> None:
        self._out = out if out is not None else sys.stderr
        self._tty = self._out.isatty()
        self._bars: dict[str, dict[str, Any]] = {}
        self._drawn_lines = 0
        self._lock = threading.Lock()
        self._pipe = os.fdopen(read_fd, "rb", buffering=0)
        self._thread = threading.Thread(target=self._read, name="fastray-progress",
                                        daemon=True)
        self._thread.start()

    def update(self, bar_state: dict[str, Any]) -> None:
        with self._lock:
            key = f"{bar_state.get('pid')}:{bar_state.get('uuid')}"
            self._bars[key] = bar_state
            self._draw(key if bar_state.get("closed") else None)

    def write_line(self, text: str) -> None:
        """A line printed above the bars (tqdm_ray's safe_print)."""
        with self._lock:
            self._clear_block()
            self._out.write(text + "\n")
            self._draw(None)

    def close(self) -> None:
        """Ends the reading (the pipe's write ends are all closed by now)."""
        self._thread.join(timeout=5)
        self._pipe.close()

    def _read(self) -> None:
        for line in self._pipe:
            # Imported at the first line, not when init starts this thread:
            # its import would take the GIL from init, and most programs
            # never show a bar.
            import json
            try:
                bar_state = json.loads(line)
            except ValueError:
                continue
            if isinstance(bar_state, dict):
                self.update(bar_state)

    def _draw(self, closed: str | None) -> None:
        if not self._tty:
            if closed is not None:
                self._out.write(render(self._bars.pop(closed)) + "\n")
                self._out.flush()
            return
        self._clear_block()
        if closed is not None:
            self._out.write(render(self._bars.pop(closed)) + "\n")
        lines = [render(bar) for bar in self._bars.values()]
        for line in lines:
            self._out.write(f"\r\x1b[K{line}\n")
        self._drawn_lines = len(lines)
        self._out.flush()

    def _clear_block(self) -> None:
        if self._tty and self._drawn_lines:
            self._out.write(f"\x1b[{self._drawn_lines}A\r\x1b[J")
            self._drawn_lines = 0


def render(bar: dict[str, Any]) -> str:
    """One bar's line: description, percent and bar if the total is known,
    count, elapsed time and rate."""
    done, total = bar.get("x", 0), bar.get("total")
    elapsed = max(time.time() - bar.get("started", time.time()), 0.0)
    rate = done / elapsed if elapsed > 0 else 0.0
    unit = bar.get("unit") or "it"
    desc = f"{bar['desc']}: " if bar.get("desc") else ""
    where = f" (pid={bar['pid']})" if bar.get("pid") else ""
    if total:
        fraction = min(done / total, 1.0)
        filled = int(fraction * 20)
        shown = f"{fraction:4.0%}|{'#' * filled}{' ' * (20 - filled)}| {done}/{total}"
    else:
        shown = f"{done}"
    return f"{desc}{shown} [{elapsed:.1f}s, {rate:.2f}{unit}/s]{where}"
