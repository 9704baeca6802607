"""``python -m fastray bench`` runs end to end and writes what it prints;
its actor workloads give every figure."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastray
from fastray._cli import bench, bench_actors


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_quick_run_measures_every_workload_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "fastray", "bench", "--quick", "--only", "fastray",
         "multiprocessing.Pool", "--tables", "peers", "ray_microbenchmark", "--json", str(out)],
        capture_output=True, text=True, timeout=280,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastray.__file__))))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert "actors" not in report                    # not among the --tables asked for
    peers = report["peers"]
    assert set(peers) == {"fastray", "multiprocessing.Pool"}
    rows = {w.row for w in bench.peer_workloads(quick=True)} | {
        "init + first no-op task (ms)", bench.NUMPY_FIRST_ROW, "shutdown (ms)"}
    for figures in peers.values():
        assert rows <= set(figures) and all(value > 0 for value in figures.values())
    micro = report["ray_microbenchmark"]["fastray"]
    assert set(micro) == set(bench.MICROBENCHMARK_ROWS) and min(micro.values()) > 0
    assert "[1/" in done.stderr                      # the progress display
    assert "| sync round trip, no-op task (µs) |" in done.stdout
    assert report["machine"]["cpus"] == os.cpu_count()


def test_a_peer_whose_child_fails_leaves_a_gap_not_a_failed_run() -> None:
    class Unknown(bench.Executor):
        name = module = "no such executor"

    progress = bench.Progress(total=bench.steps("peers", True))
    figures = bench.measure_in_child("peers", Unknown(), True, progress)
    assert figures == {} and progress.done == progress.total
    table = bench.table({"fastray": {"shutdown (ms)": 10.0}, Unknown.name: figures})
    assert "| shutdown (ms) | 10 | – | – |" in table


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_actor_workloads_give_every_figure_on_fastray(ray) -> None:
    tiny = bench_actors.ActorSizes(batch=5, per_server=5, tasks=2, servers=1, created=2,
                                   round_trips=5, rounds=1, quick=True)
    steps: list[str] = []
    figures = dict(bench_actors.actor_figures(ray, tiny, steps.append))
    assert list(figures) == steps == list(bench_actors.rows(tiny))
    assert all(isinstance(value, float) and value > 0 for value in figures.values()), figures


@pytest.mark.timeout(120)
def test_the_threads_table_accounts_for_each_part_of_a_task_s_cpu() -> None:
    from fastray import state
    from fastray._cli import bench_threads
    fastray.init(num_cpus=2)
    try:
        steps: list[str] = []
        figures = dict(bench_threads.thread_figures(fastray, state.backend, 20_000,
                                                    steps.append))
    finally:
        fastray.shutdown()
    parts = ["driver thread", "scheduler thread", "store thread", "workers, together",
             "spawner"]
    assert list(figures) == [f"{part} (µs of CPU per task)" for part in parts] + [
        "all of them (µs of CPU per task)", "async no-op tasks (/s)"]
    assert figures["driver thread (µs of CPU per task)"] > 0
    assert figures["workers, together (µs of CPU per task)"] > 0
    total = sum(figures[f"{part} (µs of CPU per task)"] for part in parts)
    assert figures["all of them (µs of CPU per task)"] == pytest.approx(total)
    assert figures["async no-op tasks (/s)"] > 0
    assert steps == ["fastray: 20,000 no-op tasks, CPU per thread and process"]


def test_the_scaling_table_doubles_workers_up_to_the_cores() -> None:
    from fastray._cli import bench_scaling
    assert bench_scaling.worker_counts(1) == [1]
    assert bench_scaling.worker_counts(2) == [1, 2]
    assert bench_scaling.worker_counts(6) == [1, 2, 4, 6]
    assert bench_scaling.worker_counts(16) == [1, 2, 4, 8, 16]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_quick_scaling_run_measures_each_executor_at_each_size(tmp_path: Path) -> None:
    from fastray._cli import bench_scaling
    out = tmp_path / "scaling.json"
    done = subprocess.run(
        [sys.executable, "-m", "fastray", "bench", "--scaling", "--quick", "--cpus", "2",
         "--only", "multiprocessing.Pool", "--json", str(out)],
        capture_output=True, text=True, timeout=280,
        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fastray.__file__))))
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())["scaling"]
    assert list(report) == ["1", "2"]
    for by_name in report.values():
        assert set(by_name) == {"fastray", "multiprocessing.Pool"}
        assert set(by_name["fastray"]) == set(bench_scaling.ROWS)
        assert all(value > 0 for figures in by_name.values() for value in figures.values())
    assert "| executor: figure | N = 1 | N = 2 |" in done.stdout


def test_cpus_must_be_a_positive_count() -> None:
    done = subprocess.run([sys.executable, "-m", "fastray", "bench", "--cpus", "0"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "must be at least 1" in done.stderr
