"""A worker's socket to the scheduler: framed messages in, the outbox's
sends out.  Reads poll briefly before they sleep, and parse every frame
that has arrived with one copy each."""
from __future__ import annotations

import select
import socket
import struct
import time

from .outbox import Outbox
from .wire import HEADER

U32 = struct.Struct("<I")
# How long a read polls before it sleeps: the next frame of a busy pool
# often arrives within microseconds, sooner than a wake-up.
SPIN_SECONDS = 50e-6
# A read whose frame came later than SPIN_SECONDS halves the next poll's
# time, down to this; one whose frame came sooner doubles it, up to
# SPIN_SECONDS.  When frames come in bursts (a batch of tasks), polls
# between bursts would only take the core from those making the next one.
SPIN_LEAST_SECONDS = 50e-6 / 16
RECV_CHUNK = 262144


class Connection:
    """Framed messages over the worker's socket to the scheduler."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)
        # Frames on their way out, whichever backend of this process made them.
        self.outbox = Outbox(self.send)
        # Bytes received and not yet framed: _data from _start on.
        self._data = b""
        self._start = 0
        # A frame longer than what had arrived: its header, and its body
        # filled up to _filled.
        self._header: tuple[int, int, int, int] | None = None
        self._body: bytearray | None = None
        self._filled = 0
        self._spin = SPIN_SECONDS

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def receive(self, deadline: float | None = None) -> tuple[int, int, int, memoryview] | None:
        """The next frame, or None at the deadline.  Safe to interrupt by a
        signal: a partly read frame is kept and completed by the next call."""
        while True:
            frame = self.buffered()
            if frame is not None:
                return frame
            if not self._wait_readable(deadline):
                return None
            if self._body is not None:
                # The rest of a body goes straight into it, however large.
                n = self.sock.recv_into(memoryview(self._body)[self._filled:])
                if n == 0:
                    raise EOFError("the driver closed the connection")
                self._filled += n
                continue
            chunk = self._recv_soon()
            if not chunk:
                raise EOFError("the driver closed the connection")
            self._keep(chunk)

    def _keep(self, chunk: bytes) -> None:
        if self._start < len(self._data):
            self._data = self._data[self._start:] + chunk
        else:
            self._data = chunk
        self._start = 0

    def buffered(self) -> tuple[int, int, int, memoryview] | None:
        """The next frame if read_available has read all of it; no I/O."""
        data, start = self._data, self._start
        if self._body is None:
            if len(data) - start < HEADER.size:
                return None
            size, kind, a, b = HEADER.unpack_from(data, start)
            end = start + HEADER.size + size
            if end <= len(data):
                # The common case: the whole frame is here, one copy out.
                self._start = end
                return kind, a, b, memoryview(data[start + HEADER.size:end])
            self._header, self._body = (size, kind, a, b), bytearray(size)
            self._filled = 0
            start += HEADER.size
        body = self._body
        take = min(len(data) - start, len(body) - self._filled)
        if take:
            body[self._filled:self._filled + take] = data[start:start + take]
            self._filled += take
        self._data, self._start = data[start + take:], 0
        if self._filled < len(body):
            return None
        assert self._header is not None
        _, kind, a, b = self._header
        self._header = self._body = None
        return kind, a, b, memoryview(body).toreadonly()

    def frame_ready(self) -> bool:
        """Whether buffered() would return a frame now: then this process
        has more work before it needs to hear from the scheduler."""
        here = len(self._data) - self._start
        if self._body is not None:
            return self._filled + here >= len(self._body)
        return (here >= HEADER.size
                and HEADER.size + U32.unpack_from(self._data, self._start)[0] <= here)

    def read_available(self) -> None:
        """Reads what has arrived, without waiting (for an event loop's reader)."""
        try:
            chunk = self.sock.recv(RECV_CHUNK, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        if not chunk:
            raise EOFError("the driver closed the connection")
        self._keep(chunk)

    def _recv_soon(self) -> bytes:
        """Polls briefly before sleeping in recv: the next frame of a busy
        pool often arrives within microseconds, sooner than a wake-up."""
        started = time.perf_counter()
        give_up = started + self._spin
        while True:
            try:
                chunk = self.sock.recv(65536, socket.MSG_DONTWAIT)
                break
            except BlockingIOError:
                if time.perf_counter() > give_up:
                    chunk = self.sock.recv(65536)
                    break
        # Whether polling for SPIN_SECONDS would have caught this frame.
        if time.perf_counter() - started <= SPIN_SECONDS:
            self._spin = min(SPIN_SECONDS, self._spin * 2)
        else:
            self._spin = max(SPIN_LEAST_SECONDS, self._spin / 2)
        return chunk

    def _wait_readable(self, deadline: float | None) -> bool:
        if deadline is None:
            return True
        # At or past the deadline it still looks once: what is there is read.
        remaining = max(0.0, deadline - time.monotonic())
        readable, _, _ = select.select([self.sock], [], [], remaining)
        return bool(readable)
