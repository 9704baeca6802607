"""Large bytes, bytearray and memoryview values: they travel out of band,
beside the pickle stream as arrays do, and come back equal and of the types
Ray gives (bytes, bytearray, and bytes for a memoryview)."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from fastray import serialization

MiB = 1 << 20
SIZES = [100, 90_000, 200_000, 20 * MiB]


def parts_of(payload: bytes) -> list[tuple[int, int]]:
    """(where, size) of each part of a payload: 0 inline, 1 in the store."""
    (count,) = struct.unpack_from("<I", payload, 1)
    return [struct.unpack_from("<BQ", payload, 5 + 25 * i) for i in range(count)]


def pattern(size: int) -> bytes:
    return np.arange(size, dtype=np.uint32).astype(np.uint8).tobytes()


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_a_large_bytes_like_value_is_beside_a_small_pickle_stream(kind):
    value = kind(pattern(MiB))
    payload, _, _ = serialization.serialize([value, "tail"], None)
    (stream_where, stream_size), (buffer_where, buffer_size) = parts_of(payload)
    assert stream_size < 512
    assert buffer_size == MiB
    assert serialization.deserialize((payload, [])) == [pattern(MiB), "tail"]


def test_small_bytes_stay_inside_the_stream_and_inline():
    for size in (100, 90_000):
        payload, _, _ = serialization.serialize(pattern(size), None)
        assert parts_of(payload) == [(0, len(payload) - 30)]
        assert serialization.deserialize((payload, [])) == pattern(size)


def test_a_large_str_stays_in_the_stream():
    text = "é" * 200_000
    payload, _, _ = serialization.serialize(text, None)
    assert len(parts_of(payload)) == 1
    assert serialization.deserialize((payload, [])) == text


@pytest.mark.parametrize("size", SIZES)
def test_put_and_get_keep_the_value_and_its_type(ray, size):
    data = pattern(size)
    got_bytes = ray.get(ray.put(data))
    got_bytearray = ray.get(ray.put(bytearray(data)))
    got_view = ray.get(ray.put(memoryview(data)))
    assert type(got_bytes) is bytes and got_bytes == data
    assert type(got_bytearray) is bytearray and got_bytearray == data
    assert type(got_view) is bytes and got_view == data
    got_bytearray[0] ^= 1   # a bytearray of its own, writable
    assert got_bytearray[0] != data[0]


@pytest.mark.timeout(120)
def test_nested_values_through_a_task_and_back(ray):
    big = pattern(20 * MiB)
    grid = np.arange(3 * MiB, dtype=np.int32).reshape(1024, -1)
    value = {
        "same twice": [big, big],
        "bytearray": bytearray(big[:5 * MiB]),
        "views": (memoryview(grid), memoryview(grid[:, ::2]), memoryview(big)[10:-10]),
        "small": [b"x", bytearray(b"y"), memoryview(b"z")],
    }

    @ray.remote
    def describe_and_return(x):
        kinds = {"bytearray": type(x["bytearray"]).__name__,
                 "views": [type(item).__name__ for item in x["views"]],
                 "small": [type(item).__name__ for item in x["small"]]}
        return kinds, x["same twice"][0] is x["same twice"][1], x

    kinds, shared, back = ray.get(describe_and_return.remote(value))
    assert kinds == {"bytearray": "bytearray", "views": ["bytes"] * 3,
                     "small": ["bytes", "bytearray", "bytes"]}
    assert shared and back["same twice"][0] is back["same twice"][1]
    assert back["same twice"][0] == big and type(back["same twice"][0]) is bytes
    assert type(back["bytearray"]) is bytearray and back["bytearray"] == big[:5 * MiB]
    assert back["views"] == (grid.tobytes(), np.ascontiguousarray(grid[:, ::2]).tobytes(),
                             big[10:-10])
    assert back["small"] == [b"x", bytearray(b"y"), b"z"]


def test_a_frame_is_never_taken_for_a_bytes_payload():
    """The pickler writes a full frame and then the next one; if the first
    ends with what looks like the opcode of a bytes value as long as the
    second (here the last bytes of a crafted float), the second is still a
    frame, and the value comes back unchanged."""
    crafted = struct.unpack(">d", b"\x3f\xf0\x00B" + struct.pack("<I", 101))[0]
    value = [crafted] * 7290       # frames of 65,548 and then 101 bytes
    payload, _, _ = serialization.serialize(value, None)
    assert serialization.deserialize((payload, [])) == value


def test_a_large_bytes_value_that_looks_like_a_frame_comes_back_unchanged():
    value = b"\x95" + struct.pack("<Q", 10) + pattern(MiB)
    payload, _, _ = serialization.serialize([value, value], None)
    assert serialization.deserialize((payload, [])) == [value, value]
