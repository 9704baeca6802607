"""Ray's lazy computation graphs (Ray's "Lazy Computation Graphs with the
Ray DAG API" page), on the local runtime and on a Ray head."""
from __future__ import annotations

import pytest

import fastray
from fastray.dag import InputNode, MultiOutputNode

from core_api_functions import Accumulator, add, double

pytestmark = [pytest.mark.both_backends, pytest.mark.timeout(120)]


def test_bound_tasks_run_upstream_first(ray):
    a = add.bind(1, inc=2)
    assert a.get_args() == (1,) and a.get_kwargs() == {"inc": 2}
    assert ray.get(a.execute(), timeout=60) == 3
    b = add.bind(a, inc=3)
    assert ray.get(b.execute(), timeout=60) == 6
    c = add.bind(b, inc=a)
    assert ray.get(c.execute(), timeout=60) == 9


def test_methods_bound_on_an_actor_node_run_in_bind_order(ray):
    first = Accumulator.bind(10)
    assert ray.get(first.get.bind().execute(), timeout=60) == 10
    second = Accumulator.bind(10)
    first.inc.bind(2)
    first.inc.bind(4)
    second.inc.bind(6)
    dag = add.bind(first.get.bind(), second.get.bind())
    assert ray.get(dag.execute(), timeout=60) == 32


def test_input_nodes_take_execute_arguments(ray):
    with InputNode() as inp:
        dag = add.bind(double.bind(inp), inp)
    assert ray.get(dag.execute(2), timeout=60) == 6
    assert ray.get(dag.execute(3), timeout=60) == 9
    with InputNode() as inp:
        dag = MultiOutputNode([add.bind(inp["x"]), add.bind(inp["y"])])
    assert ray.get(dag.execute({"x": 1, "y": 2}), timeout=60) == [2, 3]
    with InputNode() as inp:
        dag = add.bind(inp[0], inc=inp.step)
    assert ray.get(dag.execute(5, step=10), timeout=60) == 15


def test_a_live_actor_is_reused_by_each_execution():
    # Local runtime only: on the Ray backend a live actor's handle is Ray's,
    # and its .bind gives Ray's own node (README's differences table).
    fastray.init(num_cpus=2)
    actor = Accumulator.remote(0)
    with InputNode() as inp:
        dag = MultiOutputNode([actor.inc.bind(inp)])
    for step in (1, 2, 3):
        fastray.get(dag.execute(step), timeout=60)
    assert fastray.get(actor.get.remote(), timeout=60) == 6


def test_compiled_graphs_are_refused():
    with pytest.raises(NotImplementedError, match="compiled"):
        add.bind(1).experimental_compile()
