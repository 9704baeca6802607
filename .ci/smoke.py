"""An installed wheel works on its own: run from outside the checkout, in a
fresh virtual environment holding only the wheel and its dependencies."""
import sys

import numpy as np

import fastray as ray

assert ray.__file__.startswith(sys.prefix), f"fastray imported from {ray.__file__}"
ray.init(num_cpus=2)


@ray.remote
def total(array: np.ndarray) -> float:
    return float(array.sum())


array = np.arange(1_000_000, dtype=np.float64)
ref = ray.put(array)
assert np.array_equal(ray.get(ref), array)
assert ray.get(total.remote(ref)) == array.sum()
assert ray.get([total.remote(np.ones(n)) for n in range(10)]) == list(range(10))
ray.shutdown()
print(f"smoke test passed: fastray {ray.__version__} from {ray.__file__}")
