"""What the spawner imports before it forks, so that workers and actors
share it: when it does, and that a worker's collector leaves it shared."""
from __future__ import annotations

import gc
import sys
import time

import pytest


@pytest.mark.timeout(90)
def test_actors_forked_after_the_spawners_preload_keep_its_objects_shared(ray):
    """The spawner imports what actors run before it forks the first
    actor's process, and freezes its objects out of the collector's sight:
    a collection in an actor would otherwise write to each one's header,
    copying every page they share."""
    @ray.remote(num_cpus=0)
    class Frozen:
        def count(self) -> int:
            return gc.get_freeze_count()

    assert ray.get(Frozen.remote().count.remote(), timeout=60) > 0


@pytest.mark.timeout(90)
def test_the_spawner_preloads_the_actor_host_only_once_an_actor_is_made(ray):
    """A program without actors does not carry asyncio and the actor host
    in the spawner (about 8 MB); the first actor brings them there, and
    every process forked after it shares them."""
    @ray.remote(max_calls=1)   # each call in a newly forked worker
    def forked_state() -> tuple[int, bool]:
        return gc.get_freeze_count(), "fastray.actor_host" in sys.modules

    deadline = time.monotonic() + 60
    while True:
        frozen, has_actor_host = ray.get(forked_state.remote(), timeout=60)
        if frozen or time.monotonic() > deadline:
            break
        time.sleep(0.05)   # the spawner preloads once no request came for a while
    assert frozen > 0, "the spawner's preload never came"
    assert not has_actor_host

    @ray.remote(num_cpus=0)
    class Anything:
        def ready(self) -> bool:
            return True

    assert ray.get(Anything.remote().ready.remote(), timeout=60)
    # A worker may have been forked before the actor, to stand by.
    while not has_actor_host and time.monotonic() < deadline:
        has_actor_host = ray.get(forked_state.remote(), timeout=60)[1]
    assert has_actor_host, "no process forked after the first actor shares its host"
