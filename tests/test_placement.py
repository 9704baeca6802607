"""Placement groups and scheduling strategies (Ray's "Placement Groups" and
"Scheduling" pages), on the local runtime and on a Ray head."""
from __future__ import annotations

import time

import pytest

import fastray
from fastray.exceptions import RayActorError, TaskUnschedulableError
from fastray.util import (get_placement_group, placement_group, placement_group_table,
                          remove_placement_group)
from fastray.util.scheduling_strategies import (NodeAffinitySchedulingStrategy,
                                                PlacementGroupSchedulingStrategy)

from core_api_functions import GroupMember, child_group, current_group, node_of_task

pytestmark = [pytest.mark.both_backends, pytest.mark.timeout(120)]


def test_a_group_reserves_its_cpus_until_removed(ray):
    before = ray.available_resources().get("CPU", 0)
    group = placement_group([{"CPU": 1}], strategy="PACK")
    assert group.wait(60)
    assert ray.get(group.ready(), timeout=60) is not None
    assert group.bundle_count == 1 and group.bundle_specs == [{"CPU": 1}]
    assert not group.is_empty
    assert placement_group_table(group)["state"] == "CREATED"
    assert ray.available_resources().get("CPU", 0) == before - 1
    remove_placement_group(group)
    assert placement_group_table(group)["state"] == "REMOVED"


def test_tasks_and_actors_run_in_the_group(ray):
    group = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="SPREAD")
    assert group.wait(60)
    in_group = PlacementGroupSchedulingStrategy(group, placement_group_bundle_index=1)
    assert ray.get(node_of_task.options(scheduling_strategy=in_group).remote(), timeout=60)
    member = GroupMember.options(num_cpus=1, scheduling_strategy=in_group).remote()
    assert ray.get(member.ping.remote(), timeout=60) == "pong"
    remove_placement_group(group)
    # Removing the group ends what runs in it (on Ray, a moment later).
    deadline = time.monotonic() + 60
    with pytest.raises(RayActorError):
        while time.monotonic() < deadline:
            ray.get(member.ping.remote(), timeout=60)
            time.sleep(0.05)


def test_a_task_knows_its_group_and_children_join_it_when_captured(ray):
    group = placement_group([{"CPU": 1}])
    assert group.wait(60)
    captured = PlacementGroupSchedulingStrategy(group, placement_group_capture_child_tasks=True)
    assert ray.get(current_group.options(scheduling_strategy=captured).remote(),
                   timeout=60) == group.id.hex()
    assert ray.get(child_group.options(scheduling_strategy=captured).remote(),
                   timeout=60) == group.id.hex()
    plain = PlacementGroupSchedulingStrategy(group)
    assert ray.get(current_group.options(scheduling_strategy=plain).remote(),
                   timeout=60) == group.id.hex()
    assert ray.get(child_group.options(scheduling_strategy=plain).remote(), timeout=60) is None
    assert ray.get(current_group.remote(), timeout=60) is None
    remove_placement_group(group)


def test_a_named_group_is_found_by_name(ray):
    group = placement_group([{"CPU": 1}], name="found-by-name")
    assert group.wait(60)
    assert get_placement_group("found-by-name").id == group.id
    remove_placement_group(group)


def test_strict_spread_over_one_node_is_never_ready(ray, request):
    if request.node.callspec.params["ray"] == "local":
        with pytest.warns(RuntimeWarning, match="STRICT_SPREAD"):
            group = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    else:
        group = placement_group([{"CPU": 1}, {"CPU": 1}], strategy="STRICT_SPREAD")
    assert not group.wait(0.5)
    assert ray.wait([group.ready()], timeout=0)[0] == []
    remove_placement_group(group)


def test_node_affinity_runs_here_or_never(ray):
    node_id = ray.get_runtime_context().get_node_id()
    here = NodeAffinitySchedulingStrategy(node_id, soft=False)
    assert ray.get(node_of_task.options(scheduling_strategy=here).remote(), timeout=60) == node_id
    assert ray.get(node_of_task.options(scheduling_strategy="SPREAD").remote(),
                   timeout=60) == node_id
    elsewhere = "ab" * 28
    soft = NodeAffinitySchedulingStrategy(elsewhere, soft=True)
    assert ray.get(node_of_task.options(scheduling_strategy=soft).remote(), timeout=60) == node_id
    hard = NodeAffinitySchedulingStrategy(elsewhere, soft=False)
    with pytest.raises(TaskUnschedulableError):
        ray.get(node_of_task.options(scheduling_strategy=hard).remote(), timeout=60)


def test_the_node_resource_can_be_asked_for(ray):
    assert ray.get(node_of_task.options(resources={"node:127.0.0.1": 0.01}).remote(),
                   timeout=60) == ray.get_runtime_context().get_node_id()


def test_bad_groups_and_strategies_are_refused(ray):
    with pytest.raises(ValueError, match="bundles"):
        placement_group([])
    with pytest.raises(ValueError, match="strategy"):
        placement_group([{"CPU": 1}], strategy="TIGHT")
    with pytest.raises(ValueError):
        placement_group([{"CPU": -1}])


def test_nodes_lists_this_node_with_rays_keys(ray):
    (node,) = [n for n in ray.nodes() if n["Alive"]]
    assert node["NodeID"] == ray.get_runtime_context().get_node_id()
    assert {"NodeID", "Alive", "NodeManagerAddress", "Resources", "Labels"} <= set(node)
    assert node["Resources"]["CPU"] == ray.cluster_resources()["CPU"]


def test_another_nodes_resource_can_never_be_had(ray, request):
    ref = node_of_task.options(resources={"node:10.0.0.9": 0.1}).remote()
    if request.node.callspec.params["ray"] == "local":
        with pytest.raises(TaskUnschedulableError, match="node:10.0.0.9"):
            ray.get(ref, timeout=60)
    else:  # Ray leaves it pending: that node may join the cluster later
        assert ray.wait([ref], timeout=0.5)[0] == []
        ray.cancel(ref)


@pytest.mark.parametrize("strategy, bundles", [
    ("PACK", 2), ("SPREAD", 2), ("STRICT_PACK", 2), ("STRICT_SPREAD", 1)])
def test_every_strategy_one_node_can_hold_is_ready(ray, strategy, bundles):
    group = placement_group([{"CPU": 0.5}] * bundles, strategy=strategy)
    assert group.wait(60)
    assert placement_group_table(group)["strategy"] == strategy
    remove_placement_group(group)
