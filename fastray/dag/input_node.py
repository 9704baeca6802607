"""``ray.dag.input_node``'s names."""
from ..dag_nodes import InputAttributeNode, InputNode

__all__ = ["InputAttributeNode", "InputNode"]
