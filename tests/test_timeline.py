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


def test_an_actors_calls_are_on_its_own_row(ray, tmp_path):
    @ray.remote(max_restarts=1)
    class Counter:
        def __init__(self):
            self.n = 0

        def incr(self):
            self.n += 1
            return self.n

        def pid(self):
            import os
            return os.getpid()

    @ray.remote
    def plain():
        return 1

    counter = Counter.remote()
    first = ray.get(counter.pid.remote())
    assert ray.get([counter.incr.remote() for _ in range(3)] + [plain.remote()]) == [1, 2, 3, 1]
    ray.kill(counter, no_restart=False)
    second = ray.get(counter.pid.remote(), timeout=60)
    assert second != first
    events = ray.timeline()
    rows = {}
    for event in events:
        rows.setdefault(event["tid"], []).append(event["name"])
    # The constructor and the calls of each process on the actor's row,
    # a restarted actor on a new one, plain tasks on their worker's.
    assert rows[f"actor Counter {first}"] == ["Counter", "Counter.pid"] + ["Counter.incr"] * 3
    assert rows[f"actor Counter {second}"] == ["Counter", "Counter.pid"]
    (plain_event,) = [e for e in events if e["name"] == "plain"]
    assert plain_event["tid"].startswith("worker ") and plain_event["cat"] == "task"
    actor_ids = {e["args"].get("actor_id") for e in events if e["tid"].startswith("actor ")}
    assert len(actor_ids) == 1 and None not in actor_ids
    assert {e["cat"] for e in events if e["tid"].startswith("actor ")} == {"actor_call"}
    # Still a Chrome trace: complete events, numeric times, string names.
    path = tmp_path / "trace.json"
    ray.timeline(str(path))
    for event in json.loads(path.read_text()):
        assert event["ph"] == "X" and isinstance(event["ts"], float) and event["dur"] >= 0
        assert isinstance(event["name"], str) and isinstance(event["tid"], str)
