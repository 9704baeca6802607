"""Peak memory of the driver and the workers while large arrays go through
the store: ``python benches/store_memory.py``.

RSS counts a shared page in every process that touched it, so the store's
pages appear in the driver's and in each worker's RSS; PSS splits them.
"""
from __future__ import annotations

import os

import numpy as np

import fastray


def memory(pid: int) -> dict[str, int]:
    """Peak RSS (VmHWM), RSS and PSS of a process, in MB."""
    figures = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(("VmHWM:", "VmRSS:")):
                figures[line.split(":")[0]] = int(line.split()[1]) // 1000
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                figures["Pss"] = int(line.split()[1]) // 1000
    return figures


def checksum(x: np.ndarray) -> float:
    return float(x[::1024].sum())


def main() -> None:
    context = fastray.init(num_cpus=2, object_store_memory=4 * 2**30)
    task = fastray.remote(checksum)
    array = np.random.default_rng(0).random(400_000_000 // 8)   # 400 MB in the driver
    for _ in range(5):
        ref = fastray.put(array)
        sums = fastray.get([task.remote(ref) for _ in range(4)])
        sums.append(fastray.get(task.remote(array)))
        del ref
    assert sums == [checksum(array)] * 5
    result = fastray.get(fastray.remote(np.ones).remote(100_000_000 // 8))
    assert result.nbytes == 100_000_000 and result[0] == result[-1] == 1
    print(f"the driver holds a 400 MB array and a 100 MB result ({result.nbytes // 10**6} MB)")
    print("driver ", memory(os.getpid()))
    for pid in context.worker_pids:
        print(f"worker {pid}", memory(pid))
    print("store  ", {k: v // 10**6 for k, v in fastray.object_store_stats().items()
                      if k.endswith("bytes")}, "(MB)")
    fastray.shutdown()


if __name__ == "__main__":
    main()
