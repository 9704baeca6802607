"""Ctrl-C in the driver, and a driver killed outright: nothing hangs, nothing
is left behind."""
from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

import fastray
import fastray.runtime

from conftest import descendants

DRIVER = textwrap.dedent("""
    import sys, time
    import fastray as ray
    context = ray.init(num_cpus=2)
    print("pids", *context.worker_pids, context.spawner_pid, flush=True)

    @ray.remote
    def sleepy():
        time.sleep(60)

    @ray.remote
    def one():
        return 1

    ref = sleepy.remote()
    try:
        print("waiting", flush=True)
        if sys.argv[2] == "wait":
            ray.wait([ref])
        else:
            ray.get(ref)
    except KeyboardInterrupt:
        print("interrupted", time.monotonic(), flush=True)
    print("after", ray.get(one.remote(), timeout=30), flush=True)
    if sys.argv[1] == "hang":
        ray.get(ref)
""")


def start_driver(tmp_path: Path, mode: str, call: str = "get"
                 ) -> tuple[subprocess.Popen, list[int]]:
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(Path(fastray.__file__).parents[1]))
    driver = subprocess.Popen([sys.executable, str(script), mode, call], stdout=subprocess.PIPE,
                              text=True, env=env)
    pids = [int(p) for p in driver.stdout.readline().split()[1:]]
    assert driver.stdout.readline().strip() == "waiting"
    return driver, pids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_blocked(pid: int, seconds: float = 30) -> None:
    """Waits until the process's main thread sleeps in the kernel: after the driver
    said "waiting", that is inside get() or wait(), the call being measured."""
    deadline = time.monotonic() + seconds
    while True:
        with open(f"/proc/{pid}/task/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "S":
                return
        assert time.monotonic() < deadline, f"process {pid} never blocked"
        time.sleep(0.001)


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("call", ["get", "wait"])
def test_ctrl_c_interrupts_a_wait_promptly_and_the_runtime_stays_usable(tmp_path, call):
    driver, pids = start_driver(tmp_path, "exit", call)
    with driver:
        interrupt_and_check(driver)
    assert wait_gone(pids, 5) == [], "workers outlived the driver's exit"


def interrupt_and_check(driver: subprocess.Popen) -> None:
    wait_blocked(driver.pid)
    sent = time.monotonic()
    driver.send_signal(signal.SIGINT)
    line = driver.stdout.readline().split()
    assert line[0] == "interrupted"
    # A blocked get() checks for signals every 50 ms; the bound leaves room for a busy
    # machine, and a get() that ignored Ctrl-C would wait for the 60 s task instead.
    assert float(line[1]) - sent < 2.0, "KeyboardInterrupt took too long to arrive"
    assert driver.stdout.readline().strip() == "after 1"
    assert driver.wait(timeout=30) == 0


@pytest.mark.timeout(60)
def test_killed_driver_leaves_no_process(tmp_path):
    driver, pids = start_driver(tmp_path, "hang")
    with driver:
        assert len(pids) == 3 and all(alive(p) for p in pids)
        driver.kill()
        driver.wait(timeout=10)
    assert wait_gone(pids, 10) == [], "workers or spawner outlived a killed driver"


def fail_to_spawn(*args, **kwargs):
    raise BlockingIOError(11, "Resource temporarily unavailable (a process limit)")


def fail_to_start_the_scheduler(*args, **kwargs):
    raise RuntimeError("the scheduler could not start")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target, failure", [
    ("os.posix_spawn", fail_to_spawn),
    ("fastray.runtime.Scheduler", fail_to_start_the_scheduler),
])
def test_a_failed_init_leaves_no_folder_process_or_descriptor(tmp_path, monkeypatch,
                                                               target, failure):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gc.collect()
    processes, descriptors = descendants(os.getpid()), set(os.listdir("/proc/self/fd"))
    monkeypatch.setattr(target, failure)
    with pytest.raises((OSError, RuntimeError), match="process limit|could not start"):
        fastray.init(num_cpus=1)
    gc.collect()
    assert not fastray.is_initialized()
    assert [path.name for path in tmp_path.rglob("*session*")] == []
    assert descendants(os.getpid()) == processes
    assert set(os.listdir("/proc/self/fd")) == descriptors
