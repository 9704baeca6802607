"""The runtime's side of placement groups (fastray/util/placement_group.py
is the API): making and removing them in the scheduler, and the table of
the groups this process made.  Loaded on first use, like actor_calls."""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from . import wire
from .placement import PlacementGroup, bundle_asks, warn_infeasible, why_infeasible
from .serialization import serialize

if TYPE_CHECKING:
    from .backend import SchedulerBackend

_CREATE = struct.Struct("<QQIQ")


class GroupTable:
    """The groups a process made: by id, by name, and which were removed."""

    def __init__(self) -> None:
        self.groups: dict[int, PlacementGroup] = {}
        self.lifetimes: dict[int, str | None] = {}
        self.removed: set[int] = set()


def create(backend: SchedulerBackend, bundles: list[dict[str, float]], strategy: str,
           name: str, lifetime: str | None) -> PlacementGroup:
    table = _table(backend)
    if name and any(g.name == name for i, g in table.groups.items() if i not in table.removed):
        raise ValueError(f"a placement group named {name!r} already exists; remove it first, "
                         "or pick another name")
    reason = why_infeasible(bundles, strategy, backend.num_cpus, backend.node_resources)
    if reason:
        warn_infeasible(reason)
    group_id = backend._next_ids(1)
    (ready,) = backend.promises(1)
    group = PlacementGroup(group_id, bundles, strategy, name, ready, ready.id)
    # The ready object's value: the group, without a counted ref to itself.
    payload, _, _ = serialize(PlacementGroup(group_id, bundles, strategy, name, None,
                                             ready.id), None)
    cpu_milli = sum(round(b.get("CPU", 0) * 1000) for b in bundles)
    demands = [] if reason else [backend.demand_id(asked, "a placement group's bundle")
                                 for asked in bundle_asks(bundles)]
    backend._actor_op(wire.POOL_CREATE, _CREATE.pack(group_id, cpu_milli, not reason, ready.id)
                      + struct.pack(f"<I{len(demands)}I", len(demands), *demands) + payload)
    table.groups[group_id] = group
    table.lifetimes[group_id] = lifetime
    return group


def remove(backend: SchedulerBackend, group: PlacementGroup) -> None:
    backend._check_running()
    backend._actor_op(wire.POOL_REMOVE, struct.pack("<Q", group.id.value))
    _table(backend).removed.add(group.id.value)


def by_name(backend: SchedulerBackend, name: str) -> PlacementGroup:
    table = _table(backend)
    for group_id, group in table.groups.items():
        if group.name == name and group_id not in table.removed:
            return group
    raise ValueError(f"no placement group named {name!r} (in this process; groups made "
                     "elsewhere are not known here)")


def table_of(backend: SchedulerBackend, group: PlacementGroup | None) -> dict[str, Any]:
    table = _table(backend)
    if group is not None:
        return _entry(backend, table, group)
    return {g.id.hex(): _entry(backend, table, g) for g in table.groups.values()}


def _entry(backend: SchedulerBackend, table: GroupTable, group: PlacementGroup
           ) -> dict[str, Any]:
    group_id = group.id.value
    if group_id in table.removed:
        status = "REMOVED"
    elif backend.wait([group.ready()], 1, 0.0)[0]:
        status = "CREATED"
    else:
        status = "PENDING"
    bundles = dict(enumerate(group.bundle_specs))
    return {"placement_group_id": group.id.hex(), "name": group.name,
            "bundles": bundles,
            "bundles_to_node_id": {i: backend.node_id for i in bundles}
            if status == "CREATED" else {},
            "strategy": group.strategy, "state": status,
            "stats": {"scheduling_state": "FINISHED" if status == "CREATED" else status},
            "lifetime": table.lifetimes.get(group_id)}


def _table(backend: SchedulerBackend) -> GroupTable:
    backend._check_running()
    table: GroupTable | None = getattr(backend, "placement_groups", None)
    if table is None:
        table = GroupTable()
        setattr(backend, "placement_groups", table)
    return table
