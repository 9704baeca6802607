"""Ray's scheduling strategies, under Ray's module name
(``ray.util.scheduling_strategies``); see fastray/scheduling.py."""
from ..scheduling import (NodeAffinitySchedulingStrategy, NodeLabelSchedulingStrategy,
                          PlacementGroupSchedulingStrategy)

__all__ = ["NodeAffinitySchedulingStrategy", "NodeLabelSchedulingStrategy",
           "PlacementGroupSchedulingStrategy"]
