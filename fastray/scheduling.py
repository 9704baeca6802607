"""Ray's scheduling strategies (``ray.util.scheduling_strategies``), for
``scheduling_strategy=`` of tasks and actors.  On one machine every node
is this one: "DEFAULT" and "SPREAD" both run here, a node affinity to this
node (hard or soft) or to another (soft) runs here, and a hard one to
another node can never run."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .placement import PlacementGroup

__all__ = ["NodeAffinitySchedulingStrategy", "NodeLabelSchedulingStrategy",
           "PlacementGroupSchedulingStrategy", "Placement", "placement_of"]


class PlacementGroupSchedulingStrategy:
    """Run in a placement group's reservation: in bundle
    placement_group_bundle_index (-1: any), with the tasks it submits in the
    group too if placement_group_capture_child_tasks."""

    def __init__(self, placement_group: PlacementGroup | None,
                 placement_group_bundle_index: int = -1,
                 placement_group_capture_child_tasks: bool | None = None) -> None:
        self.placement_group = placement_group
        self.placement_group_bundle_index = placement_group_bundle_index
        self.placement_group_capture_child_tasks = placement_group_capture_child_tasks

    def __repr__(self) -> str:
        return (f"PlacementGroupSchedulingStrategy({self.placement_group!r}, "
                f"bundle={self.placement_group_bundle_index})")


class NodeAffinitySchedulingStrategy:
    """Run on the node node_id (from ``get_runtime_context().get_node_id()``
    or ``nodes()``); soft: anywhere if that node cannot."""

    def __init__(self, node_id: str, soft: bool, _spill_on_unavailable: bool = False,
                 _fail_on_unavailable: bool = False) -> None:
        self.node_id = node_id
        self.soft = soft
        self._spill_on_unavailable = _spill_on_unavailable
        self._fail_on_unavailable = _fail_on_unavailable

    def __repr__(self) -> str:
        return f"NodeAffinitySchedulingStrategy({self.node_id!r}, soft={self.soft})"


class NodeLabelSchedulingStrategy:
    """Ray's label-based strategy: accepted by name, refused when used
    (the local runtime's one node has no labels to match)."""

    def __init__(self, hard: dict[str, Any], *, soft: dict[str, Any] | None = None) -> None:
        self.hard = hard
        self.soft = soft


@dataclass(frozen=True)
class Placement:
    """Where a task or actor may run, from its scheduling options."""

    group: PlacementGroup | None = None   # its CPUs come from this group's
    capture: bool = False                 # its children go in the group too
    node_id: str = ""                     # it must run on this node

    @property
    def pool(self) -> int:
        """The scheduler's pool of its CPUs: the group's id, or 0."""
        return 0 if self.group is None else self.group.id.value


ANYWHERE = Placement()


def placement_of(options: tuple, num_cpus: float, what: str) -> Placement:
    """The placement that options (scheduling_strategy, placement_group,
    placement_group_bundle_index, placement_group_capture_child_tasks, as
    given) ask for; ValueError or TypeError for what can never be met."""
    strategy, group, index, capture = options
    if group is not None and group != "default":
        if strategy not in (None, "DEFAULT"):
            raise ValueError(f"{what}: give either scheduling_strategy or placement_group, "
                             "not both")
        strategy = PlacementGroupSchedulingStrategy(group, -1 if index is None else index,
                                                    capture)
    if strategy is None or strategy in ("DEFAULT", "SPREAD"):
        return ANYWHERE
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        return _in_group(strategy, num_cpus, what)
    if isinstance(strategy, NodeAffinitySchedulingStrategy):
        node_id = strategy.node_id
        if not isinstance(node_id, str) and callable(getattr(node_id, "hex", None)):
            node_id = node_id.hex()  # an id object (runtime context's node_id)
        if not isinstance(node_id, str) or not node_id:
            raise ValueError(f"{what}: NodeAffinitySchedulingStrategy needs a node id (a hex "
                             f"str), got {strategy.node_id!r}")
        return ANYWHERE if strategy.soft else Placement(node_id=node_id)
    if isinstance(strategy, NodeLabelSchedulingStrategy):
        raise NotImplementedError(f"{what}: NodeLabelSchedulingStrategy: the local runtime's "
                                  "node has no labels; use the Ray backend "
                                  "(init(address=...))")
    raise ValueError(f'{what}: scheduling_strategy must be "DEFAULT", "SPREAD", a '
                     "PlacementGroupSchedulingStrategy or a NodeAffinitySchedulingStrategy; "
                     f"got {strategy!r}")


def _in_group(strategy: PlacementGroupSchedulingStrategy, num_cpus: float,
              what: str) -> Placement:
    group = strategy.placement_group
    if group is None:
        return ANYWHERE
    if not isinstance(group, PlacementGroup):
        raise TypeError(f"{what}: placement_group must be a PlacementGroup, got "
                        f"{type(group).__name__}")
    index = strategy.placement_group_bundle_index
    if not isinstance(index, int) or isinstance(index, bool) or not (
            -1 <= index < group.bundle_count):
        raise ValueError(f"{what}: placement_group_bundle_index must be -1 (any bundle) or "
                         f"an index below {group.bundle_count}, got {index!r}")
    if round(num_cpus * 1000) > group.cpu_milli(index):
        where = "any bundle" if index < 0 else f"bundle {index}"
        raise ValueError(f"{what} asks for num_cpus={num_cpus:g}, more than {where} of "
                         f"{group!r} holds; it could never run there")
    return Placement(group, bool(strategy.placement_group_capture_child_tasks))
