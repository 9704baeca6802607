"""A placement group as every process sees it: its id, bundles, strategy,
name and the ref that is ready once its CPUs are reserved; and which
groups no machine of this runtime's can hold.  The API is
fastray/util/placement_group.py, the driver's side fastray/placement_calls.py."""
from __future__ import annotations

import warnings

from . import state
from .hex_id import HexId
from .object_ref import ObjectRef, RaysToo
from .resources import Asked, NodeResources

STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class PlacementGroupID(HexId):
    """A group's id (its value is the scheduler's pool of its CPUs)."""

    def __init__(self, value: int) -> None:
        super().__init__(f"{value:032x}")
        self.value = value


class PlacementGroup(metaclass=RaysToo):
    """A placement group: its bundles, strategy and name, and ready()."""

    def __init__(self, group_id: int, bundles: list[dict[str, float]], strategy: str,
                 name: str, ready: ObjectRef | None, ready_id: int) -> None:
        self.id = PlacementGroupID(group_id)
        self._bundles = bundles
        self.strategy = strategy
        self.name = name
        self._ready = ready
        self._ready_id = ready_id

    @property
    def bundle_specs(self) -> list[dict[str, float]]:
        return [dict(bundle) for bundle in self._bundles]

    @property
    def bundle_count(self) -> int:
        return len(self._bundles)

    @property
    def is_empty(self) -> bool:
        return not self._bundles

    def ready(self) -> ObjectRef:
        """A ref that is ready (to this group) once its CPUs are reserved."""
        return self._ready if self._ready is not None else ObjectRef(self._ready_id)

    def wait(self, timeout_seconds: float = 30) -> bool:
        """Whether the group is ready within timeout_seconds."""
        backend = state.require_backend()
        return bool(backend.wait([self.ready()], 1, timeout_seconds)[0])

    def cpu_milli(self, bundle_index: int) -> int:
        """CPUs (thousandths) of one bundle, or of the largest for -1."""
        bundles = self._bundles if bundle_index < 0 else [self._bundles[bundle_index]]
        return max(round(b.get("CPU", 0) * 1000) for b in bundles)

    def __reduce__(self):
        return (PlacementGroup, (self.id.value, self._bundles, self.strategy, self.name,
                                 self._ready, self._ready_id))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlacementGroup) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        return f"PlacementGroup({self.id.hex()}, {self.strategy}, {self._bundles})"


def why_infeasible(bundles: list[dict[str, float]], strategy: str, num_cpus: int,
                   node: NodeResources) -> str:
    """Why no machine of this runtime's can ever hold the group, or ""."""
    if strategy == "STRICT_SPREAD" and len(bundles) > 1:
        return (f"STRICT_SPREAD needs a node for each of its {len(bundles)} bundles, and the "
                "local runtime has one node")
    totals = {"CPU": float(num_cpus), **node.totals()}
    asked: dict[str, float] = {}
    for bundle in bundles:
        for name, amount in bundle.items():
            asked[name] = asked.get(name, 0) + amount
    short = sorted(f"{amount:g} {name} (it has {totals.get(name, 0):g})"
                   for name, amount in asked.items() if amount > totals.get(name, 0))
    if short:
        return f"its bundles ask for {', '.join(short)}"
    return ""


def bundle_asks(bundles: list[dict[str, float]]) -> list[Asked]:
    """Each bundle's GPUs and custom resources (CPUs are counted apart)."""
    return [Asked(num_gpus=bundle.get("GPU", 0.0), resources=tuple(sorted(
        (name, float(amount)) for name, amount in bundle.items()
        if name not in ("CPU", "GPU") and amount))) for bundle in bundles]


def warn_infeasible(reason: str) -> None:
    warnings.warn(f"the placement group can never be ready: {reason}; it stays pending, as "
                  "in Ray", RuntimeWarning, stacklevel=5)


