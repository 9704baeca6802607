"""The checks that need a real NVIDIA GPU and PyTorch (``python
benches/gpu_check.py``); CI has no GPU, so they run here, by hand:

- four ``num_gpus=0.25`` tasks, running together, each see one device and
  run a matrix product on it, and the dashboard shows their GPU meanwhile;
- a task without ``num_gpus`` sees what the zero-GPU rule says: the
  driver's ``CUDA_VISIBLE_DEVICES``, left as it was, and no GPU ids;
- a ``num_gpus=1`` actor keeps a model on its GPU across 1,000 calls, and
  its median call is compared with the same actor's on the CPU: whole, and
  less the median of the same work timed inside the actor, which is what
  the runtime adds to a call (the device's launch and read-back latency is
  CUDA's, paid the same without fastray).

Prints what it saw and the figures; exits 1 if a check fails."""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from typing import Any

import fastray

CALLS = 1_000
MODEL_SIDE = 8192        # an 8192 x 8192 float32 model: 256 MiB
FAILED: list[str] = []


def check(what: str, ok: bool, seen: Any) -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}: {seen}")
    if not ok:
        FAILED.append(what)


@fastray.remote(num_gpus=0.25)
def quarter_gpu_task(release: str) -> dict[str, Any]:
    """Runs a product on its device, then stays until the driver has read
    the dashboard, so that all four are seen at once."""
    import torch
    a = torch.randn(2048, 2048, device="cuda")
    total = float((a @ a).sum())
    torch.cuda.synchronize()
    deadline = time.monotonic() + 60
    while not os.path.exists(release) and time.monotonic() < deadline:
        time.sleep(0.01)
    return {"device_count": torch.cuda.device_count(), "finite": total == total,
            "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_ids": fastray.get_gpu_ids(), "pid": os.getpid()}


@fastray.remote
def cpu_task() -> dict[str, Any]:
    return {"visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_ids": fastray.get_gpu_ids()}


class Model:
    """A large tensor kept where the actor was told to keep it."""

    def __init__(self, device: str) -> None:
        import torch
        self.weights = torch.randn(MODEL_SIDE, MODEL_SIDE, device=device)

    def where(self) -> tuple[str, int]:
        return str(self.weights.device), self.weights.data_ptr()

    def score(self, row: int) -> float:
        """A small product on the model and its result read back: a call
        that uses the model without the device's work hiding the call."""
        return float(self.weights[row, :256] @ self.weights[:256, row])

    def score_inside_us(self, times: int) -> float:
        """The median time of score() called here, with no call around it."""
        took = []
        for row in range(times):
            started = time.perf_counter()
            self.score(row % 256)
            took.append(time.perf_counter() - started)
        return statistics.median(took) * 1e6


def dashboard_gpus(url: str, count: int) -> list[Any]:
    """The GPUs the dashboard shows for busy workers, once count are busy."""
    api = "http://" + url.replace("/?token=", "/api/state?token=")
    deadline = time.monotonic() + 30
    while True:
        state = json.load(urllib.request.urlopen(api, timeout=5))
        shown = [w["gpus"] for w in state["workers"] if w["task"] is not None]
        if len(shown) >= count or time.monotonic() > deadline:
            return shown
        time.sleep(0.05)


def median_call_us(handle: Any, calls: int) -> tuple[float, set]:
    """The median of calls sync calls, and the model's addresses they saw."""
    took = []
    places = set()
    for row in range(calls):
        started = time.perf_counter()
        fastray.get(handle.score.remote(row % 256))
        took.append(time.perf_counter() - started)
        if row % 100 == 0:
            places.add(fastray.get(handle.where.remote()))
    places.add(fastray.get(handle.where.remote()))
    return statistics.median(took) * 1e6, places


def main() -> int:
    # Four CPUs at least, so that the four quarter tasks can run at once.
    context = fastray.init(num_cpus=max(4, os.cpu_count() or 1), include_dashboard=True)
    resources = fastray.cluster_resources()
    print("cluster resources:", resources)
    check("GPUs found", resources.get("GPU", 0) >= 1, resources.get("GPU"))

    release = os.path.join(tempfile.mkdtemp(), "release")
    refs = [quarter_gpu_task.remote(release) for _ in range(4)]
    shown = dashboard_gpus(context.dashboard_url, 4)
    open(release, "w").close()
    seen = fastray.get(refs, timeout=120)
    for one in seen:
        print("  quarter task:", one)
    check("four quarter tasks each see one device", all(s["device_count"] == 1 for s in seen),
          [s["device_count"] for s in seen])
    check("their products are finite", all(s["finite"] for s in seen), "")
    check("they ran at once, in four processes", len({s["pid"] for s in seen}) == 4,
          sorted({s["pid"] for s in seen}))
    check("they share GPU 0", all(s["gpu_ids"] == [0] for s in seen),
          [s["gpu_ids"] for s in seen])
    check("the dashboard shows their GPU", len(shown) == 4 and all(shown), shown)

    zero = fastray.get(cpu_task.remote())
    check("a task without num_gpus keeps the driver's CUDA_VISIBLE_DEVICES and has no ids",
          zero["visible"] == os.environ.get("CUDA_VISIBLE_DEVICES") and zero["gpu_ids"] == [],
          zero)

    on_gpu = fastray.remote(num_gpus=1)(Model).remote("cuda")
    on_cpu = fastray.remote(Model).remote("cpu")
    fastray.get([on_gpu.where.remote(), on_cpu.where.remote()])
    for handle in (on_gpu, on_cpu):   # warm both up
        median_call_us(handle, 100)
    gpu_us, gpu_places = median_call_us(on_gpu, CALLS)
    cpu_us, _ = median_call_us(on_cpu, CALLS)
    gpu_work_us, cpu_work_us = fastray.get([on_gpu.score_inside_us.remote(CALLS),
                                            on_cpu.score_inside_us.remote(CALLS)])
    check("the model stays at one place on the GPU across the calls",
          len(gpu_places) == 1 and next(iter(gpu_places))[0].startswith("cuda"), gpu_places)
    print(f"     median call, {CALLS} each: model on the GPU {gpu_us:.1f} µs, on the CPU "
          f"{cpu_us:.1f} µs ({gpu_us / cpu_us:.2f}x); the same work inside the actor: "
          f"{gpu_work_us:.1f} µs on the GPU, {cpu_work_us:.1f} µs on the CPU")
    gpu_call_us, cpu_call_us = gpu_us - gpu_work_us, cpu_us - cpu_work_us
    check("what a call adds with the model on the GPU, at most 1.5x the CPU actor's",
          gpu_call_us <= 1.5 * cpu_call_us,
          f"{gpu_call_us:.1f} µs vs {cpu_call_us:.1f} µs ({gpu_call_us / cpu_call_us:.2f}x)")
    fastray.shutdown()
    print("failed:", FAILED or "none")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
