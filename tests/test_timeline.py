"""The task timeline: recorded for every ended task, bounded, written as a
Chrome trace."""
from __future__ import annotations

import json

import pytest

import fastray


def test_the_timeline_shows_each_task_on_its_worker(tmp_path):
    context = fastray.init(num_cpus=2)
    ray = fastray

    @ray.remote
    def square(x):
        return x * x

    @ray.remote(max_retries=0)
    def fails():
        raise ValueError("no")

    assert ray.get([square.remote(i) for i in range(5)]) == [0, 1, 4, 9, 16]
    with pytest.raises(ValueError):
        ray.get(fails.remote())
    workers = {f"worker {pid}" for pid in context.worker_pids}
    events = ray.timeline()
    assert [e["name"] for e in events].count("square") == 5
    failed = [e for e in events if e["name"] == "fails"]
    assert len(failed) == 1 and failed[0]["args"]["state"] == "failed"
    for event in events:
        assert event["ph"] == "X" and event["dur"] >= 0
        assert event["tid"] in workers
    path = tmp_path / "trace.json"
    assert ray.timeline(str(path)) is None
    assert len(json.loads(path.read_text())) == len(events)


def test_the_timeline_is_a_bounded_ring():
    fastray.init(num_cpus=2, _system_config={"task_events_max": 10})

    @fastray.remote
    def number(i):
        return i

    for i in range(25):
        fastray.get(number.remote(i))
    events = fastray.timeline()
    assert len(events) == 10
    assert [e["args"]["task_id"] for e in events] == sorted(e["args"]["task_id"] for e in events)


def test_recording_can_be_turned_off():
    fastray.init(num_cpus=1, _system_config={"task_events_max": 0})
    fastray.get(fastray.remote(lambda: 1).remote())
    assert fastray.timeline() == []


def test_cancelled_and_crashed_tasks_are_marked(ray):
    @ray.remote(max_retries=0)
    def crash():
        import os
        os._exit(3)

    with pytest.raises(fastray.exceptions.WorkerCrashedError):
        ray.get(crash.remote())
    states = {e["name"]: e["args"]["state"] for e in ray.timeline()}
    assert states["crash"] == "crashed"
