"""However a driver ends, its object store goes with it: no worker, no
spill file and no shared memory (the memfd, or anything in /dev/shm) is
left behind.

The checks look only at what this test's driver made: its workers and
spawner (by pid), its session dir, and its store (by the memfd's inode),
so other programs on the machine, fastray or not, cannot disturb them."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import fastray

from helpers import store_holders, store_inode
from test_lifecycle import alive, wait_blocked, wait_gone

DRIVER = textwrap.dedent("""
    import sys, time
    import numpy as np
    import fastray as ray

    context = ray.init(num_cpus=2, object_store_memory=64 * 2**20)

    @ray.remote
    def make(i):
        return np.full(2_000_000, i)

    @ray.remote
    def sleepy():
        time.sleep(60)

    refs = [ray.put(np.full(2_000_000, i)) for i in range(6)]   # 96 MB: some spill
    results = ray.get([make.remote(i) for i in range(2)])
    stats = ray.object_store_stats()
    print("ready", stats["spilled_objects"], context.address_info["session_dir"],
          *context.worker_pids, context.spawner_pid, flush=True)
    sys.stdin.readline()
    mode = sys.argv[1]
    if mode == "shutdown":
        ray.shutdown()
    elif mode == "exception":
        raise RuntimeError("the driver failed")
    elif mode in ("ctrl-c", "kill"):
        ref = sleepy.remote()
        print("waiting", flush=True)
        ray.get(ref)
""")

ENDINGS = ["shutdown", "exit", "exception", "ctrl-c", "kill"]


def shm_files_held_by(pids: list[int]) -> set[str]:
    """The /dev/shm files these processes map or have open."""
    held = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/maps") as maps:
                held.update(line.split(maxsplit=5)[5].strip() for line in maps
                            if " /dev/shm/" in line)
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:  # the process has ended
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except FileNotFoundError:  # closed since the listing (listdir's own fd, for one)
                continue
            if target.startswith("/dev/shm/"):
                held.add(target)
    return held


@pytest.mark.timeout(90)
@pytest.mark.parametrize("ending", ENDINGS)
def test_no_store_memory_spill_file_or_process_outlives_the_driver(tmp_path, ending):
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ, PYTHONPATH=str(Path(fastray.__file__).parents[1]))
    with subprocess.Popen([sys.executable, str(script), ending], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as driver:
        fields = driver.stdout.readline().split()
        assert fields and fields[0] == "ready", driver.stderr.read()
        spilled, session_dir, pids = int(fields[1]), Path(fields[2]), [int(p) for p in fields[3:]]
        assert spilled > 0 and os.listdir(session_dir / "spill")
        store = store_inode(driver.pid)
        assert store_holders(store) >= {driver.pid, *pids}
        assert shm_files_held_by([driver.pid, *pids]) == set(), "the store is not in /dev/shm"
        driver.stdin.write("go\n")
        driver.stdin.flush()
        if ending in ("ctrl-c", "kill"):
            assert driver.stdout.readline().strip() == "waiting"
            wait_blocked(driver.pid)
            if ending == "ctrl-c":
                driver.send_signal(signal.SIGINT)
            else:
                driver.kill()
        driver.wait(timeout=60)
    assert wait_gone(pids, 10) == [], "a worker or the spawner outlived the driver"
    assert all(not alive(p) for p in pids)
    deadline = time.monotonic() + 10
    while session_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session_dir.exists(), "the session dir (and its spill files) was left behind"
    assert store_holders(store) == set(), "a process still holds the driver's store"
