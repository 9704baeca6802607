"""``ray.dag.output_node``'s names."""
from ..dag_nodes import MultiOutputNode

__all__ = ["MultiOutputNode"]
