"""A worker's socket to the scheduler: framed messages in, the outbox's
sends out.  Reads poll briefly before they sleep; the compiled FrameBuffer
(csrc/_framing.pyx) parses every frame that has arrived with one copy each."""
from __future__ import annotations

import select
import socket
import time

from ._framing import FrameBuffer
from ._outbox import Outbox

# How long a read polls before it sleeps: the next frame of a busy pool
# often arrives within microseconds, sooner than a wake-up.
SPIN_SECONDS = 50e-6
# A read whose frame came later than SPIN_SECONDS halves the next poll's
# time, down to this; one whose frame came sooner doubles it, up to
# SPIN_SECONDS.  When frames come in bursts (a batch of tasks), polls
# between bursts would only take the core from those making the next one.
SPIN_LEAST_SECONDS = 50e-6 / 16
# At most this much is read at once: a larger request costs every read an
# allocation the size of it (a fresh mapping, past malloc's threshold).
RECV_CHUNK = 65536


class Connection(FrameBuffer):
    """Framed messages over the worker's socket to the scheduler."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(True)
        self._fd = fd
        # Frames on their way out, whichever backend of this process made them.
        self.outbox = Outbox(self.send)
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
            room = self.body_room()
            if room is not None:
                # The rest of a body goes straight into it, however large.
                n = self.sock.recv_into(room)
                if n == 0:
                    raise EOFError("the driver closed the connection")
                self.body_filled(n)
                continue
            chunk = self._recv_soon()
            if not chunk:
                raise EOFError("the driver closed the connection")
            self.keep(chunk)

    def read_available(self) -> None:
        """Reads what has arrived, without waiting (for an event loop's reader)."""
        room = self.body_room()
        try:
            if room is not None:
                count = self.sock.recv_into(room, 0, socket.MSG_DONTWAIT)
            else:
                chunk = self.sock.recv(RECV_CHUNK, socket.MSG_DONTWAIT)
                count = len(chunk)
        except BlockingIOError:
            return
        if not count:
            raise EOFError("the driver closed the connection")
        if room is not None:
            self.body_filled(count)
        else:
            self.keep(chunk)

    def _recv_soon(self) -> bytes:
        """Polls briefly before sleeping in recv: the next frame of a busy
        pool often arrives within microseconds, sooner than a wake-up."""
        started = time.perf_counter()
        chunk = self.poll_receive(self._fd, self._spin)
        if chunk is None:
            chunk = self.sock.recv(RECV_CHUNK)
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
