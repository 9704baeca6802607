"""A worker's stdout and stderr: every line that reaches the driver is
marked with what printed it and its pid, as Ray marks them: ``(name
pid=N)``."""
from __future__ import annotations

import io
import os
from typing import Callable, TextIO


class PrefixedOutput(io.TextIOBase):
    """Writes whole lines to stream, each prefixed; name_of() names the
    printer when a line is complete (the task or actor running then)."""

    def __init__(self, stream: TextIO, name_of: Callable[[], str]) -> None:
        self._stream = stream
        self._name_of = name_of
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        if "\n" in self._partial:
            *lines, self._partial = self._partial.split("\n")
            prefix = f"({self._name_of()} pid={os.getpid()}) "
            self._stream.write("".join(f"{prefix}{line}\n" for line in lines))
            self._stream.flush()
        return len(text)

    def flush(self) -> None:
        # write() flushes the stream after every line it passes on.
        if self._partial:
            self.write("\n")

    def fileno(self) -> int:
        return self._stream.fileno()
