"""The compiled frame parser under a worker's socket: frames come out whole
and in order however the bytes were split on the way, and frame_ready()
says exactly when buffered() has one; poll_receive reads a socket without
sleeping."""
from __future__ import annotations

import os
import random
import socket
import threading
import time

import pytest

from fastray._framing import FrameBuffer
from fastray.wire import HEADER

pytestmark = pytest.mark.timeout(60)

# Bodies around the sizes that matter: empty, one byte, smaller and larger
# than a socket read (64 KiB), so that long frames are filled in pieces.
SIZES = (0, 1, 23, 24, 25, 1000, 65536, 70001)


def frames_and_stream(seed: int) -> tuple[list[tuple[int, int, int, bytes]], bytes]:
    rng = random.Random(seed)
    frames = []
    for i, size in enumerate(SIZES * 2):
        body = rng.randbytes(size)
        frames.append((rng.randrange(1, 20), rng.choice([0, i, 2**64 - 1]),
                       rng.randrange(2**64), body))
    rng.shuffle(frames)
    stream = b"".join(HEADER.pack(len(body), kind, a, b) + body for kind, a, b, body in frames)
    return frames, stream


def drain(buffer: FrameBuffer, into: list) -> None:
    """Takes every buffered frame, checking frame_ready() before each try."""
    while True:
        ready = buffer.frame_ready()
        frame = buffer.buffered()
        assert ready == (frame is not None)
        if frame is None:
            return
        kind, a, b, body = frame
        assert body.readonly
        into.append((kind, a, b, bytes(body)))


@pytest.mark.parametrize("chunk", [1, 7, 24, 1000, 65536, 10**7])
def test_frames_come_out_whole_however_the_bytes_were_split(chunk):
    frames, stream = frames_and_stream(chunk)
    buffer, parsed = FrameBuffer(), []
    for start in range(0, len(stream), chunk):
        buffer.keep(stream[start:start + chunk])
        drain(buffer, parsed)
    assert parsed == frames
    assert buffer.body_room() is None and not buffer.frame_ready()


def test_a_long_frame_can_be_received_straight_into_its_body():
    frames, stream = frames_and_stream(3)
    buffer, parsed, position = FrameBuffer(), [], 0
    rng = random.Random(4)
    while position < len(stream):
        room = buffer.body_room()
        if room is not None:
            # As Connection.receive does: recv_into the body's free part.
            count = min(len(room), rng.randrange(1, 40000), len(stream) - position)
            room[:count] = stream[position:position + count]
            buffer.body_filled(count)
        else:
            count = rng.randrange(1, 30000)
            buffer.keep(stream[position:position + count])
        position += count
        drain(buffer, parsed)
    assert parsed == frames


@pytest.mark.parametrize("chunk", ["text", None, bytearray(b"x")])
def test_only_bytes_are_kept(chunk):
    with pytest.raises(TypeError):
        FrameBuffer().keep(chunk)


def test_poll_receive_returns_what_the_peer_sent():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"a frame")
        assert FrameBuffer().poll_receive(ours.fileno(), 10.0) == b"a frame"


def test_poll_receive_lets_other_threads_run_while_it_polls():
    """The poll holds no GIL: a thread sends during it, and it returns that
    (a poll holding the GIL would keep the thread asleep and time out)."""
    ours, theirs = socket.socketpair()

    def send_soon() -> None:
        time.sleep(0.05)   # likely while the poll runs; before it, the data waits
        theirs.sendall(b"x" * 70000)

    with ours, theirs:
        sender = threading.Thread(target=send_soon)
        sender.start()
        got = FrameBuffer().poll_receive(ours.fileno(), 30.0)
        sender.join()
        assert got is not None and 0 < len(got) <= 65536 and set(got) == {ord("x")}


def test_poll_receive_gives_none_when_nothing_came_and_empty_bytes_at_the_end():
    ours, theirs = socket.socketpair()
    with ours:
        buffer = FrameBuffer()
        assert buffer.poll_receive(ours.fileno(), 0.001) is None
        theirs.close()
        assert buffer.poll_receive(ours.fileno(), 10.0) == b""


def test_poll_receive_leaves_an_error_to_the_blocking_read_at_once():
    """A file that is no socket fails the poll at once, not after its time."""
    read_end, write_end = os.pipe()
    try:
        started = time.monotonic()
        assert FrameBuffer().poll_receive(read_end, 30.0) is None
        assert time.monotonic() - started < 20.0
    finally:
        os.close(read_end)
        os.close(write_end)
