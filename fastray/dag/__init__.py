"""Ray's lazy computation graphs under Ray's module name (``ray.dag``):
build with ``.bind(...)``, run with ``execute(...)``; see fastray/dag_nodes.py."""
from ..dag_nodes import (ClassMethodNode, ClassNode, DAGNode, FunctionNode, InputAttributeNode,
                         InputNode, MultiOutputNode)

__all__ = ["ClassMethodNode", "ClassNode", "DAGNode", "FunctionNode", "InputAttributeNode",
           "InputNode", "MultiOutputNode"]
