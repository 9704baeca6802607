"""The Ray Core "remote tasks" tutorial, run on fastray: ``python -m fastray tour``.

fastray promises that Ray task code runs unchanged once ``import ray`` becomes
``import fastray as ray``. The most direct proof is to run a well-known Ray tutorial
and show the same outputs and the same speedups, so the tutorial's code cells are kept
here verbatim (trailing spaces included; tests/test_tour.py checks them against
shared/seed/remote_tasks_tour.md). Besides the import, two slips of the tutorial are
corrected: ``add_array`` adds ``arr1`` to itself, and the "faster approach" cell reruns
on the list the slow approach already reduced, so it times nothing; cell 40 here first
resets the 8 values.

The cells run in one namespace, as in a notebook: a trailing expression is displayed,
and a ``%%time`` cell is timed and prints its wall time like IPython does.
"""

import ast
import contextlib
import os
import sys
import time
from pathlib import Path
from pprint import pformat
from typing import Iterator, TextIO

import fastray

#: The cells run here: the tutorial opens "data/file_1.txt" by a relative path.
WORKDIR: Path = Path(__file__).with_name("tour_data")

# One heading per tutorial section, keyed by the section's first cell.
_SECTIONS: dict[int, str] = {
    1: "A Guided Tour of Ray Core: Remote Tasks",
    2: "Example 1: Serial vs Parallelism",
    11: "Example 2: Adding two np arrays",
    20: "Example 3: Generating Fibonacci series",
    27: "Concept of Task Dependencies",
    35: "Example 4: Task Dependencies: Aggregating Values Efficiently",
}

# The %%time cells whose wall times make the tour's point.
_TIMED_CELLS: dict[int, str] = {
    24: "fib_serial_s",
    26: "fib_parallel_s",
    37: "sum_linear_s",
    40: "sum_tree_s",
}

_TIME_MAGIC = "%%time"

#: The environment switch ``fastray.init`` reads when include_dashboard is not given.
DASHBOARD_SWITCH = "FASTRAY_INCLUDE_DASHBOARD"

#: (cell number, source) of the tutorial's code cells, in order.
CELLS: list[tuple[int, str]] = [
    (1, r"""import os
import time
import logging
from pprint import pprint

import numpy as np
from numpy import loadtxt
import fastray as ray"""),
    (2, r"""# A regular Python function.
def regular_function():
    return 1"""),
    (3, r"""# A Ray remote function.
@ray.remote
def remote_function():
    return 1"""),
    (4, r"""# Let's invoke the regular function
regular_function()"""),
    (5, r"""if ray.is_initialized:
    ray.shutdown()
context = ray.init(logging_level=logging.ERROR)
pprint(context)"""),
    (6, r"""print(f"Dashboard url: http://{context.address_info['webui_url']}")"""),
    (7, r"""# Let's invoke the remote regular function.
remote_function.remote()"""),
    (8, r"""ray.get(remote_function.remote())"""),
    (9, r"""# These are executed one at a time, back-to-back, in a list comprehension
results = [regular_function() for _ in range(10)]
assert sum(results)"""),
    (10, r"""# Executing these functions, in comprehension list, happens at the same time in the background, 
# and we get the results using ray.get.
results = [remote_function.remote() for _ in range(10)]
assert sum(ray.get(results)) == 10"""),
    (11, r"""@ray.remote
def read_array(fn: str) -> np.array:
    arr = loadtxt(fn, comments="#", delimiter=",", unpack=False)
    return arr.astype('int')"""),
    (12, r"""@ray.remote
def add_array(arr1: np.array, arr2: np.array) -> np.array:
    return np.add(arr1, arr2)"""),
    (13, r"""@ray.remote
def sum_array(arr1: np.array) -> int:
    return np.sum(arr1)"""),
    (14, r"""obj_ref_arr1 = read_array.remote("data/file_1.txt")
print(f"array 1: {obj_ref_arr1}")"""),
    (15, r"""obj_ref_arr2 = read_array.remote("data/file_2.txt")
print(f"array 2: {obj_ref_arr2}")"""),
    (16, r"""result_obj_ref = add_array.remote(obj_ref_arr1, obj_ref_arr2)
result_obj_ref"""),
    (17, r"""result = ray.get(result_obj_ref)
print(f"Result: add arr1 + arr2: \n {result}")"""),
    (18, r"""sum_1 = ray.get(sum_array.remote(obj_ref_arr1))
sum_2 = ray.get(sum_array.remote(obj_ref_arr2))"""),
    (19, r"""print(f'Sum of arr1: {sum_1}')
print(f'Sum of arr2: {sum_2}')"""),
    (20, r"""# Local execution 
def generate_fibonacci(sequence_size):
    fibonacci = []
    for i in range(0, sequence_size):
        if i < 2:
            fibonacci.append(i)
            continue
        fibonacci.append(fibonacci[i-1]+fibonacci[i-2])
    return len(fibonacci)"""),
    (21, r"""# Remote Task with just a wrapper
@ray.remote
def generate_fibonacci_distributed(sequence_size):
    return generate_fibonacci(sequence_size)"""),
    (22, r"""# Get the number of cores 
os.cpu_count()"""),
    (23, r"""# Normal Python in a single process 
def run_local(sequence_size):
    results = [generate_fibonacci(sequence_size) for _ in range(os.cpu_count())]
    return results"""),
    (24, r"""%%time
run_local(100000)"""),
    (25, r"""# Distributed on a Ray cluster
def run_remote(sequence_size):
    results = ray.get([generate_fibonacci_distributed.remote(sequence_size) for _ in range(os.cpu_count())])
    return results"""),
    (26, r"""%%time
run_remote(100000)"""),
    (27, r"""@ray.remote
def f(x):
    return x

x1_id = f.remote(1)
ray.get(x1_id)"""),
    (28, r"""x2_id = f.remote([1, 2, 3])
ray.get(x2_id)"""),
    (29, r"""y1_id = f.remote(x1_id)
ray.get(y1_id)"""),
    (30, r"""y2_id = f.remote(x2_id)
ray.get(y2_id)"""),
    (35, r"""# define a task to add two intergers
@ray.remote
def add(x, y):
    time.sleep(1)
    return x + y"""),
    (36, r"""values = [i for i in range(1, 9)]
values"""),
    (37, r"""%%time

while len(values) > 1:
    values = [add.remote(values[0], values[1])] + values[2:]
    print(values)
result = ray.get(values[0])
print(result)"""),
    (40, r"""%%time

values = [i for i in range(1, 9)]
while len(values) > 1:
    values = values[2:] + [add.remote(values[0], values[1])]
result = ray.get(values[0])
print(result)"""),
    (41, r"""@ray.remote
def f():
    return 1

@ray.remote
def g():
    # Call f() 4 times and return the resulting object IDs.
    results = []
    for _ in range(4):
      results.append(f.remote())
    return results

@ray.remote
def h():
    # Call f() 4 times, block until those 4 tasks finish,
    # retrieve the results, and return the values.
    results = []
    for _ in range(4):
      results.append(f.remote())
    return ray.get(results)"""),
    (42, r"""ray.get(g.remote())"""),
    (43, r"""ray.get(h.remote())"""),
    (44, r"""# Normally will want to shutdown
ray.shutdown()"""),
]


def run_tour(out: TextIO | None = None) -> dict[str, float]:
    """Run every cell in one namespace, writing the notebook's output to ``out``.

    ``out`` defaults to the ``sys.stdout`` of the moment of the call (not of import),
    so that redirected or captured output is honoured. Returns the wall times, in
    seconds, of the cells the closing summary compares.
    """
    namespace: dict[str, object] = {"__name__": "__main__"}
    wall_times: dict[int, float] = {}
    with contextlib.redirect_stdout(out or sys.stdout), contextlib.chdir(WORKDIR), \
            _dashboard_on():
        try:
            for number, source in CELLS:
                if number in _SECTIONS:
                    print(f"\n## {_SECTIONS[number]}")
                print(f"\nIn [{number}]:")
                elapsed = _run_cell(number, source, namespace)
                if elapsed is not None:
                    wall_times[number] = elapsed
        finally:
            # The last cell shuts down; this covers a cell that raised before it, so
            # no worker outlives the tour. Shutting down twice is harmless.
            fastray.shutdown()
        timings = {name: wall_times[number] for number, name in _TIMED_CELLS.items()}
        _print_summary(timings)
    return timings


@contextlib.contextmanager
def _dashboard_on() -> Iterator[None]:
    """The tutorial's ``ray.init()`` starts Ray's dashboard and prints its URL;
    fastray's is off unless asked, so the tour asks (unless told otherwise)."""
    previous = os.environ.get(DASHBOARD_SWITCH)
    os.environ.setdefault(DASHBOARD_SWITCH, "1")
    try:
        yield
    finally:
        if previous is None:
            del os.environ[DASHBOARD_SWITCH]


def _run_cell(number: int, source: str, namespace: dict[str, object]) -> float | None:
    """Execute one cell; return its wall time if it is a ``%%time`` cell, else None."""
    timed = source.startswith(_TIME_MAGIC + "\n")
    # Dropping only the magic's text keeps its newline, so traceback line numbers
    # still match the cell.
    tree = ast.parse(source.removeprefix(_TIME_MAGIC) if timed else source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    assert last is None or isinstance(last, ast.Expr)
    filename = f"<In [{number}]>"
    body = compile(tree, filename, "exec")
    result = None if last is None else compile(ast.Expression(last.value), filename, "eval")
    start = time.perf_counter()
    exec(body, namespace)
    value = None if result is None else eval(result, namespace)
    elapsed = time.perf_counter() - start
    if timed:
        print(f"Wall time: {elapsed:.3g} s")
    if value is not None:
        print(pformat(value))
    return elapsed if timed else None


def _print_summary(timings: dict[str, float]) -> None:
    serial, parallel = timings["fib_serial_s"], timings["fib_parallel_s"]
    linear, tree = timings["sum_linear_s"], timings["sum_tree_s"]
    print("\n## Speedups measured")
    print(
        f"Fibonacci, {os.cpu_count()} sequences: serial {serial:.3g} s, "
        f"parallel {parallel:.3g} s ({serial / parallel:.1f}x)"
    )
    print(
        f"Sum of 8 values with 1 s tasks: linear {linear:.3g} s, "
        f"tree {tree:.3g} s ({linear / tree:.1f}x)"
    )
