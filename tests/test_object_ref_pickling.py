"""ObjectRefs pickled outside fastray's serialization (to a file, with
cloudpickle): their objects stay pinned, as in Ray, until freed."""
from __future__ import annotations

import pytest

import fastray

pytestmark = pytest.mark.timeout(120)


def live_objects() -> int:
    return fastray.state.backend.stats()["objects"]


def test_a_ref_pickled_out_of_band_keeps_its_object(ray, tmp_path):
    import fastray.cloudpickle as cloudpickle
    from fastray._private.internal_api import free
    ref = ray.put({"hello": "world"})
    with open(tmp_path / "ref.pickle", "wb") as out:
        cloudpickle.dump(ref, out)
    del ref
    with open(tmp_path / "ref.pickle", "rb") as stored:
        back = cloudpickle.load(stored)
    assert ray.get(back, timeout=60) == {"hello": "world"}
    free(back)
    assert live_objects() >= 1
    del back
    assert live_objects() == 0
