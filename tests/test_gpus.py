"""GPUs and custom resources, with GPUs declared rather than present (no GPU
is needed): what runs at once, which devices each run sees, and what a bad
request gets.  Tests taking `ray` also run on a Ray head that declares the
same resources, so the Ray backend is checked to pass the options through."""
from __future__ import annotations

import os

import pytest

import fastray
from fastray.util import placement_group, remove_placement_group
from fastray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from gpu_functions import GpuHolder, logged, most_at_once, runs, what_cuda_sees

pytestmark = [pytest.mark.timeout(120), pytest.mark.both_backends]


@pytest.fixture
def gpus(ray):
    """The runtime of `ray` with 2 GPUs and 2 "slot"s: declared here, on
    the Ray head by its start command (conftest.py)."""
    if fastray.cluster_resources().get("GPU") != 2:
        fastray.shutdown()
        fastray.init(num_cpus=2, num_gpus=2, resources={"slot": 2})
    assert fastray.cluster_resources()["GPU"] == 2
    assert fastray.cluster_resources()["slot"] == 2
    return fastray


def test_whole_gpus_go_one_task_per_device(gpus, tmp_path):
    log = str(tmp_path / "log")
    gpus.get([logged.options(num_gpus=1).remote(log) for _ in range(4)], timeout=60)
    records = runs(log)
    assert len(records) == 4
    assert most_at_once(records) <= 2
    for record in records:
        assert record["devices"] in ("0", "1")
        assert record["gpu_ids"] == [record["devices"]]
    # Runs that overlapped had different devices.
    for a in records:
        for b in records:
            if a is not b and a["start"] < b["end"] and b["start"] < a["end"]:
                assert a["devices"] != b["devices"]


def test_custom_resources_gate_tasks_the_same_way(gpus, tmp_path):
    log = str(tmp_path / "log")
    gpus.get([logged.options(resources={"slot": 2}).remote(log) for _ in range(3)],
             timeout=60)
    records = runs(log)
    assert len(records) == 3
    assert most_at_once(records) == 1


def test_an_actor_holding_a_gpu_keeps_it_from_tasks_until_it_ends(gpus):
    holders = [GpuHolder.remote() for _ in range(2)]
    seen = gpus.get([holder.devices.remote() for holder in holders], timeout=60)
    assert sorted(s["devices"] for s in seen) == ["0", "1"]
    assert [[str(i) for i in s["gpu_ids"]] for s in seen] == [[s["devices"]] for s in seen]
    assert "GPU" not in gpus.available_resources()
    waiting = what_cuda_sees.options(num_gpus=1).remote()
    ready, _ = gpus.wait([waiting], timeout=1)
    assert ready == []
    gpus.kill(holders[1])
    assert gpus.get(waiting, timeout=60)["devices"] == seen[1]["devices"]


def test_a_task_without_gpus_sees_the_devices_as_the_driver_left_them(gpus):
    seen = gpus.get(what_cuda_sees.remote(), timeout=60)
    assert seen["devices"] == os.environ.get("CUDA_VISIBLE_DEVICES")
    assert seen["gpu_ids"] == []
    assert gpus.get_gpu_ids() == []


def test_a_group_reserves_gpus_and_custom_resources(gpus):
    group = placement_group([{"CPU": 1, "GPU": 1, "slot": 1}])
    assert group.wait(60)
    free = gpus.available_resources()
    assert free.get("GPU") == 1 and free.get("slot") == 1
    strategy = PlacementGroupSchedulingStrategy(group, 0)
    inside = gpus.get(what_cuda_sees.options(num_gpus=1, resources={"slot": 1},
                                             scheduling_strategy=strategy).remote(),
                      timeout=60)
    outside = gpus.get(what_cuda_sees.options(num_gpus=1).remote(), timeout=60)
    assert {inside["devices"], outside["devices"]} == {"0", "1"}
    remove_placement_group(group)
