"""Remote functions and actors the GPU and custom-resource tests share, at
module level so that Ray's workers import them by name.  Each run appends
what it saw to a log (one JSON line: devices, start, end, pid), so a test
can check which runs overlapped without depending on timing."""
from __future__ import annotations

import json
import os
import time

import fastray

HOLD_S = 0.3  # how long a logged run lasts: long enough for runs to overlap


def log_run(log: str, **seen) -> dict:
    """Holds for HOLD_S, then appends what the run saw to log."""
    start = time.monotonic()
    time.sleep(HOLD_S)
    record = dict(seen, devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
                  gpu_ids=[str(i) for i in fastray.get_gpu_ids()], start=start,
                  end=time.monotonic(), pid=os.getpid())
    with open(log, "a") as out:
        out.write(json.dumps(record) + "\n")
    return record


def runs(log: str) -> list[dict]:
    with open(log) as lines:
        return [json.loads(line) for line in lines]


def most_at_once(records: list[dict]) -> int:
    """The largest number of runs that overlapped in time."""
    edges = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


@fastray.remote
def logged(log: str) -> dict:
    return log_run(log)


@fastray.remote
def what_cuda_sees() -> dict:
    return {"devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "gpu_ids": fastray.get_gpu_ids(),
            "accelerators": fastray.get_runtime_context().get_accelerator_ids().get("GPU", []),
            "pid": os.getpid()}


@fastray.remote(num_gpus=1)
class GpuHolder:
    def devices(self) -> dict:
        return {"devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "gpu_ids": fastray.get_gpu_ids()}


@fastray.remote(num_gpus=1, max_retries=0)
def crashes_on_a_gpu() -> None:
    os._exit(3)


@fastray.remote
def submits_a_gpu_child() -> dict:
    return fastray.get(what_cuda_sees.options(num_gpus=1).remote())


@fastray.remote(num_gpus=1, max_restarts=1)
class RestartingGpuHolder:
    def devices(self) -> tuple[str | None, int]:
        return os.environ.get("CUDA_VISIBLE_DEVICES"), os.getpid()
