"""Ray's lazy computation graphs (``f.bind(...)``, ``Actor.bind(...)``,
``actor.method.bind(...)``, ``InputNode``, ``MultiOutputNode``): a graph is
built from bound calls, and ``execute(...)`` submits them, each node once
per execution, upstream nodes first; their refs are the downstream calls'
arguments.  The API lives in ``fastray.dag``.

As in Ray, an actor bound with ``Cls.bind(...)`` is created anew by each
execution, and the method calls bound on it run in the order they were
bound, before any call bound later on it (even those that no output needs).
Compiled graphs (``experimental_compile``) are not run by the local
runtime.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

_bind_order = itertools.count()


class DAGNode:
    """A node of the graph: what it calls, with which (maybe node) arguments."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self._bound_args = args
        self._bound_kwargs = kwargs
        self._order = next(_bind_order)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the graph up to this node with these inputs (for InputNode);
        returns this node's ref (refs for MultiOutputNode, a handle for an
        actor node)."""
        return Execution(args, kwargs).value_of(self)

    def experimental_compile(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("compiled graphs (experimental_compile) need Ray's "
                                  "accelerated DAG runtime; run on a Ray cluster "
                                  "(fastray.init(address=...)) or call execute()")

    def get_args(self) -> tuple:
        return self._bound_args

    def get_kwargs(self) -> dict:
        return self._bound_kwargs

    def upstream(self) -> list[DAGNode]:
        """The nodes this one needs first."""
        return [n for n in _nodes_in((self._bound_args, self._bound_kwargs))]

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        raise NotImplementedError


class FunctionNode(DAGNode):
    """``f.bind(...)``: a task."""

    def __init__(self, remote: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        super().__init__(args, kwargs)
        self._remote = remote

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        return self._remote(*args, **kwargs)


class ClassNode(DAGNode):
    """``Cls.bind(...)``: an actor, made by each execution; its methods'
    ``.bind`` make method nodes, in bind order."""

    def __init__(self, create: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        super().__init__(args, kwargs)
        self._create = create
        self._last_call: ClassMethodNode | None = None

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        return self._create(*args, **kwargs)

    def __getattr__(self, name: str) -> _UnboundMethod:
        if name.startswith("_"):
            raise AttributeError(name)
        return _UnboundMethod(self, name, {})


class _UnboundMethod:
    """``actor_node.method``: ``.bind(...)`` or ``.options(...).bind(...)``."""

    def __init__(self, actor: ClassNode, name: str, options: dict[str, Any]) -> None:
        self._actor, self._name, self._options = actor, name, options

    def options(self, **options: Any) -> _UnboundMethod:
        return _UnboundMethod(self._actor, self._name, {**self._options, **options})

    def bind(self, *args: Any, **kwargs: Any) -> ClassMethodNode:
        node = ClassMethodNode(self._actor, self._name, self._options, args, kwargs,
                               self._actor._last_call)
        self._actor._last_call = node
        return node


class ClassMethodNode(DAGNode):
    """A method call on an actor node (or on a live actor's handle)."""

    def __init__(self, actor: Any, name: str, options: dict[str, Any], args: tuple,
                 kwargs: dict, after: ClassMethodNode | None) -> None:
        super().__init__(args, kwargs)
        self._actor, self._name, self._options, self._after = actor, name, options, after

    def upstream(self) -> list[DAGNode]:
        before = [self._actor] if isinstance(self._actor, DAGNode) else []
        return before + ([self._after] if self._after else []) + super().upstream()

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        handle = execution.value_of(self._actor) if isinstance(self._actor, DAGNode) else \
            self._actor
        method = getattr(handle, self._name)
        if self._options:
            method = method.options(**self._options)
        return method.remote(*args, **kwargs)


class InputNode(DAGNode):
    """The graph's input: ``with InputNode() as inp:``; in execute(...), one
    argument stands for itself, several (or keywords) are reached as
    ``inp[0]``, ``inp["key"]`` or ``inp.key``."""

    def __init__(self) -> None:
        super().__init__((), {})

    def __enter__(self) -> InputNode:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def __getitem__(self, key: int | str) -> InputAttributeNode:
        return InputAttributeNode(self, key, "__getitem__")

    def __getattr__(self, key: str) -> InputAttributeNode:
        if key.startswith("_"):
            raise AttributeError(key)
        return InputAttributeNode(self, key, "__getattr__")

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        if len(execution.args) == 1 and not execution.kwargs:
            return execution.args[0]
        return _Inputs(execution.args, execution.kwargs)


class InputAttributeNode(DAGNode):
    """``inp[key]`` or ``inp.key``."""

    def __init__(self, source: InputNode, key: int | str, accessor: str) -> None:
        super().__init__((source,), {})
        if not isinstance(key, (int, str)) or isinstance(key, bool):
            raise ValueError(f"an input is reached by an int index or a str key, got {key!r}")
        self._key, self._accessor = key, accessor

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        (value,) = args
        if isinstance(value, _Inputs) or self._accessor == "__getitem__":
            return value[self._key]
        return getattr(value, str(self._key))


class _Inputs:
    """execute()'s arguments when there are several: [i] the i-th
    positional one, [name] or .name a keyword one."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self._args, self._kwargs = args, kwargs

    def __getitem__(self, key: int | str) -> Any:
        return self._args[key] if isinstance(key, int) else self._kwargs[key]


class MultiOutputNode(DAGNode):
    """Several outputs: execute() returns the list of their refs."""

    def __init__(self, outputs: list[DAGNode]) -> None:
        if not isinstance(outputs, (list, tuple)) or not all(
                isinstance(o, DAGNode) for o in outputs):
            raise TypeError("MultiOutputNode takes a list of DAG nodes")
        super().__init__((list(outputs),), {})

    def run(self, execution: Execution, args: tuple, kwargs: dict) -> Any:
        return list(args[0])


class Execution:
    """One execute(): each node's value (a ref, a handle), made once."""

    def __init__(self, args: tuple, kwargs: dict) -> None:
        self.args, self.kwargs = args, kwargs
        self._values: dict[int, Any] = {}

    def value_of(self, node: DAGNode) -> Any:
        # Upstream first, in the order they were bound, without recursion
        # (graphs may be deep).
        pending = [node]
        order: list[DAGNode] = []
        seen: set[int] = set()
        while pending:
            current = pending.pop()
            if id(current) in seen or id(current) in self._values:
                continue
            seen.add(id(current))
            order.append(current)
            pending.extend(current.upstream())
        for current in sorted(order, key=lambda n: n._order):
            args = _resolved(current._bound_args, self._values)
            kwargs = _resolved(current._bound_kwargs, self._values)
            self._values[id(current)] = current.run(self, args, kwargs)
        return self._values[id(node)]


def _nodes_in(value: Any) -> list[DAGNode]:
    if isinstance(value, DAGNode):
        return [value]
    if isinstance(value, (list, tuple)):
        return [n for item in value for n in _nodes_in(item)]
    if isinstance(value, dict):
        return [n for item in value.values() for n in _nodes_in(item)]
    return []


def _resolved(value: Any, values: dict[int, Any]) -> Any:
    """value with each node in it (in lists, tuples, dicts) replaced by its
    value in this execution."""
    if isinstance(value, DAGNode):
        return values[id(value)]
    if isinstance(value, list):
        return [_resolved(v, values) for v in value]
    if isinstance(value, tuple):
        return tuple(_resolved(v, values) for v in value)
    if isinstance(value, dict):
        return {k: _resolved(v, values) for k, v in value.items()}
    return value
