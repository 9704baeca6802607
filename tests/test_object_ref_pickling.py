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


def test_refs_made_in_c_are_plain_counted_object_refs():
    import gc
    from fastray._scheduler import new_refs
    from fastray.object_ref import ObjectRef
    refs = new_refs(ObjectRef, 40, 3, 9)
    assert [(type(ref), ref.id, ref._generation) for ref in refs] == [
        (ObjectRef, 40, 9), (ObjectRef, 41, 9), (ObjectRef, 42, 9)]
    assert not any(gc.is_tracked(ref) for ref in refs)

    class Made(ObjectRef):   # made by its own __new__: C cannot make it
        __slots__ = ()

        def __new__(cls, *args, **kwargs):
            return super().__new__(cls)

    with pytest.raises(TypeError, match="defines __new__"):
        new_refs(Made, 1, 1, 0)
    with pytest.raises(TypeError, match="not a __slots__ attribute"):
        new_refs(type("Loose", (), {}), 1, 1, 0)
