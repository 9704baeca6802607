"""Placement groups (``ray.util.placement_group``): CPUs reserved for a
group of tasks and actors, in bundles.  On one machine every strategy can
be met by one node, but STRICT_SPREAD with more than one bundle, which
needs a node per bundle: as in Ray, such a group is made but never ready.
A group's CPUs are taken from the pool once they are free, and given back
when it is removed; what runs in it then ends."""
from __future__ import annotations

from typing import Any

from .. import state
from ..placement import STRATEGIES, PlacementGroup

__all__ = ["PlacementGroup", "get_current_placement_group", "get_placement_group",
           "placement_group", "placement_group_table", "remove_placement_group"]


def placement_group(bundles: list[dict[str, float]], strategy: str = "PACK", name: str = "",
                    lifetime: str | None = None, _max_cpu_fraction_per_node: float | None = None,
                    _soft_target_node_id: str | None = None,
                    bundle_label_selector: list[dict[str, str]] | None = None) -> Any:
    """Reserves bundles of CPUs for tasks and actors to run in
    (``PlacementGroupSchedulingStrategy``); returns at once, and ready()
    tells when the reservation holds."""
    if not isinstance(bundles, list) or not bundles:
        raise ValueError(f"bundles must be a non-empty list of dicts, got {bundles!r}")
    for bundle in bundles:
        _check_bundle(bundle)
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}; got {strategy!r}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if lifetime not in (None, "detached"):
        raise ValueError(f'lifetime must be None or "detached", got {lifetime!r}')
    if bundle_label_selector:
        raise NotImplementedError("bundle_label_selector: the local runtime's node has no "
                                  "labels; use the Ray backend (init(address=...))")
    return state.require_backend().create_placement_group(
        [dict(b) for b in bundles], strategy, name, lifetime)


def _check_bundle(bundle: Any) -> None:
    if not isinstance(bundle, dict) or not bundle:
        raise ValueError(f"each bundle must be a non-empty dict of resources, got {bundle!r}")
    for key, amount in bundle.items():
        if not isinstance(key, str):
            raise TypeError(f"bundle resource names must be str, got {key!r}")
        if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount < 0:
            raise ValueError(f"bundle resource {key!r} must be a number >= 0, got {amount!r}")
    if not any(bundle.values()):
        raise ValueError(f"a bundle must ask for some resource, got {bundle!r}")


def remove_placement_group(placement_group: PlacementGroup) -> None:
    """Frees the group's CPUs; its tasks and actors are ended."""
    if not isinstance(placement_group, PlacementGroup):
        raise TypeError(f"remove_placement_group() takes a PlacementGroup, got "
                        f"{type(placement_group).__name__}")
    state.require_backend().remove_placement_group(placement_group)


def get_placement_group(placement_group_name: str) -> PlacementGroup:
    """The live group of that name (made by this process); ValueError if none."""
    return state.require_backend().get_placement_group(placement_group_name)


def placement_group_table(placement_group: PlacementGroup | None = None) -> dict[str, Any]:
    """Ray's table: one group's entry, or every group's by id hex."""
    return state.require_backend().placement_group_table(placement_group)


def get_current_placement_group() -> PlacementGroup | None:
    """The group the current task or actor runs in, if it captures its
    children (Ray's rule); None in the driver."""
    return state.require_backend().current_placement_group()
