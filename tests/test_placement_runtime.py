"""Placement groups on the local runtime: what Ray leaves open, decided
here (README's differences table), and bad input."""
from __future__ import annotations

import pytest

import fastray
from fastray.exceptions import (ActorUnschedulableError, TaskPlacementGroupRemoved,
                                WorkerCrashedError)
from fastray.util import placement_group, remove_placement_group
from fastray.util.scheduling_strategies import (NodeAffinitySchedulingStrategy,
                                                NodeLabelSchedulingStrategy,
                                                PlacementGroupSchedulingStrategy)

from core_api_functions import GroupMember, gated, hold_until, node_of_task
from helpers import wait_for_file

pytestmark = pytest.mark.timeout(120)


def test_a_group_waits_for_cpus_to_come_free(ray, tmp_path):
    gate = str(tmp_path / "gate")
    busy = [hold_until.remote(str(tmp_path / f"started{i}"), gate) for i in range(2)]
    for i in range(2):
        wait_for_file(str(tmp_path / f"started{i}"))
    group = placement_group([{"CPU": 1}])
    assert not group.wait(0.3)
    (tmp_path / "gate").touch()
    assert ray.get(busy, timeout=60) == [True, True]
    assert group.wait(60)
    remove_placement_group(group)


def test_a_task_asking_more_than_its_bundle_holds_is_refused(ray):
    group = placement_group([{"CPU": 1}])
    strategy = PlacementGroupSchedulingStrategy(group, 0)
    with pytest.raises(ValueError, match="could never run"):
        node_of_task.options(num_cpus=2, scheduling_strategy=strategy).remote()
    with pytest.raises(ValueError, match="bundle_index"):
        node_of_task.options(scheduling_strategy=PlacementGroupSchedulingStrategy(group, 3)
                             ).remote()
    remove_placement_group(group)


def test_removing_a_group_cancels_its_running_tasks(ray, tmp_path):
    group = placement_group([{"CPU": 1}])
    assert group.wait(60)
    gen = gated.options(scheduling_strategy=PlacementGroupSchedulingStrategy(group)
                        ).remote(2, str(tmp_path))
    (tmp_path / "0").touch()
    assert ray.get(next(gen)) == 0
    remove_placement_group(group)
    # Its worker is killed, as by cancel(force=True).
    with pytest.raises(WorkerCrashedError):
        for ref in gen:
            ray.get(ref, timeout=60)
    assert ray.available_resources()["CPU"] == 2


def test_an_actor_with_a_hard_affinity_elsewhere_never_starts(ray):
    actor = GroupMember.options(
        scheduling_strategy=NodeAffinitySchedulingStrategy("ab" * 28, soft=False)).remote()
    with pytest.raises(ActorUnschedulableError):
        ray.get(actor.ping.remote(), timeout=60)


def test_unsupported_scheduling_is_refused_clearly(ray):
    with pytest.raises(NotImplementedError, match="labels"):
        node_of_task.options(scheduling_strategy=NodeLabelSchedulingStrategy({"a": "b"})
                             ).remote()
    with pytest.raises(ValueError, match="scheduling_strategy"):
        node_of_task.options(scheduling_strategy="NEAREST").remote()
    with pytest.raises(NotImplementedError, match="label"):
        node_of_task.options(label_selector={"a": "b"})
    with pytest.raises(ValueError, match="memory"):
        node_of_task.options(memory=-1)


def test_a_group_cycle_leaves_no_cpu_taken(ray):
    for _ in range(50):
        group = placement_group([{"CPU": 0.5}, {"CPU": 0.5}])
        assert group.wait(60)
        remove_placement_group(group)
    assert ray.available_resources()["CPU"] == 2


def test_a_task_waiting_for_a_removed_group_fails(ray, tmp_path):
    gate = str(tmp_path / "gate")
    group = placement_group([{"CPU": 1}])
    assert group.wait(60)
    strategy = PlacementGroupSchedulingStrategy(group)
    running = hold_until.options(scheduling_strategy=strategy).remote(
        str(tmp_path / "started"), gate)
    wait_for_file(str(tmp_path / "started"))
    waiting = node_of_task.options(scheduling_strategy=strategy).remote()
    remove_placement_group(group)
    with pytest.raises(TaskPlacementGroupRemoved):
        ray.get(waiting, timeout=60)
    with pytest.raises(WorkerCrashedError):
        ray.get(running, timeout=60)
    with pytest.raises(TaskPlacementGroupRemoved):
        ray.get(node_of_task.options(scheduling_strategy=strategy).remote(), timeout=60)
