"""The functions the benchmarks run as tasks.  They travel by reference, so
a worker imports this module to run them: it imports nothing else (numpy only
when an array task runs), or the first task would time the imports."""
from __future__ import annotations

from typing import Any


def noop(x: Any = None) -> Any:
    return x


def checksum(x: Any) -> float:
    """Reads one float in every 8 KB: the cost is getting the array there."""
    return float(x[::1024].sum())


def make_array(nbytes: int) -> Any:
    import numpy as np
    return np.ones(nbytes // 8)
